//===- SimMatrixTest.cpp - warp-level matrix operations on the simulator --===//
//
// mmsim_matrix_multiply and mmsim_load_matrix (runtime/gpu/SimMatrix.cpp)
// run by kernels written by hand (Inputs/sim-matrix-kernels.cpp, built for
// cuda:sm_90 and hip:gfx942) whose lanes build their fragments with the
// PTX and CDNA3 layouts written there independently: every shape against a
// naive matmul of random inputs, ldmatrix against the PTX layout, and each
// way a warp can misuse them made to fail with its message.
//
//===----------------------------------------------------------------------===//

#include "SimTestUtil.h"

#include "common/SimKernelAbi.h"
#include "runtime/gpu/SimDevice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace mm::gpu;
using mm::testing::message;
using mm::testing::Params;
using ::testing::HasSubstr;

namespace {

class SimMatrixTest : public mm::testing::SimKernelTest {
public:
  void SetUp() override {
    openLibraries(MM_SIM_MATRIX_KERNELS_CUDA, MM_SIM_MATRIX_KERNELS_HIP);
  }

  /// Launches `name` of `module` over `block` threads of one block, with
  /// `params` (or none).
  std::string launch(const char *name, GpuModule module, unsigned block,
                     Params *params = nullptr) {
    return message(device->launch(kernel(name, module), {1, 1, 1},
                                  {block, 1, 1}, 0, nullptr,
                                  params ? params->get() : nullptr));
  }
};

//===----------------------------------------------------------------------===//
// Matrix multiply-accumulate
//===----------------------------------------------------------------------===//

enum class Input { F16, BF16, TF32, F32 };

struct ShapeCase {
  int32_t shape;
  const char *name;
  unsigned m, n, k;
  Input input;
  bool amd;
};

const ShapeCase kShapeCases[] = {
    {MMSIM_MMA_M16N8K16_F16_F32, "m16n8k16 f16", 16, 8, 16, Input::F16, false},
    {MMSIM_MMA_M16N8K16_BF16_F32, "m16n8k16 bf16", 16, 8, 16, Input::BF16,
     false},
    {MMSIM_MMA_M16N8K8_F16_F32, "m16n8k8 f16", 16, 8, 8, Input::F16, false},
    {MMSIM_MMA_M16N8K8_TF32_F32, "m16n8k8 tf32", 16, 8, 8, Input::TF32, false},
    {MMSIM_MMA_M16N8K4_TF32_F32, "m16n8k4 tf32", 16, 8, 4, Input::TF32, false},
    {MMSIM_MFMA_F32_32X32X8_F16, "32x32x8 f16", 32, 32, 8, Input::F16, true},
    {MMSIM_MFMA_F32_16X16X16_F16, "16x16x16 f16", 16, 16, 16, Input::F16, true},
    {MMSIM_MFMA_F32_32X32X8_BF16, "32x32x8 bf16", 32, 32, 8, Input::BF16, true},
    {MMSIM_MFMA_F32_16X16X16_BF16, "16x16x16 bf16", 16, 16, 16, Input::BF16,
     true},
    {MMSIM_MFMA_F32_16X16X4_F32, "16x16x4 f32", 16, 16, 4, Input::F32, true},
    {MMSIM_MFMA_F32_32X32X2_F32, "32x32x2 f32", 32, 32, 2, Input::F32, true},
};

/// A random input element of `type` as the kernel's bytes (2 or 4) and
/// the value the instruction multiplies: f16 and bf16 are drawn as bits
/// (so exactly representable), tf32 as an f32 whose low 13 mantissa bits
/// the instruction must ignore.
double randomInput(Input type, std::mt19937 &random,
                   std::vector<uint8_t> &bytes) {
  std::uniform_int_distribution<uint32_t> bits32;
  const uint32_t draw = bits32(random);
  if (type == Input::F16) {
    // Exponents 9..16: magnitudes in [2^-6, 4), mantissa and sign random.
    const uint16_t half =
        uint16_t((draw & 0x83ff) | ((9 + (draw >> 16) % 8) << 10));
    bytes.push_back(uint8_t(half));
    bytes.push_back(uint8_t(half >> 8));
    const double magnitude =
        std::ldexp(1.0 + (half & 0x3ff) / 1024.0, ((half >> 10) & 0x1f) - 15);
    return half & 0x8000 ? -magnitude : magnitude;
  }
  float value = std::uniform_real_distribution<float>(-2.0f, 2.0f)(random);
  uint32_t word;
  std::memcpy(&word, &value, 4);
  if (type == Input::BF16) {
    const uint16_t top = uint16_t(word >> 16);
    bytes.push_back(uint8_t(top));
    bytes.push_back(uint8_t(top >> 8));
    const uint32_t widened = uint32_t(top) << 16;
    std::memcpy(&value, &widened, 4);
    return value;
  }
  for (int i = 0; i < 4; ++i)
    bytes.push_back(uint8_t(word >> (8 * i)));
  if (type == Input::TF32) {
    // A 19-bit tf32: sign, 8 exponent bits, the top 10 of the mantissa.
    const uint32_t truncated = word & 0xffffe000u;
    std::memcpy(&value, &truncated, 4);
  }
  return value;
}

/// Runs `test`'s shape on four problems of random inputs (two blocks of
/// two warps) and compares D with a naive matmul of the same values.
void checkShape(SimMatrixTest &fixture, const ShapeCase &test,
                std::mt19937 &random) {
  const unsigned problems = 4;
  const unsigned m = test.m, n = test.n, k = test.k;
  std::vector<uint8_t> aBytes, bBytes;
  std::vector<double> a, b;
  for (unsigned i = 0; i < problems * m * k; ++i)
    a.push_back(randomInput(test.input, random, aBytes));
  for (unsigned i = 0; i < problems * k * n; ++i)
    b.push_back(randomInput(test.input, random, bBytes));
  std::vector<float> c = mm::testing::randomFloats(problems * m * n, random());
  const std::vector<float> nan(problems * m * n,
                               std::numeric_limits<float>::quiet_NaN());
  float *deviceD = fixture.upload(nan);
  Params params;
  params.add(test.shape)
      .memref(fixture.upload(aBytes), int64_t(aBytes.size()))
      .memref(fixture.upload(bBytes), int64_t(bBytes.size()))
      .memref(fixture.upload(c), int64_t(c.size()))
      .memref(deviceD, int64_t(nan.size()));
  const unsigned lanes = test.amd ? 64 : 32;
  GpuModule module = test.amd ? fixture.hipModule : fixture.cudaModule;
  fixture.device->resetCounters();
  ASSERT_EQ(message(fixture.device->launch(fixture.kernel("mma", module),
                                           {2, 1, 1}, {2 * lanes, 1, 1}, 0,
                                           nullptr, params.get())),
            "");
  std::vector<float> d = fixture.download(deviceD, nan.size());
  for (unsigned p = 0; p < problems; ++p)
    for (unsigned row = 0; row < m; ++row)
      for (unsigned col = 0; col < n; ++col) {
        const size_t at = (size_t(p) * m + row) * n + col;
        double expected = c[at], magnitude = std::fabs(c[at]);
        for (unsigned step = 0; step < k; ++step) {
          const double product = a[(size_t(p) * m + row) * k + step] *
                                 b[(size_t(p) * k + step) * n + col];
          expected += product;
          magnitude += std::fabs(product);
        }
        ASSERT_NEAR(d[at], expected, 1e-5 * magnitude)
            << "problem " << p << ", D[" << row << "][" << col << "]";
      }
  EXPECT_EQ(fixture.countersOf("mma").flops,
            uint64_t(problems) * 2 * m * n * k);
}

TEST_F(SimMatrixTest, EveryShapeMatchesANaiveMatmul) {
  std::mt19937 random(11);
  for (const ShapeCase &test : kShapeCases) {
    SCOPED_TRACE(test.name);
    checkShape(*this, test, random);
  }
}

//===----------------------------------------------------------------------===//
// ldmatrix
//===----------------------------------------------------------------------===//

TEST_F(SimMatrixTest, LdmatrixFollowsThePtxFragmentLayout) {
  const unsigned blocks = 2;
  for (int32_t count : {1, 2, 4})
    for (int32_t transpose : {0, 1}) {
      SCOPED_TRACE("x" + std::to_string(count) + (transpose ? ".trans" : ""));
      uint16_t *out = upload(std::vector<uint16_t>(blocks * 32 * 8, 0));
      Params params;
      params.add(count).add(transpose).memref(out, blocks * 32 * 8);
      device->resetCounters();
      ASSERT_EQ(
          message(device->launch(kernel("ldmatrix", cudaModule), {blocks, 1, 1},
                                 {32, 1, 1}, 0, nullptr, params.get())),
          "");
      std::vector<uint16_t> result = download(out, blocks * 32 * 8);
      for (unsigned block = 0; block < blocks; ++block)
        for (unsigned lane = 0; lane < 32; ++lane)
          for (unsigned i = 0; i < 8; ++i) {
            const unsigned matrix = i / 2, pair = i % 2;
            // PTX ISA, ldmatrix: four consecutive threads hold a row (a
            // column with .trans), two elements each.
            const unsigned major = lane / 4, minor = 2 * (lane % 4) + pair;
            const unsigned row = transpose ? minor : major;
            const unsigned col = transpose ? major : minor;
            const uint16_t expected =
                matrix < unsigned(count)
                    ? uint16_t(100 * matrix + 10 * row + col + 1000 * block)
                    : uint16_t(0xdead);
            ASSERT_EQ(result[(block * 32 + lane) * 8 + i], expected)
                << "block " << block << ", lane " << lane << ", element " << i;
          }
      const SimKernelCounters counters = countersOf("ldmatrix");
      EXPECT_EQ(counters.sharedStoreBytes, uint64_t(blocks) * 32 * 16);
      EXPECT_EQ(counters.sharedLoadBytes, uint64_t(blocks) * 8 * count * 16);
    }
}

//===----------------------------------------------------------------------===//
// Misuse
//===----------------------------------------------------------------------===//

TEST_F(SimMatrixTest, LdmatrixOfUnwrittenSharedMemoryFails) {
  EXPECT_EQ(launch("ldmatrix_unwritten", cudaModule, 32),
            "kernel ldmatrix_unwritten (sm_90), block (0,0,0), thread "
            "(0,0,0): reads bytes [0, 16) of shared memory, which no thread "
            "of the block has written (site 1: nvgpu.ldmatrix at "
            "ldmatrix.mlir:7:9, workgroup buffer 0)");
  // AMD has no ldmatrix.
  EXPECT_EQ(launch("ldmatrix_unwritten", hipModule, 64),
            "kernel ldmatrix_unwritten (gfx942), block (0,0,0), thread "
            "(0,0,0): an ldmatrix, which takes warps of 32 lanes, in a kernel "
            "whose subgroups have 64 (site 1: nvgpu.ldmatrix at "
            "ldmatrix.mlir:7:9, workgroup buffer 0)");
}

TEST_F(SimMatrixTest, EveryLaneMustTakePartAlike) {
  EXPECT_EQ(launch("divergent_mma", cudaModule, 32),
            "kernel divergent_mma (sm_90), block (0,0,0): not every lane of "
            "warp 0 reaches the matrix multiply: thread (0,0,0) waits at a "
            "matrix multiply (site 0: nvgpu.mma_sync at mma.mlir:12:7) while "
            "thread (16,0,0) (lane 16) returned; every lane of a warp must "
            "take part in a matrix multiply");
  EXPECT_THAT(launch("divergent_mma", hipModule, 64),
              HasSubstr("not every lane of warp 0 reaches the matrix "
                        "multiply: thread (0,0,0) waits at a matrix multiply "
                        "(site 0: amdgpu.mfma at mma.mlir:12:7) while thread "
                        "(32,0,0) (lane 32) returned"));
  EXPECT_EQ(launch("mixed_mma", cudaModule, 32),
            "kernel mixed_mma (sm_90), block (0,0,0): the lanes of warp 0 "
            "meet at different warp operations: thread (0,0,0) waits at a "
            "matrix multiply (site 0: nvgpu.mma_sync at mma.mlir:12:7) with "
            "shape mma.sync m16n8k16 f16, thread (1,0,0) waits at a matrix "
            "multiply (site 0: nvgpu.mma_sync at mma.mlir:12:7) with shape "
            "mma.sync m16n8k8 f16");
  // A block that ends in half a warp.
  Params shape;
  shape.add(int32_t(MMSIM_MMA_M16N8K16_F16_F32));
  EXPECT_EQ(launch("all_mma", cudaModule, 48, &shape),
            "kernel all_mma (sm_90), block (0,0,0): warp 1: a matrix multiply "
            "mma.sync m16n8k16 f16 needs all 32 lanes of a warp, but the "
            "block ends in a warp of 16 (site 0: nvgpu.mma_sync at "
            "mma.mlir:12:7)");
}

TEST_F(SimMatrixTest, ShapesMustFitTheTarget) {
  Params nvidia;
  nvidia.add(int32_t(MMSIM_MMA_M16N8K16_F16_F32));
  EXPECT_EQ(launch("all_mma", hipModule, 64, &nvidia),
            "kernel all_mma (gfx942), block (0,0,0), thread (0,0,0): a matrix "
            "multiply mma.sync m16n8k16 f16, which takes warps of 32 lanes, in "
            "a kernel whose subgroups have 64 (site 0: amdgpu.mfma at "
            "mma.mlir:12:7)");
  Params amd;
  amd.add(int32_t(MMSIM_MFMA_F32_32X32X8_F16));
  EXPECT_THAT(launch("all_mma", cudaModule, 32, &amd),
              HasSubstr("thread (0,0,0): a matrix multiply "
                        "v_mfma_f32_32x32x8_f16, which takes warps of 64 "
                        "lanes, in a kernel whose subgroups have 32"));
  Params unknown;
  unknown.add(int32_t(42));
  EXPECT_EQ(launch("all_mma", cudaModule, 32, &unknown),
            "kernel all_mma (sm_90), block (0,0,0), thread (0,0,0): a matrix "
            "multiply of shape 42, which the simulator does not know (site 0: "
            "nvgpu.mma_sync at mma.mlir:12:7)");
  EXPECT_EQ(launch("all_mma_plain", cudaModule, 32, &nvidia),
            "kernel all_mma_plain (sm_90), block (0,0,0), thread (0,0,0): "
            "calls mmsim_matrix_multiply (site 0: nvgpu.mma_sync at "
            "mma.mlir:12:7), but the kernel table marks the kernel "
            "non-cooperative, so its lanes cannot meet (a compiler bug)");
}

TEST_F(SimMatrixTest, CallsOutsideALaunchAreRecordedAndGiveZeros) {
  MMSimThread thread = {};
  uint16_t a[8] = {}, b[4] = {};
  float c[4] = {1, 2, 3, 4}, d[4] = {5, 6, 7, 8};
  mmsim_matrix_multiply(&thread, MMSIM_MMA_M16N8K16_F16_F32, a, b, c, d, 0);
  EXPECT_EQ(std::vector<float>(d, d + 4), std::vector<float>(4, 0.0f));
  uint32_t registers[4] = {1, 2, 3, 4};
  mmsim_load_matrix(&thread, 0, 4, 0, registers, 0);
  EXPECT_EQ(std::vector<uint32_t>(registers, registers + 4),
            std::vector<uint32_t>(4, 0));
  EXPECT_EQ(message(takeSimStrayCallError()),
            "mmsim_matrix_multiply was called outside a simulator launch (by "
            "a thread the simulator does not run); the call was ignored");
}

TEST_F(SimMatrixTest, TheExecutableExportsTheCallbacks) {
  for (const char *name : {"mmsim_matrix_multiply", "mmsim_load_matrix"})
    EXPECT_NE(::dlsym(RTLD_DEFAULT, name), nullptr) << name;
}

} // namespace
