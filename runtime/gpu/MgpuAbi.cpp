//===- MgpuAbi.cpp - the mgpu* functions compiled host code calls ---------===//
//
// The signatures are the ones MLIR 22 emits, read off its own output:
// mlir-opt-22 --gpu-to-llvm and mlir-translate-22 on gpu.launch_func (with
// and without clusters), gpu.alloc/dealloc/memcpy/memset (i16 and i32),
// gpu.wait, gpu.set_default_device and gpu.binary in both formats (the
// builders are GPUToLLVMConversion.cpp and SelectObjectAttr.cpp upstream).
// Upstream's CudaRuntimeWrappers.cpp and RocmRuntimeWrappers.cpp implement
// the same set. Some of their versions take one more trailing argument than
// 22 passes (a paramsCount on mgpuLaunchClusterKernel, an assembly size on
// mgpuModuleLoadJIT); we take what 22 passes, and since the C calling
// convention ignores extra trailing arguments, code built against either
// binds to these.
//
//===----------------------------------------------------------------------===//

#include "runtime/gpu/MgpuAbi.h"

#include "llvm/ADT/Twine.h"

#include <cstring>
#include <limits>
#include <string>
#include <utility>

/// The ABI stays visible whatever visibility the build defaults to.
#define MM_MGPU_EXPORT extern "C" __attribute__((visibility("default")))

using namespace mm::gpu;
using detail::makeError;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

namespace {

/// What the mgpu functions act on and the first error they met, per thread.
struct MgpuState {
  GpuDevice *device = nullptr;
  GpuStream stream = nullptr;
  bool failed = false;
  std::string error;
};

thread_local MgpuState state;

/// Records `error` (when it is one) as coming from the mgpu function
/// `function`, unless an earlier error was recorded.
void record(const char *function, Error error) {
  if (!error)
    return;
  std::string message = llvm::toString(std::move(error));
  if (state.failed)
    return;
  state.failed = true;
  state.error = (Twine(function) + ": " + message).str();
}

/// The value, or `fallback` after recording the error.
template <typename T>
T take(const char *function, Expected<T> value, T fallback = T()) {
  if (value)
    return *value;
  record(function, value.takeError());
  return fallback;
}

/// The current device, or null after recording that there is none.
GpuDevice *current(const char *function) {
  if (!state.device)
    record(function, makeError("no current GPU device (the runtime makes one "
                               "current with mm::gpu::CurrentDeviceScope "
                               "before it runs or loads compiled code)"));
  return state.device;
}

GpuStream toStream(void *stream) { return static_cast<GpuStream>(stream); }
GpuEvent toEvent(void *event) { return static_cast<GpuEvent>(event); }

/// A launch dimension, which MLIR passes as an index.
bool toDimension(intptr_t value, unsigned &dimension) {
  if (value < 1 || uint64_t(value) > std::numeric_limits<unsigned>::max())
    return false;
  dimension = unsigned(value);
  return true;
}

void launch(const char *function, void *kernel, intptr_t gridX, intptr_t gridY,
            intptr_t gridZ, intptr_t blockX, intptr_t blockY, intptr_t blockZ,
            int32_t smem, void *stream, void **params, void **extra) {
  GpuDevice *device = current(function);
  if (!device)
    return;
  Dim3 grid, block;
  if (!toDimension(gridX, grid.x) || !toDimension(gridY, grid.y) ||
      !toDimension(gridZ, grid.z) || !toDimension(blockX, block.x) ||
      !toDimension(blockY, block.y) || !toDimension(blockZ, block.z) ||
      smem < 0)
    return record(function,
                  makeError("launch sizes out of range: grid " + Twine(gridX) +
                            "x" + Twine(gridY) + "x" + Twine(gridZ) +
                            ", block " + Twine(blockX) + "x" + Twine(blockY) +
                            "x" + Twine(blockZ) + ", shared memory " +
                            Twine(smem)));
  record(function,
         device->launch(static_cast<GpuFunction>(kernel), grid, block,
                        unsigned(smem), toStream(stream), params, extra));
}

} // namespace

//===----------------------------------------------------------------------===//
// The runtime's side
//===----------------------------------------------------------------------===//

void mm::gpu::setCurrentDevice(GpuDevice *device, GpuStream stream) {
  state.device = device;
  state.stream = device ? stream : nullptr;
}

GpuDevice *mm::gpu::getCurrentDevice() { return state.device; }

GpuStream mm::gpu::getCurrentStream() { return state.stream; }

CurrentDeviceScope::CurrentDeviceScope(GpuDevice &device, GpuStream stream)
    : previousDevice(state.device), previousStream(state.stream) {
  setCurrentDevice(&device, stream);
}

CurrentDeviceScope::~CurrentDeviceScope() {
  setCurrentDevice(previousDevice, previousStream);
}

Error mm::gpu::takeMgpuError() {
  if (!state.failed)
    return Error::success();
  state.failed = false;
  return makeError(std::exchange(state.error, std::string()));
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

MM_MGPU_EXPORT void *mgpuModuleLoad(void *data, size_t gpuBlobSize) {
  GpuDevice *device = current("mgpuModuleLoad");
  if (!device)
    return nullptr;
  StringRef blob(static_cast<const char *>(data), data ? gpuBlobSize : 0);
  return take("mgpuModuleLoad", device->loadModule(blob));
}

MM_MGPU_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel) {
  GpuDevice *device = current("mgpuModuleLoadJIT");
  if (!device)
    return nullptr;
  if (device->getVendor() == Vendor::Hip) {
    record("mgpuModuleLoadJIT",
           makeError("hip cannot compile assembly at run time; serialise "
                     "ROCDL modules as code objects (gpu-module-to-binary "
                     "format=bin)"));
    return nullptr;
  }
  // The assembly is NUL-terminated; the terminator goes along.
  const char *text = static_cast<const char *>(data);
  StringRef blob(text, text ? std::strlen(text) + 1 : 0);
  return take("mgpuModuleLoadJIT", device->loadModule(blob, optLevel));
}

MM_MGPU_EXPORT void mgpuModuleUnload(void *module) {
  if (GpuDevice *device = current("mgpuModuleUnload"))
    record("mgpuModuleUnload",
           device->unloadModule(static_cast<GpuModule>(module)));
}

MM_MGPU_EXPORT void *mgpuModuleGetFunction(void *module, const char *name) {
  GpuDevice *device = current("mgpuModuleGetFunction");
  if (!device)
    return nullptr;
  return take(
      "mgpuModuleGetFunction",
      device->getFunction(static_cast<GpuModule>(module), name ? name : ""));
}

MM_MGPU_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                     intptr_t gridY, intptr_t gridZ,
                                     intptr_t blockX, intptr_t blockY,
                                     intptr_t blockZ, int32_t smem,
                                     void *stream, void **params, void **extra,
                                     size_t /*paramsCount*/) {
  launch("mgpuLaunchKernel", function, gridX, gridY, gridZ, blockX, blockY,
         blockZ, smem, stream, params, extra);
}

MM_MGPU_EXPORT void
mgpuLaunchClusterKernel(void *function, intptr_t clusterX, intptr_t clusterY,
                        intptr_t clusterZ, intptr_t gridX, intptr_t gridY,
                        intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                        intptr_t blockZ, int32_t smem, void *stream,
                        void **params, void **extra) {
  if (clusterX != 1 || clusterY != 1 || clusterZ != 1)
    return record("mgpuLaunchClusterKernel",
                  makeError("thread block clusters (" + Twine(clusterX) + "x" +
                            Twine(clusterY) + "x" + Twine(clusterZ) +
                            ") are not supported by this runtime"));
  launch("mgpuLaunchClusterKernel", function, gridX, gridY, gridZ, blockX,
         blockY, blockZ, smem, stream, params, extra);
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

MM_MGPU_EXPORT void *mgpuStreamCreate() {
  GpuDevice *device = current("mgpuStreamCreate");
  if (!device)
    return nullptr;
  if (state.stream)
    return state.stream;
  return take("mgpuStreamCreate", device->createStream());
}

MM_MGPU_EXPORT void mgpuStreamDestroy(void *stream) {
  if (stream && stream == state.stream)
    return;
  if (GpuDevice *device = current("mgpuStreamDestroy"))
    record("mgpuStreamDestroy", device->destroyStream(toStream(stream)));
}

MM_MGPU_EXPORT void mgpuStreamSynchronize(void *stream) {
  GpuDevice *device = current("mgpuStreamSynchronize");
  if (!device)
    return;
  if (stream && stream == state.stream &&
      device->getCapturingStream() == toStream(stream))
    return;
  record("mgpuStreamSynchronize", device->synchronize(toStream(stream)));
}

MM_MGPU_EXPORT void mgpuStreamWaitEvent(void *stream, void *event) {
  if (GpuDevice *device = current("mgpuStreamWaitEvent"))
    record("mgpuStreamWaitEvent",
           device->waitEvent(toStream(stream), toEvent(event)));
}

MM_MGPU_EXPORT void *mgpuEventCreate() {
  GpuDevice *device = current("mgpuEventCreate");
  if (!device)
    return nullptr;
  return take("mgpuEventCreate", device->createEvent());
}

MM_MGPU_EXPORT void mgpuEventDestroy(void *event) {
  if (GpuDevice *device = current("mgpuEventDestroy"))
    record("mgpuEventDestroy", device->destroyEvent(toEvent(event)));
}

MM_MGPU_EXPORT void mgpuEventSynchronize(void *event) {
  if (GpuDevice *device = current("mgpuEventSynchronize"))
    record("mgpuEventSynchronize", device->synchronize(toEvent(event)));
}

MM_MGPU_EXPORT void mgpuEventRecord(void *event, void *stream) {
  if (GpuDevice *device = current("mgpuEventRecord"))
    record("mgpuEventRecord",
           device->recordEvent(toEvent(event), toStream(stream)));
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

MM_MGPU_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, void *stream,
                                  bool isHostShared) {
  GpuDevice *device = current("mgpuMemAlloc");
  if (!device)
    return nullptr;
  // On a stream, stream-ordered: no synchronisation around temporaries.
  void *pointer = take(
      "mgpuMemAlloc", stream && !isHostShared
                          ? device->allocateAsync(sizeBytes, toStream(stream))
                          : device->allocate(sizeBytes, isHostShared));
  // The compiled code's own buffers, as the simulator's errors name them.
  if (pointer)
    device->nameAllocation(pointer, "a temporary buffer from mgpuMemAlloc");
  return pointer;
}

MM_MGPU_EXPORT void mgpuMemFree(void *ptr, void *stream) {
  if (GpuDevice *device = current("mgpuMemFree"))
    record("mgpuMemFree", stream ? device->freeAsync(ptr, toStream(stream))
                                 : device->free(ptr));
}

MM_MGPU_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                               void *stream) {
  if (GpuDevice *device = current("mgpuMemcpy"))
    record("mgpuMemcpy", device->copy(dst, src, sizeBytes, toStream(stream)));
}

MM_MGPU_EXPORT void mgpuMemset32(void *dst, unsigned int value, size_t count,
                                 void *stream) {
  if (GpuDevice *device = current("mgpuMemset32"))
    record("mgpuMemset32", device->fill32(dst, value, count, toStream(stream)));
}

MM_MGPU_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                                 void *stream) {
  if (GpuDevice *device = current("mgpuMemset16"))
    record("mgpuMemset16", device->fill16(dst, value, count, toStream(stream)));
}

MM_MGPU_EXPORT void mgpuSetDefaultDevice(int32_t device) {
  GpuDevice *currentDevice = current("mgpuSetDefaultDevice");
  if (currentDevice && currentDevice->getIndex() != device)
    record("mgpuSetDefaultDevice",
           makeError("compiled code asks for device " + Twine(device) +
                     " but the runtime runs it on " +
                     currentDevice->getSpec()));
}
