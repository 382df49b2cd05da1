//===- SimWorkerPool.cpp - the threads that run simulated blocks ----------===//

#include "runtime/gpu/SimWorkerPool.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Threading.h"

#include <algorithm>
#include <cstdlib>

using namespace mm::gpu::sim;

unsigned SimWorkerPool::getDefaultSize() {
  if (const char *text = std::getenv("MM_SIM_THREADS")) {
    unsigned count = 0;
    if (!llvm::StringRef(text).getAsInteger(10, count) && count > 0)
      return std::min(count, 1024u);
  }
  return std::max(1u, llvm::hardware_concurrency().compute_thread_count());
}

SimWorkerPool::SimWorkerPool(unsigned workers) {
  for (unsigned index = 1; index < std::max(workers, 1u); ++index)
    threads.emplace_back([this, index] { work(index); });
}

SimWorkerPool::~SimWorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &thread : threads)
    thread.join();
}

void SimWorkerPool::work(unsigned index) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    wake.wait(lock, [&] { return stopping || generation != seen; });
    if (stopping)
      return;
    seen = generation;
    if (index >= participants)
      continue;
    llvm::function_ref<void(unsigned)> current = job;
    lock.unlock();
    current(index);
    lock.lock();
    if (--pending == 0)
      finished.notify_one();
  }
}

void SimWorkerPool::run(unsigned count,
                        llvm::function_ref<void(unsigned)> function) {
  count = std::clamp(count, 1u, size());
  std::lock_guard<std::mutex> turn(runMutex);
  if (count > 1) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      job = function;
      participants = count;
      pending = count - 1;
      ++generation;
    }
    wake.notify_all();
  }
  function(0);
  if (count > 1) {
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return pending == 0; });
  }
}
