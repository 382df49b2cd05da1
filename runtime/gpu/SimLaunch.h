//===- SimLaunch.h - running a kernel's host copy over a grid ---*- C++ -*-===//
//
// A launch on the simulator: the checks a GPU driver makes (block and grid
// sizes, shared memory for the chip the kernel was built for) and the ones
// it does not (every buffer argument inside one live allocation), then the
// blocks, spread over a pool of workers that each take the next block from
// a shared counter. The threads of a block run one after another, or, for
// a kernel that needs them to meet (barriers, shuffles, shared memory), as
// fibers (SimFibers.h) with a round-robin scheduler. The mmsim_* callbacks
// of SimKernelAbi.h live here too, but for the warp-level matrix operations
// (SimMatrix.cpp), which park their lanes through the warp collectives
// below.
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMLAUNCH_H
#define MM_RUNTIME_GPU_SIMLAUNCH_H

#include "common/SimKernelAbi.h"
#include "runtime/gpu/GpuDevice.h"
#include "runtime/gpu/SimKernelTable.h"
#include "runtime/gpu/SimMemory.h"
#include "runtime/gpu/SimWorkerPool.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mm::gpu::sim {

/// Runs the launches of one simulator. Each worker keeps its fiber stacks,
/// shared memory and its shadow from launch to launch.
class SimLauncher {
public:
  /// `workers` threads in all (the launching thread being one).
  explicit SimLauncher(unsigned workers);
  ~SimLauncher();
  SimLauncher(const SimLauncher &) = delete;
  SimLauncher &operator=(const SimLauncher &) = delete;

  unsigned getWorkerCount() const { return pool.size(); }

  /// Checks and runs `kernel` over `grid` blocks of `block` threads, with
  /// `dynamicSharedBytes` after its static shared memory; `params` are the
  /// launch's kernelParams. `counters` receives what the launch did (also
  /// when it fails). The first failure of any thread is the error; the
  /// launch stops taking new blocks after it.
  llvm::Error launch(const SimKernel &kernel, Dim3 grid, Dim3 block,
                     unsigned dynamicSharedBytes, void **params,
                     const SimAllocations &memory, MMSimCounters &counters);

  /// The worker state of one thread of the pool.
  struct Worker;

private:
  SimWorkerPool pool;
  std::vector<std::unique_ptr<Worker>> workers;
};

/// A warp-level operation other than a shuffle (SimMatrix.cpp): every lane
/// of a warp parks at it with its part, and once all of them wait at the
/// same one (same site and variant), it completes once for the warp, on
/// the worker, from every lane's part. A lane that returns or waits at
/// something else fails the launch, as for shuffles.
struct WarpCollective {
  /// What the lanes wait at, for messages: "matrix multiply".
  const char *noun;
  /// The variant (what every lane must pass alike: a shape), for messages.
  std::string (*describeVariant)(int32_t variant);
  /// Completes the operation of one warp from the parts of its lanes
  /// (`parts[lane]`; fewer than the warp width when the block ends in a
  /// partial warp). Returns "" or what is wrong, which fails the launch.
  std::string (*complete)(int32_t variant, llvm::ArrayRef<void *> parts);
};

/// Whether `thread` may take part in a warp collective at `site`: false
/// after recording a call from outside a launch, or failing the launch of
/// a kernel its table marks non-cooperative (`function` names the callback
/// in both messages).
bool canJoinWarpCollective(MMSimThread *thread, const char *function,
                           int32_t site);
/// Parks `thread` (for which canJoinWarpCollective said yes) at
/// `collective` with its `part` (which must live until this returns);
/// returns once the warp's operation completed.
void waitAtWarpCollective(MMSimThread *thread, const WarpCollective &collective,
                          int32_t variant, void *part, int32_t site);
/// Fails the launch for something `thread` did (for which
/// canJoinWarpCollective said yes), naming its kernel, block and thread.
void failSimThread(MMSimThread *thread, const llvm::Twine &what);
/// "site 3: nvgpu.mma_sync at k.mlir:4:5" for the launch `thread` runs in.
std::string describeSimSite(MMSimThread *thread, int32_t site);

/// The first mmsim_* call made outside any launch since the last call (a
/// host copy called by hand, or a thread that is not a simulated one):
/// such calls are recorded and otherwise ignored. Success when there was
/// none.
llvm::Error takeSimStrayCallError();

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMLAUNCH_H
