//===- SimDeviceTest.cpp - the simulator device ---------------------------===//
//
// The simulator runs kernels written by hand as the compiler writes their
// host copies (Inputs/sim-test-kernels.cpp, built for cuda:sm_90 and
// hip:gfx942), loaded with SimDevice::loadHostKernels or through the mgpu*
// ABI as an artifact loads them. Results are checked against plain loops
// on random inputs; every check of a launch is made to fire and its message
// checked.
//
//===----------------------------------------------------------------------===//

#include "SimTestUtil.h"

#include "common/SimKernelAbi.h"
#include "runtime/gpu/MgpuAbi.h"
#include "runtime/gpu/SimDevice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

using namespace mm::gpu;
using mm::testing::message;
using mm::testing::openLibrary;
using mm::testing::Params;
using mm::testing::randomFloats;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

class SimDeviceTest : public mm::testing::SimKernelTest {
protected:
  void SetUp() override {
    openLibraries(MM_SIM_TEST_KERNELS_CUDA, MM_SIM_TEST_KERNELS_HIP);
  }

  /// Launches `name` with no parameters over `grid` blocks of `block`.
  std::string launchBare(const char *name, Dim3 grid, Dim3 block,
                         GpuModule module = nullptr) {
    return message(
        device->launch(kernel(name, module), grid, block, 0, nullptr, nullptr));
  }
};

//===----------------------------------------------------------------------===//
// The device
//===----------------------------------------------------------------------===//

TEST_F(SimDeviceTest, OpensBySpecAndIsListed) {
  for (const char *spec : {"sim", "sim:0"}) {
    llvm::Expected<std::unique_ptr<GpuDevice>> opened = GpuDevice::open(spec);
    ASSERT_TRUE(bool(opened)) << message(opened.takeError());
    EXPECT_TRUE((*opened)->isSimulator());
    EXPECT_EQ((*opened)->getVendor(), Vendor::Sim);
    EXPECT_EQ((*opened)->getSpec(), "sim");
    EXPECT_EQ((*opened)->getArch(), "");
    EXPECT_THAT((*opened)->getName().str(),
                StartsWith("GPU simulator (host CPU, "));
    EXPECT_NE(SimDevice::get(**opened), nullptr);
  }
  EXPECT_EQ(message(GpuDevice::open("sim:1")),
            "sim:1: no such device; there is one simulator, sim");
  EXPECT_EQ(getVendorName(Vendor::Sim), "sim");
  std::vector<DeviceDescription> devices = listDevices();
  ASSERT_GE(devices.size(), 2u);
  EXPECT_EQ(devices[0].spec, "cpu");
  EXPECT_EQ(devices[1].spec, "sim");
  EXPECT_THAT(devices[1].description, HasSubstr("runs any cuda or hip"));
  EXPECT_EQ(device->getWorkerCount(), 4u);
}

TEST_F(SimDeviceTest, MemoryIsCheckedAndNamed) {
  llvm::Expected<void *> memory = device->allocate(1000);
  ASSERT_TRUE(bool(memory));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(*memory) % 256, 0u);
  device->nameAllocation(*memory, "the weights");
  EXPECT_EQ(device->describeAddress(static_cast<char *>(*memory) + 999),
            "the weights (allocation #1, 1000 bytes)");
  EXPECT_EQ(device->describeAddress(static_cast<char *>(*memory) + 1000), "");

  std::vector<uint8_t> host(2000, 7);
  EXPECT_THAT(message(device->copyToDevice(*memory, host.data(), 1001)),
              HasSubstr("the destination of a copy of 1001 bytes on sim "
                        "reaches bytes [0, 1001) of the weights "
                        "(allocation #1, 1000 bytes)"));
  EXPECT_THAT(message(device->copyToDevice(host.data(), host.data(), 8)),
              HasSubstr("is not device memory"));
  EXPECT_EQ(message(device->fill16(*memory, 0xabcd, 500)), "");
  std::vector<uint16_t> words(500);
  EXPECT_EQ(message(device->copyToHost(words.data(), *memory, 1000)), "");
  EXPECT_EQ(words, std::vector<uint16_t>(500, 0xabcd));
  EXPECT_THAT(message(device->free(static_cast<char *>(*memory) + 4)),
              HasSubstr("which is not the start of a live allocation (byte 4 "
                        "of the weights (allocation #1, 1000 bytes))"));
  EXPECT_EQ(message(device->free(*memory)), "");
  EXPECT_EQ(device->describeAddress(*memory), "");
}

//===----------------------------------------------------------------------===//
// Independent threads
//===----------------------------------------------------------------------===//

TEST_F(SimDeviceTest, AxpyOverManyBlocksMatchesALoop) {
  const int64_t n = 100003;
  std::vector<float> x = randomFloats(n, 1), y = randomFloats(n, 2);
  float *deviceX = upload(x), *deviceY = upload(y);
  const float a = 1.75f;
  Params params;
  params.add(a).memref(deviceX, n).memref(deviceY, n).add(n);
  const unsigned blocks = unsigned((n + 255) / 256);
  ASSERT_EQ(message(device->launch(kernel("axpy"), {blocks, 1, 1}, {256, 1, 1},
                                   0, nullptr, params.get())),
            "");
  std::vector<float> result = download(deviceY, n);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(result[i], a * x[i] + y[i]) << "at " << i;

  SimKernelCounters counters = countersOf("axpy");
  EXPECT_EQ(counters.kind, "elementwise");
  EXPECT_EQ(counters.launches, 1u);
  EXPECT_EQ(counters.lastGrid.x, blocks);
  EXPECT_EQ(counters.lastBlock.x, 256u);
  EXPECT_EQ(counters.threads, uint64_t(blocks) * 256);
  EXPECT_EQ(counters.globalLoadBytes, uint64_t(8 * n));
  EXPECT_EQ(counters.globalStoreBytes, uint64_t(4 * n));
  EXPECT_EQ(counters.flops, uint64_t(2 * n));
  EXPECT_EQ(counters.barriers, 0u);

  // Counters add up over launches, until reset.
  ASSERT_EQ(message(device->launch(kernel("axpy"), {blocks, 1, 1}, {256, 1, 1},
                                   0, nullptr, params.get())),
            "");
  EXPECT_EQ(countersOf("axpy").launches, 2u);
  EXPECT_EQ(countersOf("axpy").flops, uint64_t(4 * n));
  device->resetCounters();
  EXPECT_TRUE(device->getCounters().empty());
}

TEST_F(SimDeviceTest, ThreeDimensionalGridsAndBlocks) {
  const Dim3 grid{3, 2, 2}, block{4, 3, 2};
  const int64_t sizeX = 12, sizeY = 6, sizeZ = 4;
  int32_t *ids =
      upload(std::vector<int32_t>(size_t(sizeX * sizeY * sizeZ), -1));
  Params params;
  params.add(ids).add(ids).add(int64_t(0));
  params.add(sizeZ).add(sizeY).add(sizeX);
  params.add(sizeY * sizeX).add(sizeX).add(int64_t(1));
  ASSERT_EQ(message(device->launch(kernel("fill_ids"), grid, block, 0, nullptr,
                                   params.get())),
            "");
  std::vector<int32_t> result = download(ids, size_t(sizeX * sizeY * sizeZ));
  for (int64_t z = 0; z < sizeZ; ++z)
    for (int64_t y = 0; y < sizeY; ++y)
      for (int64_t x = 0; x < sizeX; ++x)
        ASSERT_EQ(result[(z * sizeY + y) * sizeX + x],
                  x + 1000 * y + 1000000 * z);
}

//===----------------------------------------------------------------------===//
// Cooperative threads
//===----------------------------------------------------------------------===//

TEST_F(SimDeviceTest, BlockReductionWithSharedMemoryAndBarriers) {
  const unsigned blocks = 37, threads = 128;
  const int64_t n = int64_t(blocks) * threads - 50; // The last block is short.
  std::vector<float> x = randomFloats(n, 3);
  float *deviceX = upload(x);
  float *sums = upload(std::vector<float>(blocks, 0.0f));
  Params params;
  params.memref(deviceX, n).memref(sums, blocks);
  // A 2-D block: threads are numbered x first.
  ASSERT_EQ(
      message(device->launch(kernel("block_sum"), {blocks, 1, 1}, {32, 4, 1},
                             threads * 4, nullptr, params.get())),
      "");
  std::vector<float> result = download(sums, blocks);
  for (unsigned b = 0; b < blocks; ++b) {
    double expected = 0;
    for (int64_t i = b * threads; i < std::min<int64_t>(n, (b + 1) * threads);
         ++i)
      expected += x[i];
    EXPECT_NEAR(result[b], expected, 1e-4) << "block " << b;
  }
  SimKernelCounters counters = countersOf("block_sum");
  // Per block: 128 stores, then 64 + 32 + ... + 1 reduction steps (two
  // loads and a store each), and one load for the result; a barrier per
  // thread before the loop and after each of its 7 steps.
  EXPECT_EQ(counters.sharedStoreBytes, uint64_t(blocks) * (128 + 127) * 4);
  EXPECT_EQ(counters.sharedLoadBytes, uint64_t(blocks) * (2 * 127 + 1) * 4);
  EXPECT_EQ(counters.barriers, uint64_t(blocks) * threads * 8);
}

/// What a warp's shuffles give, from gpu.shuffle's definition: lanes are
/// split into segments of `width`; a source lane outside the lane's segment
/// or past the block's last thread gives the lane its own value, invalid.
void referenceShuffles(const std::vector<float> &x, unsigned blocks,
                       unsigned threads, unsigned subgroup, int width, int mode,
                       std::vector<float> &sums, std::vector<int32_t> &valid) {
  sums.assign(x.size(), 0);
  valid.assign(x.size(), 0);
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned first = 0; first < threads; first += subgroup) {
      const int count = int(std::min(subgroup, threads - first));
      std::vector<float> value(count);
      std::vector<int32_t> mask(count, 0);
      for (int lane = 0; lane < count; ++lane)
        value[lane] = x[b * threads + first + lane];
      auto source = [&](int lane, int offset, int &from) {
        const int segment = lane - lane % width;
        switch (mode) {
        case MMSIM_SHUFFLE_XOR:
          from = lane ^ offset;
          break;
        case MMSIM_SHUFFLE_DOWN:
          from = lane + offset;
          break;
        case MMSIM_SHUFFLE_UP:
          from = lane - offset;
          break;
        default:
          from = segment + offset;
        }
        return from >= segment && from < segment + width && from < count;
      };
      if (mode == MMSIM_SHUFFLE_IDX) {
        std::vector<float> next = value;
        for (int lane = 0; lane < count; ++lane) {
          int from;
          if (source(lane, (lane % width * 5 + 1) % width, from)) {
            next[lane] = value[from];
            mask[lane] = 1;
          }
        }
        value = next;
      } else {
        int step = 0;
        for (int offset = width / 2; offset > 0; offset /= 2, ++step) {
          std::vector<float> next = value;
          for (int lane = 0; lane < count; ++lane) {
            int from;
            if (source(lane, offset, from)) {
              next[lane] = value[lane] + value[from];
              mask[lane] |= 1 << step;
            }
          }
          value = next;
        }
      }
      for (int lane = 0; lane < count; ++lane) {
        sums[b * threads + first + lane] = value[lane];
        valid[b * threads + first + lane] = mask[lane];
      }
    }
}

TEST_F(SimDeviceTest, WarpShufflesAtWidths32And64) {
  struct Case {
    GpuModule module;
    unsigned subgroup;
    unsigned threads; // Not a multiple of the subgroup: a short last warp.
    int width;
  };
  const unsigned blocks = 5;
  for (const Case &test :
       {Case{cudaModule, 32, 80, 32}, Case{cudaModule, 32, 80, 8},
        Case{hipModule, 64, 160, 64}, Case{hipModule, 64, 160, 16}}) {
    for (int mode : {MMSIM_SHUFFLE_XOR, MMSIM_SHUFFLE_DOWN, MMSIM_SHUFFLE_UP,
                     MMSIM_SHUFFLE_IDX}) {
      SCOPED_TRACE("subgroup " + std::to_string(test.subgroup) + ", width " +
                   std::to_string(test.width) + ", mode " +
                   std::to_string(mode));
      const size_t n = size_t(blocks) * test.threads;
      std::vector<float> x = randomFloats(n, 10 + mode);
      float *deviceX = upload(x);
      float *sums = upload(std::vector<float>(n, 0.0f));
      int32_t *valid = upload(std::vector<int32_t>(n, -1));
      Params params;
      params.memref(deviceX, int64_t(n))
          .memref(sums, int64_t(n))
          .memref(valid, int64_t(n))
          .add(int32_t(test.width))
          .add(int32_t(mode));
      device->resetCounters();
      ASSERT_EQ(message(device->launch(kernel("warp_shuffle", test.module),
                                       {blocks, 1, 1}, {test.threads, 1, 1}, 0,
                                       nullptr, params.get())),
                "");
      std::vector<float> expectedSums;
      std::vector<int32_t> expectedValid;
      referenceShuffles(x, blocks, test.threads, test.subgroup, test.width,
                        mode, expectedSums, expectedValid);
      EXPECT_EQ(download(sums, n), expectedSums);
      EXPECT_EQ(download(valid, n), expectedValid);
      const uint64_t steps =
          mode == MMSIM_SHUFFLE_IDX ? 1 : uint64_t(llvm::Log2_32(test.width));
      EXPECT_EQ(countersOf("warp_shuffle").shuffles, n * steps);
      for (void *memory : {(void *)deviceX, (void *)sums, (void *)valid})
        ASSERT_EQ(message(device->free(memory)), "");
    }
  }
}

TEST_F(SimDeviceTest, AtomicsOfManyThreadsDoNotRace) {
  const unsigned blocks = 6, threads = 96;
  int32_t *counts = upload(std::vector<int32_t>(blocks, 0));
  Params params;
  params.memref(counts, blocks);
  ASSERT_EQ(message(device->launch(kernel("atomic_count"), {blocks, 1, 1},
                                   {threads, 1, 1}, 0, nullptr, params.get())),
            "");
  EXPECT_EQ(download(counts, blocks), std::vector<int32_t>(blocks, threads));
  EXPECT_EQ(countersOf("atomic_count").atomics, uint64_t(blocks) * threads);
}

//===----------------------------------------------------------------------===//
// Checks
//===----------------------------------------------------------------------===//

TEST_F(SimDeviceTest, OutOfBoundsIndicesNameTheBufferAndGoOn) {
  const int64_t n = 1001;
  std::vector<float> x = randomFloats(n - 1, 4), y = randomFloats(n, 5);
  float *deviceX = upload(x), *deviceY = upload(y);
  device->nameAllocation(deviceX, "the input");
  Params params;
  params.add(2.0f).memref(deviceX, n - 1).memref(deviceY, n).add(n);
  EXPECT_EQ(message(device->launch(kernel("axpy"), {4, 1, 1}, {256, 1, 1}, 0,
                                   nullptr, params.get())),
            "kernel axpy (sm_90), block (3,0,0), thread (232,0,0): index 1000 "
            "is out of bounds in dimension 0 (size 1000) of argument 1, which "
            "points into the input (allocation #1, 4000 bytes) (site 0: "
            "memref.load at axpy.mlir:10:5, argument 1 (memref<?xf32>))");
  // The launch went on: every other element was computed.
  std::vector<float> result = download(deviceY, n);
  for (int64_t i = 0; i < n - 1; ++i)
    ASSERT_EQ(result[i], 2.0f * x[i] + y[i]) << "at " << i;
  EXPECT_EQ(result[n - 1], y[n - 1]);
}

TEST_F(SimDeviceTest, SharedMemoryRaces) {
  EXPECT_EQ(launchBare("race", {1, 1, 1}, {64, 1, 1}),
            "kernel race (sm_90), block (0,0,0): shared-memory race on bytes "
            "[4, 8) of shared memory: thread (1,0,0) writes them and thread "
            "(0,0,0) read them with no barrier between (site 7: memref.store "
            "at k.mlir:9:5, workgroup buffer 0)");
}

TEST_F(SimDeviceTest, ReadsOfSharedMemoryNothingWrote) {
  EXPECT_EQ(launchBare("uninitialized", {1, 1, 1}, {1, 1, 1}),
            "kernel uninitialized (sm_90), block (0,0,0), thread (0,0,0): "
            "reads bytes [0, 4) of shared memory, which no thread of the "
            "block has written (site 8: memref.load at k.mlir:10:5, "
            "workgroup buffer 0)");
}

TEST_F(SimDeviceTest, SharedMemoryOutOfRange) {
  EXPECT_EQ(launchBare("shared_overflow", {1, 1, 1}, {1, 1, 1}),
            "kernel shared_overflow (sm_90), block (0,0,0), thread (0,0,0): "
            "shared-memory access to bytes [64, 68) outside the block's 64 "
            "bytes of shared memory (site 7: memref.store at k.mlir:9:5, "
            "workgroup buffer 0)");
}

TEST_F(SimDeviceTest, BarriersEveryThreadMustReach) {
  EXPECT_EQ(launchBare("missing_barrier", {1, 1, 1}, {8, 1, 1}),
            "kernel missing_barrier (sm_90), block (0,0,0): thread (0,0,0) "
            "returned while thread (1,0,0) waits at a barrier (site 9: "
            "gpu.barrier at k.mlir:8:5); every thread of a block must reach "
            "each barrier");
  EXPECT_EQ(launchBare("split_barrier", {1, 1, 1}, {2, 2, 1}),
            "kernel split_barrier (sm_90), block (0,0,0): the threads wait at "
            "different barriers: thread (0,0,0) waits at a barrier (site 9: "
            "gpu.barrier at k.mlir:8:5), thread (1,0,0) waits at a barrier "
            "(site 3: gpu.barrier at sum.mlir:21:5)");
  EXPECT_EQ(launchBare("plain_barrier", {1, 1, 1}, {4, 1, 1}),
            "kernel plain_barrier (sm_90), block (0,0,0), thread (0,0,0): "
            "calls mmsim_barrier (site 9: gpu.barrier at k.mlir:8:5), but the "
            "kernel table marks the kernel non-cooperative, so its threads "
            "cannot meet (a compiler bug)");
}

TEST_F(SimDeviceTest, ShufflesEveryLaneMustReach) {
  EXPECT_EQ(launchBare("divergent_shuffle", {1, 1, 1}, {32, 1, 1}),
            "kernel divergent_shuffle (sm_90), block (0,0,0): not every lane "
            "of warp 0 reaches the shuffle: thread (0,0,0) waits at a shuffle "
            "(site 6: gpu.shuffle at shuffle.mlir:30:9) while thread "
            "(16,0,0) (lane 16) returned; every lane of a warp must take "
            "part in a shuffle");
  // A wavefront of 64: the lanes past 16 of the first one return.
  EXPECT_THAT(launchBare("divergent_shuffle", {1, 1, 1}, {64, 1, 1}, hipModule),
              StartsWith("kernel divergent_shuffle (gfx942), block (0,0,0): "
                         "not every lane of warp 0 reaches the shuffle"));
}

TEST_F(SimDeviceTest, LaunchLimitsOfTheKernelsChip) {
  EXPECT_EQ(launchBare("race", {1, 1, 1}, {2048, 1, 1}),
            "launching kernel race (sm_90): a block of 2048 threads "
            "(2048x1x1); a block of sm_90 has at most 1024");
  EXPECT_EQ(launchBare("race", {1, 1, 1}, {32, 1, 1}),
            "launching kernel race (sm_90): block size 32x1x1, but the kernel "
            "was compiled for blocks of 64x1x1");
  EXPECT_EQ(launchBare("missing_barrier", {1, 1, 1}, {1, 1, 65}),
            "launching kernel missing_barrier (sm_90): block size 1x1x65: z "
            "may be 1 to 64 on sm_90");
  EXPECT_EQ(launchBare("missing_barrier", {1, 70000, 1}, {1, 1, 1}),
            "launching kernel missing_barrier (sm_90): grid size 1x70000x1: y "
            "may be 1 to 65535 on sm_90");

  // 80 KiB of dynamic shared memory: fine on sm_90 (227 KiB), too much on
  // gfx942 (64 KiB).
  const unsigned dynamicBytes = 80 * 1024;
  std::vector<float> x = randomFloats(64, 6);
  float *deviceX = upload(x);
  float *sums = upload(std::vector<float>(1, 0.0f));
  Params params;
  params.memref(deviceX, 64).memref(sums, 1);
  EXPECT_EQ(message(device->launch(kernel("block_sum"), {1, 1, 1}, {64, 1, 1},
                                   dynamicBytes, nullptr, params.get())),
            "");
  double expected = 0;
  for (float value : x)
    expected += value;
  EXPECT_NEAR(download(sums, 1)[0], expected, 1e-4);
  EXPECT_EQ(
      message(device->launch(kernel("block_sum", hipModule), {1, 1, 1},
                             {64, 1, 1}, dynamicBytes, nullptr, params.get())),
      "launching kernel block_sum (gfx942): 81936 bytes of shared "
      "memory (16 static, 81920 dynamic); a block of gfx942 may have "
      "65536");
}

TEST_F(SimDeviceTest, BuffersMustLieInDeviceMemory) {
  std::vector<float> host(64, 1.0f);
  float *deviceY = upload(host);
  Params outside;
  outside.add(1.0f)
      .memref(host.data(), 64)
      .memref(deviceY, 64)
      .add(int64_t(64));
  EXPECT_THAT(message(device->launch(kernel("axpy"), {1, 1, 1}, {64, 1, 1}, 0,
                                     nullptr, outside.get())),
              StartsWith("launching kernel axpy (sm_90): argument 1 of kernel "
                         "axpy points outside device memory (0x"));
  // A descriptor that reaches past its allocation, through its stride.
  Params overrun;
  overrun.add(1.0f).memref(deviceY, 32).memref(deviceY, 33, 2).add(int64_t(32));
  EXPECT_EQ(message(device->launch(kernel("axpy"), {1, 1, 1}, {64, 1, 1}, 0,
                                   nullptr, overrun.get())),
            "launching kernel axpy (sm_90): argument 2 of kernel axpy reaches "
            "bytes [0, 260) of allocation #1 (256 bytes), past its end");
  // Empty buffers are not checked (nor accessed).
  Params empty;
  empty.add(1.0f).memref(nullptr, 0).memref(nullptr, 0).add(int64_t(0));
  EXPECT_EQ(message(device->launch(kernel("axpy"), {1, 1, 1}, {64, 1, 1}, 0,
                                   nullptr, empty.get())),
            "");
}

TEST_F(SimDeviceTest, CallsOutsideALaunchAreRecordedAndIgnored) {
  MMSimThread thread = {};
  mmsim_barrier(nullptr, 0);
  EXPECT_EQ(mmsim_shuffle(&thread, 7, 1, 32, MMSIM_SHUFFLE_XOR, 0), 7u);
  EXPECT_EQ(mmsim_shared_access(&thread, 0, 4, 0, 0), 0);
  mmsim_out_of_bounds(&thread, 0, 0, 5, 4);
  EXPECT_EQ(message(takeSimStrayCallError()),
            "mmsim_barrier was called outside a simulator launch (by a "
            "thread the simulator does not run); the call was ignored");
  EXPECT_EQ(message(takeSimStrayCallError()), "");
}

//===----------------------------------------------------------------------===//
// Modules, graphs and the mgpu* ABI
//===----------------------------------------------------------------------===//

TEST_F(SimDeviceTest, ModulesNameWhatIsMissing) {
  EXPECT_THAT(message(device->getFunction(cudaModule, "nope")),
              HasSubstr("sim: kernel 'nope' is not among the host copies of "));
  EXPECT_THAT(message(device->getFunction(cudaModule, "nope")),
              HasSubstr("(it has axpy, block_sum, warp_shuffle, race,"));
  void *bare = openLibrary(MM_SIM_TEST_KERNELS_NO_TABLE);
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(message(device->loadHostKernels(bare)),
            std::string(MM_SIM_TEST_KERNELS_NO_TABLE) +
                " has no host copy of its kernels (no mm_sim_kernels); "
                "recompile it with this mm-compile to run it on the "
                "simulator");
  // A blob in a library without a table, and one in no library.
  const char *blob = static_cast<const char *>(::dlsym(bare, "sim_test_blob"));
  ASSERT_NE(blob, nullptr);
  EXPECT_THAT(message(device->loadModule(blob)),
              HasSubstr("has no host copy of its kernels"));
  std::string heapBlob = ".version 8.0\n.target sm_90\n";
  EXPECT_THAT(message(device->loadModule(heapBlob)),
              HasSubstr("is not inside a loaded library"));
  ::dlclose(bare);

  GpuFunction axpy = kernel("axpy");
  ASSERT_EQ(message(device->unloadModule(cudaModule)), "");
  cudaModule = nullptr;
  EXPECT_THAT(
      message(device->launch(axpy, {1, 1, 1}, {1, 1, 1}, 0, nullptr, nullptr)),
      HasSubstr("which is not a kernel of a loaded module"));
}

TEST_F(SimDeviceTest, GraphsReplayLaunchesCopiesAndFills) {
  const int64_t n = 3000;
  std::vector<float> x = randomFloats(n, 7), y(n, -5.0f);
  llvm::Expected<void *> deviceX = device->allocate(n * 4);
  llvm::Expected<void *> deviceY = device->allocate(n * 4);
  llvm::Expected<GpuStream> stream = device->createStream();
  ASSERT_TRUE(deviceX && deviceY && stream);
  const float one = 1.0f;
  uint32_t oneBits;
  std::memcpy(&oneBits, &one, 4);

  ASSERT_EQ(message(device->beginCapture(*stream)), "");
  ASSERT_EQ(message(device->copyToDevice(*deviceX, x.data(), n * 4, *stream)),
            "");
  ASSERT_EQ(message(device->fill32(*deviceY, oneBits, n, *stream)), "");
  {
    // The graph keeps the values of the parameters, not these variables.
    Params params;
    params.add(3.0f).memref(*deviceX, n).memref(*deviceY, n).add(n);
    ASSERT_EQ(message(device->launch(kernel("axpy"), {12, 1, 1}, {256, 1, 1}, 0,
                                     *stream, params.get())),
              "");
  }
  ASSERT_EQ(message(device->copyToHost(y.data(), *deviceY, n * 4, *stream)),
            "");
  EXPECT_THAT(message(device->synchronize(*stream)),
              HasSubstr("being captured"));
  llvm::Expected<std::unique_ptr<GpuGraph>> graph = device->endCapture(*stream);
  ASSERT_TRUE(bool(graph)) << message(graph.takeError());
  // Nothing ran yet.
  EXPECT_EQ(y, std::vector<float>(n, -5.0f));
  EXPECT_TRUE(device->getCounters().empty());

  for (int replay = 0; replay < 2; ++replay) {
    ASSERT_EQ(message((*graph)->launch(*stream)), "");
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(y[i], 3.0f * x[i] + 1.0f) << "replay " << replay << " at " << i;
    // A replay copies from the host memory as it is then (the same memory:
    // the graph keeps the pointer).
    std::vector<float> next = randomFloats(n, 8 + replay);
    std::copy(next.begin(), next.end(), x.begin());
  }
  EXPECT_EQ(countersOf("axpy").launches, 2u);
  graph->reset();
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
}

TEST_F(SimDeviceTest, TemporariesFreedDuringACaptureLiveWithTheGraph) {
  // Compiled code allocates its temporaries on the stream and frees them
  // after their last launch, also while decode is captured: the replays
  // still use them, so the graph owns them.
  const int64_t n = 512;
  std::vector<float> x = randomFloats(n, 3), y(n, 0.0f);
  llvm::Expected<void *> deviceY = device->allocate(n * 4);
  llvm::Expected<GpuStream> stream = device->createStream();
  ASSERT_TRUE(deviceY && stream);
  ASSERT_EQ(message(device->fill32(*deviceY, 0, n)), "");
  ASSERT_EQ(message(device->beginCapture(*stream)), "");
  llvm::Expected<void *> temporary = device->allocateAsync(n * 4, *stream);
  ASSERT_TRUE(bool(temporary)) << message(temporary.takeError());
  ASSERT_EQ(message(device->copyToDevice(*temporary, x.data(), n * 4,
                                         *stream)),
            "");
  {
    Params params;
    params.add(2.0f).memref(*temporary, n).memref(*deviceY, n).add(n);
    ASSERT_EQ(message(device->launch(kernel("axpy"), {2, 1, 1}, {256, 1, 1}, 0,
                                     *stream, params.get())),
              "");
  }
  ASSERT_EQ(message(device->freeAsync(*temporary, *stream)), "");
  EXPECT_NE(device->describeAddress(*temporary), "");
  llvm::Expected<std::unique_ptr<GpuGraph>> graph = device->endCapture(*stream);
  ASSERT_TRUE(bool(graph)) << message(graph.takeError());
  for (int replay = 0; replay < 2; ++replay)
    ASSERT_EQ(message((*graph)->launch(*stream)), "");
  ASSERT_EQ(message(device->copyToHost(y.data(), *deviceY, n * 4, *stream)),
            "");
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(y[i], 4.0f * x[i]) << i;
  graph->reset();
  EXPECT_EQ(device->describeAddress(*temporary), "");
  // Outside a capture, work is done when its call returns: freed at once.
  llvm::Expected<void *> other = device->allocateAsync(64, *stream);
  ASSERT_TRUE(bool(other));
  ASSERT_EQ(message(device->freeAsync(*other, *stream)), "");
  EXPECT_EQ(device->describeAddress(*other), "");
  EXPECT_EQ(message(device->free(*deviceY)), "");
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
}

TEST_F(SimDeviceTest, ArtifactsLoadAndLaunchThroughTheMgpuAbi) {
  llvm::consumeError(takeMgpuError());
  const char *blob =
      static_cast<const char *>(::dlsym(cudaLibrary, "sim_test_blob"));
  ASSERT_NE(blob, nullptr);
  const int64_t n = 700;
  std::vector<float> x = randomFloats(n, 9), y = randomFloats(n, 10);
  std::vector<float> result(n);
  {
    CurrentDeviceScope scope(*device);
    // As an artifact's constructor loads its PTX.
    void *module = mgpuModuleLoadJIT(const_cast<char *>(blob), 2);
    ASSERT_NE(module, nullptr) << message(takeMgpuError());
    void *function = mgpuModuleGetFunction(module, "axpy");
    ASSERT_NE(function, nullptr);
    void *stream = mgpuStreamCreate();
    void *deviceX = mgpuMemAlloc(n * 4, stream, false);
    void *deviceY = mgpuMemAlloc(n * 4, stream, false);
    mgpuMemcpy(deviceX, x.data(), n * 4, stream);
    mgpuMemcpy(deviceY, y.data(), n * 4, stream);
    Params params;
    params.add(-0.5f).memref(deviceX, n).memref(deviceY, n).add(n);
    mgpuLaunchKernel(function, 3, 1, 1, 256, 1, 1, 0, stream, params.get(),
                     nullptr, 12);
    mgpuMemcpy(result.data(), deviceY, n * 4, stream);
    mgpuStreamSynchronize(stream);
    EXPECT_EQ(message(takeMgpuError()), "");

    // An index past x: the error names the compiled code's buffer.
    Params tooLong;
    tooLong.add(-0.5f).memref(deviceX, n - 1).memref(deviceY, n).add(n);
    mgpuLaunchKernel(function, 3, 1, 1, 256, 1, 1, 0, stream, tooLong.get(),
                     nullptr, 12);
    EXPECT_EQ(message(takeMgpuError()),
              "mgpuLaunchKernel: kernel axpy (sm_90), block (2,0,0), thread "
              "(187,0,0): index 699 is out of bounds in dimension 0 (size "
              "699) of argument 1, which points into a temporary buffer from "
              "mgpuMemAlloc (allocation #1, 2800 bytes) (site 0: memref.load "
              "at axpy.mlir:10:5, argument 1 (memref<?xf32>))");

    EXPECT_EQ(mgpuModuleGetFunction(module, "nope"), nullptr);
    EXPECT_THAT(message(takeMgpuError()),
                StartsWith("mgpuModuleGetFunction: sim: kernel 'nope' is not "
                           "among the host copies of "));
    mgpuMemFree(deviceX, stream);
    mgpuMemFree(deviceY, stream);
    mgpuStreamDestroy(stream);
    mgpuModuleUnload(module);
    EXPECT_EQ(message(takeMgpuError()), "");
  }
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(result[i], -0.5f * x[i] + y[i]) << "at " << i;
}

TEST_F(SimDeviceTest, TheExecutableExportsTheCallbacks) {
  for (const char *name :
       {"mmsim_barrier", "mmsim_shuffle", "mmsim_shared_access",
        "mmsim_out_of_bounds", "__truncsfbf2"})
    EXPECT_NE(::dlsym(RTLD_DEFAULT, name), nullptr) << name;
}

TEST(SimBuiltins, TruncsfBf2RoundsToNearestEven) {
  // Called as the host copies call it (runtime/gpu/SimBuiltins.cpp).
  using Trunc = _Float16 (*)(float);
  auto trunc = reinterpret_cast<Trunc>(::dlsym(RTLD_DEFAULT, "__truncsfbf2"));
  ASSERT_NE(trunc, nullptr);
  auto bf16 = [&](uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, 4);
    _Float16 result = trunc(value);
    uint16_t out;
    std::memcpy(&out, &result, 2);
    return out;
  };
  EXPECT_EQ(bf16(0x3f800000u), 0x3f80); // 1
  EXPECT_EQ(bf16(0x3f808000u), 0x3f80); // a tie: to even
  EXPECT_EQ(bf16(0x3f818000u), 0x3f82); // a tie: to even, up
  EXPECT_EQ(bf16(0x3f808001u), 0x3f81); // above the tie
  EXPECT_EQ(bf16(0xbf7fffffu), 0xbf80); // -0.99999994 rounds to -1
  EXPECT_EQ(bf16(0x7f7fffffu), 0x7f80); // the largest float: infinity
  EXPECT_EQ(bf16(0xff800000u), 0xff80); // -infinity stays
  EXPECT_EQ(bf16(0x7f800001u), 0x7fc0); // a NaN stays a (quiet) NaN
}

} // namespace
