//===- LoopEmitters.h - mm operations as loops over buffers -----*- C++ -*-===//
//
// One emitter per mm operation: given the buffers of its operands and
// results, it builds the loops (scf, arith, math, memref) that compute it.
// These are the kernel bodies of the host target; the memory-path emitters
// follow the parallel prefill form of ARCHITECTURE.md section 5 (keys and
// values of every note in bulk, pool membership tracked as indices by one
// cheap sequential pass).
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_LOOPEMITTERS_H
#define MM_LOWERING_LOOPEMITTERS_H

#include "dialect/MMOps.h"
#include "lowering/KernelBuilder.h"
#include "lowering/TargetInfo.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <functional>

namespace mm {

/// Maps a tensor value of the mm function to the buffer that holds it.
using BufferMap = llvm::function_ref<mlir::Value(mlir::Value)>;

/// Emits `op` (an mm operation other than mm.weight, mm.layer and
/// mm.state_layout) reading the buffers of its operands and writing the
/// buffers of its results. A result buffer may be its state operand's buffer
/// (in-place state update); the emitters read state before overwriting it.
/// `strategy` (the operation's fusion group, if any) sets the tile sizes;
/// `target` chooses between the host's vector forms and a GPU's one thread
/// per parallel iteration.
mlir::LogicalResult emitLoops(mlir::Operation *op, KernelBuilder &kb,
                              BufferMap buffer, const TargetInfo &target,
                              FusionAttr strategy = {});

/// Makes a buffer for a value internal to a fusion group; the caller frees
/// it after the group.
using Allocator = llvm::function_ref<mlir::Value(mlir::Value)>;

/// Emits the operations of `body` (a kernel function's or a fusion group's)
/// as one kernel shaped by `strategy`: the kinds with fused loops (a scan
/// with its gate; a residual with its RMSNorm) as such, any other group as
/// its operations' loops back to back. `buffer` knows the block's arguments
/// and returned values; `allocate` provides the rest. Each operation's code
/// carries its location.
mlir::LogicalResult emitFusedLoops(FusionAttr strategy, mlir::Block &body,
                                   KernelBuilder &kb, BufferMap buffer,
                                   Allocator allocate,
                                   const TargetInfo &target);

/// The fused residual of one element (b, t, d) of `op`: x + mixer + the
/// gated contexts it has, reading its operands' buffers.
std::function<mlir::Value(mlir::Value, mlir::Value, mlir::Value)>
residualElement(ResidualOp op, KernelBuilder &kb, BufferMap buffer);

/// The window a causal conv leaves for channel `e` of sequence `b`: the
/// K-1 inputs (of the old `window` [B, E, K-1] followed by the chunk `x`
/// [B, T, E]) before the sequence's length (`lengths` [B], or T), into
/// `windowOut`, which may be the old window's buffer.
void emitConvWindowOut(KernelBuilder &kb, mlir::Value x, mlir::Value window,
                       mlir::Value lengths, mlir::Value windowOut, int64_t k,
                       mlir::Value b, mlir::Value e);

/// Whether `op` is a state operation whose result elements are independent
/// (mm.take_last, mm.advance_position, mm.init_state).
bool isElementwiseState(mlir::Operation *op);
/// Element `indices` of the result of such an operation, reading its
/// operands' buffers: the loop emitters run it in a loop nest, GPU targets
/// a thread per element (KernelLowering.cpp).
mlir::Value stateElement(mlir::Operation *op, KernelBuilder &kb,
                         BufferMap buffer, mlir::ValueRange indices);

/// RMSNorm's scale of a row of `width` elements whose squares sum (f64) to
/// `squares`: 1 / sqrt(squares / width + epsilon), in f64 as the reference.
mlir::Value rmsInverse(KernelBuilder &kb, RMSNormOp op, mlir::Value squares,
                       mlir::Value width);
/// An element x of the row normalised: x * inverse * w, rounded to f32.
mlir::Value rmsScaled(KernelBuilder &kb, mlir::Value x, mlir::Value inverse,
                      mlir::Value w);

} // namespace mm

#endif // MM_LOWERING_LOOPEMITTERS_H
