//===- MgpuAbi.h - the mgpu* functions compiled host code calls -*- C++ -*-===//
//
// MLIR's gpu-to-llvm lowering turns the host side of gpu dialect code into
// calls of mgpu* functions. Upstream implements them in
// libmlir_cuda_runtime and libmlir_rocm_runtime, which Debian's MLIR 22 does
// not ship; MgpuAbi.cpp implements them over GpuDevice, for both vendors.
//
// The functions act on the current device of the calling thread, which the
// runtime sets with CurrentDeviceScope around every call into a compiled
// artifact. Artifacts of mm-compile load no modules themselves: the runtime
// loads their kernels per device and hands the entry points a kernel
// context (common/KernelContextAbi.h); the module functions serve code
// of upstream's own lowering. mgpuMemAlloc and mgpuMemFree with a stream are
// stream-ordered (GpuDevice::allocateAsync, freeAsync).
//
// The mgpu functions return void or a handle and cannot report errors, so
// the first failure on a thread is recorded, naming the mgpu function and
// the driver call:
//
//   mgpuModuleLoad: cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE
//   (device kernel image is invalid)
//
// and the runtime collects it with takeMgpuError() after the entry point
// returns. Later calls go on (a failed handle is null and the calls that get
// it fail too); only the first error is kept.
//
// Executables must export the mgpu* symbols for the artifacts they dlopen
// to bind to: link them with mm_export_mgpu_abi() (runtime/gpu/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_MGPUABI_H
#define MM_RUNTIME_GPU_MGPUABI_H

#include "runtime/gpu/GpuDevice.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>

namespace mm::gpu {

/// Sets the device the mgpu functions use on this thread (null: none). With
/// a `stream`, compiled code runs on it instead of streams of its own:
/// mgpuStreamCreate returns it, mgpuStreamDestroy leaves it alone, and
/// mgpuStreamSynchronize skips it while the device is capturing it into a
/// graph (the graph's launcher synchronises).
void setCurrentDevice(GpuDevice *device, GpuStream stream = nullptr);
/// The device the mgpu functions use on this thread, or null.
GpuDevice *getCurrentDevice();
/// The stream set with the current device, or null.
GpuStream getCurrentStream();

/// Makes a device (and a stream) current for the mgpu functions on this
/// thread for its lifetime; restores the previous ones after.
class CurrentDeviceScope {
public:
  explicit CurrentDeviceScope(GpuDevice &device, GpuStream stream = nullptr);
  ~CurrentDeviceScope();
  CurrentDeviceScope(const CurrentDeviceScope &) = delete;
  CurrentDeviceScope &operator=(const CurrentDeviceScope &) = delete;

private:
  GpuDevice *previousDevice;
  GpuStream previousStream;
};

/// The first error an mgpu function recorded on this thread since the last
/// call, or success; clears it.
llvm::Error takeMgpuError();

} // namespace mm::gpu

// The ABI, with the signatures MLIR 22's gpu-to-llvm lowering and its
// gpu.binary translation (SelectObjectAttr) emit; handles are void pointers.
extern "C" {
void *mgpuModuleLoad(void *data, size_t gpuBlobSize);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void mgpuLaunchClusterKernel(void *function, intptr_t clusterX,
                             intptr_t clusterY, intptr_t clusterZ,
                             intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                             intptr_t blockX, intptr_t blockY, intptr_t blockZ,
                             int32_t smem, void *stream, void **params,
                             void **extra);
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
void *mgpuEventCreate();
void mgpuEventDestroy(void *event);
void mgpuEventSynchronize(void *event);
void mgpuEventRecord(void *event, void *stream);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream);
void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream);
void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream);
void mgpuSetDefaultDevice(int32_t device);
}

#endif // MM_RUNTIME_GPU_MGPUABI_H
