//===- MgpuAbiTest.cpp - the mgpu* ABI, on a fake driver ------------------===//
//
// The functions are called as compiled code calls them: directly, and from an
// artifact that MLIR 22's gpu-to-llvm lowering produced from
// Inputs/mgpu-artifact.mlir (loaded with dlopen, its mgpu* references bound
// to this executable's exports).
//
//===----------------------------------------------------------------------===//

#include "GpuTestUtil.h"

#include "runtime/gpu/MgpuAbi.h"

#include <cstdint>
#include <numeric>

using namespace mm::gpu;
using namespace mm::testing;

namespace {

/// The kernel of Inputs/mgpu-artifact.mlir: scale(memref<16xf32>, f32), the
/// memref passed as MLIR passes kernel memrefs (allocated, aligned, offset,
/// size, stride).
void scale(const FakeLaunch *launch) {
  recordLaunch(launch);
  float *aligned = *static_cast<float **>(launch->params[1]);
  int64_t offset = *static_cast<int64_t *>(launch->params[2]);
  int64_t size = *static_cast<int64_t *>(launch->params[3]);
  int64_t stride = *static_cast<int64_t *>(launch->params[4]);
  float factor = *static_cast<float *>(launch->params[5]);
  for (int64_t i = 0; i < size; ++i)
    aligned[offset + i * stride] *= factor;
}

/// MLIR's descriptor of a rank-1 memref.
template <typename T> struct MemRef1D {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t size;
  int64_t stride;
};

template <typename T> MemRef1D<T> describe(T *data, int64_t size) {
  return {data, data, 0, size, 1};
}

const char *const kNoDevice =
    "no current GPU device (the runtime makes one current with "
    "mm::gpu::CurrentDeviceScope before it runs or loads compiled code)";

class MgpuAbiTest : public FakeDriverTest {
protected:
  void SetUp() override {
    FakeDriverTest::SetUp();
    registerKernel("scale", scale);
    llvm::consumeError(takeMgpuError());
  }

  void TearDown() override {
    EXPECT_EQ(getCurrentDevice(), nullptr);
    EXPECT_EQ(message(takeMgpuError()), "") << "an error nobody looked at";
    FakeDriverTest::TearDown();
  }
};

TEST_F(MgpuAbiTest, TheExecutableExportsTheAbi) {
  for (const char *name : {"mgpuModuleLoad",
                           "mgpuModuleLoadJIT",
                           "mgpuModuleUnload",
                           "mgpuModuleGetFunction",
                           "mgpuLaunchKernel",
                           "mgpuLaunchClusterKernel",
                           "mgpuStreamCreate",
                           "mgpuStreamDestroy",
                           "mgpuStreamSynchronize",
                           "mgpuStreamWaitEvent",
                           "mgpuEventCreate",
                           "mgpuEventDestroy",
                           "mgpuEventSynchronize",
                           "mgpuEventRecord",
                           "mgpuMemAlloc",
                           "mgpuMemFree",
                           "mgpuMemcpy",
                           "mgpuMemset32",
                           "mgpuMemset16",
                           "mgpuSetDefaultDevice"})
    EXPECT_NE(::dlsym(RTLD_DEFAULT, name), nullptr) << name;
  // Only the ABI: the runtime's C++ functions stay internal.
  EXPECT_EQ(::dlsym(RTLD_DEFAULT, "_ZN2mm3gpu13takeMgpuErrorEv"), nullptr);
}

TEST_F(MgpuAbiTest, WithoutACurrentDeviceCallsFailCleanly) {
  EXPECT_EQ(mgpuMemAlloc(16, nullptr, false), nullptr);
  mgpuStreamSynchronize(nullptr);
  EXPECT_EQ(message(takeMgpuError()),
            std::string("mgpuMemAlloc: ") + kNoDevice);
  EXPECT_EQ(message(takeMgpuError()), "");
}

TEST_F(MgpuAbiTest, ScopesNestAndRestore) {
  setEnv("FAKE_CUDA_DEVICES", "2");
  std::unique_ptr<GpuDevice> first = open("cuda:0");
  std::unique_ptr<GpuDevice> second = open("cuda:1");
  ASSERT_TRUE(first && second);
  llvm::Expected<GpuStream> stream = second->createStream();
  ASSERT_TRUE(bool(stream));
  {
    CurrentDeviceScope outer(*first);
    EXPECT_EQ(getCurrentDevice(), first.get());
    EXPECT_EQ(getCurrentStream(), nullptr);
    {
      CurrentDeviceScope inner(*second, *stream);
      EXPECT_EQ(getCurrentDevice(), second.get());
      EXPECT_EQ(getCurrentStream(), *stream);
    }
    EXPECT_EQ(getCurrentDevice(), first.get());
    EXPECT_EQ(getCurrentStream(), nullptr);
  }
  EXPECT_EQ(getCurrentDevice(), nullptr);
  EXPECT_EQ(message(second->destroyStream(*stream)), "");
}

TEST_F(MgpuAbiTest, MemoryRoundTrip) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  CurrentDeviceScope scope(*device);
  FakeCudaStats before = stats();

  void *stream = mgpuStreamCreate();
  ASSERT_NE(stream, nullptr);
  void *floats = mgpuMemAlloc(16 * sizeof(float), stream, false);
  void *words = mgpuMemAlloc(16, stream, /*isHostShared=*/true);
  ASSERT_TRUE(floats && words);
  EXPECT_EQ(stats().allocations, before.allocations + 2);

  std::vector<float> in(16), out(16);
  std::iota(in.begin(), in.end(), -3.0f);
  mgpuMemcpy(floats, in.data(), 64, stream);
  mgpuMemcpy(out.data(), floats, 64, stream);
  uint32_t quads[4] = {};
  uint16_t halves[8] = {};
  mgpuMemset32(words, 0xa5a5f00du, 4, stream);
  mgpuMemcpy(quads, words, sizeof(quads), stream);
  mgpuMemset16(words, 0x1234, 8, stream);
  mgpuMemcpy(halves, words, sizeof(halves), stream);

  // Two streams joined by an event, as gpu.wait async lowers.
  void *event = mgpuEventCreate();
  ASSERT_NE(event, nullptr);
  mgpuEventRecord(event, stream);
  void *other = mgpuStreamCreate();
  mgpuStreamWaitEvent(other, event);
  mgpuEventSynchronize(event);
  mgpuEventDestroy(event);
  mgpuStreamSynchronize(other);
  mgpuStreamDestroy(other);

  mgpuMemFree(floats, stream);
  mgpuMemFree(words, stream);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(message(takeMgpuError()), "");

  EXPECT_EQ(out, in);
  for (uint32_t quad : quads)
    EXPECT_EQ(quad, 0xa5a5f00du);
  for (uint16_t half : halves)
    EXPECT_EQ(half, 0x1234);
  FakeCudaStats after = stats();
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.streams, before.streams);
  EXPECT_EQ(after.events, before.events);
}

TEST_F(MgpuAbiTest, LaunchesReachTheKernel) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  CurrentDeviceScope scope(*device);
  std::string image = fakeImage("record");
  void *module = mgpuModuleLoad(image.data(), image.size());
  void *function = mgpuModuleGetFunction(module, "record");
  ASSERT_EQ(message(takeMgpuError()), "");
  ASSERT_NE(function, nullptr);

  int64_t value = 42;
  float x = 1.5f;
  void *params[] = {&value, &x};
  mgpuLaunchKernel(function, 4, 3, 2, 32, 2, 1, 512, nullptr, params, nullptr,
                   2);
  ASSERT_EQ(message(takeMgpuError()), "");
  EXPECT_EQ(launchRecord().calls, 1);
  const FakeLaunch &launch = launchRecord().launch;
  EXPECT_EQ(launch.grid[0], 4u);
  EXPECT_EQ(launch.grid[1], 3u);
  EXPECT_EQ(launch.grid[2], 2u);
  EXPECT_EQ(launch.block[0], 32u);
  EXPECT_EQ(launch.block[1], 2u);
  EXPECT_EQ(launch.block[2], 1u);
  EXPECT_EQ(launch.sharedMemoryBytes, 512u);
  EXPECT_EQ(launch.params, params);

  // A cluster of one block is a plain launch; larger ones are refused.
  mgpuLaunchClusterKernel(function, 1, 1, 1, 2, 1, 1, 8, 1, 1, 0, nullptr,
                          params, nullptr);
  ASSERT_EQ(message(takeMgpuError()), "");
  EXPECT_EQ(launchRecord().calls, 2);
  EXPECT_EQ(launchRecord().launch.grid[0], 2u);
  mgpuLaunchClusterKernel(function, 2, 1, 1, 2, 1, 1, 8, 1, 1, 0, nullptr,
                          params, nullptr);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuLaunchClusterKernel: thread block clusters (2x1x1) are not "
            "supported by this runtime");

  // MLIR passes sizes as indices; they must fit the driver's.
  mgpuLaunchKernel(function, 0, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr, 2);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuLaunchKernel: launch sizes out of range: grid 0x1x1, block "
            "1x1x1, shared memory 0");
  mgpuLaunchKernel(function, 1, 1, 1, intptr_t(1) << 33, 1, 1, 0, nullptr,
                   params, nullptr, 2);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuLaunchKernel: launch sizes out of range: grid 1x1x1, block "
            "8589934592x1x1, shared memory 0");
  EXPECT_EQ(launchRecord().calls, 2);

  mgpuModuleUnload(module);
  EXPECT_EQ(message(takeMgpuError()), "");
}

TEST_F(MgpuAbiTest, AssemblyIsCompiledByTheDriver) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  CurrentDeviceScope scope(*device);
  // MLIR embeds assembly NUL-terminated and passes no size.
  std::string ptx =
      "//\n.version 8.0\n.target sm_90\n" FAKE_CUBIN_MAGIC " record\n";
  void *module = mgpuModuleLoadJIT(ptx.data(), 2);
  EXPECT_NE(module, nullptr);
  EXPECT_NE(mgpuModuleGetFunction(module, "record"), nullptr);
  mgpuModuleUnload(module);
  ASSERT_EQ(message(takeMgpuError()), "");

  std::string broken = ".version 8.0\n.target sm_90\n";
  EXPECT_EQ(mgpuModuleLoadJIT(broken.data(), 2), nullptr);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuModuleLoadJIT: cuModuleLoadDataEx failed: "
            "CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed): ptxas "
            "fatal : fake driver: no FAKECUBIN magic");
}

TEST_F(MgpuAbiTest, TheFirstErrorWins) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  CurrentDeviceScope scope(*device);
  setEnv("FAKE_CUDA_FAIL", "cuModuleLoadData");
  std::string image = fakeImage("record");
  void *module = mgpuModuleLoad(image.data(), image.size());
  EXPECT_EQ(module, nullptr);
  // What follows in compiled code fails too, and is not what is reported.
  void *function = mgpuModuleGetFunction(module, "record");
  EXPECT_EQ(function, nullptr);
  mgpuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuModuleLoad: cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE "
            "(device kernel image is invalid)");
  EXPECT_EQ(message(takeMgpuError()), "");

  setEnv("FAKE_CUDA_FAIL", "cuMemsetD16Async");
  mgpuMemset16(nullptr, 1, 0, nullptr); // Nothing to fill: no driver call.
  EXPECT_EQ(message(takeMgpuError()), "");
  void *data = mgpuMemAlloc(64, nullptr, false);
  mgpuMemset16(data, 1, 32, nullptr);
  mgpuMemFree(data, nullptr);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuMemset16: cuMemsetD16Async failed: CUDA_ERROR_UNKNOWN "
            "(unknown error)");
}

TEST_F(MgpuAbiTest, CompiledCodeRunsOnTheDeviceItIsGiven) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  CurrentDeviceScope scope(*device);
  mgpuSetDefaultDevice(0);
  EXPECT_EQ(message(takeMgpuError()), "");
  mgpuSetDefaultDevice(1);
  EXPECT_EQ(message(takeMgpuError()),
            "mgpuSetDefaultDevice: compiled code asks for device 1 but the "
            "runtime runs it on cuda:0");
}

TEST_F(MgpuAbiTest, ABoundStreamIsCapturedIntoAGraph) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  llvm::Expected<GpuStream> stream = device->createStream();
  llvm::Expected<GpuModule> module = device->loadModule(fakeImage("record"));
  ASSERT_TRUE(stream && module);
  llvm::Expected<GpuFunction> function = device->getFunction(*module, "record");
  ASSERT_TRUE(bool(function));
  long streams = stats().streams;
  void *params[] = {nullptr};
  {
    CurrentDeviceScope scope(*device, *stream);
    ASSERT_EQ(message(device->beginCapture(*stream)), "");
    // What compiled code does with its own stream: create it, launch on it,
    // wait for it, destroy it. With the runtime's stream bound, all of it
    // lands in the capture.
    void *own = mgpuStreamCreate();
    EXPECT_EQ(own, *stream);
    mgpuLaunchKernel(*function, 1, 1, 1, 1, 1, 1, 0, own, params, nullptr, 1);
    mgpuStreamSynchronize(own);
    mgpuStreamDestroy(own);
    ASSERT_EQ(message(takeMgpuError()), "");
    llvm::Expected<std::unique_ptr<GpuGraph>> graph =
        device->endCapture(*stream);
    ASSERT_TRUE(bool(graph)) << message(graph.takeError());
    EXPECT_EQ(launchRecord().calls, 0);
    ASSERT_EQ(message((*graph)->launch(*stream)), "");
    ASSERT_EQ(message((*graph)->launch(*stream)), "");
    EXPECT_EQ(launchRecord().calls, 2);
  }
  EXPECT_EQ(stats().streams, streams);
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
  EXPECT_EQ(message(device->unloadModule(*module)), "");
}

TEST_F(MgpuAbiTest, AnArtifactFromMlirRunsThroughTheAbi) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  FakeCudaStats before = stats();
  CurrentDeviceScope scope(*device);
  // Its global constructor loads the kernel module.
  void *artifact = ::dlopen(MM_MGPU_ARTIFACT, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(artifact, nullptr) << ::dlerror();
  EXPECT_EQ(message(takeMgpuError()), "");
  EXPECT_EQ(stats().modules, before.modules + 1);

  using RunFn = void (*)(MemRef1D<float> *, float, MemRef1D<int16_t> *,
                         MemRef1D<int32_t> *);
  auto run = reinterpret_cast<RunFn>(::dlsym(artifact, "_mlir_ciface_run"));
  ASSERT_NE(run, nullptr) << ::dlerror();
  float host[16];
  std::iota(std::begin(host), std::end(host), 0.0f);
  int16_t fill[8] = {};
  int32_t words[4] = {};
  MemRef1D<float> hostRef = describe(host, 16);
  MemRef1D<int16_t> fillRef = describe(fill, 8);
  MemRef1D<int32_t> wordsRef = describe(words, 4);
  run(&hostRef, 2.5f, &fillRef, &wordsRef);
  EXPECT_EQ(message(takeMgpuError()), "");

  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(host[i], 2.5f * float(i)) << i;
  for (int16_t value : fill)
    EXPECT_EQ(value, 7);
  for (int32_t value : words)
    EXPECT_EQ(value, 0x12345678);
  EXPECT_EQ(launchRecord().calls, 1);
  EXPECT_EQ(launchRecord().launch.grid[0], 2u);
  EXPECT_EQ(launchRecord().launch.block[0], 8u);
  EXPECT_EQ(stats().allocations, before.allocations);

  // Its global destructor unloads the module.
  EXPECT_EQ(::dlclose(artifact), 0);
  EXPECT_EQ(message(takeMgpuError()), "");
  EXPECT_EQ(stats().modules, before.modules);
}

TEST_F(MgpuAbiTest, AnArtifactLoadedWithoutADeviceSaysSo) {
  void *artifact = ::dlopen(MM_MGPU_ARTIFACT, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(artifact, nullptr) << ::dlerror();
  EXPECT_EQ(message(takeMgpuError()),
            std::string("mgpuModuleLoad: ") + kNoDevice);
  ::dlclose(artifact);
  EXPECT_EQ(message(takeMgpuError()),
            std::string("mgpuModuleUnload: ") + kNoDevice);
}

} // namespace
