//===- SimLaunch.cpp - running a kernel's host copy over a grid -----------===//

#include "runtime/gpu/SimLaunch.h"

#include "runtime/gpu/SimFibers.h"
#include "runtime/gpu/SimSharedMemory.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>

/// The callbacks stay visible whatever visibility the build defaults to.
#define MM_SIM_EXPORT extern "C" __attribute__((visibility("default")))

using namespace mm::gpu;
using namespace mm::gpu::sim;
using detail::makeError;
using llvm::Error;
using llvm::StringRef;
using llvm::Twine;

namespace {

//===----------------------------------------------------------------------===//
// Chips
//===----------------------------------------------------------------------===//

/// What a block may have on one chip.
struct ChipLimits {
  uint64_t sharedBytesPerBlock;
  unsigned threadsPerBlock;
  std::array<unsigned, 3> blockSize;
  std::array<unsigned, 3> gridSize;
};

/// The limits of the chips the compiler targets (a block's opt-in maximum
/// of shared memory), or nullopt for a chip the simulator does not know.
std::optional<ChipLimits> getChipLimits(StringRef vendor, StringRef chip) {
  if (vendor == "cuda") {
    uint64_t kib = 0;
    if (chip == "sm_80")
      kib = 163;
    else if (chip == "sm_86" || chip == "sm_87" || chip == "sm_89")
      kib = 99;
    else if (chip == "sm_90" || chip == "sm_90a")
      kib = 227;
    else
      return std::nullopt;
    return ChipLimits{
        kib * 1024, 1024, {1024, 1024, 64}, {2147483647u, 65535, 65535}};
  }
  if (vendor == "hip" && (chip == "gfx90a" || chip == "gfx942"))
    return ChipLimits{
        64 * 1024, 1024, {1024, 1024, 1024}, {2147483647u, 65536, 65536}};
  return std::nullopt;
}

std::string formatDim3(unsigned x, unsigned y, unsigned z) {
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," +
         std::to_string(z) + ")";
}

//===----------------------------------------------------------------------===//
// One launch
//===----------------------------------------------------------------------===//

/// What every worker of one launch shares.
struct Launch {
  const SimKernel &kernel;
  const SimKernelTable &table;
  Dim3 grid, block;
  uint32_t threadsPerBlock;
  uint64_t blockCount;
  uint64_t sharedBytes;
  void **params;
  /// What each memref argument points into, by argument number.
  std::map<unsigned, std::string> argumentBuffers;

  std::atomic<uint64_t> nextBlock{0};
  std::atomic<bool> failed{false};
  std::mutex errorMutex;
  std::string firstError;

  /// "kernel K (sm_90)".
  std::string describeKernel() const {
    return "kernel " + kernel.name + " (" + table.chip + ")";
  }

  /// Keeps the first failure; the workers stop taking blocks.
  void fail(const Twine &message) {
    std::lock_guard<std::mutex> lock(errorMutex);
    if (failed.load(std::memory_order_relaxed))
      return;
    firstError = message.str();
    failed.store(true, std::memory_order_release);
  }
};

/// Where a thread of a cooperative block is.
enum class ThreadState : uint8_t {
  Runnable,
  AtBarrier,
  AtShuffle,
  AtCollective, // a warp collective other than a shuffle (WarpCollective)
  Finished
};

/// One thread of a cooperative block: its fiber, what the host copy sees,
/// and where it waits.
struct ThreadFiber {
  SimFiber fiber;
  MMSimThread thread;
  ThreadState state = ThreadState::Finished;
  /// The barrier or shuffle it waits at.
  int32_t site = -1;
  // The shuffle it waits in, and its result.
  uint32_t value = 0;
  int32_t offset = 0;
  int32_t width = 0;
  int32_t mode = 0;
  uint64_t result = 0;
  // The warp collective it waits in, its variant and its part.
  const WarpCollective *collective = nullptr;
  int32_t variant = 0;
  void *part = nullptr;
};

} // namespace

/// One worker of the pool: its counters, and the block it runs
/// (MMSimThread::simulator points here while it does).
struct SimLauncher::Worker {
  MMSimCounters counters = {};
  SimSharedMemory shared;
  SimFiberHost host;
  std::vector<std::unique_ptr<SimFiberStack>> stacks;
  std::vector<ThreadFiber> fibers;

  Launch *launch = nullptr;
  std::array<uint32_t, 3> blockId = {0, 0, 0};

  /// "kernel K (sm_90), block (x,y,z)".
  std::string describeBlock() const {
    return launch->describeKernel() + ", block " +
           formatDim3(blockId[0], blockId[1], blockId[2]);
  }
  /// The linear id of `thread` in its block.
  uint32_t linearId(const MMSimThread &thread) const {
    return thread.threadId[0] +
           launch->block.x *
               (thread.threadId[1] + launch->block.y * thread.threadId[2]);
  }
  /// "(x,y,z)" of the thread with linear id `linear`.
  std::string describeThread(uint32_t linear) const {
    unsigned x = launch->block.x, y = launch->block.y;
    return formatDim3(linear % x, (linear / x) % y, linear / (x * y));
  }
  /// Fails the launch for something `thread` did.
  void failThread(const MMSimThread &thread, const Twine &what) {
    launch->fail(
        describeBlock() + ", thread " +
        formatDim3(thread.threadId[0], thread.threadId[1], thread.threadId[2]) +
        ": " + what.str());
  }
};

using Worker = SimLauncher::Worker;

namespace {

/// The worker whose block runs on this thread (fibers stay on the worker
/// that started them), or null outside a launch.
thread_local Worker *activeWorker = nullptr;

//===----------------------------------------------------------------------===//
// Calls from outside a launch
//===----------------------------------------------------------------------===//

std::mutex strayMutex;
std::string strayError;

void recordStrayCall(const char *function) {
  std::lock_guard<std::mutex> lock(strayMutex);
  if (strayError.empty())
    strayError = std::string(function) +
                 " was called outside a simulator launch (by a thread the "
                 "simulator does not run); the call was ignored";
}

/// The worker running `thread`, or null after recording a stray call.
Worker *claim(MMSimThread *thread, const char *function) {
  Worker *worker = activeWorker;
  if (!worker || !worker->launch || !thread || thread->simulator != worker) {
    recordStrayCall(function);
    return nullptr;
  }
  return worker;
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

/// The MMSimThread fields every thread of the worker's block shares.
MMSimThread makeBlockThread(Worker &worker) {
  const Launch &launch = *worker.launch;
  MMSimThread thread = {};
  for (unsigned i = 0; i < 3; ++i)
    thread.blockId[i] = worker.blockId[i];
  thread.blockDim[0] = launch.block.x;
  thread.blockDim[1] = launch.block.y;
  thread.blockDim[2] = launch.block.z;
  thread.gridDim[0] = launch.grid.x;
  thread.gridDim[1] = launch.grid.y;
  thread.gridDim[2] = launch.grid.z;
  thread.subgroupSize = launch.table.subgroupSize;
  thread.shared = launch.sharedBytes ? worker.shared.data() : nullptr;
  thread.counters = &worker.counters;
  thread.simulator = &worker;
  return thread;
}

/// A block whose threads never meet: one after another, as fast as the host
/// copy goes.
void runIndependentBlock(Worker &worker) {
  const Launch &launch = *worker.launch;
  if (launch.sharedBytes)
    worker.shared.beginBlock(launch.sharedBytes);
  MMSimThread thread = makeBlockThread(worker);
  const MMSimKernelFn function = launch.kernel.function;
  void **params = launch.params;
  const uint32_t laneMask = launch.table.subgroupSize - 1;
  uint32_t linear = 0;
  for (uint32_t z = 0; z < launch.block.z; ++z)
    for (uint32_t y = 0; y < launch.block.y; ++y)
      for (uint32_t x = 0; x < launch.block.x; ++x) {
        thread.threadId[0] = x;
        thread.threadId[1] = y;
        thread.threadId[2] = z;
        thread.laneId = linear++ & laneMask;
        function(params, &thread);
      }
}

/// The first frame of a simulated thread's fiber.
void runThreadFiber(void *opaque) {
  ThreadFiber &fiber = *static_cast<ThreadFiber *>(opaque);
  Worker &worker = *static_cast<Worker *>(fiber.thread.simulator);
  worker.launch->kernel.function(worker.launch->params, &fiber.thread);
  fiber.state = ThreadState::Finished;
  worker.host.exit(fiber.fiber);
}

/// What thread `linear` of a stuck block is doing, for messages: "returned",
/// "waits at a barrier (site ...)".
std::string describeWait(const Worker &worker, uint32_t linear) {
  const ThreadFiber &fiber = worker.fibers[linear];
  const SimKernelTable &table = worker.launch->table;
  switch (fiber.state) {
  case ThreadState::Finished:
    return "returned";
  case ThreadState::AtBarrier:
    return "waits at a barrier (" + table.describeSite(fiber.site) + ")";
  case ThreadState::AtShuffle:
    return "waits at a shuffle (" + table.describeSite(fiber.site) + ")";
  case ThreadState::AtCollective:
    return std::string("waits at a ") + fiber.collective->noun + " (" +
           table.describeSite(fiber.site) + ")";
  case ThreadState::Runnable:
    break;
  }
  return "runs";
}

/// Whether thread `linear` waits at a warp-level operation.
bool waitsInWarp(const Worker &worker, uint32_t linear) {
  const ThreadState state = worker.fibers[linear].state;
  return state == ThreadState::AtShuffle || state == ThreadState::AtCollective;
}

/// Whether two lanes wait at the same warp-level operation, alike.
bool sameWarpWait(const ThreadFiber &one, const ThreadFiber &other) {
  if (one.state != other.state || one.site != other.site)
    return false;
  if (one.state == ThreadState::AtShuffle)
    return one.width == other.width && one.mode == other.mode;
  return one.collective == other.collective && one.variant == other.variant;
}

/// describeWait, with what the lane passed to its warp-level operation.
std::string describeWarpWait(const Worker &worker, uint32_t linear) {
  const ThreadFiber &fiber = worker.fibers[linear];
  std::string text = describeWait(worker, linear) + " with ";
  if (fiber.state == ThreadState::AtShuffle)
    return text + "width " + std::to_string(fiber.width) + ", mode " +
           std::to_string(fiber.mode);
  return text + fiber.collective->describeVariant(fiber.variant);
}

/// "shuffle", "matrix multiply": what thread `linear` waits at.
std::string warpWaitNoun(const Worker &worker, uint32_t linear) {
  const ThreadFiber &fiber = worker.fibers[linear];
  return fiber.state == ThreadState::AtShuffle ? "shuffle"
                                               : fiber.collective->noun;
}

/// Exchanges the values of one warp's lanes [first, first + count), all at
/// the same shuffle.
void exchange(Worker &worker, uint32_t first, uint32_t count) {
  for (uint32_t lane = 0; lane < count; ++lane) {
    ThreadFiber &fiber = worker.fibers[first + lane];
    const uint32_t width = uint32_t(fiber.width);
    const uint32_t segment = lane - lane % width;
    int64_t source = -1;
    switch (fiber.mode) {
    case MMSIM_SHUFFLE_XOR:
      source = int64_t(lane) ^ int64_t(fiber.offset);
      break;
    case MMSIM_SHUFFLE_DOWN:
      source = int64_t(lane) + fiber.offset;
      break;
    case MMSIM_SHUFFLE_UP:
      source = int64_t(lane) - fiber.offset;
      break;
    case MMSIM_SHUFFLE_IDX:
      source = int64_t(segment) + fiber.offset;
      break;
    }
    // As gpu.shuffle: a source outside the lane's segment of `width` lanes
    // (or past the block's last thread) gives the lane its own value,
    // marked invalid.
    const bool valid = fiber.offset >= 0 && source >= int64_t(segment) &&
                       source < int64_t(segment + width) &&
                       source < int64_t(count);
    const uint32_t value =
        valid ? worker.fibers[first + uint32_t(source)].value : fiber.value;
    fiber.result = uint64_t(value) | (uint64_t(valid) << 32);
  }
  for (uint32_t lane = 0; lane < count; ++lane)
    worker.fibers[first + lane].state = ThreadState::Runnable;
}

/// Gives up on a block whose threads cannot go on: its fibers never
/// resume.
void abandonBlock(Worker &worker, uint32_t threads) {
  for (uint32_t linear = 0; linear < threads; ++linear)
    if (worker.fibers[linear].state != ThreadState::Finished)
      worker.stacks[linear]->forget();
}

/// Resolves the waits of a block whose threads are all parked or finished:
/// completes the shuffles of whole warps, else releases a barrier every
/// thread waits at. False (after failing the launch) when the block is
/// stuck.
bool releaseWaits(Worker &worker, uint32_t threads, uint32_t finished) {
  Launch &launch = *worker.launch;
  const uint32_t warp = launch.table.subgroupSize;
  bool released = false;
  for (uint32_t first = 0; first < threads; first += warp) {
    const uint32_t count = std::min(warp, threads - first);
    const ThreadFiber &leader = worker.fibers[first];
    bool together = true;
    for (uint32_t lane = 0; lane < count && together; ++lane)
      together = waitsInWarp(worker, first + lane);
    if (!together)
      continue;
    for (uint32_t lane = 1; lane < count; ++lane) {
      const ThreadFiber &other = worker.fibers[first + lane];
      if (sameWarpWait(leader, other))
        continue;
      const bool shuffles = leader.state == ThreadState::AtShuffle &&
                            other.state == ThreadState::AtShuffle;
      launch.fail(worker.describeBlock() + ": the lanes of warp " +
                  Twine(first / warp) + " meet at different " +
                  (shuffles ? "shuffles" : "warp operations") + ": thread " +
                  worker.describeThread(first) + " " +
                  describeWarpWait(worker, first) + ", thread " +
                  worker.describeThread(first + lane) + " " +
                  describeWarpWait(worker, first + lane));
      return false;
    }
    if (leader.state == ThreadState::AtShuffle) {
      exchange(worker, first, count);
    } else {
      llvm::SmallVector<void *, 64> parts;
      for (uint32_t lane = 0; lane < count; ++lane)
        parts.push_back(worker.fibers[first + lane].part);
      const std::string error =
          leader.collective->complete(leader.variant, parts);
      if (!error.empty()) {
        launch.fail(worker.describeBlock() + ": warp " + Twine(first / warp) +
                    ": " + error + " (" +
                    launch.table.describeSite(leader.site) + ")");
        return false;
      }
      for (uint32_t lane = 0; lane < count; ++lane)
        worker.fibers[first + lane].state = ThreadState::Runnable;
    }
    released = true;
  }
  if (released)
    return true;

  // A shuffle or other warp collective that not every lane of its warp
  // reaches.
  for (uint32_t linear = 0; linear < threads; ++linear) {
    if (!waitsInWarp(worker, linear))
      continue;
    const uint32_t first = linear - linear % warp;
    const uint32_t count = std::min(warp, threads - first);
    for (uint32_t other = first; other < first + count; ++other) {
      if (waitsInWarp(worker, other))
        continue;
      const std::string noun = warpWaitNoun(worker, linear);
      launch.fail(worker.describeBlock() + ": not every lane of warp " +
                  Twine(first / warp) + " reaches the " + noun + ": thread " +
                  worker.describeThread(linear) + " " +
                  describeWait(worker, linear) + " while thread " +
                  worker.describeThread(other) + " (lane " +
                  Twine(other - first) + ") " + describeWait(worker, other) +
                  "; every lane of a warp must take part in a " + noun);
      return false;
    }
  }

  // Every thread that has not returned waits at a barrier.
  uint32_t waiting = 0;
  while (worker.fibers[waiting].state != ThreadState::AtBarrier)
    ++waiting;
  if (finished > 0) {
    uint32_t returned = 0;
    while (worker.fibers[returned].state != ThreadState::Finished)
      ++returned;
    launch.fail(worker.describeBlock() + ": thread " +
                worker.describeThread(returned) + " returned while thread " +
                worker.describeThread(waiting) + " " +
                describeWait(worker, waiting) +
                "; every thread of a block must reach each barrier");
    return false;
  }
  const int32_t site = worker.fibers[waiting].site;
  for (uint32_t linear = 0; linear < threads; ++linear) {
    if (worker.fibers[linear].site == site)
      continue;
    launch.fail(worker.describeBlock() +
                ": the threads wait at different barriers: thread " +
                worker.describeThread(waiting) + " " +
                describeWait(worker, waiting) + ", thread " +
                worker.describeThread(linear) + " " +
                describeWait(worker, linear));
    return false;
  }
  worker.shared.barrier();
  for (uint32_t linear = 0; linear < threads; ++linear)
    worker.fibers[linear].state = ThreadState::Runnable;
  return true;
}

/// A block whose threads meet: every thread a fiber, resumed in turn until
/// each parks or returns, then the waits resolved, until all returned.
void runCooperativeBlock(Worker &worker) {
  Launch &launch = *worker.launch;
  const uint32_t threads = launch.threadsPerBlock;
  while (worker.stacks.size() < threads) {
    auto stack = std::make_unique<SimFiberStack>();
    if (Error error = stack->map()) {
      launch.fail(worker.describeBlock() + ": " +
                  llvm::toString(std::move(error)));
      return;
    }
    worker.stacks.push_back(std::move(stack));
  }
  if (worker.fibers.size() < threads)
    worker.fibers.resize(threads);
  worker.shared.beginBlock(launch.sharedBytes);
  const MMSimThread common = makeBlockThread(worker);
  const uint32_t laneMask = launch.table.subgroupSize - 1;
  for (uint32_t linear = 0; linear < threads; ++linear) {
    ThreadFiber &fiber = worker.fibers[linear];
    fiber.thread = common;
    fiber.thread.threadId[0] = linear % launch.block.x;
    fiber.thread.threadId[1] = (linear / launch.block.x) % launch.block.y;
    fiber.thread.threadId[2] = linear / (launch.block.x * launch.block.y);
    fiber.thread.laneId = linear & laneMask;
    fiber.state = ThreadState::Runnable;
    fiber.site = -1;
    fiber.fiber.prepare(worker.host, *worker.stacks[linear], runThreadFiber,
                        &fiber);
  }
  uint32_t finished = 0;
  while (true) {
    for (uint32_t linear = 0; linear < threads; ++linear) {
      ThreadFiber &fiber = worker.fibers[linear];
      if (fiber.state != ThreadState::Runnable)
        continue;
      worker.host.resume(fiber.fiber);
      if (fiber.state == ThreadState::Finished)
        ++finished;
    }
    if (finished == threads)
      return;
    if (!releaseWaits(worker, threads, finished)) {
      abandonBlock(worker, threads);
      return;
    }
  }
}

/// What one worker does in a launch: blocks until there are none left or
/// the launch failed.
void runWorker(Worker &worker, Launch &launch) {
  worker.counters = {};
  worker.launch = &launch;
  activeWorker = &worker;
  const uint64_t gridX = launch.grid.x, gridY = launch.grid.y;
  while (!launch.failed.load(std::memory_order_relaxed)) {
    const uint64_t block =
        launch.nextBlock.fetch_add(1, std::memory_order_relaxed);
    if (block >= launch.blockCount)
      break;
    worker.blockId = {uint32_t(block % gridX),
                      uint32_t((block / gridX) % gridY),
                      uint32_t(block / (gridX * gridY))};
    if (launch.kernel.cooperative)
      runCooperativeBlock(worker);
    else
      runIndependentBlock(worker);
  }
  activeWorker = nullptr;
  worker.launch = nullptr;
}

//===----------------------------------------------------------------------===//
// Checks before a launch
//===----------------------------------------------------------------------===//

/// Reads parameter `index` of the launch as a T.
template <typename T> T readParam(void **params, unsigned index) {
  T value;
  std::memcpy(&value, params[index], sizeof(T));
  return value;
}

/// Checks that every global memref argument's accessed extent lies inside
/// one live allocation, and records what each points into.
Error checkBuffers(Launch &launch, const SimAllocations &memory) {
  const SimKernel &kernel = launch.kernel;
  for (const SimMemrefParam &memref : kernel.memrefs) {
    if (memref.space != "global")
      continue;
    const std::string argument = "argument " + std::to_string(memref.argument);
    const unsigned first = memref.firstParam;
    const auto aligned = readParam<uintptr_t>(launch.params, first + 1);
    const auto offset = readParam<int64_t>(launch.params, first + 2);
    // The lowest and highest element the descriptor reaches.
    __int128 low = offset, high = offset;
    bool empty = false;
    for (unsigned dim = 0; dim < memref.rank; ++dim) {
      const auto size = readParam<int64_t>(launch.params, first + 3 + dim);
      const auto stride =
          readParam<int64_t>(launch.params, first + 3 + memref.rank + dim);
      if (size <= 0) {
        empty = true;
        break;
      }
      const __int128 reach = __int128(size - 1) * stride;
      (reach < 0 ? low : high) += reach;
    }
    if (empty)
      continue;
    const __int128 begin = __int128(aligned) + low * memref.elementBytes;
    const __int128 bytes = (high - low + 1) * memref.elementBytes;
    if (begin < 0 || begin > __int128(UINTPTR_MAX) ||
        bytes > __int128(UINTPTR_MAX))
      return makeError(
          argument + " of kernel " + kernel.name +
          " points outside device memory (offset " + Twine(offset) + " from " +
          formatAddress(reinterpret_cast<const void *>(aligned)) + ")");
    const uintptr_t start = uintptr_t(begin);
    std::optional<SimAllocations::Found> found =
        memory.find(reinterpret_cast<const void *>(start));
    if (!found)
      return makeError(argument + " of kernel " + kernel.name +
                       " points outside device memory (" +
                       formatAddress(reinterpret_cast<const void *>(start)) +
                       ")");
    const uint64_t from = start - found->base;
    if (uint64_t(bytes) > found->size - from)
      return makeError(argument + " of kernel " + kernel.name + " reaches " +
                       "bytes [" + Twine(from) + ", " +
                       Twine(from + uint64_t(bytes)) + ") of " +
                       found->description + ", past its end");
    launch.argumentBuffers[memref.argument] = found->description;
  }
  return Error::success();
}

} // namespace

//===----------------------------------------------------------------------===//
// SimLauncher
//===----------------------------------------------------------------------===//

SimLauncher::SimLauncher(unsigned workerCount) : pool(workerCount) {
  for (unsigned i = 0; i < pool.size(); ++i)
    workers.push_back(std::make_unique<Worker>());
}

SimLauncher::~SimLauncher() = default;

Error SimLauncher::launch(const SimKernel &kernel, Dim3 grid, Dim3 block,
                          unsigned dynamicSharedBytes, void **params,
                          const SimAllocations &memory,
                          MMSimCounters &counters) {
  counters = {};
  const SimKernelTable &table = *kernel.table;
  const std::string name = "kernel " + kernel.name + " (" + table.chip + ")";
  auto fail = [&](const Twine &message) {
    return makeError("launching " + name + ": " + message);
  };
  std::optional<ChipLimits> limits = getChipLimits(table.vendor, table.chip);
  if (!limits)
    return fail("the simulator does not know the limits of " + table.target +
                " (it knows cuda:sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a "
                "and hip:gfx90a, gfx942)");
  const std::array<unsigned, 3> blockSize = {block.x, block.y, block.z};
  const std::array<unsigned, 3> gridSize = {grid.x, grid.y, grid.z};
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const std::string blockText = std::to_string(block.x) + "x" +
                                std::to_string(block.y) + "x" +
                                std::to_string(block.z);
  if (threads > limits->threadsPerBlock)
    return fail("a block of " + Twine(threads) + " threads (" + blockText +
                "); a block of " + table.chip + " has at most " +
                Twine(limits->threadsPerBlock));
  static const char *const axes[] = {"x", "y", "z"};
  for (unsigned i = 0; i < 3; ++i) {
    if (blockSize[i] == 0 || blockSize[i] > limits->blockSize[i])
      return fail("block size " + blockText + ": " + axes[i] + " may be 1 to " +
                  Twine(limits->blockSize[i]) + " on " + table.chip);
    if (gridSize[i] == 0 || gridSize[i] > limits->gridSize[i])
      return fail("grid size " + Twine(grid.x) + "x" + Twine(grid.y) + "x" +
                  Twine(grid.z) + ": " + axes[i] + " may be 1 to " +
                  Twine(limits->gridSize[i]) + " on " + table.chip);
  }
  if (kernel.knownBlockSize && *kernel.knownBlockSize != blockSize)
    return fail("block size " + blockText +
                ", but the kernel was compiled "
                "for blocks of " +
                Twine((*kernel.knownBlockSize)[0]) + "x" +
                Twine((*kernel.knownBlockSize)[1]) + "x" +
                Twine((*kernel.knownBlockSize)[2]));
  const uint64_t sharedBytes =
      dynamicSharedBytes
          ? llvm::alignTo(kernel.sharedBytes, 16) + dynamicSharedBytes
          : kernel.sharedBytes;
  if (sharedBytes > limits->sharedBytesPerBlock)
    return fail(Twine(sharedBytes) + " bytes of shared memory (" +
                Twine(kernel.sharedBytes) + " static, " +
                Twine(dynamicSharedBytes) + " dynamic); a block of " +
                table.chip + " may have " + Twine(limits->sharedBytesPerBlock));
  if (!kernel.paramBytes.empty() && !params)
    return fail("no parameters, it takes " + Twine(kernel.paramBytes.size()));
  for (size_t i = 0; i < kernel.paramBytes.size(); ++i)
    if (!params[i])
      return fail("parameter " + Twine(i) + " is a null pointer");

  Launch launch{kernel,
                table,
                grid,
                block,
                uint32_t(threads),
                uint64_t(grid.x) * grid.y * grid.z,
                sharedBytes,
                params};
  if (Error error = checkBuffers(launch, memory))
    return fail(llvm::toString(std::move(error)));

  const unsigned participants =
      unsigned(std::min<uint64_t>(launch.blockCount, uint64_t(workers.size())));
  pool.run(participants,
           [&](unsigned index) { runWorker(*workers[index], launch); });
  for (unsigned index = 0; index < participants; ++index) {
    const MMSimCounters &done = workers[index]->counters;
    counters.globalLoadBytes += done.globalLoadBytes;
    counters.globalStoreBytes += done.globalStoreBytes;
    counters.flops += done.flops;
    counters.sharedLoadBytes += done.sharedLoadBytes;
    counters.sharedStoreBytes += done.sharedStoreBytes;
    counters.barriers += done.barriers;
    counters.shuffles += done.shuffles;
    counters.atomics += done.atomics;
  }
  if (launch.failed.load(std::memory_order_acquire))
    return makeError(launch.firstError);
  return Error::success();
}

Error sim::takeSimStrayCallError() {
  std::lock_guard<std::mutex> lock(strayMutex);
  if (strayError.empty())
    return Error::success();
  return makeError(std::exchange(strayError, std::string()));
}

//===----------------------------------------------------------------------===//
// Warp collectives (SimLaunch.h)
//===----------------------------------------------------------------------===//

bool sim::canJoinWarpCollective(MMSimThread *thread, const char *function,
                                int32_t site) {
  Worker *worker = claim(thread, function);
  if (!worker)
    return false;
  if (worker->launch->kernel.cooperative)
    return true;
  worker->failThread(*thread, "calls " + Twine(function) + " (" +
                                  worker->launch->table.describeSite(site) +
                                  "), but the kernel table marks the kernel "
                                  "non-cooperative, so its lanes cannot "
                                  "meet (a compiler bug)");
  return false;
}

void sim::waitAtWarpCollective(MMSimThread *thread,
                               const WarpCollective &collective,
                               int32_t variant, void *part, int32_t site) {
  Worker &worker = *static_cast<Worker *>(thread->simulator);
  ThreadFiber &fiber = worker.fibers[worker.linearId(*thread)];
  fiber.state = ThreadState::AtCollective;
  fiber.site = site;
  fiber.collective = &collective;
  fiber.variant = variant;
  fiber.part = part;
  worker.host.yield(fiber.fiber);
  fiber.collective = nullptr;
  fiber.part = nullptr;
}

void sim::failSimThread(MMSimThread *thread, const Twine &what) {
  static_cast<Worker *>(thread->simulator)->failThread(*thread, what);
}

std::string sim::describeSimSite(MMSimThread *thread, int32_t site) {
  return static_cast<Worker *>(thread->simulator)
      ->launch->table.describeSite(site);
}

//===----------------------------------------------------------------------===//
// The callbacks of the host copies
//===----------------------------------------------------------------------===//

MM_SIM_EXPORT void mmsim_barrier(MMSimThread *thread, int32_t site) {
  Worker *worker = claim(thread, "mmsim_barrier");
  if (!worker)
    return;
  if (!worker->launch->kernel.cooperative) {
    worker->failThread(*thread,
                       "calls mmsim_barrier (" +
                           worker->launch->table.describeSite(site) +
                           "), but the kernel table marks the kernel "
                           "non-cooperative, so its threads cannot meet "
                           "(a compiler bug)");
    return;
  }
  ThreadFiber &fiber = worker->fibers[worker->linearId(*thread)];
  fiber.state = ThreadState::AtBarrier;
  fiber.site = site;
  worker->host.yield(fiber.fiber);
  ++worker->counters.barriers;
}

MM_SIM_EXPORT uint64_t mmsim_shuffle(MMSimThread *thread, uint32_t value,
                                     int32_t offset, int32_t width,
                                     int32_t mode, int32_t site) {
  Worker *worker = claim(thread, "mmsim_shuffle");
  if (!worker)
    return value;
  const SimKernelTable &table = worker->launch->table;
  if (!worker->launch->kernel.cooperative) {
    worker->failThread(*thread, "calls mmsim_shuffle (" +
                                    table.describeSite(site) +
                                    "), but the kernel table marks the kernel "
                                    "non-cooperative, so its lanes cannot "
                                    "meet (a compiler bug)");
    return value;
  }
  if (width <= 0 || uint32_t(width) > table.subgroupSize ||
      !llvm::isPowerOf2_32(uint32_t(width)) || mode < MMSIM_SHUFFLE_XOR ||
      mode > MMSIM_SHUFFLE_IDX) {
    worker->failThread(*thread, "a shuffle of width " + Twine(width) +
                                    " and mode " + Twine(mode) +
                                    " in a subgroup of " +
                                    Twine(table.subgroupSize) + " lanes (" +
                                    table.describeSite(site) + ")");
    return value;
  }
  ThreadFiber &fiber = worker->fibers[worker->linearId(*thread)];
  fiber.state = ThreadState::AtShuffle;
  fiber.site = site;
  fiber.value = value;
  fiber.offset = offset;
  fiber.width = width;
  fiber.mode = mode;
  worker->host.yield(fiber.fiber);
  ++worker->counters.shuffles;
  return fiber.result;
}

namespace {

/// mmsim_shared_access beyond its common case: an atomic access, or one
/// that finds something (the messages are built only then), or a stray
/// call.
[[gnu::noinline]] int32_t checkSharedAccess(MMSimThread *thread,
                                            uint64_t offset, uint32_t bytes,
                                            uint32_t flags, int32_t site) {
  Worker *worker = claim(thread, "mmsim_shared_access");
  if (!worker)
    return 0;
  const bool write = flags & MMSIM_ACCESS_WRITE;
  const bool atomic = flags & MMSIM_ACCESS_ATOMIC;
  const uint32_t linear = worker->linearId(*thread);
  const SimSharedMemory::Finding finding =
      worker->shared.access(offset, bytes, linear, write, atomic);
  auto range = [&] {
    return "bytes [" + std::to_string(offset) + ", " +
           std::to_string(offset + bytes) + ")";
  };
  auto where = [&] { return worker->launch->table.describeSite(site); };
  switch (finding.kind) {
  case SimSharedMemory::Finding::OutOfRange:
    worker->failThread(
        *thread, "shared-memory access to " + range() +
                     " outside the block's " + Twine(worker->shared.size()) +
                     " bytes of shared memory (" + where() + ")");
    return 0;
  case SimSharedMemory::Finding::Uninitialized:
    worker->failThread(*thread, "reads " + range() +
                                    " of shared memory, which no thread of "
                                    "the block has written (" +
                                    where() + ")");
    break;
  case SimSharedMemory::Finding::Race:
    worker->launch->fail(worker->describeBlock() + ": shared-memory race on " +
                         range() + " of shared memory: thread " +
                         worker->describeThread(linear) +
                         (write ? " writes" : " reads") + " them and thread " +
                         worker->describeThread(finding.otherThread) +
                         (finding.otherWrote ? " wrote" : " read") +
                         " them with no barrier between (" + where() + ")");
    break;
  case SimSharedMemory::Finding::None:
    break;
  }
  if (write)
    worker->counters.sharedStoreBytes += bytes;
  if (!write || atomic)
    worker->counters.sharedLoadBytes += bytes;
  if (atomic)
    ++worker->counters.atomics;
  return 1;
}

} // namespace

MM_SIM_EXPORT int32_t mmsim_shared_access(MMSimThread *thread, uint64_t offset,
                                          uint32_t bytes, uint32_t flags,
                                          int32_t site) {
  // Every shared-memory access of every thread comes through here: a plain
  // access that finds nothing, the common case, takes the shortest way.
  Worker *worker = activeWorker;
  if (worker && worker->launch && thread && thread->simulator == worker &&
      !(flags & MMSIM_ACCESS_ATOMIC)) {
    const bool write = flags & MMSIM_ACCESS_WRITE;
    if (worker->shared.accessUneventful(offset, bytes,
                                        worker->linearId(*thread), write)) {
      (write ? worker->counters.sharedStoreBytes
             : worker->counters.sharedLoadBytes) += bytes;
      return 1;
    }
  }
  return checkSharedAccess(thread, offset, bytes, flags, site);
}

MM_SIM_EXPORT void mmsim_out_of_bounds(MMSimThread *thread, int32_t site,
                                       int32_t dim, int64_t index,
                                       int64_t size) {
  Worker *worker = claim(thread, "mmsim_out_of_bounds");
  if (!worker)
    return;
  const Launch &launch = *worker->launch;
  std::string buffer;
  if (site >= 0 && size_t(site) < launch.table.sites.size()) {
    StringRef name = launch.table.sites[site].buffer;
    unsigned argument = 0;
    if (name.consume_front("argument ") && !name.getAsInteger(10, argument)) {
      auto found = launch.argumentBuffers.find(argument);
      if (found != launch.argumentBuffers.end())
        buffer = " of argument " + std::to_string(argument) +
                 ", which points into " + found->second;
    }
  }
  worker->failThread(
      *thread, "index " + Twine(index) + " is out of bounds in dimension " +
                   Twine(dim) + " (size " + Twine(size) + ")" + buffer + " (" +
                   launch.table.describeSite(site) + ")");
}
