//===- HipDevice.cpp - GpuDevice over the HIP runtime ---------------------===//
//
// HIP keeps one current device per thread (hipSetDevice), set before every
// call. HIP loads code objects only: AMDGPU assembly text is refused with a
// hint (MLIR's ROCDL serialisation must use format=bin).
//
//===----------------------------------------------------------------------===//

#include "runtime/gpu/VendorDevices.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <vector>

using namespace mm::gpu;
using namespace mm::gpu::hip;
using detail::makeError;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

hipStream_t toHip(GpuStream stream) {
  return reinterpret_cast<hipStream_t>(stream);
}
hipEvent_t toHip(GpuEvent event) { return reinterpret_cast<hipEvent_t>(event); }
hipModule_t toHip(GpuModule module) {
  return reinterpret_cast<hipModule_t>(module);
}
hipFunction_t toHip(GpuFunction function) {
  return reinterpret_cast<hipFunction_t>(function);
}

/// gcnArchName ("gfx942:sramecc+:xnack-") without its feature suffixes. The
/// property struct changed its layout in ROCm 6 (hipDeviceProp_tR0600), so
/// rather than mirror one layout, the properties land in an oversized zeroed
/// buffer and the name is the string after the 256-byte marketing name that
/// starts with "gfx" (no other field of either layout holds such text).
Expected<std::string> queryArch(HipDriver &driver, int index) {
  std::vector<char> properties(16384, 0);
  Error error = driver.hipGetDevicePropertiesR0600
                    ? MM_GPU_CALL(driver, hipGetDevicePropertiesR0600,
                                  properties.data(), index)
                    : MM_GPU_CALL(driver, hipGetDeviceProperties,
                                  properties.data(), index);
  if (error)
    return std::move(error);
  StringRef bytes(properties.data(), properties.size() - 1);
  for (size_t at = bytes.find("gfx", 256); at != StringRef::npos;
       at = bytes.find("gfx", at + 3)) {
    StringRef name = StringRef(bytes.data() + at).split(':').first;
    if (name.size() > 3 && name.size() < 32 &&
        llvm::all_of(name.drop_front(3), llvm::isAlnum))
      return name.str();
  }
  return makeError("hipGetDeviceProperties gave no gcnArchName for hip:" +
                   llvm::Twine(index));
}

Expected<GpuDeviceInfo> queryDevice(HipDriver &driver, int index) {
  hipDevice_t device = 0;
  if (Error error = MM_GPU_CALL(driver, hipDeviceGet, &device, index))
    return std::move(error);
  GpuDeviceInfo info;
  info.vendor = Vendor::Hip;
  info.index = index;
  char name[256] = {};
  if (Error error = MM_GPU_CALL(driver, hipDeviceGetName, name,
                                int(sizeof(name) - 1), device))
    return std::move(error);
  info.name = name;

  int computeUnits = 0, wavefront = 0, shared = 0, sharedOptin = 0;
  for (auto [attribute, value] :
       {std::pair{hipDeviceAttributeMultiprocessorCount, &computeUnits},
        std::pair{hipDeviceAttributeWarpSize, &wavefront},
        std::pair{hipDeviceAttributeMaxSharedMemoryPerBlock, &shared},
        std::pair{hipDeviceAttributeSharedMemPerBlockOptin, &sharedOptin}})
    if (Error error =
            MM_GPU_CALL(driver, hipDeviceGetAttribute, value, attribute, index))
      return std::move(error);
  info.multiprocessors = unsigned(computeUnits);
  info.subgroupWidth = unsigned(wavefront);
  info.sharedMemoryPerBlock = uint64_t(shared);
  info.sharedMemoryPerBlockOptin = uint64_t(sharedOptin);

  Expected<std::string> arch = queryArch(driver, index);
  if (!arch)
    return arch.takeError();
  info.arch = std::move(*arch);

  size_t total = 0;
  if (Error error = MM_GPU_CALL(driver, hipDeviceTotalMem, &total, device))
    return std::move(error);
  info.totalMemory = total;
  return info;
}

class HipDevice final : public GpuDevice {
public:
  HipDevice(GpuDeviceInfo info, HipDriver &driver)
      : GpuDevice(std::move(info)), driver(driver) {}

protected:
  Error activate() override {
    return MM_GPU_CALL(driver, hipSetDevice, info.index);
  }
  Error synchronizeDevice() override {
    return driver.call("hipDeviceSynchronize", driver.hipDeviceSynchronize);
  }

  Expected<void *> allocateImpl(size_t bytes, bool hostShared) override {
    void *pointer = nullptr;
    Error error = hostShared ? MM_GPU_CALL(driver, hipMallocManaged, &pointer,
                                           bytes, hipMemAttachGlobal)
                             : MM_GPU_CALL(driver, hipMalloc, &pointer, bytes);
    if (error)
      return std::move(error);
    return pointer;
  }
  Error freeImpl(void *pointer) override {
    return MM_GPU_CALL(driver, hipFree, pointer);
  }
  Expected<void *> allocateAsyncImpl(size_t bytes, GpuStream stream) override {
    if (!driver.hipMallocAsync)
      return GpuDevice::allocateAsyncImpl(bytes, stream);
    void *pointer = nullptr;
    if (Error error =
            MM_GPU_CALL(driver, hipMallocAsync, &pointer, bytes, toHip(stream)))
      return std::move(error);
    return pointer;
  }
  Error freeAsyncImpl(void *pointer, GpuStream stream) override {
    if (!driver.hipFreeAsync)
      return GpuDevice::freeAsyncImpl(pointer, stream);
    return MM_GPU_CALL(driver, hipFreeAsync, pointer, toHip(stream));
  }
  Error copyImpl(void *dst, const void *src, size_t bytes, CopyKind kind,
                 GpuStream stream) override {
    hipMemcpyKind hipKind = hipMemcpyDefault;
    switch (kind) {
    case CopyKind::HostToDevice:
      hipKind = hipMemcpyHostToDevice;
      break;
    case CopyKind::DeviceToHost:
      hipKind = hipMemcpyDeviceToHost;
      break;
    case CopyKind::DeviceToDevice:
      hipKind = hipMemcpyDeviceToDevice;
      break;
    case CopyKind::Any:
      break;
    }
    return MM_GPU_CALL(driver, hipMemcpyAsync, dst, src, bytes, hipKind,
                       toHip(stream));
  }
  Error fillImpl(void *dst, uint32_t value, unsigned elementBytes, size_t count,
                 GpuStream stream) override {
    if (elementBytes == 1)
      return MM_GPU_CALL(driver, hipMemsetD8Async, dst,
                         static_cast<unsigned char>(value), count,
                         toHip(stream));
    if (elementBytes == 2)
      return MM_GPU_CALL(driver, hipMemsetD16Async, dst,
                         static_cast<unsigned short>(value), count,
                         toHip(stream));
    return MM_GPU_CALL(driver, hipMemsetD32Async, dst, static_cast<int>(value),
                       count, toHip(stream));
  }

  Expected<GpuStream> createStreamImpl() override {
    hipStream_t stream = nullptr;
    if (Error error = MM_GPU_CALL(driver, hipStreamCreateWithFlags, &stream,
                                  hipStreamNonBlocking))
      return std::move(error);
    return reinterpret_cast<GpuStream>(stream);
  }
  Error destroyStreamImpl(GpuStream stream) override {
    return MM_GPU_CALL(driver, hipStreamDestroy, toHip(stream));
  }
  Error synchronizeStream(GpuStream stream) override {
    return MM_GPU_CALL(driver, hipStreamSynchronize, toHip(stream));
  }
  Expected<GpuEvent> createEventImpl() override {
    hipEvent_t event = nullptr;
    if (Error error = MM_GPU_CALL(driver, hipEventCreateWithFlags, &event,
                                  hipEventDisableTiming))
      return std::move(error);
    return reinterpret_cast<GpuEvent>(event);
  }
  Error destroyEventImpl(GpuEvent event) override {
    return MM_GPU_CALL(driver, hipEventDestroy, toHip(event));
  }
  Error recordEventImpl(GpuEvent event, GpuStream stream) override {
    return MM_GPU_CALL(driver, hipEventRecord, toHip(event), toHip(stream));
  }
  Error waitEventImpl(GpuStream stream, GpuEvent event) override {
    return MM_GPU_CALL(driver, hipStreamWaitEvent, toHip(stream), toHip(event),
                       0u);
  }
  Error synchronizeEvent(GpuEvent event) override {
    return MM_GPU_CALL(driver, hipEventSynchronize, toHip(event));
  }

  Expected<GpuModule> loadModuleImpl(const char *blob, bool isText,
                                     int) override {
    if (isText)
      return makeError("hip cannot load assembly text; serialise ROCDL "
                       "modules as code objects (gpu-module-to-binary "
                       "format=bin)");
    hipModule_t module = nullptr;
    if (Error error = MM_GPU_CALL(driver, hipModuleLoadData, &module, blob))
      return std::move(error);
    return reinterpret_cast<GpuModule>(module);
  }
  Error unloadModuleImpl(GpuModule module) override {
    return MM_GPU_CALL(driver, hipModuleUnload, toHip(module));
  }
  Expected<GpuFunction> getFunctionImpl(GpuModule module,
                                        const char *name) override {
    hipFunction_t function = nullptr;
    if (Error error = MM_GPU_CALL(driver, hipModuleGetFunction, &function,
                                  toHip(module), name))
      return std::move(error);
    return reinterpret_cast<GpuFunction>(function);
  }
  Error launchImpl(GpuFunction function, Dim3 grid, Dim3 block,
                   unsigned sharedMemoryBytes, GpuStream stream, void **params,
                   void **extra) override {
    return MM_GPU_CALL(driver, hipModuleLaunchKernel, toHip(function), grid.x,
                       grid.y, grid.z, block.x, block.y, block.z,
                       sharedMemoryBytes, toHip(stream), params, extra);
  }

  Error beginCaptureImpl(GpuStream stream) override {
    return MM_GPU_CALL(driver, hipStreamBeginCapture, toHip(stream),
                       hipStreamCaptureModeThreadLocal);
  }
  Expected<std::pair<void *, void *>>
  endCaptureImpl(GpuStream stream) override {
    hipGraph_t graph = nullptr;
    if (Error error =
            MM_GPU_CALL(driver, hipStreamEndCapture, toHip(stream), &graph))
      return std::move(error);
    hipGraphExec_t exec = nullptr;
    if (Error error = MM_GPU_CALL(driver, hipGraphInstantiate, &exec, graph,
                                  nullptr, nullptr, size_t(0))) {
      destroyGraphImpl(graph, nullptr);
      return std::move(error);
    }
    return std::pair<void *, void *>(graph, exec);
  }
  Error launchGraphImpl(void *exec, GpuStream stream) override {
    return MM_GPU_CALL(driver, hipGraphLaunch,
                       static_cast<hipGraphExec_t>(exec), toHip(stream));
  }
  void destroyGraphImpl(void *graph, void *exec) override {
    if (exec && driver.hipGraphExecDestroy)
      driver.hipGraphExecDestroy(static_cast<hipGraphExec_t>(exec));
    if (graph && driver.hipGraphDestroy)
      driver.hipGraphDestroy(static_cast<hipGraph_t>(graph));
  }

private:
  HipDriver &driver;
};

} // namespace

Expected<int> detail::countHipDevices() {
  Expected<HipDriver &> driver = HipDriver::get();
  if (!driver)
    return driver.takeError();
  int count = 0;
  hipError_t result = driver->hipGetDeviceCount(&count);
  // A HIP installation on a machine without an AMD GPU sees no devices.
  if (result == hipErrorNoDevice)
    return 0;
  if (Error error = driver->check(result, "hipGetDeviceCount"))
    return std::move(error);
  return count;
}

Expected<GpuDeviceInfo> detail::queryHipDevice(int index) {
  Expected<HipDriver &> driver = HipDriver::get();
  if (!driver)
    return driver.takeError();
  return queryDevice(*driver, index);
}

Expected<std::unique_ptr<GpuDevice>> detail::openHipDevice(int index) {
  Expected<HipDriver &> driver = HipDriver::get();
  if (!driver)
    return driver.takeError();
  Expected<GpuDeviceInfo> info = queryDevice(*driver, index);
  if (!info)
    return info.takeError();
  return std::make_unique<HipDevice>(std::move(*info), *driver);
}
