//===- DriverTypes.h - CUDA and HIP types without their headers -*- C++ -*-===//
//
// The driver types and constants that CudaSymbols.def and HipSymbols.def
// need, declared ABI-compatibly: handles are pointers to incomplete structs,
// enums are passed as int, values are the drivers' own. Free of LLVM so that
// a fake driver for the tests can implement the tables too.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_DRIVERTYPES_H
#define MM_RUNTIME_GPU_DRIVERTYPES_H

#include <cstddef>

namespace mm::gpu {

namespace cuda {
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUdevice_attribute = int;
using CUfunction_attribute = int;
using CUjit_option = int;
using CUstreamCaptureMode = int;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT =
    16;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
inline constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
inline constexpr CUfunction_attribute
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
inline constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER = 5;
inline constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
inline constexpr CUjit_option CU_JIT_OPTIMIZATION_LEVEL = 7;
inline constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
inline constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
inline constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;
inline constexpr CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
} // namespace cuda

namespace hip {
using hipError_t = int;
using hipDevice_t = int;
using hipDeviceAttribute_t = int;
using hipMemcpyKind = int;
using hipStreamCaptureMode = int;
using hipDeviceptr_t = void *;
using hipModule_t = struct ihipModule_t *;
using hipFunction_t = struct ihipModuleSymbol_t *;
using hipStream_t = struct ihipStream_t *;
using hipEvent_t = struct ihipEvent_t *;
using hipGraph_t = struct ihipGraph *;
using hipGraphExec_t = struct hipGraphExec *;
using hipGraphNode_t = struct hipGraphNode *;

inline constexpr hipError_t hipSuccess = 0;
inline constexpr hipError_t hipErrorNoDevice = 100;
// hipDeviceAttribute_t as numbered since ROCm 5 (CudaCompatibleBegin = 0).
inline constexpr hipDeviceAttribute_t hipDeviceAttributeMultiprocessorCount =
    63;
inline constexpr hipDeviceAttribute_t
    hipDeviceAttributeMaxSharedMemoryPerBlock = 74;
inline constexpr hipDeviceAttribute_t hipDeviceAttributeSharedMemPerBlockOptin =
    75;
inline constexpr hipDeviceAttribute_t hipDeviceAttributeWarpSize = 87;
inline constexpr hipMemcpyKind hipMemcpyHostToDevice = 1;
inline constexpr hipMemcpyKind hipMemcpyDeviceToHost = 2;
inline constexpr hipMemcpyKind hipMemcpyDeviceToDevice = 3;
inline constexpr hipMemcpyKind hipMemcpyDefault = 4;
inline constexpr unsigned hipStreamNonBlocking = 1;
inline constexpr unsigned hipEventDisableTiming = 2;
inline constexpr unsigned hipMemAttachGlobal = 1;
inline constexpr hipStreamCaptureMode hipStreamCaptureModeThreadLocal = 1;
} // namespace hip

} // namespace mm::gpu

#endif // MM_RUNTIME_GPU_DRIVERTYPES_H
