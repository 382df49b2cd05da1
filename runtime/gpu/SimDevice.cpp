//===- SimDevice.cpp - GPU kernels run on the CPU -------------------------===//
//
// The device side of the simulator: memory, streams, events, modules,
// graphs and counters. Launches themselves run in SimLaunch.cpp.
//
//===----------------------------------------------------------------------===//

#include "runtime/gpu/SimDevice.h"

#include "runtime/gpu/SimKernelTable.h"
#include "runtime/gpu/SimLaunch.h"
#include "runtime/gpu/SimMemory.h"
#include "runtime/gpu/SimWorkerPool.h"
#include "runtime/gpu/VendorDevices.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <mutex>

using namespace mm::gpu;
using namespace mm::gpu::sim;
using detail::makeError;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

namespace {

/// A stream or an event: work is done when its call returns, so they are
/// only tokens, checked when used.
struct SimToken {};

/// A captured graph: what replaying it does, in order.
struct SimGraph {
  std::vector<std::function<Error()>> steps;
  /// Memory freed on the stream while it was captured, freed with the graph.
  std::vector<void *> owned;
};

uint64_t getHostMemory() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long pageSize = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && pageSize > 0 ? uint64_t(pages) * uint64_t(pageSize) : 0;
}

GpuDeviceInfo describeSimulatorWith(unsigned workers) {
  GpuDeviceInfo info;
  info.vendor = Vendor::Sim;
  info.index = 0;
  info.name = "GPU simulator (host CPU, " + std::to_string(workers) +
              (workers == 1 ? " core)" : " cores)");
  // It runs code built for any chip: each launch takes the warp width and
  // limits from its kernel's table, so the device itself has none.
  info.arch = "";
  info.subgroupWidth = 0;
  info.multiprocessors = workers;
  info.totalMemory = getHostMemory();
  return info;
}

} // namespace

struct SimDevice::State {
  explicit State(unsigned workers) : workers(workers) {}

  /// The launcher, made at the first launch (its threads are not needed
  /// before).
  SimLauncher &getLauncher() {
    std::call_once(launcherMade,
                   [&] { launcher = std::make_unique<SimLauncher>(workers); });
    return *launcher;
  }

  unsigned workers;
  SimAllocations memory;
  std::once_flag launcherMade;
  std::unique_ptr<SimLauncher> launcher;

  /// Guards everything below.
  mutable std::mutex mutex;
  std::map<const SimKernelTable *, std::unique_ptr<SimKernelTable>> modules;
  llvm::DenseSet<const SimKernel *> liveKernels;
  std::map<const SimToken *, std::unique_ptr<SimToken>> streams, events;
  GpuStream capturing = nullptr;
  std::unique_ptr<SimGraph> recording;
  std::vector<SimKernelCounters> counters;
  llvm::StringMap<size_t> counterIndex;
};

//===----------------------------------------------------------------------===//
// Opening
//===----------------------------------------------------------------------===//

SimDevice::SimDevice() : SimDevice(SimWorkerPool::getDefaultSize()) {}

SimDevice::SimDevice(unsigned workers)
    : GpuDevice(describeSimulatorWith(std::max(workers, 1u))),
      state(std::make_unique<State>(std::max(workers, 1u))) {}

SimDevice::~SimDevice() = default;

GpuDeviceInfo SimDevice::describeSimulator() {
  return describeSimulatorWith(SimWorkerPool::getDefaultSize());
}

SimDevice *SimDevice::get(GpuDevice &device) {
  // Only SimDevice says it is the simulator.
  return device.isSimulator() ? static_cast<SimDevice *>(&device) : nullptr;
}

GpuDeviceInfo mm::gpu::detail::querySimDevice() {
  return SimDevice::describeSimulator();
}

std::unique_ptr<GpuDevice> mm::gpu::detail::openSimDevice() {
  return std::make_unique<SimDevice>();
}

unsigned SimDevice::getWorkerCount() const { return state->workers; }

Error mm::gpu::takeSimStrayCallError() { return sim::takeSimStrayCallError(); }

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

Expected<void *> SimDevice::allocateImpl(size_t bytes, bool /*hostShared*/) {
  return state->memory.allocate(bytes);
}

Error SimDevice::freeImpl(void *pointer) { return state->memory.free(pointer); }

void SimDevice::nameAllocation(void *pointer, StringRef label) {
  state->memory.name(pointer, label);
}

std::string SimDevice::describeAddress(const void *address) const {
  std::optional<SimAllocations::Found> found = state->memory.find(address);
  return found ? found->description : std::string();
}

/// Whether work on `stream` is being captured (then it is recorded, not
/// done).
static bool isCaptured(const std::unique_ptr<SimGraph> &recording,
                       GpuStream capturing, GpuStream stream) {
  return recording && stream && stream == capturing;
}

Error SimDevice::freeAsyncImpl(void *pointer, GpuStream stream) {
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (isCaptured(state->recording, state->capturing, stream)) {
      state->recording->owned.push_back(pointer);
      return Error::success();
    }
  }
  return state->memory.free(pointer);
}

Error SimDevice::copyImpl(void *dst, const void *src, size_t bytes,
                          CopyKind kind, GpuStream stream) {
  const SimAllocations &memory = state->memory;
  auto check = [&](const void *pointer, bool onDevice, StringRef what) {
    std::string name =
        ("the " + what + " of a copy of " + Twine(bytes) + " bytes on sim")
            .str();
    return onDevice ? memory.checkInside(pointer, bytes, name)
                    : memory.checkNoOverrun(pointer, bytes, name);
  };
  const bool dstOnDevice =
      kind == CopyKind::HostToDevice || kind == CopyKind::DeviceToDevice;
  const bool srcOnDevice =
      kind == CopyKind::DeviceToHost || kind == CopyKind::DeviceToDevice;
  if (Error error = check(dst, dstOnDevice, "destination"))
    return error;
  if (Error error = check(src, srcOnDevice, "source"))
    return error;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (isCaptured(state->recording, state->capturing, stream)) {
      state->recording->steps.push_back([dst, src, bytes] {
        std::memmove(dst, src, bytes);
        return Error::success();
      });
      return Error::success();
    }
  }
  std::memmove(dst, src, bytes);
  return Error::success();
}

/// Fills `count` elements of `elementBytes` at `dst` with `value`.
static void fillElements(void *dst, uint32_t value, unsigned elementBytes,
                         size_t count) {
  auto *bytes = static_cast<uint8_t *>(dst);
  if (elementBytes == 1) {
    std::memset(dst, int(value & 0xff), count);
    return;
  }
  for (size_t i = 0; i < count; ++i)
    std::memcpy(bytes + i * elementBytes, &value, elementBytes);
}

Error SimDevice::fillImpl(void *dst, uint32_t value, unsigned elementBytes,
                          size_t count, GpuStream stream) {
  if (Error error = state->memory.checkInside(
          dst, count * elementBytes,
          ("the destination of a fill of " + Twine(count) + " " +
           Twine(elementBytes) + "-byte elements on sim")
              .str()))
    return error;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (isCaptured(state->recording, state->capturing, stream)) {
      state->recording->steps.push_back([=] {
        fillElements(dst, value, elementBytes, count);
        return Error::success();
      });
      return Error::success();
    }
  }
  fillElements(dst, value, elementBytes, count);
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

/// Checks that `token` is one of `live` ("stream", "event" in errors).
static Error
checkToken(const std::map<const SimToken *, std::unique_ptr<SimToken>> &live,
           const void *token, StringRef what) {
  if (live.count(static_cast<const SimToken *>(token)))
    return Error::success();
  return makeError("sim: " + formatAddress(token) + " is not a live " + what +
                   " of this device");
}

/// A new token in `live`.
static SimToken *
addToken(std::map<const SimToken *, std::unique_ptr<SimToken>> &live) {
  auto token = std::make_unique<SimToken>();
  SimToken *added = token.get();
  live[added] = std::move(token);
  return added;
}

/// Removes `token` from `live`, or says it is not there.
static Error
removeToken(std::map<const SimToken *, std::unique_ptr<SimToken>> &live,
            const void *token, StringRef what) {
  if (Error error = checkToken(live, token, what))
    return error;
  live.erase(static_cast<const SimToken *>(token));
  return Error::success();
}

Expected<GpuStream> SimDevice::createStreamImpl() {
  std::lock_guard<std::mutex> lock(state->mutex);
  return reinterpret_cast<GpuStream>(addToken(state->streams));
}

Error SimDevice::destroyStreamImpl(GpuStream stream) {
  std::lock_guard<std::mutex> lock(state->mutex);
  return removeToken(state->streams, stream, "stream");
}

Error SimDevice::synchronizeStream(GpuStream stream) {
  std::lock_guard<std::mutex> lock(state->mutex);
  if (stream && state->recording && stream == state->capturing)
    return makeError("sim: synchronising a stream that is being captured "
                     "into a graph (nothing on it runs until the graph is "
                     "launched)");
  if (stream)
    return checkToken(state->streams, stream, "stream");
  return Error::success();
}

Expected<GpuEvent> SimDevice::createEventImpl() {
  std::lock_guard<std::mutex> lock(state->mutex);
  return reinterpret_cast<GpuEvent>(addToken(state->events));
}

Error SimDevice::destroyEventImpl(GpuEvent event) {
  std::lock_guard<std::mutex> lock(state->mutex);
  return removeToken(state->events, event, "event");
}

Error SimDevice::recordEventImpl(GpuEvent event, GpuStream stream) {
  std::lock_guard<std::mutex> lock(state->mutex);
  if (Error error = checkToken(state->events, event, "event"))
    return error;
  if (stream)
    return checkToken(state->streams, stream, "stream");
  return Error::success();
}

Error SimDevice::waitEventImpl(GpuStream stream, GpuEvent event) {
  return recordEventImpl(event, stream);
}

Error SimDevice::synchronizeEvent(GpuEvent event) {
  std::lock_guard<std::mutex> lock(state->mutex);
  return checkToken(state->events, event, "event");
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

/// The host copies in the library `handle` (a dlopen handle or link map).
static Expected<std::unique_ptr<SimKernelTable>>
readKernelTable(void *handle, StringRef libraryName) {
  ::dlerror();
  void *symbol = ::dlsym(handle, "mm_sim_kernels");
  // dlsym searches the library's dependencies too: the table must be the
  // library's own.
  struct link_map *library = nullptr, *holder = nullptr;
  Dl_info info;
  if (symbol && (::dlinfo(handle, RTLD_DI_LINKMAP, &library) != 0 ||
                 !::dladdr1(symbol, &info, reinterpret_cast<void **>(&holder),
                            RTLD_DL_LINKMAP) ||
                 holder != library))
    symbol = nullptr;
  if (!symbol)
    return makeError(libraryName +
                     " has no host copy of its kernels (no mm_sim_kernels); "
                     "recompile it with this mm-compile to run it on the "
                     "simulator");
  return parseSimKernelTable(static_cast<const char *>(symbol), handle,
                             libraryName);
}

GpuModule SimDevice::addModule(std::unique_ptr<SimKernelTable> table) {
  const SimKernelTable *module = table.get();
  std::lock_guard<std::mutex> lock(state->mutex);
  for (const std::unique_ptr<SimKernel> &kernel : table->kernels)
    state->liveKernels.insert(kernel.get());
  state->modules[module] = std::move(table);
  return reinterpret_cast<GpuModule>(const_cast<SimKernelTable *>(module));
}

Expected<GpuModule> SimDevice::loadModuleImpl(const char *blob, bool /*isText*/,
                                              int /*jitOptLevel*/) {
  // An artifact loads its GPU code from its own .rodata: the library that
  // holds the blob holds the host copies too.
  Dl_info info;
  struct link_map *library = nullptr;
  if (!::dladdr1(blob, &info, reinterpret_cast<void **>(&library),
                 RTLD_DL_LINKMAP) ||
      !library)
    return makeError("sim: the module blob at " + formatAddress(blob) +
                     " is not inside a loaded library; the simulator runs "
                     "the host copies of the kernels an artifact carries "
                     "beside its GPU code, and finds them by the blob's "
                     "address (load a kernel library with "
                     "SimDevice::loadHostKernels)");
  // An artifact the runtime loaded from memory is /proc/self/fd/N: its
  // path says nothing (the runtime's error names the artifact).
  StringRef name = info.dli_fname ? info.dli_fname : "";
  if (name.empty() || name.starts_with("/proc/self/fd/"))
    name = "the artifact";
  // glibc's link maps are dlopen handles.
  Expected<std::unique_ptr<SimKernelTable>> table =
      readKernelTable(library, name);
  if (!table)
    return table.takeError();
  return addModule(std::move(*table));
}

Expected<GpuModule> SimDevice::loadHostKernels(void *dlHandle) {
  if (!dlHandle)
    return makeError("sim: loading the host kernels of a null library");
  struct link_map *library = nullptr;
  std::string name = "the library";
  if (::dlinfo(dlHandle, RTLD_DI_LINKMAP, &library) == 0 && library &&
      library->l_name && *library->l_name)
    name = library->l_name;
  Expected<std::unique_ptr<SimKernelTable>> table =
      readKernelTable(dlHandle, name);
  if (!table)
    return table.takeError();
  return addModule(std::move(*table));
}

Error SimDevice::unloadModuleImpl(GpuModule module) {
  std::lock_guard<std::mutex> lock(state->mutex);
  auto found = state->modules.find(reinterpret_cast<SimKernelTable *>(module));
  if (found == state->modules.end())
    return makeError("sim: unloading " + formatAddress(module) +
                     ", which is not a loaded module");
  for (const std::unique_ptr<SimKernel> &kernel : found->second->kernels)
    state->liveKernels.erase(kernel.get());
  state->modules.erase(found);
  return Error::success();
}

Expected<GpuFunction> SimDevice::getFunctionImpl(GpuModule module,
                                                 const char *name) {
  std::lock_guard<std::mutex> lock(state->mutex);
  auto found = state->modules.find(reinterpret_cast<SimKernelTable *>(module));
  if (found == state->modules.end())
    return makeError("sim: looking up kernel '" + Twine(name) + "' in " +
                     formatAddress(module) + ", which is not a loaded module");
  const SimKernelTable &table = *found->second;
  if (const SimKernel *kernel = table.find(name))
    return reinterpret_cast<GpuFunction>(const_cast<SimKernel *>(kernel));
  std::vector<std::string> names;
  for (const std::unique_ptr<SimKernel> &kernel : table.kernels)
    names.push_back(kernel->name);
  return makeError("sim: kernel '" + Twine(name) + "' is not among the host " +
                   "copies of " + table.library + " (" +
                   (names.empty() ? std::string("it has none")
                                  : "it has " + llvm::join(names, ", ")) +
                   ")");
}

//===----------------------------------------------------------------------===//
// Launches and counters
//===----------------------------------------------------------------------===//

Error SimDevice::runLaunch(const SimKernel &kernel, Dim3 grid, Dim3 block,
                           unsigned sharedMemoryBytes, void **params) {
  MMSimCounters done = {};
  Error error = state->getLauncher().launch(
      kernel, grid, block, sharedMemoryBytes, params, state->memory, done);
  std::lock_guard<std::mutex> lock(state->mutex);
  auto [entry, added] =
      state->counterIndex.try_emplace(kernel.name, state->counters.size());
  if (added) {
    state->counters.emplace_back();
    state->counters.back().name = kernel.name;
    state->counters.back().kind = kernel.kind;
  }
  SimKernelCounters &counters = state->counters[entry->second];
  ++counters.launches;
  counters.lastGrid = grid;
  counters.lastBlock = block;
  counters.threads +=
      uint64_t(grid.x) * grid.y * grid.z * block.x * block.y * block.z;
  counters.globalLoadBytes += done.globalLoadBytes;
  counters.globalStoreBytes += done.globalStoreBytes;
  counters.sharedLoadBytes += done.sharedLoadBytes;
  counters.sharedStoreBytes += done.sharedStoreBytes;
  counters.barriers += done.barriers;
  counters.shuffles += done.shuffles;
  counters.atomics += done.atomics;
  counters.flops += done.flops;
  return error;
}

/// The kernel a GpuFunction of this device is, or an error when its module
/// is gone (the caller holds the mutex).
static Expected<const SimKernel *>
findLiveKernel(const llvm::DenseSet<const SimKernel *> &live,
               GpuFunction function) {
  const auto *kernel = reinterpret_cast<const SimKernel *>(function);
  if (live.contains(kernel))
    return kernel;
  return makeError("sim: launching " + formatAddress(function) +
                   ", which is not a kernel of a loaded module");
}

Error SimDevice::launchImpl(GpuFunction function, Dim3 grid, Dim3 block,
                            unsigned sharedMemoryBytes, GpuStream stream,
                            void **params, void **extra) {
  if (extra)
    return makeError("sim: kernel parameters come in `params`; the "
                     "simulator does not take the driver's `extra` array");
  const SimKernel *kernel = nullptr;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    Expected<const SimKernel *> found =
        findLiveKernel(state->liveKernels, function);
    if (!found)
      return found.takeError();
    kernel = *found;
    if (isCaptured(state->recording, state->capturing, stream)) {
      // A graph keeps the parameter values, not the caller's pointers.
      std::vector<uint8_t> values;
      std::vector<size_t> offsets;
      for (size_t i = 0; i < kernel->paramBytes.size(); ++i) {
        if (!params || !params[i])
          return makeError("sim: capturing a launch of kernel " + kernel->name +
                           " whose parameter " + Twine(i) +
                           " is a null pointer");
        offsets.push_back(values.size());
        const auto *bytes = static_cast<const uint8_t *>(params[i]);
        values.insert(values.end(), bytes, bytes + kernel->paramBytes[i]);
        values.resize(llvm::alignTo(values.size(), 8));
      }
      state->recording->steps.push_back(
          [this, function, grid, block, sharedMemoryBytes,
           values = std::move(values), offsets = std::move(offsets)]() mutable {
            const SimKernel *kernel = nullptr;
            {
              std::lock_guard<std::mutex> lock(state->mutex);
              Expected<const SimKernel *> found =
                  findLiveKernel(state->liveKernels, function);
              if (!found)
                return found.takeError();
              kernel = *found;
            }
            std::vector<void *> pointers;
            for (size_t offset : offsets)
              pointers.push_back(values.data() + offset);
            return runLaunch(*kernel, grid, block, sharedMemoryBytes,
                             pointers.data());
          });
      return Error::success();
    }
  }
  return runLaunch(*kernel, grid, block, sharedMemoryBytes, params);
}

std::vector<SimKernelCounters> SimDevice::getCounters() const {
  std::lock_guard<std::mutex> lock(state->mutex);
  return state->counters;
}

void SimDevice::resetCounters() {
  std::lock_guard<std::mutex> lock(state->mutex);
  state->counters.clear();
  state->counterIndex.clear();
}

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

Error SimDevice::beginCaptureImpl(GpuStream stream) {
  std::lock_guard<std::mutex> lock(state->mutex);
  if (Error error = checkToken(state->streams, stream, "stream"))
    return error;
  state->capturing = stream;
  state->recording = std::make_unique<SimGraph>();
  return Error::success();
}

Expected<std::pair<void *, void *>>
SimDevice::endCaptureImpl(GpuStream /*stream*/) {
  std::lock_guard<std::mutex> lock(state->mutex);
  state->capturing = nullptr;
  SimGraph *graph = state->recording.release();
  // The graph and its instantiation are one object.
  return std::pair<void *, void *>(graph, graph);
}

Error SimDevice::launchGraphImpl(void *exec, GpuStream stream) {
  auto &graph = *static_cast<SimGraph *>(exec);
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (stream)
      if (Error error = checkToken(state->streams, stream, "stream"))
        return error;
  }
  for (size_t step = 0; step < graph.steps.size(); ++step)
    if (Error error = graph.steps[step]())
      return makeError("sim: step " + Twine(step + 1) + " of " +
                       Twine(graph.steps.size()) +
                       " of a graph: " + llvm::toString(std::move(error)));
  return Error::success();
}

void SimDevice::destroyGraphImpl(void *graph, void * /*exec*/) {
  std::unique_ptr<SimGraph> destroyed(static_cast<SimGraph *>(graph));
  for (void *pointer : destroyed->owned)
    llvm::consumeError(state->memory.free(pointer));
}
