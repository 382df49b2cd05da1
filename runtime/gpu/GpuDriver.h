//===- GpuDriver.h - CUDA and HIP drivers opened with dlopen ----*- C++ -*-===//
//
// The GPU driver APIs the runtime calls, loaded at run time with dlopen so
// that the runtime builds, and its tests run, on machines without any GPU SDK
// (ARCHITECTURE.md section 1). CudaSymbols.def and HipSymbols.def list the
// functions with their C signatures, over the few driver types and constants
// DriverTypes.h declares (no CUDA or HIP header is included).
//
// A driver is opened once per library path and stays loaded for the rest of
// the process. MM_CUDA_DRIVER and MM_HIP_DRIVER override the library (the
// tests point them at a fake driver); otherwise libcuda.so.1, and
// libamdhip64.so with its versioned names as fall-backs. A driver that cannot
// be opened is a clean error:
//
//   cuda: driver unavailable (libcuda.so.1: cannot open shared object file...)
//
// and a failing call names itself and the driver's diagnosis:
//
//   cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel image is
//   invalid)
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_GPUDRIVER_H
#define MM_RUNTIME_GPU_GPUDRIVER_H

#include "runtime/gpu/DriverTypes.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <string>
#include <utility>

namespace mm::gpu {

/// The GPU vendors the runtime drives, and the simulator (SimDevice.h),
/// which runs the host copies of any vendor's kernels on the CPU.
enum class Vendor { Cuda, Hip, Sim };

/// "cuda", "hip" or "sim": how device specs and messages spell the vendor.
llvm::StringRef getVendorName(Vendor vendor);

namespace detail {
/// A plain error: the GPU layer's errors are reported, never dispatched on.
llvm::Error makeError(const llvm::Twine &message);
} // namespace detail

/// An error for a driver function that this driver does not export (an
/// optional entry of the symbol tables).
llvm::Error makeMissingFunctionError(Vendor vendor, llvm::StringRef name,
                                     llvm::StringRef path);

namespace cuda {
/// The functions of CudaSymbols.def, as pointers into the driver.
struct CudaFunctions {
#define MM_CUDA_SYMBOL(Name, Symbol, Result, Params)                           \
  Result(*Name) Params = nullptr;
#include "runtime/gpu/CudaSymbols.def"
};
} // namespace cuda

namespace hip {
/// The functions of HipSymbols.def, as pointers into the runtime.
struct HipFunctions {
#define MM_HIP_SYMBOL(Name, Symbol, Result, Params)                            \
  Result(*Name) Params = nullptr;
#include "runtime/gpu/HipSymbols.def"
};
} // namespace hip

/// What the drivers share: the library they were opened from, and checked
/// calls. `Derived` provides `vendor` and check(result, call).
template <typename Derived, typename Result> class DriverLibrary {
public:
  /// The library this driver was opened from.
  llvm::StringRef getPath() const { return path; }

  /// Calls `function` (an entry of the table) and checks its result; an
  /// optional entry this driver lacks is an error naming it.
  template <typename... Params, typename... Args>
  llvm::Error call(llvm::StringRef name, Result (*function)(Params...),
                   Args &&...args) const {
    if (!function)
      return makeMissingFunctionError(Derived::vendor, name, path);
    return static_cast<const Derived &>(*this).check(
        function(std::forward<Args>(args)...), name);
  }

private:
  friend class DriverLoader;
  std::string path;
};

/// The CUDA driver API (libcuda.so.1), initialised with cuInit(0).
class CudaDriver : public cuda::CudaFunctions,
                   public DriverLibrary<CudaDriver, cuda::CUresult> {
public:
  static constexpr Vendor vendor = Vendor::Cuda;

  /// The driver of this process: the library MM_CUDA_DRIVER names, or
  /// libcuda.so.1. Thread safe; each library path is opened once.
  static llvm::Expected<CudaDriver &> get();

  /// Success for CUDA_SUCCESS; otherwise an error naming `call` and the
  /// driver's error name and description.
  llvm::Error check(cuda::CUresult result, llvm::StringRef call) const;
};

/// The HIP runtime (libamdhip64.so), initialised with hipInit(0).
class HipDriver : public hip::HipFunctions,
                  public DriverLibrary<HipDriver, hip::hipError_t> {
public:
  static constexpr Vendor vendor = Vendor::Hip;

  /// The runtime of this process: the library MM_HIP_DRIVER names, or the
  /// first of libamdhip64.so, .so.7, .so.6 and .so.5 that opens. Thread safe.
  static llvm::Expected<HipDriver &> get();

  /// Success for hipSuccess; otherwise an error naming `call` and the
  /// runtime's error name and description.
  llvm::Error check(hip::hipError_t result, llvm::StringRef call) const;
};

} // namespace mm::gpu

/// Calls a driver function through its table entry, naming it in errors:
/// MM_GPU_CALL(driver, cuMemAlloc, &pointer, bytes).
#define MM_GPU_CALL(Driver, Name, ...)                                         \
  (Driver).call(#Name, (Driver).Name, __VA_ARGS__)

#endif // MM_RUNTIME_GPU_GPUDRIVER_H
