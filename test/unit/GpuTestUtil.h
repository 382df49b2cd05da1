//===- GpuTestUtil.h - shared helpers of the GPU layer's tests --*- C++ -*-===//
//
// The tests of runtime/gpu run against the fake CUDA driver (libfakecuda.so,
// FakeCudaDriver.h): FakeDriverTest points MM_CUDA_DRIVER at it, hides any
// HIP runtime, clears the fake's knobs, and reaches the fake's test hooks.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TEST_UNIT_GPUTESTUTIL_H
#define MM_TEST_UNIT_GPUTESTUTIL_H

#include "FakeCudaDriver.h"
#include "RuntimeTestUtil.h"

#include "runtime/gpu/GpuDevice.h"

#include "llvm/Support/Error.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mm::testing {

/// Sets (or, with nullopt, unsets) an environment variable for its lifetime.
class ScopedEnv {
public:
  ScopedEnv(const char *name, std::optional<std::string> value) : name(name) {
    if (const char *old = std::getenv(name))
      previous = old;
    set(value);
  }
  ~ScopedEnv() { set(previous); }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;

private:
  void set(const std::optional<std::string> &value) {
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }

  const char *name;
  std::optional<std::string> previous;
};

/// A fake module image listing `kernels` (space-separated).
inline std::string fakeImage(const std::string &kernels) {
  return FAKE_CUBIN_MAGIC " " + kernels + "\n";
}

/// What a fake kernel saw of its last launch, and how often kernels ran.
struct LaunchRecord {
  FakeLaunch launch;
  int calls;
};

inline LaunchRecord &launchRecord() {
  static LaunchRecord record;
  return record;
}

/// The fake kernel "record": it records its launch (and the tests' other
/// fake kernels do too).
inline void recordLaunch(const FakeLaunch *launch) {
  launchRecord().launch = *launch;
  ++launchRecord().calls;
}

/// Runs a test against the fake CUDA driver, with the kernel "record".
class FakeDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    env.emplace_back(new ScopedEnv("MM_CUDA_DRIVER", MM_FAKE_CUDA_DRIVER));
    env.emplace_back(
        new ScopedEnv("MM_HIP_DRIVER", "/nonexistent/libamdhip64.so"));
    env.emplace_back(new ScopedEnv("FAKE_CUDA_FAIL", std::nullopt));
    env.emplace_back(new ScopedEnv("FAKE_CUDA_DEVICES", std::nullopt));
    library = ::dlopen(MM_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(library, nullptr) << ::dlerror();
    registerKernelFn = reinterpret_cast<FakeCudaRegisterKernelFn>(
        ::dlsym(library, "fakeCudaRegisterKernel"));
    getStatsFn = reinterpret_cast<FakeCudaGetStatsFn>(
        ::dlsym(library, "fakeCudaGetStats"));
    ASSERT_TRUE(registerKernelFn && getStatsFn);
    registerKernel("record", recordLaunch);
    launchRecord() = {};
  }

  void TearDown() override {
    if (library)
      ::dlclose(library);
    // Newest first, so that a variable set twice gets its first value back.
    while (!env.empty())
      env.pop_back();
  }

  /// Sets an environment variable until the end of the test.
  void setEnv(const char *name, std::optional<std::string> value) {
    env.emplace_back(new ScopedEnv(name, std::move(value)));
  }

  void registerKernel(const char *name, FakeKernel kernel) {
    registerKernelFn(name, kernel);
  }

  FakeCudaStats stats() {
    FakeCudaStats result{};
    getStatsFn(&result);
    return result;
  }

  /// Opens `spec` on the fake driver, failing the test if it cannot.
  std::unique_ptr<gpu::GpuDevice> open(const char *spec = "cuda:0") {
    auto device = gpu::GpuDevice::open(spec);
    if (!device) {
      ADD_FAILURE() << llvm::toString(device.takeError());
      return nullptr;
    }
    return std::move(*device);
  }

private:
  std::vector<std::unique_ptr<ScopedEnv>> env;
  void *library = nullptr;
  FakeCudaRegisterKernelFn registerKernelFn = nullptr;
  FakeCudaGetStatsFn getStatsFn = nullptr;
};

} // namespace mm::testing

#endif // MM_TEST_UNIT_GPUTESTUTIL_H
