//===- GpuDriver.cpp - CUDA and HIP drivers opened with dlopen ------------===//

#include "runtime/gpu/GpuDriver.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>

using namespace mm::gpu;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

using detail::makeError;

namespace {

Error makeUnavailableError(Vendor vendor, const Twine &why) {
  return makeError(getVendorName(vendor) + ": driver unavailable (" + why +
                   ")");
}

/// "NAME (description)" from what the driver says about an error code.
std::string describeResult(int result, const char *name,
                           const char *description, StringRef vendorLabel) {
  std::string text = name ? std::string(name)
                          : (vendorLabel + " error " + Twine(result)).str();
  if (description && *description)
    text += (Twine(" (") + description + ")").str();
  return text;
}

} // namespace

Error mm::gpu::detail::makeError(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

StringRef mm::gpu::getVendorName(Vendor vendor) {
  switch (vendor) {
  case Vendor::Cuda:
    return "cuda";
  case Vendor::Hip:
    return "hip";
  case Vendor::Sim:
    return "sim";
  }
  llvm_unreachable("unknown GPU vendor");
}

Error mm::gpu::makeMissingFunctionError(Vendor vendor, StringRef name,
                                        StringRef path) {
  return makeError(name + " is not available in the " + getVendorName(vendor) +
                   " driver " + path);
}

namespace mm::gpu {

/// Opens driver libraries, resolves their symbol tables and keeps them for the
/// rest of the process, one per library path.
class DriverLoader {
public:
  template <typename DriverT>
  static Expected<DriverT &> open(Vendor vendor, const char *environment,
                                  llvm::ArrayRef<const char *> defaults);

private:
  static Error resolve(CudaDriver &driver, void *library);
  static Error resolve(HipDriver &driver, void *library);
  static Error initialize(CudaDriver &driver) {
    return MM_GPU_CALL(driver, cuInit, 0u);
  }
  static Error initialize(HipDriver &driver) {
    return MM_GPU_CALL(driver, hipInit, 0u);
  }
};

} // namespace mm::gpu

/// Points `function` at `symbol` of `library`; a missing symbol is an error
/// when it is `required`.
template <typename Function>
static Error resolveSymbol(void *library, const char *symbol, bool required,
                           StringRef path, Function &function) {
  function = reinterpret_cast<Function>(::dlsym(library, symbol));
  if (!function && required)
    return makeError(path + " lacks " + symbol);
  return Error::success();
}

#define MM_RESOLVE(Name, Symbol, Required)                                     \
  if (Error error =                                                            \
          resolveSymbol(library, #Symbol, Required, driver.path, driver.Name)) \
    return error;

Error DriverLoader::resolve(CudaDriver &driver, void *library) {
#define MM_CUDA_SYMBOL(Name, Symbol, Result, Params) MM_RESOLVE(Name, Symbol, 1)
#define MM_CUDA_OPTIONAL_SYMBOL(Name, Symbol, Result, Params)                  \
  MM_RESOLVE(Name, Symbol, 0)
#include "runtime/gpu/CudaSymbols.def"
  return Error::success();
}

Error DriverLoader::resolve(HipDriver &driver, void *library) {
#define MM_HIP_SYMBOL(Name, Symbol, Result, Params) MM_RESOLVE(Name, Symbol, 1)
#define MM_HIP_OPTIONAL_SYMBOL(Name, Symbol, Result, Params)                   \
  MM_RESOLVE(Name, Symbol, 0)
#include "runtime/gpu/HipSymbols.def"
  return Error::success();
}

#undef MM_RESOLVE

template <typename DriverT>
Expected<DriverT &> DriverLoader::open(Vendor vendor, const char *environment,
                                       llvm::ArrayRef<const char *> defaults) {
  // Drivers are never closed: modules, streams and memory handed out by a
  // driver must stay valid as long as anything might use them.
  static std::mutex mutex;
  static llvm::StringMap<std::unique_ptr<DriverT>> opened;

  llvm::SmallVector<std::string, 4> candidates;
  const char *override = std::getenv(environment);
  if (override && *override)
    candidates.push_back(override);
  else
    candidates.append(defaults.begin(), defaults.end());

  std::lock_guard<std::mutex> lock(mutex);
  llvm::SmallVector<std::string, 4> failures;
  for (const std::string &path : candidates) {
    auto found = opened.find(path);
    if (found != opened.end())
      return *found->second;
    void *library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *message = ::dlerror();
      failures.push_back(message ? message : path + ": cannot be opened");
      continue;
    }
    auto driver = std::make_unique<DriverT>();
    driver->path = path;
    Error error = resolve(*driver, library);
    if (!error)
      error = initialize(*driver);
    if (error) {
      ::dlclose(library);
      return makeUnavailableError(vendor, llvm::toString(std::move(error)));
    }
    DriverT &result = *driver;
    opened[path] = std::move(driver);
    return result;
  }
  return makeUnavailableError(vendor, llvm::join(failures, "; "));
}

Expected<CudaDriver &> CudaDriver::get() {
  return DriverLoader::open<CudaDriver>(Vendor::Cuda, "MM_CUDA_DRIVER",
                                        {"libcuda.so.1"});
}

Expected<HipDriver &> HipDriver::get() {
  return DriverLoader::open<HipDriver>(Vendor::Hip, "MM_HIP_DRIVER",
                                       {"libamdhip64.so", "libamdhip64.so.7",
                                        "libamdhip64.so.6",
                                        "libamdhip64.so.5"});
}

Error CudaDriver::check(cuda::CUresult result, StringRef call) const {
  if (result == cuda::CUDA_SUCCESS)
    return Error::success();
  const char *name = nullptr;
  const char *description = nullptr;
  if (cuGetErrorName(result, &name) != cuda::CUDA_SUCCESS)
    name = nullptr;
  if (cuGetErrorString(result, &description) != cuda::CUDA_SUCCESS)
    description = nullptr;
  return makeError(
      call + " failed: " + describeResult(result, name, description, "CUDA"));
}

Error HipDriver::check(hip::hipError_t result, StringRef call) const {
  if (result == hip::hipSuccess)
    return Error::success();
  return makeError(call + " failed: " +
                   describeResult(result, hipGetErrorName(result),
                                  hipGetErrorString(result), "HIP"));
}
