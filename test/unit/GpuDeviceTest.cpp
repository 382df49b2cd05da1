//===- GpuDeviceTest.cpp - GpuDevice and the drivers, on a fake driver ----===//

#include "GpuTestUtil.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/TargetParser/Host.h"

#include <cstdint>
#include <numeric>

using namespace mm::gpu;
using namespace mm::testing;
using llvm::StringRef;

namespace {

/// addOne(float *data, int n): data[i] += 1 for i < n.
void addOne(const FakeLaunch *launch) {
  recordLaunch(launch);
  float *data = *static_cast<float **>(launch->params[0]);
  int n = *static_cast<int *>(launch->params[1]);
  for (int i = 0; i < n; ++i)
    data[i] += 1.0f;
}

class GpuDeviceTest : public FakeDriverTest {
protected:
  void SetUp() override {
    FakeDriverTest::SetUp();
    registerKernel("addOne", addOne);
  }

  /// Reads `count` floats of device memory.
  std::vector<float> read(GpuDevice &device, void *data, size_t count) {
    std::vector<float> values(count);
    EXPECT_EQ(
        message(device.copyToHost(values.data(), data, count * sizeof(float))),
        "");
    EXPECT_EQ(message(device.synchronize(GpuStream())), "");
    return values;
  }
};

//===----------------------------------------------------------------------===//
// Listing and opening
//===----------------------------------------------------------------------===//

TEST_F(GpuDeviceTest, ListsTheHostAndEveryDevice) {
  setEnv("FAKE_CUDA_DEVICES", "2");
  std::vector<std::string> notes;
  std::vector<DeviceDescription> devices = listDevices(&notes);
  ASSERT_EQ(devices.size(), 4u);
  EXPECT_EQ(devices[0].spec, "cpu");
  EXPECT_TRUE(StringRef(devices[0].description)
                  .starts_with(llvm::sys::getProcessTriple()))
      << devices[0].description;
  EXPECT_TRUE(StringRef(devices[0].description).contains("hardware thread"));
  // The simulator is always there, after the host.
  EXPECT_EQ(devices[1].spec, "sim");
  EXPECT_TRUE(StringRef(devices[1].description)
                  .starts_with("GPU simulator (host CPU, "))
      << devices[1].description;
  EXPECT_EQ(devices[2].spec, "cuda:0");
  EXPECT_EQ(devices[2].description,
            "Fake CUDA Device 0, sm_90, 4 multiprocessors, subgroup 32, 48 "
            "KiB shared memory per block (227 KiB opt-in), 1.0 GiB");
  EXPECT_EQ(devices[3].spec, "cuda:1");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(StringRef(notes[0]).starts_with(
      "hip: driver unavailable (/nonexistent/libamdhip64.so: cannot open "
      "shared object file"))
      << notes[0];
}

TEST_F(GpuDeviceTest, OpensASpecWithItsProperties) {
  long contexts = stats().retainedContexts;
  std::unique_ptr<GpuDevice> device = open("cuda:0");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->getSpec(), "cuda:0");
  EXPECT_EQ(device->getVendor(), Vendor::Cuda);
  EXPECT_EQ(device->getIndex(), 0);
  EXPECT_EQ(device->getName(), "Fake CUDA Device 0");
  EXPECT_EQ(device->getArch(), "sm_90");
  EXPECT_EQ(device->getSubgroupWidth(), 32u);
  EXPECT_EQ(device->getSharedMemoryPerBlock(), 48u * 1024);
  EXPECT_EQ(device->getInfo().sharedMemoryPerBlockOptin, 227u * 1024);
  EXPECT_EQ(device->getInfo().multiprocessors, 4u);
  EXPECT_EQ(device->getTotalMemory(), uint64_t(1) << 30);
  // The device holds its primary context while it is open.
  EXPECT_EQ(stats().retainedContexts, contexts + 1);
  device.reset();
  EXPECT_EQ(stats().retainedContexts, contexts);

  // The vendor alone means its first device.
  device = open("cuda");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->getSpec(), "cuda:0");
}

TEST_F(GpuDeviceTest, RejectsBadSpecs) {
  for (const char *spec :
       {"", "cpu", "gpu:0", "cuda:", "cuda:x", "cuda:-1", "cuda:1x",
        "hip:99999999999", "cuda0", "CUDA:0", "cuda:0:1", "sim:", "simulator"})
    EXPECT_EQ(message(GpuDevice::open(spec)),
              "bad device spec '" + std::string(spec) +
                  "': expected cuda:N, hip:N (N a device index, 0 for the "
                  "first device) or sim (the simulator)");
}

TEST_F(GpuDeviceTest, NamesTheDeviceCountForAnIndexOutOfRange) {
  setEnv("FAKE_CUDA_DEVICES", "2");
  EXPECT_EQ(message(GpuDevice::open("cuda:2")),
            "cuda:2: no such device; the cuda driver sees 2 devices (cuda:0 "
            "to cuda:1)");
  setEnv("FAKE_CUDA_DEVICES", "1");
  EXPECT_EQ(message(GpuDevice::open("cuda:7")),
            "cuda:7: no such device; the cuda driver sees 1 device (cuda:0)");
  EXPECT_EQ(message(GpuDevice::query(Vendor::Cuda, 1)),
            "cuda:1: no such device; the cuda driver sees 1 device (cuda:0)");
}

TEST_F(GpuDeviceTest, AMissingDriverIsUnavailable) {
  setEnv("MM_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  std::string error = message(GpuDevice::open("cuda:0"));
  EXPECT_TRUE(StringRef(error).starts_with(
      "cuda: driver unavailable (/nonexistent/libcuda.so.1: cannot open "
      "shared object file"))
      << error;
  EXPECT_EQ(message(GpuDevice::countDevices(Vendor::Cuda)), error);
  error = message(GpuDevice::open("hip:0"));
  EXPECT_TRUE(StringRef(error).starts_with(
      "hip: driver unavailable (/nonexistent/libamdhip64.so: cannot open "
      "shared object file"))
      << error;

  // The host and the simulator are always there.
  std::vector<std::string> notes;
  std::vector<DeviceDescription> devices = listDevices(&notes);
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].spec, "cpu");
  EXPECT_EQ(devices[1].spec, "sim");
  EXPECT_EQ(notes.size(), 2u);
}

TEST_F(GpuDeviceTest, ALibraryWithoutTheDriverApiIsUnavailable) {
  setEnv("MM_CUDA_DRIVER", "libc.so.6");
  EXPECT_EQ(message(GpuDevice::open("cuda:0")),
            "cuda: driver unavailable (libc.so.6 lacks cuGetErrorName)");
}

TEST_F(GpuDeviceTest, ADriverWithoutDevicesIsUnavailable) {
  // The runtime keeps every driver it opened; a copy of the fake under
  // another name is a driver that has not been initialised yet.
  llvm::SmallString<128> directory;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("fakecuda", directory));
  llvm::SmallString<128> copy(directory);
  llvm::sys::path::append(copy, "libcuda.so.1");
  ASSERT_FALSE(llvm::sys::fs::copy_file(MM_FAKE_CUDA_DRIVER, copy));
  setEnv("MM_CUDA_DRIVER", std::string(copy));
  setEnv("FAKE_CUDA_DEVICES", "0");
  EXPECT_EQ(message(GpuDevice::open("cuda:0")),
            "cuda: driver unavailable (cuInit failed: CUDA_ERROR_NO_DEVICE (no "
            "CUDA-capable device is detected))");
  llvm::sys::fs::remove(copy);
  llvm::sys::fs::remove(directory);
}

//===----------------------------------------------------------------------===//
// Memory, streams, events
//===----------------------------------------------------------------------===//

TEST_F(GpuDeviceTest, CopiesRoundTrip) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  long allocations = stats().allocations;
  llvm::Expected<void *> a = device->allocate(16 * sizeof(float));
  llvm::Expected<void *> b = device->allocate(16 * sizeof(float), true);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(stats().allocations, allocations + 2);

  std::vector<float> values(16);
  std::iota(values.begin(), values.end(), 0.5f);
  ASSERT_EQ(message(device->copyToDevice(*a, values.data(), 64)), "");
  ASSERT_EQ(message(device->copyOnDevice(*b, *a, 64)), "");
  EXPECT_EQ(read(*device, *b, 16), values);

  ASSERT_EQ(message(device->fill32(*a, 0x3f800000u, 16)), "");
  EXPECT_EQ(read(*device, *a, 16), std::vector<float>(16, 1.0f));
  ASSERT_EQ(message(device->fill16(*a, 0x4000, 2)), "");
  ASSERT_EQ(message(device->fill8(*a, 0, 1)), "");
  std::vector<uint8_t> bytes(5);
  ASSERT_EQ(message(device->copy(bytes.data(), *a, 5)), "");
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x00, 0x40, 0x00, 0x40, 0x00}));

  ASSERT_EQ(message(device->free(*a)), "");
  ASSERT_EQ(message(device->free(*b)), "");
  EXPECT_EQ(stats().allocations, allocations);

  // Nothing to do, nothing done.
  llvm::Expected<void *> none = device->allocate(0);
  ASSERT_TRUE(bool(none));
  EXPECT_EQ(*none, nullptr);
  EXPECT_EQ(message(device->free(nullptr)), "");
  EXPECT_EQ(message(device->copy(nullptr, nullptr, 0)), "");
  EXPECT_EQ(message(device->copyToHost(nullptr, values.data(), 4)),
            "a copy of 4 bytes on cuda:0 has a null destination");
}

TEST_F(GpuDeviceTest, StreamsAndEvents) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  FakeCudaStats before = stats();
  llvm::Expected<GpuStream> first = device->createStream();
  llvm::Expected<GpuStream> second = device->createStream();
  llvm::Expected<GpuEvent> event = device->createEvent();
  ASSERT_TRUE(first && second && event);
  EXPECT_EQ(stats().streams, before.streams + 2);
  EXPECT_EQ(stats().events, before.events + 1);
  EXPECT_EQ(message(device->recordEvent(*event, *first)), "");
  EXPECT_EQ(message(device->waitEvent(*second, *event)), "");
  EXPECT_EQ(message(device->synchronize(*event)), "");
  EXPECT_EQ(message(device->synchronize(*second)), "");
  EXPECT_EQ(message(device->synchronize()), "");
  EXPECT_EQ(message(device->destroyEvent(*event)), "");
  EXPECT_EQ(message(device->destroyStream(*first)), "");
  EXPECT_EQ(message(device->destroyStream(*second)), "");
  EXPECT_EQ(stats().streams, before.streams);
  EXPECT_EQ(stats().events, before.events);
  EXPECT_EQ(message(device->recordEvent(nullptr, nullptr)),
            "recording a null event on cuda:0");
}

TEST_F(GpuDeviceTest, AFailingCallNamesItselfAndTheDriversDiagnosis) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  setEnv("FAKE_CUDA_FAIL", "cuMemAlloc");
  EXPECT_EQ(message(device->allocate(16)),
            "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
  setEnv("FAKE_CUDA_FAIL", "cuStreamCreate:400");
  EXPECT_EQ(message(device->createStream()),
            "cuStreamCreate failed: CUDA_ERROR_INVALID_HANDLE (invalid "
            "resource handle)");
  // A code the driver has no name for.
  setEnv("FAKE_CUDA_FAIL", "cuCtxSynchronize:12345");
  EXPECT_EQ(message(device->synchronize()),
            "cuCtxSynchronize failed: CUDA error 12345");
  // The device makes itself current first, and says so when it cannot.
  setEnv("FAKE_CUDA_FAIL", "cuCtxSetCurrent");
  EXPECT_EQ(message(device->allocate(16)),
            "cuCtxSetCurrent failed: CUDA_ERROR_UNKNOWN (unknown error)");

  // A host address is no device address.
  setEnv("FAKE_CUDA_FAIL", std::nullopt);
  float host = 0;
  EXPECT_EQ(message(device->copyToHost(&host, &host, sizeof(host))),
            "cuMemcpyDtoHAsync failed: CUDA_ERROR_INVALID_VALUE (invalid "
            "argument)");
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

TEST_F(GpuDeviceTest, ModuleErrorsNameTheCall) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  setEnv("FAKE_CUDA_FAIL", "cuModuleLoadData");
  EXPECT_EQ(message(device->loadModule(fakeImage("addOne"))),
            "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel "
            "image is invalid)");
  setEnv("FAKE_CUDA_FAIL", std::nullopt);
  EXPECT_EQ(message(device->loadModule("\x7f"
                                       "ELF, but not a cubin")),
            "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel "
            "image is invalid)");
  // PTX goes through the driver's compiler, whose log is part of the error.
  EXPECT_EQ(message(device->loadModule(".version 8.0\n.target sm_90\n")),
            "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (a PTX JIT "
            "compilation failed): ptxas fatal : fake driver: no FAKECUBIN "
            "magic");
  EXPECT_EQ(message(device->loadModule("")), "an empty module blob for cuda:0");

  long modules = stats().modules;
  llvm::Expected<GpuModule> module = device->loadModule(fakeImage("addOne"));
  ASSERT_TRUE(bool(module)) << message(module.takeError());
  EXPECT_EQ(stats().modules, modules + 1);
  EXPECT_EQ(message(device->getFunction(*module, "missing")),
            "cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND (named symbol "
            "not found)");
  EXPECT_EQ(message(device->unloadModule(*module)), "");
  EXPECT_EQ(stats().modules, modules);
}

TEST_F(GpuDeviceTest, LaunchesReachTheKernel) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  llvm::Expected<GpuModule> module =
      device->loadModule(fakeImage("other addOne"));
  ASSERT_TRUE(bool(module)) << message(module.takeError());
  llvm::Expected<GpuFunction> function = device->getFunction(*module, "addOne");
  ASSERT_TRUE(bool(function)) << message(function.takeError());
  llvm::Expected<void *> data = device->allocate(8 * sizeof(float));
  ASSERT_TRUE(bool(data));
  ASSERT_EQ(message(device->fill32(*data, 0, 8)), "");

  void *pointer = *data;
  int n = 8;
  void *params[] = {&pointer, &n};
  ASSERT_EQ(message(device->launch(*function, {3, 2, 1}, {64, 1, 1}, 1024,
                                   nullptr, params)),
            "");
  EXPECT_EQ(launchRecord().calls, 1);
  EXPECT_EQ(launchRecord().launch.grid[0], 3u);
  EXPECT_EQ(launchRecord().launch.grid[1], 2u);
  EXPECT_EQ(launchRecord().launch.grid[2], 1u);
  EXPECT_EQ(launchRecord().launch.block[0], 64u);
  EXPECT_EQ(launchRecord().launch.sharedMemoryBytes, 1024u);
  EXPECT_EQ(launchRecord().launch.params, params);
  EXPECT_EQ(read(*device, *data, 8), std::vector<float>(8, 1.0f));

  // Shared memory beyond the default per-block amount is opted into; beyond
  // what a block may have, the launch is refused.
  EXPECT_EQ(
      message(device->launch(*function, {}, {}, 100 * 1024, nullptr, params)),
      "");
  EXPECT_EQ(launchRecord().calls, 2);
  EXPECT_EQ(
      message(device->launch(*function, {}, {}, 300 * 1024, nullptr, params)),
      "a launch on cuda:0 asks for 307200 bytes of shared memory; a block may "
      "have 232448");
  EXPECT_EQ(
      message(device->launch(*function, {0, 1, 1}, {}, 0, nullptr, params)),
      "an empty launch on cuda:0: grid 0x1x1, block 1x1x1");
  EXPECT_EQ(message(device->launch(nullptr, {}, {}, 0, nullptr, params)),
            "launching a null kernel on cuda:0");

  EXPECT_EQ(message(device->free(*data)), "");
  EXPECT_EQ(message(device->unloadModule(*module)), "");
}

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

TEST_F(GpuDeviceTest, CapturedGraphsReplay) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  llvm::Expected<GpuModule> module = device->loadModule(fakeImage("addOne"));
  ASSERT_TRUE(bool(module));
  llvm::Expected<GpuFunction> function = device->getFunction(*module, "addOne");
  llvm::Expected<void *> data = device->allocate(4 * sizeof(float));
  llvm::Expected<GpuStream> stream = device->createStream();
  ASSERT_TRUE(function && data && stream);
  ASSERT_EQ(message(device->fill32(*data, 0, 4)), "");
  FakeCudaStats before = stats();

  ASSERT_EQ(message(device->beginCapture(*stream)), "");
  EXPECT_EQ(device->getCapturingStream(), *stream);
  void *pointer = *data;
  int n = 4;
  void *params[] = {&pointer, &n};
  ASSERT_EQ(
      message(device->launch(*function, {}, {4, 1, 1}, 0, *stream, params)),
      "");
  ASSERT_EQ(
      message(device->launch(*function, {}, {4, 1, 1}, 0, *stream, params)),
      "");
  // Captured work waits for the graph.
  EXPECT_EQ(stats().launches, before.launches);
  llvm::Expected<std::unique_ptr<GpuGraph>> graph = device->endCapture(*stream);
  ASSERT_TRUE(bool(graph)) << message(graph.takeError());
  EXPECT_EQ(device->getCapturingStream(), nullptr);
  EXPECT_EQ(stats().graphs, before.graphs + 2); // The graph and its instance.

  for (int replay = 0; replay < 3; ++replay)
    ASSERT_EQ(message((*graph)->launch(*stream)), "");
  ASSERT_EQ(message(device->synchronize(*stream)), "");
  EXPECT_EQ(stats().launches, before.launches + 6);
  EXPECT_EQ(read(*device, *data, 4), std::vector<float>(4, 6.0f));

  graph->reset();
  EXPECT_EQ(stats().graphs, before.graphs);
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
  EXPECT_EQ(message(device->free(*data)), "");
  EXPECT_EQ(message(device->unloadModule(*module)), "");
}

TEST_F(GpuDeviceTest, StreamOrderedMemoryIsCapturedWithItsLaunches) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  llvm::Expected<GpuModule> module = device->loadModule(fakeImage("addOne"));
  ASSERT_TRUE(bool(module));
  llvm::Expected<GpuFunction> function = device->getFunction(*module, "addOne");
  llvm::Expected<GpuStream> stream = device->createStream();
  ASSERT_TRUE(function && stream);
  FakeCudaStats before = stats();

  // Outside a capture: cuMemAllocAsync, and the free waits for nothing.
  llvm::Expected<void *> temporary = device->allocateAsync(16, *stream);
  ASSERT_TRUE(bool(temporary)) << message(temporary.takeError());
  EXPECT_EQ(stats().streamOrderedAllocations,
            before.streamOrderedAllocations + 1);
  EXPECT_EQ(message(device->freeAsync(*temporary, *stream)), "");
  EXPECT_EQ(stats().allocations, before.allocations);
  EXPECT_EQ(stats().synchronizations, before.synchronizations);

  // Inside one: the memory the captured launches use lives as long as the
  // graph (cuMemAlloc would be refused while capturing).
  ASSERT_EQ(message(device->beginCapture(*stream)), "");
  llvm::Expected<void *> data = device->allocateAsync(4 * sizeof(float),
                                                      *stream);
  ASSERT_TRUE(bool(data)) << message(data.takeError());
  ASSERT_EQ(message(device->fill32(*data, 0, 4, *stream)), "");
  void *pointer = *data;
  int n = 4;
  void *params[] = {&pointer, &n};
  ASSERT_EQ(
      message(device->launch(*function, {}, {4, 1, 1}, 0, *stream, params)),
      "");
  ASSERT_EQ(message(device->freeAsync(*data, *stream)), "");
  llvm::Expected<std::unique_ptr<GpuGraph>> graph = device->endCapture(*stream);
  ASSERT_TRUE(bool(graph)) << message(graph.takeError());
  EXPECT_EQ(stats().allocations, before.allocations + 1);
  for (int replay = 0; replay < 2; ++replay)
    ASSERT_EQ(message((*graph)->launch(*stream)), "");
  EXPECT_EQ(stats().launches, before.launches + 2);
  graph->reset();
  EXPECT_EQ(stats().allocations, before.allocations);
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
  EXPECT_EQ(message(device->unloadModule(*module)), "");
}

TEST_F(GpuDeviceTest, CaptureMisuseIsAnError) {
  std::unique_ptr<GpuDevice> device = open();
  ASSERT_TRUE(device);
  llvm::Expected<GpuStream> stream = device->createStream();
  ASSERT_TRUE(bool(stream));
  EXPECT_EQ(message(device->beginCapture(nullptr)),
            "the default stream of cuda:0 cannot be captured; capture a "
            "created stream");
  EXPECT_EQ(message(device->endCapture(*stream)),
            "no capture is in progress on this stream of cuda:0");
  ASSERT_EQ(message(device->beginCapture(*stream)), "");
  EXPECT_EQ(message(device->beginCapture(*stream)),
            "a capture is already in progress on cuda:0");
  // Allocating or synchronising breaks a capture; the driver says so.
  EXPECT_EQ(message(device->allocate(4)),
            "cuMemAlloc failed: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED "
            "(operation not permitted when stream is capturing)");
  EXPECT_EQ(message(device->synchronize(*stream)),
            "cuStreamSynchronize failed: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED "
            "(operation not permitted when stream is capturing)");
  EXPECT_EQ(message(device->endCapture(*stream)),
            "cuStreamEndCapture failed: CUDA_ERROR_STREAM_CAPTURE_INVALIDATED "
            "(operation failed due to a previous error during capture)");
  EXPECT_EQ(device->getCapturingStream(), nullptr);
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
}

} // namespace
