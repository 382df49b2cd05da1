//===- FakeCudaDriver.cpp - a CUDA driver on host memory, for tests -------===//
//
// See FakeCudaDriver.h. Every function of runtime/gpu/CudaSymbols.def is
// declared here from the table itself (under its exported name), so a
// definition that strays from the runtime's signature does not compile.
//
//===----------------------------------------------------------------------===//

#include "FakeCudaDriver.h"

#include "runtime/gpu/DriverTypes.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using namespace mm::gpu::cuda;

#define FAKE_EXPORT __attribute__((visibility("default")))

extern "C" {
#define MM_CUDA_SYMBOL(Name, Symbol, Result, Params)                           \
  FAKE_EXPORT Result Symbol Params;
#include "runtime/gpu/CudaSymbols.def"
}

using Work = std::function<void()>;

namespace mm::gpu::cuda {
struct CUctx_st {
  int device;
};
struct CUfunc_st {
  std::string name;
  FakeKernel kernel;
  int maxDynamicShared;
  /// The context its module was loaded in: it launches only there.
  CUctx_st *context;
  /// Its arguments (8 bytes each), or 0 when unknown.
  int paramCount;
};
struct CUmod_st {
  CUctx_st *context = nullptr;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<CUfunc_st>> functions;
};
struct CUstream_st {
  bool capturing = false;
  bool invalidated = false;
  std::vector<Work> captured;
  /// Memory freed on the stream while it was captured (cuMemFreeAsync):
  /// the graph's launches use it, so the graph frees it when destroyed.
  std::vector<CUdeviceptr> capturedFrees;
};
struct CUevent_st {};
struct CUgraph_st {
  std::vector<Work> work;
  std::vector<CUdeviceptr> owned;
};
struct CUgraphExec_st {
  std::vector<Work> work;
};
} // namespace mm::gpu::cuda

namespace {

constexpr CUresult kInvalidValue = 1, kOutOfMemory = 2, kNotInitialized = 3,
                   kNoDevice = 100, kInvalidDevice = 101, kInvalidImage = 200,
                   kInvalidContext = 201, kInvalidPtx = 218,
                   kInvalidHandle = 400, kNotFound = 500,
                   kCaptureUnsupported = 900, kCaptureInvalidated = 901,
                   kCaptureUnmatched = 903, kUnknown = 999;

struct ErrorInfo {
  CUresult code;
  const char *name;
  const char *description;
};

const ErrorInfo kErrors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {kInvalidValue, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {kOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {kNotInitialized, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {kNoDevice, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {kInvalidDevice, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {kInvalidImage, "CUDA_ERROR_INVALID_IMAGE",
     "device kernel image is invalid"},
    {kInvalidContext, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {kInvalidPtx, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {kInvalidHandle, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {kNotFound, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {kCaptureUnsupported, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {kCaptureInvalidated, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"},
    {kCaptureUnmatched, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED",
     "operation not permitted on an event last recorded in a capturing "
     "stream"},
    {kUnknown, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

constexpr int kDefaultSharedMemory = 48 * 1024;
constexpr int kOptinSharedMemory = 227 * 1024;

/// The whole driver state, behind one lock (kernels run under it and may
/// call back into the driver, hence recursive).
struct Driver {
  std::recursive_mutex mutex;
  bool initialized = false;
  std::map<int, std::unique_ptr<CUctx_st>> contexts;
  long retainedContexts = 0;
  std::map<uintptr_t, size_t> allocations;
  std::set<CUmod_st *> modules;
  std::set<CUfunc_st *> functions;
  std::set<CUstream_st *> streams;
  std::set<CUevent_st *> events;
  std::set<CUgraph_st *> graphs;
  std::set<CUgraphExec_st *> execs;
  std::map<std::string, FakeKernel> kernels;
  std::map<std::string, int> kernelParams;
  long launches = 0;
  long synchronizations = 0;
  long streamOrderedAllocations = 0;
  long hostToDeviceBytes = 0;
  long deviceToHostBytes = 0;
  long deviceToDeviceBytes = 0;
  long graphLaunches = 0;
};

Driver &driver() {
  static Driver *instance = new Driver; // Outlives every static destructor.
  return *instance;
}

// Initial-exec: this library is dlopen'ed, and with the default model each
// thread's block of it is malloc'ed by __tls_get_addr. GCC 12's LeakSanitizer
// guesses such a block's bounds from a glibc header it expects when the block
// starts 16 bytes into a page; ASan's malloc has no such header, so at exit
// it scanned a garbage range and crashed ("Tracer caught signal 11"), which
// depended on where the block landed (GTEST_OUTPUT=json was enough to move
// it). Static TLS has no such block.
__attribute__((tls_model("initial-exec"))) thread_local CUctx_st
    *currentContext = nullptr;

int deviceCount() {
  const char *text = std::getenv("FAKE_CUDA_DEVICES");
  return text ? std::atoi(text) : 1;
}

/// The failure FAKE_CUDA_FAIL asks of `api`, or 0.
CUresult injected(const char *api) {
  const char *fail = std::getenv("FAKE_CUDA_FAIL");
  if (!fail)
    return 0;
  std::string spec = fail;
  size_t colon = spec.find(':');
  if (spec.substr(0, colon) != api)
    return 0;
  if (colon != std::string::npos)
    return std::atoi(spec.c_str() + colon + 1);
  if (!std::strncmp(api, "cuModuleLoad", 12))
    return kInvalidImage;
  if (!std::strncmp(api, "cuMemAlloc", 10))
    return kOutOfMemory;
  return kUnknown;
}

#define FAKE_ENTER(api)                                                        \
  std::lock_guard<std::recursive_mutex> lock(driver().mutex);                  \
  if (CUresult injectedResult = injected(api))                                 \
    return injectedResult;                                                     \
  if (!driver().initialized)                                                   \
    return kNotInitialized;

#define FAKE_NEEDS_CONTEXT()                                                   \
  if (!currentContext)                                                         \
    return kInvalidContext;

bool isDeviceRange(CUdeviceptr pointer, size_t bytes) {
  auto &allocations = driver().allocations;
  auto next = allocations.upper_bound(pointer);
  if (next == allocations.begin())
    return false;
  auto found = std::prev(next);
  return pointer >= found->first &&
         pointer + bytes <= found->first + found->second;
}

void *toHost(CUdeviceptr pointer) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(pointer));
}

bool isStream(CUstream stream) {
  return !stream || driver().streams.count(stream);
}

bool anyCapturing() {
  for (CUstream_st *stream : driver().streams)
    if (stream->capturing)
      return true;
  return false;
}

/// Runs `work` now, or records it while `stream` is captured.
CUresult submit(CUstream stream, Work work) {
  if (!isStream(stream))
    return kInvalidHandle;
  if (stream && stream->capturing) {
    stream->captured.push_back(std::move(work));
    return 0;
  }
  work();
  return 0;
}

CUresult copy(CUstream stream, void *dst, const void *src, size_t bytes) {
  if (!dst || !src)
    return kInvalidValue;
  return submit(stream, [=] { std::memcpy(dst, src, bytes); });
}

template <typename T>
CUresult fill(CUdeviceptr dst, T value, size_t count, CUstream stream) {
  FAKE_NEEDS_CONTEXT();
  if (!isDeviceRange(dst, count * sizeof(T)))
    return kInvalidValue;
  T *data = static_cast<T *>(toHost(dst));
  return submit(stream, [=] {
    for (size_t i = 0; i < count; ++i)
      data[i] = value;
  });
}

CUresult loadModule(CUmodule *module, const void *image, bool findMagic,
                    char *log, size_t logSize) {
  FAKE_NEEDS_CONTEXT();
  if (!module || !image)
    return kInvalidValue;
  const char *text = static_cast<const char *>(image);
  const size_t magicSize = std::strlen(FAKE_CUBIN_MAGIC);
  const char *start = nullptr;
  if (findMagic)
    start = std::strstr(text, FAKE_CUBIN_MAGIC);
  else if (!std::strncmp(text, FAKE_CUBIN_MAGIC, magicSize))
    start = text;
  if (!start) {
    if (log && logSize)
      std::snprintf(log, logSize, "ptxas fatal : fake driver: no %s magic",
                    FAKE_CUBIN_MAGIC);
    return findMagic ? kInvalidPtx : kInvalidImage;
  }
  auto loaded = std::make_unique<CUmod_st>();
  loaded->context = currentContext;
  std::string name;
  for (const char *at = start + magicSize;; ++at) {
    if (*at == ' ' || *at == '\n' || *at == '\0') {
      if (!name.empty())
        loaded->names.push_back(name);
      name.clear();
      if (*at != ' ')
        break;
    } else {
      name += *at;
    }
  }
  *module = loaded.release();
  driver().modules.insert(*module);
  return 0;
}

/// Hands out a new handle and keeps it among the `live` ones.
template <typename T>
CUresult track(std::set<T *> &live, T **handle, T *object) {
  *handle = object;
  live.insert(object);
  return 0;
}

/// Deletes a live handle.
template <typename T> CUresult release(std::set<T *> &live, T *handle) {
  if (!live.erase(handle))
    return kInvalidHandle;
  delete handle;
  return 0;
}

void destroyModule(CUmodule module) {
  for (auto &function : module->functions)
    driver().functions.erase(function.get());
  driver().modules.erase(module);
  delete module;
}

} // namespace

//===----------------------------------------------------------------------===//
// Test hooks
//===----------------------------------------------------------------------===//

FAKE_EXPORT void fakeCudaRegisterKernel(const char *name, FakeKernel kernel) {
  std::lock_guard<std::recursive_mutex> lock(driver().mutex);
  driver().kernels[name] = kernel;
  driver().kernelParams.erase(name);
}

FAKE_EXPORT void fakeCudaRegisterKernelWithParams(const char *name,
                                                  FakeKernel kernel,
                                                  int paramCount) {
  std::lock_guard<std::recursive_mutex> lock(driver().mutex);
  driver().kernels[name] = kernel;
  driver().kernelParams[name] = paramCount;
}

FAKE_EXPORT void fakeCudaGetStats(FakeCudaStats *stats) {
  std::lock_guard<std::recursive_mutex> lock(driver().mutex);
  Driver &d = driver();
  stats->allocations = long(d.allocations.size());
  stats->modules = long(d.modules.size());
  stats->streams = long(d.streams.size());
  stats->events = long(d.events.size());
  stats->graphs = long(d.graphs.size() + d.execs.size());
  stats->retainedContexts = d.retainedContexts;
  stats->launches = d.launches;
  stats->synchronizations = d.synchronizations;
  stats->streamOrderedAllocations = d.streamOrderedAllocations;
  stats->hostToDeviceBytes = d.hostToDeviceBytes;
  stats->deviceToHostBytes = d.deviceToHostBytes;
  stats->deviceToDeviceBytes = d.deviceToDeviceBytes;
  stats->graphLaunches = d.graphLaunches;
}

//===----------------------------------------------------------------------===//
// Errors, initialisation, devices
//===----------------------------------------------------------------------===//

CUresult cuGetErrorName(CUresult error, const char **name) {
  for (const ErrorInfo &info : kErrors)
    if (info.code == error) {
      *name = info.name;
      return 0;
    }
  *name = nullptr;
  return kInvalidValue;
}

CUresult cuGetErrorString(CUresult error, const char **string) {
  for (const ErrorInfo &info : kErrors)
    if (info.code == error) {
      *string = info.description;
      return 0;
    }
  *string = nullptr;
  return kInvalidValue;
}

CUresult cuInit(unsigned int) {
  std::lock_guard<std::recursive_mutex> lock(driver().mutex);
  if (CUresult result = injected("cuInit"))
    return result;
  if (deviceCount() <= 0)
    return kNoDevice;
  driver().initialized = true;
  return 0;
}

CUresult cuDriverGetVersion(int *version) {
  *version = 12080;
  return 0;
}

CUresult cuDeviceGetCount(int *count) {
  FAKE_ENTER("cuDeviceGetCount");
  *count = deviceCount();
  return 0;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  FAKE_ENTER("cuDeviceGet");
  if (ordinal < 0 || ordinal >= deviceCount())
    return kInvalidDevice;
  *device = ordinal;
  return 0;
}

CUresult cuDeviceGetName(char *name, int length, CUdevice device) {
  FAKE_ENTER("cuDeviceGetName");
  std::snprintf(name, size_t(length), "Fake CUDA Device %d", device);
  return 0;
}

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                              CUdevice) {
  FAKE_ENTER("cuDeviceGetAttribute");
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = 9;
    return 0;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = 0;
    return 0;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 4;
    return 0;
  case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
    *value = 32;
    return 0;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
    *value = kDefaultSharedMemory;
    return 0;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = kOptinSharedMemory;
    return 0;
  default:
    return kInvalidValue;
  }
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice) {
  FAKE_ENTER("cuDeviceTotalMem");
  *bytes = size_t(1) << 30;
  return 0;
}

//===----------------------------------------------------------------------===//
// Contexts
//===----------------------------------------------------------------------===//

CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  FAKE_ENTER("cuDevicePrimaryCtxRetain");
  if (device < 0 || device >= deviceCount())
    return kInvalidDevice;
  std::unique_ptr<CUctx_st> &slot = driver().contexts[device];
  if (!slot)
    slot.reset(new CUctx_st{device});
  *context = slot.get();
  ++driver().retainedContexts;
  return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  FAKE_ENTER("cuDevicePrimaryCtxRelease");
  if (!driver().contexts.count(device) || driver().retainedContexts == 0)
    return kInvalidContext;
  --driver().retainedContexts;
  return 0;
}

CUresult cuCtxSetCurrent(CUcontext context) {
  FAKE_ENTER("cuCtxSetCurrent");
  currentContext = context;
  return 0;
}

CUresult cuCtxSynchronize() {
  FAKE_ENTER("cuCtxSynchronize");
  FAKE_NEEDS_CONTEXT();
  ++driver().synchronizations;
  return 0;
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  FAKE_ENTER("cuModuleLoadData");
  return loadModule(module, image, /*findMagic=*/false, nullptr, 0);
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
  FAKE_ENTER("cuModuleLoadDataEx");
  char *log = nullptr;
  size_t logSize = 0;
  for (unsigned i = 0; i < numOptions; ++i) {
    if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
      log = static_cast<char *>(optionValues[i]);
    else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
      logSize = reinterpret_cast<uintptr_t>(optionValues[i]);
    else if (options[i] != CU_JIT_OPTIMIZATION_LEVEL)
      return kInvalidValue;
  }
  return loadModule(module, image, /*findMagic=*/true, log, logSize);
}

CUresult cuModuleUnload(CUmodule module) {
  FAKE_ENTER("cuModuleUnload");
  if (!driver().modules.count(module))
    return kInvalidHandle;
  destroyModule(module);
  return 0;
}

CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                             const char *name) {
  FAKE_ENTER("cuModuleGetFunction");
  if (!driver().modules.count(module))
    return kInvalidHandle;
  for (auto &existing : module->functions)
    if (existing->name == name) {
      *function = existing.get();
      return 0;
    }
  bool listed = false;
  for (const std::string &listedName : module->names)
    listed |= listedName == name;
  auto kernel = driver().kernels.find(name);
  if (!listed || kernel == driver().kernels.end())
    return kNotFound;
  auto params = driver().kernelParams.find(name);
  module->functions.push_back(std::unique_ptr<CUfunc_st>(new CUfunc_st{
      name, kernel->second, kDefaultSharedMemory, module->context,
      params == driver().kernelParams.end() ? 0 : params->second}));
  *function = module->functions.back().get();
  driver().functions.insert(*function);
  return 0;
}

CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attribute,
                            int value) {
  FAKE_ENTER("cuFuncSetAttribute");
  if (!driver().functions.count(function))
    return kInvalidHandle;
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ||
      value < 0 || value > kOptinSharedMemory)
    return kInvalidValue;
  function->maxDynamicShared = value;
  return 0;
}

CUresult cuLaunchKernel(CUfunction function, unsigned int gridX,
                        unsigned int gridY, unsigned int gridZ,
                        unsigned int blockX, unsigned int blockY,
                        unsigned int blockZ, unsigned int sharedMemBytes,
                        CUstream stream, void **kernelParams, void **extra) {
  FAKE_ENTER("cuLaunchKernel");
  FAKE_NEEDS_CONTEXT();
  if (!driver().functions.count(function))
    return kInvalidHandle;
  // A function of a module loaded on another device's context.
  if (function->context != currentContext)
    return kInvalidContext;
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ ||
      blockX * blockY * blockZ > 1024 || extra ||
      sharedMemBytes > unsigned(function->maxDynamicShared))
    return kInvalidValue;
  // The real driver copies the argument values at launch. The fake does
  // for kernels registered with their argument count; for the others it
  // keeps the pointers, which captured launches need alive until replayed.
  FakeLaunch launch = {{gridX, gridY, gridZ},
                       {blockX, blockY, blockZ},
                       sharedMemBytes,
                       stream,
                       kernelParams};
  FakeKernel kernel = function->kernel;
  auto values = std::make_shared<std::vector<uint64_t>>();
  auto pointers = std::make_shared<std::vector<void *>>();
  for (int i = 0; i < function->paramCount; ++i) {
    uint64_t value;
    std::memcpy(&value, kernelParams[i], sizeof(value));
    values->push_back(value);
  }
  for (uint64_t &value : *values)
    pointers->push_back(&value);
  if (function->paramCount)
    launch.params = pointers->data();
  return submit(stream, [=] {
    (void)values, (void)pointers;
    ++driver().launches;
    kernel(&launch);
  });
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  FAKE_ENTER("cuStreamCreate");
  FAKE_NEEDS_CONTEXT();
  return track(driver().streams, stream, new CUstream_st);
}

CUresult cuStreamDestroy_v2(CUstream stream) {
  FAKE_ENTER("cuStreamDestroy");
  return release(driver().streams, stream);
}

CUresult cuStreamSynchronize(CUstream stream) {
  FAKE_ENTER("cuStreamSynchronize");
  if (!isStream(stream))
    return kInvalidHandle;
  if (stream && stream->capturing) {
    stream->invalidated = true;
    return kCaptureUnsupported;
  }
  ++driver().synchronizations;
  return 0;
}

CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int) {
  FAKE_ENTER("cuStreamWaitEvent");
  if (!isStream(stream) || !driver().events.count(event))
    return kInvalidHandle;
  return 0;
}

CUresult cuEventCreate(CUevent *event, unsigned int) {
  FAKE_ENTER("cuEventCreate");
  FAKE_NEEDS_CONTEXT();
  return track(driver().events, event, new CUevent_st);
}

CUresult cuEventDestroy_v2(CUevent event) {
  FAKE_ENTER("cuEventDestroy");
  return release(driver().events, event);
}

CUresult cuEventRecord(CUevent event, CUstream stream) {
  FAKE_ENTER("cuEventRecord");
  if (!isStream(stream) || !driver().events.count(event))
    return kInvalidHandle;
  return 0;
}

CUresult cuEventSynchronize(CUevent event) {
  FAKE_ENTER("cuEventSynchronize");
  if (!driver().events.count(event))
    return kInvalidHandle;
  ++driver().synchronizations;
  return 0;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  FAKE_ENTER("cuMemAlloc");
  FAKE_NEEDS_CONTEXT();
  if (bytes == 0)
    return kInvalidValue;
  // Allocating is not allowed while this thread captures a stream.
  if (anyCapturing())
    return kCaptureUnsupported;
  void *memory = std::malloc(bytes);
  if (!memory)
    return kOutOfMemory;
  *pointer = reinterpret_cast<uintptr_t>(memory);
  driver().allocations[*pointer] = bytes;
  return 0;
}

CUresult cuMemAllocManaged(CUdeviceptr *pointer, size_t bytes, unsigned int) {
  return cuMemAlloc_v2(pointer, bytes);
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
  FAKE_ENTER("cuMemFree");
  if (!pointer)
    return 0;
  if (!driver().allocations.erase(pointer))
    return kInvalidValue;
  std::free(toHost(pointer));
  return 0;
}

CUresult cuMemAllocAsync(CUdeviceptr *pointer, size_t bytes, CUstream stream) {
  FAKE_ENTER("cuMemAllocAsync");
  FAKE_NEEDS_CONTEXT();
  if (bytes == 0)
    return kInvalidValue;
  if (!isStream(stream))
    return kInvalidHandle;
  // Stream-ordered allocations may be captured (the graph allocates them);
  // here they are made at once, at a fixed address.
  void *memory = std::malloc(bytes);
  if (!memory)
    return kOutOfMemory;
  *pointer = reinterpret_cast<uintptr_t>(memory);
  driver().allocations[*pointer] = bytes;
  ++driver().streamOrderedAllocations;
  return 0;
}

CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream stream) {
  FAKE_ENTER("cuMemFreeAsync");
  if (!isStream(stream))
    return kInvalidHandle;
  if (!pointer)
    return 0;
  if (!driver().allocations.count(pointer))
    return kInvalidValue;
  if (stream && stream->capturing) {
    stream->capturedFrees.push_back(pointer);
    return 0;
  }
  // Work runs at once, so nothing queued still uses the memory.
  driver().allocations.erase(pointer);
  std::free(toHost(pointer));
  return 0;
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                       CUstream stream) {
  FAKE_ENTER("cuMemcpyAsync");
  FAKE_NEEDS_CONTEXT();
  return copy(stream, toHost(dst), toHost(src), bytes);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes,
                              CUstream stream) {
  FAKE_ENTER("cuMemcpyHtoDAsync");
  FAKE_NEEDS_CONTEXT();
  if (!isDeviceRange(dst, bytes))
    return kInvalidValue;
  driver().hostToDeviceBytes += long(bytes);
  return copy(stream, toHost(dst), src, bytes);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes,
                              CUstream stream) {
  FAKE_ENTER("cuMemcpyDtoHAsync");
  FAKE_NEEDS_CONTEXT();
  if (!isDeviceRange(src, bytes))
    return kInvalidValue;
  driver().deviceToHostBytes += long(bytes);
  return copy(stream, dst, toHost(src), bytes);
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                              CUstream stream) {
  FAKE_ENTER("cuMemcpyDtoDAsync");
  FAKE_NEEDS_CONTEXT();
  if (!isDeviceRange(dst, bytes) || !isDeviceRange(src, bytes))
    return kInvalidValue;
  driver().deviceToDeviceBytes += long(bytes);
  return copy(stream, toHost(dst), toHost(src), bytes);
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count,
                         CUstream stream) {
  FAKE_ENTER("cuMemsetD8Async");
  return fill(dst, value, count, stream);
}

CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count,
                          CUstream stream) {
  FAKE_ENTER("cuMemsetD16Async");
  return fill(dst, value, count, stream);
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count,
                          CUstream stream) {
  FAKE_ENTER("cuMemsetD32Async");
  return fill(dst, value, count, stream);
}

//===----------------------------------------------------------------------===//
// Stream capture and graphs
//===----------------------------------------------------------------------===//

CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode) {
  FAKE_ENTER("cuStreamBeginCapture");
  if (!stream)
    return kCaptureUnsupported;
  if (!isStream(stream))
    return kInvalidHandle;
  if (stream->capturing)
    return kInvalidValue;
  stream->capturing = true;
  stream->invalidated = false;
  stream->captured.clear();
  return 0;
}

CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  FAKE_ENTER("cuStreamEndCapture");
  if (!stream || !isStream(stream))
    return kInvalidHandle;
  if (!stream->capturing)
    return kCaptureUnmatched;
  stream->capturing = false;
  if (stream->invalidated) {
    stream->captured.clear();
    return kCaptureInvalidated;
  }
  std::vector<Work> work = std::move(stream->captured);
  stream->captured.clear();
  std::vector<CUdeviceptr> owned = std::move(stream->capturedFrees);
  stream->capturedFrees.clear();
  return track(driver().graphs, graph,
               new CUgraph_st{std::move(work), std::move(owned)});
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                     unsigned long long) {
  FAKE_ENTER("cuGraphInstantiate");
  if (!driver().graphs.count(graph))
    return kInvalidHandle;
  return track(driver().execs, exec, new CUgraphExec_st{graph->work});
}

CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  FAKE_ENTER("cuGraphLaunch");
  if (!driver().execs.count(exec))
    return kInvalidHandle;
  for (const Work &work : exec->work)
    if (CUresult result = submit(stream, work))
      return result;
  ++driver().graphLaunches;
  return 0;
}

CUresult cuGraphExecDestroy(CUgraphExec exec) {
  FAKE_ENTER("cuGraphExecDestroy");
  return release(driver().execs, exec);
}

CUresult cuGraphDestroy(CUgraph graph) {
  FAKE_ENTER("cuGraphDestroy");
  if (driver().graphs.count(graph))
    for (CUdeviceptr pointer : graph->owned)
      if (driver().allocations.erase(pointer))
        std::free(toHost(pointer));
  return release(driver().graphs, graph);
}

// Every entry of the table is defined above with the table's signature: the
// references make a missing one fail to link, a mistyped one to compile.
extern "C" FAKE_EXPORT void *const fakeCudaFunctions[] = {
#define MM_CUDA_SYMBOL(Name, Symbol, Result, Params)                           \
  reinterpret_cast<void *>(&Symbol),
#include "runtime/gpu/CudaSymbols.def"
};
