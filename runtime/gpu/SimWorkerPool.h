//===- SimWorkerPool.h - the threads that run simulated blocks --*- C++ -*-===//
//
// A fixed set of worker threads, kept for the simulator's lifetime so that
// a launch costs a wake-up, not thread creation (decode runs hundreds of
// small launches per token). The launching thread is worker 0 and works
// too. Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMWORKERPOOL_H
#define MM_RUNTIME_GPU_SIMWORKERPOOL_H

#include "llvm/ADT/STLFunctionalExtras.h"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mm::gpu::sim {

class SimWorkerPool {
public:
  /// `workers` in all (at least 1): the caller of run() and workers - 1
  /// threads.
  explicit SimWorkerPool(unsigned workers);
  ~SimWorkerPool();
  SimWorkerPool(const SimWorkerPool &) = delete;
  SimWorkerPool &operator=(const SimWorkerPool &) = delete;

  unsigned size() const { return unsigned(threads.size()) + 1; }

  /// Runs job(i) for every i in [0, participants) (at most size()), each on
  /// its own worker, the caller running job(0); returns when all returned.
  /// One run at a time: concurrent callers take turns.
  void run(unsigned participants, llvm::function_ref<void(unsigned)> job);

  /// The number of workers the simulator uses: MM_SIM_THREADS when it is a
  /// positive number, the hardware's threads otherwise.
  static unsigned getDefaultSize();

private:
  void work(unsigned index);

  std::vector<std::thread> threads;
  std::mutex runMutex;
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable finished;
  uint64_t generation = 0;
  unsigned participants = 0;
  unsigned pending = 0;
  llvm::function_ref<void(unsigned)> job;
  bool stopping = false;
};

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMWORKERPOOL_H
