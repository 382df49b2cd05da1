//===- SimTestUtil.h - shared helpers of the simulator's tests --*- C++ -*-===//
//
// What SimDeviceTest.cpp and SimMatrixTest.cpp both need to launch kernels
// written by hand (Inputs/sim-*-kernels.cpp) on the simulator: launch
// parameters, random inputs, and a fixture that loads their kernel
// libraries.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TEST_UNIT_SIMTESTUTIL_H
#define MM_TEST_UNIT_SIMTESTUTIL_H

#include "RuntimeTestUtil.h"

#include "runtime/gpu/SimDevice.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace mm::testing {

/// The kernel parameters of a launch: values kept at stable addresses, and
/// the array of pointers to them the launch takes.
class Params {
public:
  template <typename T> Params &add(T value) {
    static_assert(sizeof(T) <= 8, "one parameter holds 8 bytes at most");
    values.emplace_back();
    std::memcpy(values.back().data(), &value, sizeof(T));
    pointers.push_back(values.back().data());
    return *this;
  }
  /// A rank-1 memref: allocated, aligned, offset, size, stride.
  Params &memref(void *data, int64_t size, int64_t stride = 1,
                 int64_t offset = 0) {
    return add(data).add(data).add(offset).add(size).add(stride);
  }
  void **get() { return pointers.data(); }

private:
  std::deque<std::array<uint8_t, 8>> values;
  std::vector<void *> pointers;
};

/// `count` floats uniform in [-1, 1).
inline std::vector<float> randomFloats(size_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float &value : values)
    value = uniform(random);
  return values;
}

/// dlopen, failing the test when the library does not open.
inline void *openLibrary(const char *path) {
  void *library = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(library, nullptr) << ::dlerror();
  return library;
}

/// Runs kernels written by hand on a simulator of 4 workers (more than this
/// machine may have cores: blocks run concurrently whatever the machine),
/// from the cuda:sm_90 and hip:gfx942 builds of a kernel library.
class SimKernelTest : public ::testing::Test {
public:
  /// Opens the device and loads the two builds; SetUp of a test calls it.
  void openLibraries(const char *cudaPath, const char *hipPath) {
    llvm::consumeError(gpu::takeSimStrayCallError());
    device = std::make_unique<gpu::SimDevice>(4);
    cudaLibrary = openLibrary(cudaPath);
    hipLibrary = openLibrary(hipPath);
    ASSERT_TRUE(cudaLibrary && hipLibrary);
    llvm::Expected<gpu::GpuModule> module =
        device->loadHostKernels(cudaLibrary);
    ASSERT_TRUE(bool(module)) << message(module.takeError());
    cudaModule = *module;
    module = device->loadHostKernels(hipLibrary);
    ASSERT_TRUE(bool(module)) << message(module.takeError());
    hipModule = *module;
  }

  void TearDown() override {
    EXPECT_EQ(message(gpu::takeSimStrayCallError()), "");
    device.reset();
    for (void *library : {cudaLibrary, hipLibrary})
      if (library)
        ::dlclose(library);
  }

  /// Kernel `name` of the cuda:sm_90 library (or of `module`).
  gpu::GpuFunction kernel(const char *name, gpu::GpuModule module = nullptr) {
    llvm::Expected<gpu::GpuFunction> function =
        device->getFunction(module ? module : cudaModule, name);
    EXPECT_TRUE(bool(function)) << message(function.takeError());
    return function ? *function : nullptr;
  }

  /// Device memory holding `values`.
  template <typename T> T *upload(const std::vector<T> &values) {
    llvm::Expected<void *> memory = device->allocate(values.size() * sizeof(T));
    EXPECT_TRUE(bool(memory)) << message(memory.takeError());
    if (!memory)
      return nullptr;
    EXPECT_EQ(message(device->copyToDevice(*memory, values.data(),
                                           values.size() * sizeof(T))),
              "");
    return static_cast<T *>(*memory);
  }

  template <typename T> std::vector<T> download(const T *data, size_t count) {
    std::vector<T> values(count);
    EXPECT_EQ(
        message(device->copyToHost(values.data(), data, count * sizeof(T))),
        "");
    return values;
  }

  /// The counters of kernel `name`.
  gpu::SimKernelCounters countersOf(const std::string &name) {
    for (const gpu::SimKernelCounters &counters : device->getCounters())
      if (counters.name == name)
        return counters;
    ADD_FAILURE() << "no counters for " << name;
    return {};
  }

  std::unique_ptr<gpu::SimDevice> device;
  void *cudaLibrary = nullptr;
  void *hipLibrary = nullptr;
  gpu::GpuModule cudaModule = nullptr;
  gpu::GpuModule hipModule = nullptr;
};

} // namespace mm::testing

#endif // MM_TEST_UNIT_SIMTESTUTIL_H
