//===- VendorDevices.h - CUDA and HIP devices behind GpuDevice --*- C++ -*-===//
//
// Private to runtime/gpu: what GpuDevice.cpp needs from the vendor files
// (CudaDevice.cpp, HipDevice.cpp, SimDevice.cpp). Indices are checked by the
// caller.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_VENDORDEVICES_H
#define MM_RUNTIME_GPU_VENDORDEVICES_H

#include "runtime/gpu/GpuDevice.h"

namespace mm::gpu::detail {

llvm::Expected<int> countCudaDevices();
llvm::Expected<GpuDeviceInfo> queryCudaDevice(int index);
llvm::Expected<std::unique_ptr<GpuDevice>> openCudaDevice(int index);

llvm::Expected<int> countHipDevices();
llvm::Expected<GpuDeviceInfo> queryHipDevice(int index);
llvm::Expected<std::unique_ptr<GpuDevice>> openHipDevice(int index);

/// The simulator (SimDevice.cpp): one device, index 0.
GpuDeviceInfo querySimDevice();
std::unique_ptr<GpuDevice> openSimDevice();

} // namespace mm::gpu::detail

#endif // MM_RUNTIME_GPU_VENDORDEVICES_H
