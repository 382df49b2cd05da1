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

#include "lowering/KernelBuilder.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mm {

/// Maps a tensor value of the mm function to the buffer that holds it.
using BufferMap = llvm::function_ref<mlir::Value(mlir::Value)>;

/// Emits `op` (an mm operation other than mm.weight, mm.layer and
/// mm.state_layout) reading the buffers of its operands and writing the
/// buffers of its results. A result buffer may be its state operand's buffer
/// (in-place state update); the emitters read state before overwriting it.
mlir::LogicalResult emitLoops(mlir::Operation *op, KernelBuilder &kb,
                              BufferMap buffer);

} // namespace mm

#endif // MM_LOWERING_LOOPEMITTERS_H
