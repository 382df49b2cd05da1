//===- sim-matrix-kernels.cpp - matrix-op host copies, written by hand ----===//
//
// A kernel library for the simulator's warp-level matrix operations
// (SimMatrixTest.cpp), written as the compiler writes host copies
// (SimKernelAbi.h), with its `mm_sim_kernels` table. Built for cuda:sm_90
// (warps of 32: mma.sync, ldmatrix) and for hip:gfx942 (-DSIM_TEST_HIP,
// wavefronts of 64: MFMA).
//
// The lanes build their fragments with the documents' layouts written
// here independently of runtime/gpu/SimMatrix.cpp, and the other way
// round: for each element (row, col) of an operand, which lane holds it
// and at which index of its fragment (as the documents' figures show it),
// where SimMatrix.cpp says where each lane's element lies.
//
//===----------------------------------------------------------------------===//

#include "common/SimKernelAbi.h"
#include "test/unit/Inputs/SimKernelParams.h"

#include <cstdint>
#include <cstring>

namespace {

/// The data of the rank-1, unit-stride memref whose descriptor starts at
/// parameter `first`.
template <typename T> T *data(void **params, int first) {
  return param<T *>(params, first + 1) + param<int64_t>(params, first + 2);
}

uint32_t linearThread(const MMSimThread *t) {
  return t->threadId[0] +
         t->blockDim[0] * (t->threadId[1] + t->blockDim[1] * t->threadId[2]);
}

/// Who holds element (row, col) of an operand: a lane and an index in its
/// fragment.
struct Holder {
  unsigned lane;
  unsigned index;
};

enum Operand { OperandA, OperandB, OperandC };

struct Shape {
  unsigned m, n, k, lanes, inputBytes;
};

Shape shapeOf(int32_t shape) {
  switch (shape) {
  case MMSIM_MMA_M16N8K16_F16_F32:
  case MMSIM_MMA_M16N8K16_BF16_F32:
    return {16, 8, 16, 32, 2};
  case MMSIM_MMA_M16N8K8_F16_F32:
    return {16, 8, 8, 32, 2};
  case MMSIM_MMA_M16N8K8_TF32_F32:
    return {16, 8, 8, 32, 4};
  case MMSIM_MMA_M16N8K4_TF32_F32:
    return {16, 8, 4, 32, 4};
  case MMSIM_MFMA_F32_32X32X8_F16:
  case MMSIM_MFMA_F32_32X32X8_BF16:
    return {32, 32, 8, 64, 2};
  case MMSIM_MFMA_F32_16X16X16_F16:
  case MMSIM_MFMA_F32_16X16X16_BF16:
    return {16, 16, 16, 64, 2};
  case MMSIM_MFMA_F32_16X16X4_F32:
    return {16, 16, 4, 64, 4};
  case MMSIM_MFMA_F32_32X32X2_F32:
    return {32, 32, 2, 64, 4};
  }
  return {0, 0, 0, 0, 0};
}

/// PTX ISA, "Matrix Fragments for mma.m16n8k*": lanes in groups of four
/// (groupID = lane / 4) share a row of A and C and a column of B; within a
/// group, a lane's pair of 16-bit elements (or its one tf32) sits at
/// column (row of B) 2 * (lane % 4) (or lane % 4), and the fragment steps
/// through the 8-row halves and 8-column (4 for tf32) halves.
Holder ptxHolder(int32_t shape, Operand operand, unsigned row, unsigned col) {
  if (operand == OperandC) // f32 accumulators: c0,c1 top half, c2,c3 bottom
    return {4 * (row % 8) + col / 2, col % 2 + 2 * (row / 8)};
  const bool tf32 = shape == MMSIM_MMA_M16N8K8_TF32_F32 ||
                    shape == MMSIM_MMA_M16N8K4_TF32_F32;
  if (operand == OperandA) {
    if (tf32) // a0: (g, t), a1: (g+8, t), a2: (g, t+4), a3: (g+8, t+4)
      return {4 * (row % 8) + col % 4, row / 8 + 2 * (col / 4)};
    // a0,a1: top-left, a2,a3: bottom-left, a4,a5: top-right, a6,a7:
    // bottom-right 8x8 quarter (m16n8k8 has only the left ones).
    return {4 * (row % 8) + (col % 8) / 2,
            col % 2 + 2 * (row / 8) + 4 * (col / 8)};
  }
  // B is K x 8: a group holds a column.
  if (tf32) // b0: row t, b1: row t + 4
    return {4 * col + row % 4, row / 4};
  return {4 * col + (row % 8) / 2, row % 2 + 2 * (row / 8)};
}

/// AMD CDNA3 ISA (the Matrix Instruction Calculator's register layouts):
/// A's row i, or B's and D's column j, is the lane's place in its block of
/// M (N) lanes; A's and B's K is split into 64/M (64/N) slices of
/// consecutive elements, one per block of lanes; D's rows go in runs of 4,
/// a lane block's runs 4 * (64/N) rows apart.
Holder cdnaHolder(const Shape &s, Operand operand, unsigned row, unsigned col) {
  switch (operand) {
  case OperandA: {
    const unsigned perLane = s.k * s.m / 64;
    return {row + s.m * (col / perLane), col % perLane};
  }
  case OperandB: {
    const unsigned perLane = s.k * s.n / 64;
    return {col + s.n * (row / perLane), row % perLane};
  }
  case OperandC:
    break;
  }
  const unsigned blocks = 64 / s.n;
  return {col + s.n * ((row / 4) % blocks), row % 4 + 4 * (row / (4 * blocks))};
}

Holder holderOf(int32_t shape, Operand operand, unsigned row, unsigned col) {
  const Shape s = shapeOf(shape);
  return s.lanes == 32 ? ptxHolder(shape, operand, row, col)
                       : cdnaHolder(s, operand, row, col);
}

} // namespace

/// mma(shape, a: memref<?xi8>, b: memref<?xi8>, c: memref<?xf32>,
///     d: memref<?xf32>): warp w of block b computes problem p = 2b + w
/// (blocks of two warps): D_p = A_p * B_p + C_p, the matrices row-major,
/// one after another in each buffer; A's and B's elements are 2 or 4
/// bytes (f16/bf16 bits, or f32). Odd problems accumulate in place (the
/// D fragment is the C fragment).
EXPORT void __mmsim_mma(void **params, MMSimThread *t) {
  const int32_t shape = param<int32_t>(params, 0);
  const uint8_t *a = data<uint8_t>(params, 1);
  const uint8_t *b = data<uint8_t>(params, 6);
  const float *c = data<float>(params, 11);
  float *d = data<float>(params, 16);
  const Shape s = shapeOf(shape);
  const unsigned lane = t->laneId;
  const unsigned problem =
      2 * t->blockId[0] + linearThread(t) / t->subgroupSize;
  a += size_t(problem) * s.m * s.k * s.inputBytes;
  b += size_t(problem) * s.k * s.n * s.inputBytes;
  c += size_t(problem) * s.m * s.n;
  d += size_t(problem) * s.m * s.n;

  // Copies the elements of a rows x cols operand (row-major, `bytes`
  // each) this lane holds into its fragment.
  auto gather = [&](Operand operand, const uint8_t *matrix, unsigned rows,
                    unsigned cols, unsigned bytes, uint8_t *fragment) {
    for (unsigned row = 0; row < rows; ++row)
      for (unsigned col = 0; col < cols; ++col) {
        const Holder h = holderOf(shape, operand, row, col);
        if (h.lane == lane)
          std::memcpy(fragment + h.index * bytes,
                      matrix + (row * cols + col) * bytes, bytes);
      }
  };
  uint8_t aFragment[64] = {}, bFragment[64] = {};
  float cFragment[16] = {}, dFragment[16] = {};
  gather(OperandA, a, s.m, s.k, s.inputBytes, aFragment);
  gather(OperandB, b, s.k, s.n, s.inputBytes, bFragment);
  gather(OperandC, reinterpret_cast<const uint8_t *>(c), s.m, s.n, 4,
         reinterpret_cast<uint8_t *>(cFragment));
  t->counters->globalLoadBytes +=
      (s.m * s.k + s.k * s.n) * s.inputBytes / s.lanes +
      4 * s.m * s.n / s.lanes;

  float *result = problem % 2 ? cFragment : dFragment;
  mmsim_matrix_multiply(t, shape, aFragment, bFragment, cFragment, result, 0);

  for (unsigned row = 0; row < s.m; ++row)
    for (unsigned col = 0; col < s.n; ++col) {
      const Holder h = holderOf(shape, OperandC, row, col);
      if (h.lane == lane)
        d[row * s.n + col] = result[h.index];
    }
  t->counters->globalStoreBytes += 4 * s.m * s.n / s.lanes;
}

/// ldmatrix(count, transpose, out: memref<?xi16>), blocks of one warp:
/// lane l writes row l % 8 of matrix l / 8 of shared memory (rows 48 bytes
/// apart, element (matrix, r, c) = 100 * matrix + 10 * r + c + 1000 *
/// block), then, after a barrier, the warp loads `count` matrices;
/// out[(block * 32 + lane) * 8 + i] = element i of the lane's fragment.
/// Lanes past 8 * count give an address far outside shared memory, which
/// ldmatrix must ignore.
EXPORT void __mmsim_ldmatrix(void **params, MMSimThread *t) {
  const int32_t count = param<int32_t>(params, 0);
  const int32_t transpose = param<int32_t>(params, 1);
  uint16_t *out = data<uint16_t>(params, 2);
  const unsigned lane = t->laneId;
  const uint64_t rowOffset = 48 * uint64_t(lane);
  uint16_t row[8];
  for (unsigned col = 0; col < 8; ++col)
    row[col] = uint16_t(100 * (lane / 8) + 10 * (lane % 8) + col +
                        1000 * t->blockId[0]);
  if (mmsim_shared_access(t, rowOffset, 16, MMSIM_ACCESS_WRITE, 2))
    std::memcpy(t->shared + rowOffset, row, 16);
  mmsim_barrier(t, 3);
  uint16_t fragment[8] = {0xdead, 0xdead, 0xdead, 0xdead,
                          0xdead, 0xdead, 0xdead, 0xdead};
  const uint64_t address = lane < 8 * unsigned(count) ? rowOffset : 1ull << 40;
  mmsim_load_matrix(t, address, count, transpose, fragment, 1);
  std::memcpy(out + (size_t(t->blockId[0]) * 32 + lane) * 8, fragment, 16);
  t->counters->globalStoreBytes += 16;
}

/// Every lane loads the rows at 16 * lane of shared memory nothing wrote.
EXPORT void __mmsim_ldmatrix_unwritten(void **params, MMSimThread *t) {
  uint16_t fragment[8];
  mmsim_load_matrix(t, 16 * uint64_t(t->laneId), 4, 0, fragment, 1);
}

/// Every lane multiplies zeros with the shape parameter 0 says.
EXPORT void __mmsim_all_mma(void **params, MMSimThread *t) {
  float a[16] = {}, b[16] = {}, c[16] = {}, d[16];
  mmsim_matrix_multiply(t, param<int32_t>(params, 0), a, b, c, d, 0);
}

/// Only the first half of each warp multiplies (m16n8k16 f16, or
/// 16x16x16 f16 in wavefronts of 64).
EXPORT void __mmsim_divergent_mma(void **params, MMSimThread *t) {
  float a[16] = {}, b[16] = {}, c[16] = {}, d[16];
  const int32_t shape = t->subgroupSize == 64 ? MMSIM_MFMA_F32_16X16X16_F16
                                              : MMSIM_MMA_M16N8K16_F16_F32;
  if (t->laneId < t->subgroupSize / 2)
    mmsim_matrix_multiply(t, shape, a, b, c, d, 0);
}

/// Even lanes multiply m16n8k16, odd lanes m16n8k8.
EXPORT void __mmsim_mixed_mma(void **params, MMSimThread *t) {
  float a[16] = {}, b[16] = {}, c[16] = {}, d[16];
  mmsim_matrix_multiply(
      t, t->laneId % 2 ? MMSIM_MMA_M16N8K8_F16_F32 : MMSIM_MMA_M16N8K16_F16_F32,
      a, b, c, d, 0);
}

#ifdef SIM_TEST_HIP
#define SIM_TEST_TARGET                                                        \
  "\"target\": \"hip:gfx942\", \"vendor\": \"hip\", \"chip\": \"gfx942\", "    \
  "\"subgroup_size\": 64"
#define SIM_TEST_MMA_OP "amdgpu.mfma"
#else
#define SIM_TEST_TARGET                                                        \
  "\"target\": \"cuda:sm_90\", \"vendor\": \"cuda\", \"chip\": \"sm_90\", "    \
  "\"subgroup_size\": 32"
#define SIM_TEST_MMA_OP "nvgpu.mma_sync"
#endif

// clang-format off
#define MEMREF1(arg, first, bytes)                                             \
  "{\"arg\": " #arg ", \"param\": " #first ", \"rank\": 1, "                   \
  "\"element_bytes\": " #bytes ", \"space\": \"global\"}"
#define DESCRIPTOR1 "8, 8, 8, 8, 8"
#define TEST_KERNEL(name, params, shared, cooperative)                         \
  "{\"name\": \"" name "\", \"kind\": \"test\", \"symbol\": \"__mmsim_" name  \
  "\", \"params\": [" params "], \"memrefs\": [], \"shared_bytes\": "          \
  #shared ", \"cooperative\": " cooperative "}"

EXPORT const char mm_sim_kernels[] =
    "{\"version\": 1, " SIM_TEST_TARGET ", \"kernels\": ["
    "{\"name\": \"mma\", \"kind\": \"gemm\", \"symbol\": \"__mmsim_mma\", "
    "\"params\": [4, " DESCRIPTOR1 ", " DESCRIPTOR1 ", " DESCRIPTOR1 ", "
    DESCRIPTOR1 "], \"memrefs\": [" MEMREF1(1, 1, 1) ", " MEMREF1(2, 6, 1)
    ", " MEMREF1(3, 11, 4) ", " MEMREF1(4, 16, 4) "], \"shared_bytes\": 0, "
    "\"cooperative\": true},"
    "{\"name\": \"ldmatrix\", \"kind\": \"test\", \"symbol\": "
    "\"__mmsim_ldmatrix\", \"params\": [4, 4, " DESCRIPTOR1 "], "
    "\"memrefs\": [" MEMREF1(2, 2, 2) "], \"shared_bytes\": 1536, "
    "\"cooperative\": true},"
    TEST_KERNEL("ldmatrix_unwritten", "", 512, "true") ","
    TEST_KERNEL("all_mma", "4", 0, "true") ","
    "{\"name\": \"all_mma_plain\", \"kind\": \"test\", \"symbol\": "
    "\"__mmsim_all_mma\", \"params\": [4], \"memrefs\": [], "
    "\"shared_bytes\": 0, \"cooperative\": false},"
    TEST_KERNEL("divergent_mma", "", 0, "true") ","
    TEST_KERNEL("mixed_mma", "", 0, "true")
    "], \"sites\": ["
    "{\"kernel\": \"mma\", \"op\": \"" SIM_TEST_MMA_OP "\", \"loc\": \"mma.mlir:12:7\"}," // 0
    "{\"kernel\": \"ldmatrix\", \"op\": \"nvgpu.ldmatrix\", \"loc\": \"ldmatrix.mlir:7:9\", \"buffer\": \"workgroup buffer 0\"}," // 1
    "{\"kernel\": \"ldmatrix\", \"op\": \"memref.store\", \"loc\": \"ldmatrix.mlir:4:5\", \"buffer\": \"workgroup buffer 0\"}," // 2
    "{\"kernel\": \"ldmatrix\", \"op\": \"gpu.barrier\", \"loc\": \"ldmatrix.mlir:5:5\"}" // 3
    "]}";
// clang-format on
