//===- CudaDevice.cpp - GpuDevice over the CUDA driver API ----------------===//
//
// A device works in its primary context (the one the CUDA runtime and other
// libraries share), retained when the device is opened and made current on
// the calling thread before every call.
//
//===----------------------------------------------------------------------===//

#include "runtime/gpu/VendorDevices.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <mutex>

using namespace mm::gpu;
using namespace mm::gpu::cuda;
using detail::makeError;
using llvm::Error;
using llvm::Expected;

namespace {

CUstream toCuda(GpuStream stream) { return reinterpret_cast<CUstream>(stream); }
CUevent toCuda(GpuEvent event) { return reinterpret_cast<CUevent>(event); }
CUmodule toCuda(GpuModule module) { return reinterpret_cast<CUmodule>(module); }
CUfunction toCuda(GpuFunction function) {
  return reinterpret_cast<CUfunction>(function);
}
CUdeviceptr toDevicePointer(const void *pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

/// The properties of device `index` (a valid ordinal).
Expected<GpuDeviceInfo> queryDevice(CudaDriver &driver, int index,
                                    CUdevice &device) {
  if (Error error = MM_GPU_CALL(driver, cuDeviceGet, &device, index))
    return std::move(error);
  GpuDeviceInfo info;
  info.vendor = Vendor::Cuda;
  info.index = index;
  char name[256] = {};
  if (Error error = MM_GPU_CALL(driver, cuDeviceGetName, name,
                                int(sizeof(name) - 1), device))
    return std::move(error);
  info.name = name;

  int major = 0, minor = 0, multiprocessors = 0, warp = 0, shared = 0,
      sharedOptin = 0;
  for (auto [attribute, value] :
       {std::pair{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &major},
        std::pair{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &minor},
        std::pair{CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &multiprocessors},
        std::pair{CU_DEVICE_ATTRIBUTE_WARP_SIZE, &warp},
        std::pair{CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &shared},
        std::pair{CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                  &sharedOptin}})
    if (Error error =
            MM_GPU_CALL(driver, cuDeviceGetAttribute, value, attribute, device))
      return std::move(error);
  info.arch = "sm_" + std::to_string(major) + std::to_string(minor);
  info.multiprocessors = unsigned(multiprocessors);
  info.subgroupWidth = unsigned(warp);
  info.sharedMemoryPerBlock = uint64_t(shared);
  info.sharedMemoryPerBlockOptin = uint64_t(sharedOptin);

  size_t total = 0;
  if (Error error = MM_GPU_CALL(driver, cuDeviceTotalMem, &total, device))
    return std::move(error);
  info.totalMemory = total;
  return info;
}

class CudaDevice final : public GpuDevice {
public:
  CudaDevice(GpuDeviceInfo info, CudaDriver &driver, CUdevice device,
             CUcontext context)
      : GpuDevice(std::move(info)), driver(driver), device(device),
        context(context) {}
  ~CudaDevice() override { driver.cuDevicePrimaryCtxRelease(device); }

protected:
  Error activate() override {
    return MM_GPU_CALL(driver, cuCtxSetCurrent, context);
  }
  Error synchronizeDevice() override {
    return driver.call("cuCtxSynchronize", driver.cuCtxSynchronize);
  }

  Expected<void *> allocateImpl(size_t bytes, bool hostShared) override {
    CUdeviceptr pointer = 0;
    Error error = hostShared ? MM_GPU_CALL(driver, cuMemAllocManaged, &pointer,
                                           bytes, CU_MEM_ATTACH_GLOBAL)
                             : MM_GPU_CALL(driver, cuMemAlloc, &pointer, bytes);
    if (error)
      return std::move(error);
    return reinterpret_cast<void *>(static_cast<uintptr_t>(pointer));
  }
  Error freeImpl(void *pointer) override {
    return MM_GPU_CALL(driver, cuMemFree, toDevicePointer(pointer));
  }
  Expected<void *> allocateAsyncImpl(size_t bytes, GpuStream stream) override {
    if (!driver.cuMemAllocAsync)
      return GpuDevice::allocateAsyncImpl(bytes, stream);
    CUdeviceptr pointer = 0;
    if (Error error = MM_GPU_CALL(driver, cuMemAllocAsync, &pointer, bytes,
                                  toCuda(stream)))
      return std::move(error);
    return reinterpret_cast<void *>(static_cast<uintptr_t>(pointer));
  }
  Error freeAsyncImpl(void *pointer, GpuStream stream) override {
    if (!driver.cuMemFreeAsync)
      return GpuDevice::freeAsyncImpl(pointer, stream);
    return MM_GPU_CALL(driver, cuMemFreeAsync, toDevicePointer(pointer),
                       toCuda(stream));
  }
  Error copyImpl(void *dst, const void *src, size_t bytes, CopyKind kind,
                 GpuStream stream) override {
    switch (kind) {
    case CopyKind::HostToDevice:
      return MM_GPU_CALL(driver, cuMemcpyHtoDAsync, toDevicePointer(dst), src,
                         bytes, toCuda(stream));
    case CopyKind::DeviceToHost:
      return MM_GPU_CALL(driver, cuMemcpyDtoHAsync, dst, toDevicePointer(src),
                         bytes, toCuda(stream));
    case CopyKind::DeviceToDevice:
      return MM_GPU_CALL(driver, cuMemcpyDtoDAsync, toDevicePointer(dst),
                         toDevicePointer(src), bytes, toCuda(stream));
    case CopyKind::Any:
      return MM_GPU_CALL(driver, cuMemcpyAsync, toDevicePointer(dst),
                         toDevicePointer(src), bytes, toCuda(stream));
    }
    llvm_unreachable("unknown copy kind");
  }
  Error fillImpl(void *dst, uint32_t value, unsigned elementBytes, size_t count,
                 GpuStream stream) override {
    if (elementBytes == 1)
      return MM_GPU_CALL(driver, cuMemsetD8Async, toDevicePointer(dst),
                         static_cast<unsigned char>(value), count,
                         toCuda(stream));
    if (elementBytes == 2)
      return MM_GPU_CALL(driver, cuMemsetD16Async, toDevicePointer(dst),
                         static_cast<unsigned short>(value), count,
                         toCuda(stream));
    return MM_GPU_CALL(driver, cuMemsetD32Async, toDevicePointer(dst), value,
                       count, toCuda(stream));
  }

  Expected<GpuStream> createStreamImpl() override {
    CUstream stream = nullptr;
    if (Error error = MM_GPU_CALL(driver, cuStreamCreate, &stream,
                                  CU_STREAM_NON_BLOCKING))
      return std::move(error);
    return reinterpret_cast<GpuStream>(stream);
  }
  Error destroyStreamImpl(GpuStream stream) override {
    return MM_GPU_CALL(driver, cuStreamDestroy, toCuda(stream));
  }
  Error synchronizeStream(GpuStream stream) override {
    return MM_GPU_CALL(driver, cuStreamSynchronize, toCuda(stream));
  }
  Expected<GpuEvent> createEventImpl() override {
    CUevent event = nullptr;
    if (Error error =
            MM_GPU_CALL(driver, cuEventCreate, &event, CU_EVENT_DISABLE_TIMING))
      return std::move(error);
    return reinterpret_cast<GpuEvent>(event);
  }
  Error destroyEventImpl(GpuEvent event) override {
    return MM_GPU_CALL(driver, cuEventDestroy, toCuda(event));
  }
  Error recordEventImpl(GpuEvent event, GpuStream stream) override {
    return MM_GPU_CALL(driver, cuEventRecord, toCuda(event), toCuda(stream));
  }
  Error waitEventImpl(GpuStream stream, GpuEvent event) override {
    return MM_GPU_CALL(driver, cuStreamWaitEvent, toCuda(stream), toCuda(event),
                       0u);
  }
  Error synchronizeEvent(GpuEvent event) override {
    return MM_GPU_CALL(driver, cuEventSynchronize, toCuda(event));
  }

  Expected<GpuModule> loadModuleImpl(const char *blob, bool isText,
                                     int jitOptLevel) override;
  Error unloadModuleImpl(GpuModule module) override {
    return MM_GPU_CALL(driver, cuModuleUnload, toCuda(module));
  }
  Expected<GpuFunction> getFunctionImpl(GpuModule module,
                                        const char *name) override {
    CUfunction function = nullptr;
    if (Error error = MM_GPU_CALL(driver, cuModuleGetFunction, &function,
                                  toCuda(module), name))
      return std::move(error);
    return reinterpret_cast<GpuFunction>(function);
  }
  Error launchImpl(GpuFunction function, Dim3 grid, Dim3 block,
                   unsigned sharedMemoryBytes, GpuStream stream, void **params,
                   void **extra) override;

  Error beginCaptureImpl(GpuStream stream) override {
    return MM_GPU_CALL(driver, cuStreamBeginCapture, toCuda(stream),
                       CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  }
  Expected<std::pair<void *, void *>> endCaptureImpl(GpuStream stream) override;
  Error launchGraphImpl(void *exec, GpuStream stream) override {
    return MM_GPU_CALL(driver, cuGraphLaunch, static_cast<CUgraphExec>(exec),
                       toCuda(stream));
  }
  void destroyGraphImpl(void *graph, void *exec) override {
    if (exec && driver.cuGraphExecDestroy)
      driver.cuGraphExecDestroy(static_cast<CUgraphExec>(exec));
    if (graph && driver.cuGraphDestroy)
      driver.cuGraphDestroy(static_cast<CUgraph>(graph));
  }

private:
  CudaDriver &driver;
  CUdevice device;
  CUcontext context;
  /// The dynamic shared memory each kernel has been allowed so far (beyond
  /// the default per-block amount, CUDA wants an opt-in per kernel).
  std::mutex sharedMemoryMutex;
  llvm::DenseMap<CUfunction, unsigned> sharedMemoryAllowed;
};

Expected<GpuModule> CudaDevice::loadModuleImpl(const char *blob, bool isText,
                                               int jitOptLevel) {
  CUmodule module = nullptr;
  if (!isText) {
    if (Error error = MM_GPU_CALL(driver, cuModuleLoadData, &module, blob))
      return std::move(error);
    return reinterpret_cast<GpuModule>(module);
  }
  // PTX: the driver compiles it; its error log says what went wrong.
  char log[8192] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof(log))),
                    reinterpret_cast<void *>(uintptr_t(jitOptLevel))};
  unsigned numOptions = jitOptLevel >= 0 ? 3 : 2;
  Error error = MM_GPU_CALL(driver, cuModuleLoadDataEx, &module, blob,
                            numOptions, options, values);
  if (error) {
    log[sizeof(log) - 1] = '\0';
    llvm::StringRef text = llvm::StringRef(log).trim();
    if (text.empty())
      return std::move(error);
    return makeError(llvm::toString(std::move(error)) + ": " + text);
  }
  return reinterpret_cast<GpuModule>(module);
}

Error CudaDevice::launchImpl(GpuFunction function, Dim3 grid, Dim3 block,
                             unsigned sharedMemoryBytes, GpuStream stream,
                             void **params, void **extra) {
  CUfunction cudaFunction = toCuda(function);
  if (sharedMemoryBytes > info.sharedMemoryPerBlock) {
    std::lock_guard<std::mutex> lock(sharedMemoryMutex);
    unsigned &allowed = sharedMemoryAllowed[cudaFunction];
    if (allowed < sharedMemoryBytes) {
      if (Error error =
              MM_GPU_CALL(driver, cuFuncSetAttribute, cudaFunction,
                          CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                          int(sharedMemoryBytes)))
        return error;
      allowed = sharedMemoryBytes;
    }
  }
  return MM_GPU_CALL(driver, cuLaunchKernel, cudaFunction, grid.x, grid.y,
                     grid.z, block.x, block.y, block.z, sharedMemoryBytes,
                     toCuda(stream), params, extra);
}

Expected<std::pair<void *, void *>>
CudaDevice::endCaptureImpl(GpuStream stream) {
  CUgraph graph = nullptr;
  if (Error error =
          MM_GPU_CALL(driver, cuStreamEndCapture, toCuda(stream), &graph))
    return std::move(error);
  CUgraphExec exec = nullptr;
  if (Error error =
          MM_GPU_CALL(driver, cuGraphInstantiate, &exec, graph, 0ull)) {
    destroyGraphImpl(graph, nullptr);
    return std::move(error);
  }
  return std::pair<void *, void *>(graph, exec);
}

} // namespace

Expected<int> detail::countCudaDevices() {
  Expected<CudaDriver &> driver = CudaDriver::get();
  if (!driver)
    return driver.takeError();
  int count = 0;
  if (Error error = MM_GPU_CALL(*driver, cuDeviceGetCount, &count))
    return std::move(error);
  return count;
}

Expected<GpuDeviceInfo> detail::queryCudaDevice(int index) {
  Expected<CudaDriver &> driver = CudaDriver::get();
  if (!driver)
    return driver.takeError();
  CUdevice device = 0;
  return queryDevice(*driver, index, device);
}

Expected<std::unique_ptr<GpuDevice>> detail::openCudaDevice(int index) {
  Expected<CudaDriver &> driver = CudaDriver::get();
  if (!driver)
    return driver.takeError();
  CUdevice device = 0;
  Expected<GpuDeviceInfo> info = queryDevice(*driver, index, device);
  if (!info)
    return info.takeError();
  CUcontext context = nullptr;
  if (Error error =
          MM_GPU_CALL(*driver, cuDevicePrimaryCtxRetain, &context, device))
    return std::move(error);
  return std::make_unique<CudaDevice>(std::move(*info), *driver, device,
                                      context);
}
