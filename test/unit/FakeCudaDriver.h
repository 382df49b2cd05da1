//===- FakeCudaDriver.h - a fake CUDA driver, for tests ---------*- C++ -*-===//
//
// libfakecuda.so implements the CUDA driver functions of
// runtime/gpu/CudaSymbols.def on the host, so that the GPU layer's tests run
// without a GPU: device memory is host memory, work runs at once (or is
// recorded while a stream is captured, and replayed by graph launches), and
// "kernels" are host functions the test registers by name.
//
// A module image is text: the magic FAKE_CUBIN_MAGIC, then the names of its
// kernels separated by spaces, up to a newline. cuModuleLoadData wants the
// magic at the start; cuModuleLoadDataEx (PTX) finds it anywhere and writes a
// fake ptxas message into the error log when it is missing. A module belongs
// to the context current when it was loaded: its functions launch only in
// that context (CUDA_ERROR_INVALID_CONTEXT elsewhere), as on a real driver.
//
// Environment:
//   FAKE_CUDA_DEVICES=N       how many devices the driver sees (default 1)
//   FAKE_CUDA_FAIL=name[:code] the driver function `name` (its API name, e.g.
//                             cuModuleLoadData, cuMemAlloc) fails with `code`
//                             (default: a code that fits the function)
//
//===----------------------------------------------------------------------===//

#ifndef MM_TEST_UNIT_FAKECUDADRIVER_H
#define MM_TEST_UNIT_FAKECUDADRIVER_H

#define FAKE_CUBIN_MAGIC "FAKECUBIN"

extern "C" {

/// What a fake kernel sees of its launch.
struct FakeLaunch {
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedMemoryBytes;
  void *stream;
  void **params;
};

using FakeKernel = void (*)(const FakeLaunch *launch);

/// Counters of live objects and of work done.
struct FakeCudaStats {
  long allocations;
  long modules;
  long streams;
  long events;
  long graphs;
  long retainedContexts;
  long launches;
  /// Calls of cuStreamSynchronize, cuEventSynchronize and cuCtxSynchronize
  /// that waited (not those refused during a capture).
  long synchronizations;
  /// Calls of cuMemAllocAsync that succeeded.
  long streamOrderedAllocations;
  /// Bytes copied from the host to the device, back, and within the device
  /// (when the copy was submitted).
  long hostToDeviceBytes;
  long deviceToHostBytes;
  long deviceToDeviceBytes;
  /// Calls of cuGraphLaunch that succeeded.
  long graphLaunches;
};

/// Makes `kernel` the host function behind the kernel `name` of every module
/// that lists it.
void fakeCudaRegisterKernel(const char *name, FakeKernel kernel);
/// As fakeCudaRegisterKernel, for a kernel of `paramCount` arguments of 8
/// bytes each (pointers, int64_t): its launches copy the argument values,
/// as the real driver does, so that a captured launch replays with the
/// values it was launched with after its caller's arguments are gone.
/// Launches of kernels registered without a count keep the caller's
/// pointers.
void fakeCudaRegisterKernelWithParams(const char *name, FakeKernel kernel,
                                      int paramCount);
void fakeCudaGetStats(FakeCudaStats *stats);

using FakeCudaRegisterKernelFn = void (*)(const char *, FakeKernel);
using FakeCudaGetStatsFn = void (*)(FakeCudaStats *);
}

#endif // MM_TEST_UNIT_FAKECUDADRIVER_H
