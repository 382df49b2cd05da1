//===- SimLaunch.h - running a kernel's host copy over a grid ---*- C++ -*-===//
//
// A launch on the simulator: the checks a GPU driver makes (block and grid
// sizes, shared memory for the chip the kernel was built for) and the ones
// it does not (every buffer argument inside one live allocation), then the
// blocks, spread over a pool of workers that each take the next block from
// a shared counter. The threads of a block run one after another, or, for
// a kernel that needs them to meet (barriers, shuffles, shared memory), as
// fibers (SimFibers.h) with a round-robin scheduler. The mmsim_* callbacks
// of SimKernelAbi.h live here too.
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMLAUNCH_H
#define MM_RUNTIME_GPU_SIMLAUNCH_H

#include "runtime/gpu/GpuDevice.h"
#include "runtime/gpu/SimKernelAbi.h"
#include "runtime/gpu/SimKernelTable.h"
#include "runtime/gpu/SimMemory.h"
#include "runtime/gpu/SimWorkerPool.h"

#include "llvm/Support/Error.h"

#include <memory>
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

/// The first mmsim_* call made outside any launch since the last call (a
/// host copy called by hand, or a thread that is not a simulated one):
/// such calls are recorded and otherwise ignored. Success when there was
/// none.
llvm::Error takeSimStrayCallError();

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMLAUNCH_H
