//===- KernelLowering.h - one lowering per kernel kind and target -*- C++
//-*-===//
//
// After mm-outline-kernels every kernel is a function carrying its #mm.fusion
// (its kind and sizes) in a module carrying its target. mm-lower-to-loops
// turns each kernel function into a function over buffers whose body the
// lowering selected here builds: the one place that decides how a kind of
// kernel becomes code on a target. A lowering never looks at what another
// built; a new strategy (linalg under a transform schedule, a block-level
// scan) is a new KernelLowering and a line in the selection.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_KERNELLOWERING_H
#define MM_LOWERING_KERNELLOWERING_H

#include "dialect/MMOps.h"
#include "lowering/KernelBuilder.h"
#include "lowering/LoopEmitters.h"
#include "lowering/Schedules.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mm {

/// The gpu.module every GPU kernel of an artifact goes to (one binary the
/// runtime loads once per device).
constexpr llvm::StringLiteral kKernelModuleName = "mm_kernels";

/// Builds the body of one kernel over buffers.
class KernelLowering {
public:
  virtual ~KernelLowering() = default;
  /// The name the lowered function records as `mm.lowering` ("loops").
  virtual llvm::StringRef name() const = 0;
  /// Whether it can lower `kernel` (a function from mm-outline-kernels) on
  /// `target` into a function of type `lowered` (batch, time, the buffers
  /// of the kernel's arguments, then of its results).
  virtual bool accepts(mlir::func::FuncOp kernel, mlir::FunctionType lowered,
                       const TargetInfo &target) const = 0;
  /// Emits, at `kb`'s insertion point, the code computing `kernel`: `buffer`
  /// maps its arguments and returned values to buffers (index arguments to
  /// index values), and `allocate` makes a buffer, freed after the kernel,
  /// for any other value. A returned buffer may be an argument's (a state
  /// field updated in place): the lowering reads the old value before it
  /// writes the new one.
  virtual mlir::LogicalResult emit(mlir::func::FuncOp kernel, KernelBuilder &kb,
                                   BufferMap buffer, Allocator allocate,
                                   const TargetInfo &target) const = 0;
};

/// Which lowerings the selection may choose besides the loop emitters.
struct KernelLoweringOptions {
  /// linear and lm_head as GEMM kernels on GPU targets (GemmKernels.h), the
  /// default: tensor cores for 16-bit weights, a shared-memory-tiled SIMT
  /// kernel in f32, a GEMV for the decode step. Off, the loop emitters'
  /// one thread per output row (kept for comparison; on the simulator they
  /// run prefill several times faster, since it checks every shared-memory
  /// access of the tiled kernels).
  bool gemmKernels = true;
  /// The selective scan (and its gate) as the block-level scan kernel on
  /// GPU targets (ScanKernels.h), the default. Off, the loop emitters' one
  /// thread per channel through all of time (kept for comparison).
  bool scanKernels = true;
  /// The causal conv as the conv kernel on GPU targets (ConvKernels.h), the
  /// default unless the user schedules conv (`--schedule=conv:FILE|loops`).
  /// Off, the loop emitters (kept for comparison).
  bool convKernels = true;
  /// RMSNorm (with the residual it normalises) as the norm kernel on GPU
  /// targets (NormKernels.h), a block per row: the default unless the user
  /// schedules norm. Off, the norm schedule's three launches.
  bool normKernels = true;
  /// The memory block (read trigger, note, pool attention and update) and
  /// the cross-layer attention in their parallel form on GPU targets
  /// (MemoryKernels.h), the default. Off, the loop emitters: a thread per
  /// sequence through all of time (kept for comparison).
  bool memoryKernels = true;
  /// The user's schedules (`--schedule=KIND:FILE`): with the target's
  /// default schedules they decide which kinds are lowered through linalg
  /// (Schedules.h).
  std::vector<UserSchedule> userSchedules;
};

/// The lowering of `kernel` (its kind from its #mm.fusion) on `target`, as a
/// function of type `lowered`: the first that accepts it, of the target's
/// specific lowerings that `options` allow (GEMM kernels on GPUs; linalg
/// for the kinds with a schedule) and then the loop emitters, which take
/// every kernel.
const KernelLowering &
selectKernelLowering(mlir::func::FuncOp kernel, mlir::FunctionType lowered,
                     const TargetInfo &target,
                     const KernelLoweringOptions &options);

} // namespace mm

#endif // MM_LOWERING_KERNELLOWERING_H
