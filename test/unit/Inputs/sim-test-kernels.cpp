//===- sim-test-kernels.cpp - host copies of kernels, written by hand -----===//
//
// A kernel library for the simulator's tests (SimDeviceTest.cpp): kernels
// written by hand as the compiler writes host copies (SimKernelAbi.h), with
// their `mm_sim_kernels` table. Built three times: for cuda:sm_90 (warps of
// 32), for hip:gfx942 (-DSIM_TEST_HIP, wavefronts of 64), and without a
// table (-DSIM_TEST_NO_TABLE). Its mmsim_* references are bound to the test
// executable at load time. `sim_test_blob` stands for the PTX or hsaco an
// artifact loads its module from.
//
//===----------------------------------------------------------------------===//

#include "common/SimKernelAbi.h"
#include "test/unit/Inputs/SimKernelParams.h"

#include <cstdint>
#include <cstring>

namespace {

/// A rank-1 memref whose descriptor starts at parameter `first`.
template <typename T> struct Buffer {
  Buffer(void **params, int first)
      : data(param<T *>(params, first + 1) + param<int64_t>(params, first + 2)),
        size(param<int64_t>(params, first + 3)),
        stride(param<int64_t>(params, first + 4)) {}
  T &operator[](int64_t i) const { return data[i * stride]; }
  T *data;
  int64_t size;
  int64_t stride;
};

uint32_t linearThread(const MMSimThread *t) {
  return t->threadId[0] +
         t->blockDim[0] * (t->threadId[1] + t->blockDim[1] * t->threadId[2]);
}

uint32_t threadsPerBlock(const MMSimThread *t) {
  return t->blockDim[0] * t->blockDim[1] * t->blockDim[2];
}

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// A checked shared-memory float access, as host copies make them.
float loadShared(MMSimThread *t, uint64_t offset, int32_t site) {
  if (!mmsim_shared_access(t, offset, 4, 0, site))
    return 0.0f;
  float value;
  std::memcpy(&value, t->shared + offset, 4);
  return value;
}

void storeShared(MMSimThread *t, uint64_t offset, float value, int32_t site) {
  if (mmsim_shared_access(t, offset, 4, MMSIM_ACCESS_WRITE, site))
    std::memcpy(t->shared + offset, &value, 4);
}

} // namespace

/// y[i] = a * x[i] + y[i] for i < n, one element per thread; indices past a
/// buffer's size are reported, as host copies report them.
EXPORT void __mmsim_axpy(void **params, MMSimThread *t) {
  const float a = param<float>(params, 0);
  Buffer<float> x(params, 1), y(params, 6);
  const int64_t n = param<int64_t>(params, 11);
  const int64_t i = int64_t(t->blockId[0]) * t->blockDim[0] + t->threadId[0];
  if (i >= n)
    return;
  if (i >= x.size)
    return mmsim_out_of_bounds(t, 0, 0, i, x.size);
  if (i >= y.size)
    return mmsim_out_of_bounds(t, 1, 0, i, y.size);
  y[i] = a * x[i] + y[i];
  t->counters->globalLoadBytes += 8;
  t->counters->globalStoreBytes += 4;
  t->counters->flops += 2;
}

/// out[block] = the sum of the block's elements of x, by a tree reduction
/// in dynamic shared memory (after 16 static bytes) with barriers.
EXPORT void __mmsim_block_sum(void **params, MMSimThread *t) {
  Buffer<float> x(params, 0), out(params, 5);
  const uint32_t tid = linearThread(t), threads = threadsPerBlock(t);
  const int64_t g = int64_t(t->blockId[0]) * threads + tid;
  const uint64_t base = 16;
  storeShared(t, base + 4 * tid, g < x.size ? x[g] : 0.0f, 2);
  mmsim_barrier(t, 3);
  for (uint32_t step = threads / 2; step > 0; step /= 2) {
    if (tid < step) {
      float sum = loadShared(t, base + 4 * tid, 4) +
                  loadShared(t, base + 4 * (tid + step), 4);
      storeShared(t, base + 4 * tid, sum, 5);
    }
    mmsim_barrier(t, 3);
  }
  if (tid == 0)
    out[t->blockId[0]] = loadShared(t, base, 4);
}

/// Per thread: XOR, DOWN and UP modes add what every step's shuffle
/// (offsets width/2, ..., 1) brings when it is valid; IDX takes lane
/// (lane * 5 + 1) % width of its segment. sums[g] gets the value, valid[g]
/// the valid bit of each step (bit i for step i).
EXPORT void __mmsim_warp_shuffle(void **params, MMSimThread *t) {
  Buffer<float> x(params, 0), sums(params, 5);
  Buffer<int32_t> valid(params, 10);
  const int32_t width = param<int32_t>(params, 15);
  const int32_t mode = param<int32_t>(params, 16);
  const int64_t g =
      int64_t(t->blockId[0]) * threadsPerBlock(t) + linearThread(t);
  float value = x[g];
  int32_t mask = 0;
  if (mode == MMSIM_SHUFFLE_IDX) {
    int32_t lane = int32_t(t->laneId) % width;
    uint64_t result =
        mmsim_shuffle(t, bitsOf(value), (lane * 5 + 1) % width, width, mode, 6);
    value = floatOf(uint32_t(result));
    mask = int32_t(result >> 32);
  } else {
    int step = 0;
    for (int32_t offset = width / 2; offset > 0; offset /= 2, ++step) {
      uint64_t result = mmsim_shuffle(t, bitsOf(value), offset, width, mode, 6);
      if (result >> 32) {
        value += floatOf(uint32_t(result));
        mask |= 1 << step;
      }
    }
  }
  sums[g] = value;
  valid[g] = mask;
}

/// Every thread writes its word of shared memory; after a barrier, each
/// writes it again and reads its neighbour's with no barrier between: the
/// neighbour's write races with the read.
EXPORT void __mmsim_race(void **params, MMSimThread *t) {
  const uint32_t tid = linearThread(t), threads = threadsPerBlock(t);
  storeShared(t, 4 * tid, float(tid), 7);
  mmsim_barrier(t, 9);
  storeShared(t, 4 * tid, float(tid) + 1, 7);
  loadShared(t, 4 * ((tid + 1) % threads), 8);
}

/// Reads shared memory nothing wrote.
EXPORT void __mmsim_uninitialized(void **params, MMSimThread *t) {
  loadShared(t, 4 * linearThread(t), 8);
}

/// Thread 0 returns before the barrier the others wait at.
EXPORT void __mmsim_missing_barrier(void **params, MMSimThread *t) {
  if (linearThread(t) == 0)
    return;
  mmsim_barrier(t, 9);
}

/// Even threads and odd threads wait at different barriers.
EXPORT void __mmsim_split_barrier(void **params, MMSimThread *t) {
  mmsim_barrier(t, linearThread(t) % 2 ? 3 : 9);
}

/// Only the first 16 lanes of each warp shuffle.
EXPORT void __mmsim_divergent_shuffle(void **params, MMSimThread *t) {
  if (t->laneId < 16)
    mmsim_shuffle(t, 1, 1, int32_t(t->subgroupSize), MMSIM_SHUFFLE_XOR, 6);
}

/// Writes the float just past the kernel's 64 bytes of shared memory.
EXPORT void __mmsim_shared_overflow(void **params, MMSimThread *t) {
  storeShared(t, 64, 1.0f, 7);
}

/// Calls a barrier although its table entry says its threads never meet.
EXPORT void __mmsim_plain_barrier(void **params, MMSimThread *t) {
  mmsim_barrier(t, 9);
}

/// Counts the block's threads with atomic adds on one shared word, then
/// thread 0 stores the count in out[block].
EXPORT void __mmsim_atomic_count(void **params, MMSimThread *t) {
  Buffer<int32_t> out(params, 0);
  if (linearThread(t) == 0 &&
      mmsim_shared_access(t, 0, 4, MMSIM_ACCESS_WRITE, 10))
    std::memset(t->shared, 0, 4);
  mmsim_barrier(t, 9);
  if (mmsim_shared_access(t, 0, 4, MMSIM_ACCESS_WRITE | MMSIM_ACCESS_ATOMIC,
                          10)) {
    int32_t count;
    std::memcpy(&count, t->shared, 4);
    ++count;
    std::memcpy(t->shared, &count, 4);
  }
  mmsim_barrier(t, 9);
  if (linearThread(t) == 0 && mmsim_shared_access(t, 0, 4, 0, 10))
    std::memcpy(&out[t->blockId[0]], t->shared, 4);
}

/// ids[z][y][x] (a rank-3 memref over the whole grid of threads) = the
/// global x + 1000 * y + 1000000 * z.
EXPORT void __mmsim_fill_ids(void **params, MMSimThread *t) {
  int32_t *data = param<int32_t *>(params, 1) + param<int64_t>(params, 2);
  int64_t sizes[3], strides[3];
  for (int i = 0; i < 3; ++i) {
    sizes[i] = param<int64_t>(params, 3 + i);
    strides[i] = param<int64_t>(params, 6 + i);
  }
  int64_t at[3];
  for (int i = 0; i < 3; ++i)
    at[2 - i] = int64_t(t->blockId[i]) * t->blockDim[i] + t->threadId[i];
  for (int i = 0; i < 3; ++i)
    if (at[i] >= sizes[i])
      return mmsim_out_of_bounds(t, 11, i, at[i], sizes[i]);
  data[at[0] * strides[0] + at[1] * strides[1] + at[2] * strides[2]] =
      int32_t(at[2] + 1000 * at[1] + 1000000 * at[0]);
  t->counters->globalStoreBytes += 4;
}

/// What an artifact's module blob would be (its PTX or hsaco).
EXPORT const char sim_test_blob[] = "// a stand-in for PTX\n"
                                    ".version 8.0\n"
                                    ".target sm_90\n";

#ifndef SIM_TEST_NO_TABLE

#ifdef SIM_TEST_HIP
#define SIM_TEST_TARGET                                                        \
  "\"target\": \"hip:gfx942\", \"vendor\": \"hip\", \"chip\": \"gfx942\", "    \
  "\"subgroup_size\": 64"
#else
#define SIM_TEST_TARGET                                                        \
  "\"target\": \"cuda:sm_90\", \"vendor\": \"cuda\", \"chip\": \"sm_90\", "    \
  "\"subgroup_size\": 32"
#endif

#define MEMREF1(arg, first)                                                    \
  "{\"arg\": " #arg ", \"param\": " #first ", \"rank\": 1, "                   \
  "\"element_bytes\": 4, \"space\": \"global\"}"
#define DESCRIPTOR1 "8, 8, 8, 8, 8"

EXPORT const char mm_sim_kernels[] =
    "{\"version\": 1, " SIM_TEST_TARGET ", \"kernels\": ["
    // axpy(a, x, y, n)
    "{\"name\": \"axpy\", \"kind\": \"elementwise\", \"symbol\": "
    "\"__mmsim_axpy\", \"params\": [4, " DESCRIPTOR1 ", " DESCRIPTOR1 ", 8], "
    "\"memrefs\": [" MEMREF1(1, 1) ", " MEMREF1(
        2,
        6) "], "
           "\"shared_bytes\": 0, \"cooperative\": false},"
           // block_sum(x, out)
           "{\"name\": \"block_sum\", \"kind\": \"reduction\", \"symbol\": "
           "\"__mmsim_block_sum\", \"params\": [" DESCRIPTOR1 ", " DESCRIPTOR1
           "], "
           "\"memrefs\": [" MEMREF1(0, 0) ", " MEMREF1(
               1,
               5) "], "
                  "\"shared_bytes\": 16, \"cooperative\": true},"
                  // warp_shuffle(x, sums, valid, width, mode)
                  "{\"name\": \"warp_shuffle\", \"kind\": \"reduction\", "
                  "\"symbol\": "
                  "\"__mmsim_warp_shuffle\", \"params\": [" DESCRIPTOR1
                  ", " DESCRIPTOR1 ", " DESCRIPTOR1 ", 4, 4], "
                  "\"memrefs\": [" MEMREF1(0, 0) ", " MEMREF1(
                      1,
                      5) ", " MEMREF1(2,
                                      10) "], "
                                          "\"shared_bytes\": 0, "
                                          "\"cooperative\": true},"
                                          "{\"name\": \"race\", \"kind\": "
                                          "\"test\", \"symbol\": "
                                          "\"__mmsim_race\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 256, "
                                          "\"cooperative\": true, "
                                          "\"known_block_size\": [64, 1, 1]},"
                                          "{\"name\": \"uninitialized\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_uninitialized\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 256, "
                                          "\"cooperative\": true},"
                                          "{\"name\": \"missing_barrier\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_missing_barrier\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 0, "
                                          "\"cooperative\": true},"
                                          "{\"name\": \"split_barrier\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_split_barrier\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 0, "
                                          "\"cooperative\": true},"
                                          "{\"name\": \"divergent_shuffle\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_divergent_shuffle\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 0, "
                                          "\"cooperative\": true},"
                                          "{\"name\": \"shared_overflow\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_shared_overflow\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 64, "
                                          "\"cooperative\": true},"
                                          "{\"name\": \"plain_barrier\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_plain_barrier\", "
                                          "\"params\": [], \"memrefs\": [], "
                                          "\"shared_bytes\": 0, "
                                          "\"cooperative\": false},"
                                          // atomic_count(out)
                                          "{\"name\": \"atomic_count\", "
                                          "\"kind\": \"test\", \"symbol\": "
                                          "\"__mmsim_atomic_count\", "
                                          "\"params\": [" DESCRIPTOR1 "], "
                                          "\"memrefs\": [" MEMREF1(
                                              0,
                                              0) "], \"shared_bytes\": 4, "
                                                 "\"cooperative\": true},"
                                                 // fill_ids(ids:
                                                 // memref<?x?x?xi32>)
                                                 "{\"name\": \"fill_ids\", "
                                                 "\"kind\": \"elementwise\", "
                                                 "\"symbol\": "
                                                 "\"__mmsim_fill_ids\", "
                                                 "\"params\": [8, 8, 8, 8, 8, "
                                                 "8, 8, 8, 8], "
                                                 "\"memrefs\": [{\"arg\": 0, "
                                                 "\"param\": 0, \"rank\": 3, "
                                                 "\"element_bytes\": 4, "
                                                 "\"space\": \"global\"}], "
                                                 "\"shared_bytes\": 0, "
                                                 "\"cooperative\": false}"
                                                 "], \"sites\": ["
                                                 "{\"kernel\": \"axpy\", "
                                                 "\"op\": \"memref.load\", "
                                                 "\"loc\": "
                                                 "\"axpy.mlir:10:5\", "
                                                 "\"buffer\": \"argument 1\", "
                                                 "\"type\": "
                                                 "\"memref<?xf32>\"}," // 0
                                                 "{\"kernel\": \"axpy\", "
                                                 "\"op\": \"memref.store\", "
                                                 "\"loc\": "
                                                 "\"axpy.mlir:11:5\", "
                                                 "\"buffer\": \"argument 2\", "
                                                 "\"type\": "
                                                 "\"memref<?xf32>\"}," // 1
                                                 "{\"kernel\": \"block_sum\", "
                                                 "\"op\": \"memref.store\", "
                                                 "\"loc\": "
                                                 "\"sum.mlir:20:5\", "
                                                 "\"buffer\": \"workgroup "
                                                 "buffer 0\"}," // 2
                                                 "{\"kernel\": \"block_sum\", "
                                                 "\"op\": \"gpu.barrier\", "
                                                 "\"loc\": "
                                                 "\"sum.mlir:21:5\"}," // 3
                                                 "{\"kernel\": \"block_sum\", "
                                                 "\"op\": \"memref.load\", "
                                                 "\"loc\": "
                                                 "\"sum.mlir:22:7\", "
                                                 "\"buffer\": \"workgroup "
                                                 "buffer 0\"}," // 4
                                                 "{\"kernel\": \"block_sum\", "
                                                 "\"op\": \"memref.store\", "
                                                 "\"loc\": "
                                                 "\"sum.mlir:23:7\", "
                                                 "\"buffer\": \"workgroup "
                                                 "buffer 0\"}," // 5
                                                 "{\"kernel\": "
                                                 "\"warp_shuffle\", \"op\": "
                                                 "\"gpu.shuffle\", \"loc\": "
                                                 "\"shuffle.mlir:30:9\"}," // 6
                                                 "{\"kernel\": \"race\", "
                                                 "\"op\": \"memref.store\", "
                                                 "\"loc\": "
                                                 "\"k.mlir:9:5\", \"buffer\": "
                                                 "\"workgroup buffer 0\"}," // 7
                                                 "{\"kernel\": \"race\", "
                                                 "\"op\": \"memref.load\", "
                                                 "\"loc\": "
                                                 "\"k.mlir:10:5\", \"buffer\": "
                                                 "\"workgroup buffer 0\"}," // 8
                                                 "{\"kernel\": \"race\", "
                                                 "\"op\": \"gpu.barrier\", "
                                                 "\"loc\": "
                                                 "\"k.mlir:8:5\"}," // 9
                                                 "{\"kernel\": "
                                                 "\"atomic_count\", \"op\": "
                                                 "\"memref.atomic_rmw\", "
                                                 "\"loc\": "
                                                 "\"atomic.mlir:4:3\", "
                                                 "\"buffer\": \"workgroup "
                                                 "buffer 0\"}," // 10
                                                 "{\"kernel\": \"fill_ids\", "
                                                 "\"op\": \"memref.store\", "
                                                 "\"loc\": "
                                                 "\"ids.mlir:3:3\", "
                                                 "\"buffer\": \"argument 0\", "
                                                 "\"type\": "
                                                 "\"memref<?x?x?xi32>\"}" // 11
                                                 "]}";

#endif // SIM_TEST_NO_TABLE
