//===- SimKernelParams.h - what hand-written host copies share --*- C++ -*-===//
//
// The kernel libraries written by hand for the simulator's tests
// (sim-test-kernels.cpp, sim-matrix-kernels.cpp) read their launch
// parameters as the compiler's host copies do (SimKernelAbi.h): one pointer
// per expanded parameter.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TEST_UNIT_INPUTS_SIMKERNELPARAMS_H
#define MM_TEST_UNIT_INPUTS_SIMKERNELPARAMS_H

#include <cstring>

/// Exported from the kernel library, where the simulator finds it.
#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {

/// Parameter `index` of a launch, as a T.
template <typename T> T param(void **params, int index) {
  T value;
  std::memcpy(&value, params[index], sizeof(T));
  return value;
}

} // namespace

#endif // MM_TEST_UNIT_INPUTS_SIMKERNELPARAMS_H
