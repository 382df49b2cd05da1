//===- LinalgEmitters.h - regular mm operations as linalg -------*- C++ -*-===//
//
// The regular operations of the model (linear, lm_head, rms_norm, residual,
// gate, embed, causal_conv1d) as linalg operations on the buffers of their
// operands and results, for upstream tiling and vectorisation under a
// transform schedule (lowering/ApplySchedules.cpp) instead of hand-written
// loops. The buffer contract is LoopEmitters': weights are views into the
// weight buffer, activations [B, T, D] memrefs, possibly strided.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_LINALGEMITTERS_H
#define MM_LOWERING_LINALGEMITTERS_H

#include "lowering/LoopEmitters.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Operation.h"

namespace mm {

/// Whether `op` has a linalg form (emitLinalg accepts it).
bool hasLinalgForm(mlir::Operation *op);

/// Emits `op` as linalg operations, each carrying its role in
/// MMDialect::kLinalgRoleAttrName for the schedules to match: "matmul" (the
/// contraction of linear and lm_head) after "bias" (its initialisation),
/// "norm_init", "norm_sum" and "norm_scale" (RMSNorm), "elementwise" (gate,
/// residual), "gather" (embed), "conv_filter", "conv_window", "conv_bias",
/// "conv" and "conv_act" (the causal conv, on tensors like the GEMM).
/// Builds at `builder`'s insertion point, reading
/// the buffers of its operands and writing the buffers of its results
/// (`buffer` maps each tensor value to its memref). The GEMM's two
/// operations work on tensors of those buffers (bufferization.to_tensor
/// restrict, the output's writable) and its result is materialised into the
/// output buffer (materialize_in_destination): a gemm schedule splits the
/// reduction on tensors and must bufferise (lowering/schedules/cpu/gemm.mlir;
/// registerLinalgBufferization). The others work on the buffers. Numerics
/// follow LoopEmitters: products accumulate in f32, RMSNorm's mean square and
/// scale in f64. Fails with an error at the operation for an operation without
/// a linalg form or a shape the form does not cover.
mlir::LogicalResult emitLinalg(mlir::Operation *op, mlir::OpBuilder &builder,
                               BufferMap buffer);

/// Registers what a schedule needs to bufferise emitLinalg's tensors and to
/// split their reductions: the bufferization and tensor dialects, their
/// transform operations (transform.bufferization.*, transform.loop.*) and the
/// bufferization and subset models of the dialects tiling and vectorisation
/// produce. Whoever applies schedules to emitLinalg's kernels registers it.
void registerLinalgBufferization(mlir::DialectRegistry &registry);

} // namespace mm

#endif // MM_LOWERING_LINALGEMITTERS_H
