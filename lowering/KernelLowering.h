//===- KernelLowering.h - one lowering per kernel kind and target -*- C++ -*-===//
//
// After mm-outline-kernels every kernel is a function carrying its #mm.fusion
// (its kind and sizes) in a module carrying its target. mm-lower-to-loops
// turns each kernel function into a function over buffers whose body the
// lowering selected here builds: the one place that decides how a kind of
// kernel becomes code on a target. A lowering never looks at what another
// built; a new strategy (linalg under a transform schedule, tensor-core GEMMs,
// a block-level scan) is a new KernelLowering and a line in the selection.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_KERNELLOWERING_H
#define MM_LOWERING_KERNELLOWERING_H

#include "dialect/MMOps.h"
#include "lowering/KernelBuilder.h"
#include "lowering/LoopEmitters.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mm {

/// Builds the body of one kernel over buffers.
class KernelLowering {
public:
  virtual ~KernelLowering() = default;
  /// The name the lowered function records as `mm.lowering` ("loops").
  virtual llvm::StringRef name() const = 0;
  /// Emits, at `kb`'s insertion point, the code computing `kernel` (a
  /// function from mm-outline-kernels): `buffer` maps its arguments and
  /// returned values to buffers (index arguments to index values), and
  /// `allocate` makes a buffer, freed after the kernel, for any other value.
  /// A returned buffer may be an argument's (a state field updated in
  /// place): the lowering reads the old value before it writes the new one.
  virtual mlir::LogicalResult emit(mlir::func::FuncOp kernel, KernelBuilder &kb,
                                   BufferMap buffer,
                                   Allocator allocate) const = 0;
};

/// The lowering of kernels of `kind` on `target`.
const KernelLowering &selectKernelLowering(FusionKind kind,
                                           const TargetInfo &target);

} // namespace mm

#endif // MM_LOWERING_KERNELLOWERING_H
