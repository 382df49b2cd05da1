//===- SimMatrix.cpp - warp-level matrix operations on the simulator ------===//
//
// mmsim_matrix_multiply and mmsim_load_matrix (SimKernelAbi.h): each lane
// parks at a warp collective (SimLaunch.h) with pointers to its fragments;
// once the whole warp is there, the operation runs once for the warp: the
// lanes' fragments are gathered into whole matrices, multiplied, and the
// result scattered back into each lane's D fragment.
//
// The fragment layouts below are written from the vendors' documents:
//
//   [PTX] NVIDIA, "Parallel Thread Execution ISA" (version 8.x/9.x),
//         section 9.7.14.5 "Matrix Fragments for mma.m*n*k*" (numbered
//         9.7.13.4 before PTX ISA 8.5): the formulas in terms of
//           groupID           = %laneid >> 2
//           threadID_in_group = %laneid % 4
//         and section 9.7.14.5.15 "Warp-level matrix load instruction:
//         ldmatrix".
//   [CDNA3] AMD, "AMD Instinct MI300 Instruction Set Architecture" (CDNA3),
//         chapter 7 "Matrix Arithmetic Instructions", whose per-instruction
//         register layouts are those AMD's Matrix Instruction Calculator
//         prints (`matrix_calculator.py -a CDNA3 -i <instruction>
//         --register-layout -A/-B/-D`), and AMD's CDNA3 matrix-core examples
//         (rocm blogs, "Matrix Core programming on AMD CDNA3"), which give
//         the same mapping as index arithmetic.
//
// The element index `i` of a fragment is the position in the flat,
// row-major array of the MLIR vector the op takes, which is the order the
// documents number elements in (a0, a1, ... low to high within each 32-bit
// register, registers in order).
//
//===----------------------------------------------------------------------===//

#include "runtime/gpu/SimMatrix.h"

#include "common/SimKernelAbi.h"
#include "runtime/gpu/SimLaunch.h"

#include "llvm/ADT/Twine.h"

#include <array>
#include <cstring>
#include <string>

/// The callbacks stay visible whatever visibility the build defaults to.
#define MM_SIM_EXPORT extern "C" __attribute__((visibility("default")))

using namespace mm::gpu::sim;
using llvm::ArrayRef;
using llvm::Twine;

namespace {

//===----------------------------------------------------------------------===//
// NVIDIA mma.sync fragments [PTX]; warps of 32 lanes
//===----------------------------------------------------------------------===//

/// C and D of every m16n8 shape, f32 accumulators [PTX, "Matrix Fragments
/// for mma.m16n8k16 with floating point type", "... mma.m16n8k8",
/// "... mma.m16n8k4"]: c0..c3,
///   row = groupID for c0, c1; groupID + 8 for c2, c3
///   col = threadID_in_group * 2 + (i & 1)
MatrixPosition ptxAccumulator(unsigned lane, unsigned i) {
  const unsigned group = lane >> 2, inGroup = lane % 4;
  return {group + 8 * (i >> 1), inGroup * 2 + (i & 1)};
}

/// m16n8k16, .f16 and .bf16 [PTX 9.7.14.5.8, "Matrix Fragments for
/// mma.m16n8k16 with floating point type"]:
///   A (16x16), a0..a7 (four .f16x2 registers):
///     row = groupID for a0, a1, a4, a5; groupID + 8 otherwise
///     col = threadID_in_group * 2 + (i & 1), + 8 for a4..a7
///   B (16x8), b0..b3 (two .f16x2 registers):
///     row = threadID_in_group * 2 + (i & 1), + 8 for b2, b3
///     col = groupID
MatrixPosition locateM16N8K16(MatrixOperand operand, unsigned lane,
                              unsigned i) {
  const unsigned group = lane >> 2, inGroup = lane % 4;
  switch (operand) {
  case MatrixOperand::A:
    return {group + 8 * ((i >> 1) & 1), inGroup * 2 + (i & 1) + 8 * (i >> 2)};
  case MatrixOperand::B:
    return {inGroup * 2 + (i & 1) + 8 * (i >> 1), group};
  case MatrixOperand::C:
    break;
  }
  return ptxAccumulator(lane, i);
}

/// m16n8k8, .f16 and .bf16 [PTX, "Matrix Fragments for mma.m16n8k8"]:
///   A (16x8), a0..a3 (two .f16x2 registers):
///     row = groupID for a0, a1; groupID + 8 for a2, a3
///     col = threadID_in_group * 2 + (i & 1)
///   B (8x8), b0, b1 (one .f16x2 register):
///     row = threadID_in_group * 2 + i
///     col = groupID
MatrixPosition locateM16N8K8F16(MatrixOperand operand, unsigned lane,
                                unsigned i) {
  const unsigned group = lane >> 2, inGroup = lane % 4;
  switch (operand) {
  case MatrixOperand::A:
    return {group + 8 * (i >> 1), inGroup * 2 + (i & 1)};
  case MatrixOperand::B:
    return {inGroup * 2 + i, group};
  case MatrixOperand::C:
    break;
  }
  return ptxAccumulator(lane, i);
}

/// m16n8k8, .tf32 [PTX, "Matrix Fragments for mma.m16n8k8"]:
///   A (16x8), a0..a3 (four .b32 registers):
///     row = groupID for a0, a2; groupID + 8 for a1, a3
///     col = threadID_in_group for a0, a1; threadID_in_group + 4 for a2, a3
///   B (8x8), b0, b1:
///     row = threadID_in_group for b0; threadID_in_group + 4 for b1
///     col = groupID
MatrixPosition locateM16N8K8TF32(MatrixOperand operand, unsigned lane,
                                 unsigned i) {
  const unsigned group = lane >> 2, inGroup = lane % 4;
  switch (operand) {
  case MatrixOperand::A:
    return {group + 8 * (i & 1), inGroup + 4 * (i >> 1)};
  case MatrixOperand::B:
    return {inGroup + 4 * i, group};
  case MatrixOperand::C:
    break;
  }
  return ptxAccumulator(lane, i);
}

/// m16n8k4, .tf32 [PTX, "Matrix Fragments for mma.m16n8k4"]:
///   A (16x4), a0, a1:
///     row = groupID for a0; groupID + 8 for a1
///     col = threadID_in_group
///   B (4x8), b0:
///     row = threadID_in_group
///     col = groupID
MatrixPosition locateM16N8K4TF32(MatrixOperand operand, unsigned lane,
                                 unsigned i) {
  const unsigned group = lane >> 2, inGroup = lane % 4;
  switch (operand) {
  case MatrixOperand::A:
    return {group + 8 * i, inGroup};
  case MatrixOperand::B:
    return {inGroup, group};
  case MatrixOperand::C:
    break;
  }
  return ptxAccumulator(lane, i);
}

//===----------------------------------------------------------------------===//
// AMD MFMA fragments [CDNA3]; wavefronts of 64 lanes, one block each
//===----------------------------------------------------------------------===//
//
// The single-block MFMAs split the 64 lanes into 64/M (A) or 64/N (B, D)
// groups of M or N consecutive lanes; a lane's position in its group is
// its row of A or its column of B and D, and its group picks a slice of K
// (A, B) or of rows (D):
//
//   A (MxK), K/(64/M) consecutive elements per lane:
//     row = lane % M,  k = (K / (64/M)) * (lane / M) + i
//   B (KxN), the same along K:
//     k = (K / (64/N)) * (lane / N) + i,  col = lane % N
//   D (MxN), M*N/64 f32 per lane, in 4-row runs (one accumulator register
//   each), the runs of the 64/N groups interleaved:
//     col = lane % N,  row = 4 * (64/N) * (i / 4) + 4 * (lane / N) + i % 4
//
// which gives, for the instructions the simulator knows:
//   v_mfma_f32_32x32x8_f16, _bf16 (bf16_1k): A row lane%32, k 4*(lane/32)+i
//     (i < 4); B k 4*(lane/32)+i, col lane%32; D (i < 16) col lane%32,
//     row 8*(i/4) + 4*(lane/32) + i%4.
//   v_mfma_f32_16x16x16_f16, _bf16 (bf16_1k): A row lane%16, k
//     4*(lane/16)+i (i < 4); B k 4*(lane/16)+i, col lane%16; D (i < 4) col
//     lane%16, row 4*(lane/16) + i.
//   v_mfma_f32_32x32x2_f32: A row lane%32, k lane/32; B k lane/32, col
//     lane%32; D as 32x32x8.
//   v_mfma_f32_16x16x4_f32: A row lane%16, k lane/16; B k lane/16, col
//     lane%16; D as 16x16x16.

template <unsigned M, unsigned N, unsigned K>
MatrixPosition locateMfma(MatrixOperand operand, unsigned lane, unsigned i) {
  constexpr unsigned wave = 64;
  switch (operand) {
  case MatrixOperand::A:
    return {lane % M, K / (wave / M) * (lane / M) + i};
  case MatrixOperand::B:
    return {K / (wave / N) * (lane / N) + i, lane % N};
  case MatrixOperand::C:
    break;
  }
  return {4 * (wave / N) * (i / 4) + 4 * (lane / N) + i % 4, lane % N};
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

/// Indexed by MMSimMatrixShape.
const MatrixShape kShapes[] = {
    {nullptr, 0, 0, 0, 0, MatrixInput::F32, nullptr},
    {"mma.sync m16n8k16 f16", 32, 16, 8, 16, MatrixInput::F16, locateM16N8K16},
    {"mma.sync m16n8k16 bf16", 32, 16, 8, 16, MatrixInput::BF16,
     locateM16N8K16},
    {"mma.sync m16n8k8 f16", 32, 16, 8, 8, MatrixInput::F16, locateM16N8K8F16},
    {"mma.sync m16n8k8 tf32", 32, 16, 8, 8, MatrixInput::TF32,
     locateM16N8K8TF32},
    {"mma.sync m16n8k4 tf32", 32, 16, 8, 4, MatrixInput::TF32,
     locateM16N8K4TF32},
    {"v_mfma_f32_32x32x8_f16", 64, 32, 32, 8, MatrixInput::F16,
     locateMfma<32, 32, 8>},
    {"v_mfma_f32_16x16x16_f16", 64, 16, 16, 16, MatrixInput::F16,
     locateMfma<16, 16, 16>},
    {"v_mfma_f32_32x32x8_bf16", 64, 32, 32, 8, MatrixInput::BF16,
     locateMfma<32, 32, 8>},
    {"v_mfma_f32_16x16x16_bf16", 64, 16, 16, 16, MatrixInput::BF16,
     locateMfma<16, 16, 16>},
    {"v_mfma_f32_16x16x4_f32", 64, 16, 16, 4, MatrixInput::F32,
     locateMfma<16, 16, 4>},
    {"v_mfma_f32_32x32x2_f32", 64, 32, 32, 2, MatrixInput::F32,
     locateMfma<32, 32, 2>},
};

/// The largest operand of any shape, in elements (32x32 C and D).
constexpr unsigned kMaxElements = 32 * 32;

float floatFromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// An IEEE half, exactly (every f16 is an f32).
float halfToFloat(uint16_t half) {
  const uint32_t sign = uint32_t(half >> 15) << 31;
  const uint32_t exponent = (half >> 10) & 0x1f;
  uint32_t mantissa = half & 0x3ff;
  if (exponent == 0x1f) // infinity or NaN, the payload kept
    return floatFromBits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return floatFromBits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0)
    return floatFromBits(sign);
  // A subnormal half: normalize it (f32 has the range).
  int shift = 0;
  while (!(mantissa & 0x400)) {
    mantissa <<= 1;
    ++shift;
  }
  return floatFromBits(sign | uint32_t(113 - shift) << 23 |
                       ((mantissa & 0x3ff) << 13));
}

/// Element `index` of a fragment of A or B, as an f32.
float loadInput(const void *fragment, unsigned index, MatrixInput input) {
  const auto *bytes = static_cast<const uint8_t *>(fragment);
  if (input == MatrixInput::F16 || input == MatrixInput::BF16) {
    uint16_t bits;
    std::memcpy(&bits, bytes + 2 * index, 2);
    return input == MatrixInput::F16 ? halfToFloat(bits)
                                     : floatFromBits(uint32_t(bits) << 16);
  }
  uint32_t bits;
  std::memcpy(&bits, bytes + 4 * index, 4);
  // tf32 keeps an f32's sign, exponent and top 10 mantissa bits; the tensor
  // cores ignore the other 13.
  if (input == MatrixInput::TF32)
    bits &= ~uint32_t(0x1fff);
  return floatFromBits(bits);
}

//===----------------------------------------------------------------------===//
// mmsim_matrix_multiply
//===----------------------------------------------------------------------===//

/// What one lane brings to a matrix multiply.
struct MultiplyPart {
  const void *a;
  const void *b;
  const void *c;
  void *d;
};

std::string describeMultiplyVariant(int32_t shape) {
  return std::string("shape ") + getMatrixShape(shape)->name;
}

std::string completeMultiply(int32_t variant, ArrayRef<void *> parts) {
  const MatrixShape &shape = *getMatrixShape(variant);
  if (parts.size() != shape.lanes)
    return std::string("a matrix multiply ") + shape.name + " needs all " +
           std::to_string(shape.lanes) + " lanes of a warp, but the block " +
           "ends in a warp of " + std::to_string(parts.size());
  const unsigned m = shape.m, n = shape.n, k = shape.k;
  // Every input is read before any D is written: a lane's D may be its C.
  std::array<float, kMaxElements> a, b, c;
  for (unsigned lane = 0; lane < shape.lanes; ++lane) {
    const auto &part = *static_cast<const MultiplyPart *>(parts[lane]);
    for (unsigned i = 0; i < shape.perLane(MatrixOperand::A); ++i) {
      const MatrixPosition at = shape.locate(MatrixOperand::A, lane, i);
      a[at.row * k + at.col] = loadInput(part.a, i, shape.input);
    }
    for (unsigned i = 0; i < shape.perLane(MatrixOperand::B); ++i) {
      const MatrixPosition at = shape.locate(MatrixOperand::B, lane, i);
      b[at.row * n + at.col] = loadInput(part.b, i, shape.input);
    }
    for (unsigned i = 0; i < shape.perLane(MatrixOperand::C); ++i) {
      const MatrixPosition at = shape.locate(MatrixOperand::C, lane, i);
      c[at.row * n + at.col] = loadInput(part.c, i, MatrixInput::F32);
    }
  }
  std::array<float, kMaxElements> d;
  for (unsigned row = 0; row < m; ++row)
    for (unsigned col = 0; col < n; ++col) {
      float sum = c[row * n + col];
      for (unsigned step = 0; step < k; ++step) {
        // Separate statements, so that the compiler does not fuse them
        // into an fma the hardware would not do.
        const float product = a[row * k + step] * b[step * n + col];
        sum = sum + product;
      }
      d[row * n + col] = sum;
    }
  for (unsigned lane = 0; lane < shape.lanes; ++lane) {
    auto *out = static_cast<uint8_t *>(
        static_cast<const MultiplyPart *>(parts[lane])->d);
    for (unsigned i = 0; i < shape.perLane(MatrixOperand::C); ++i) {
      const MatrixPosition at = shape.locate(MatrixOperand::C, lane, i);
      std::memcpy(out + 4 * i, &d[at.row * n + at.col], 4);
    }
  }
  return "";
}

const WarpCollective kMultiply = {"matrix multiply", describeMultiplyVariant,
                                  completeMultiply};

//===----------------------------------------------------------------------===//
// mmsim_load_matrix
//===----------------------------------------------------------------------===//
//
// [PTX 9.7.14.5.15, ldmatrix], .m8n8 .b16: matrix j of the .num (1, 2 or 4)
// has its rows at the addresses of threads 8j..8j+7 (row r from thread
// 8j + r; a row is 8 contiguous 16-bit elements, 16 bytes, naturally
// aligned); register j of each thread holds two elements of matrix j:
//   without .trans: row %laneid / 4, cols 2 * (%laneid % 4) + {0, 1}
//                   (four consecutive threads hold one row)
//   with .trans:    col %laneid / 4, rows 2 * (%laneid % 4) + {0, 1}
//                   (the matrix is transposed: each thread holds a
//                   fragment of a column)
// the element with the lower index in the low half of the register.

/// What one lane brings to a matrix load: the row it read, if it gave one,
/// and where its fragment goes.
struct LoadPart {
  std::array<uint16_t, 8> row;
  void *result;
};

int32_t loadVariant(int32_t count, int32_t transpose) {
  return count | transpose << 8;
}

std::string describeLoadVariant(int32_t variant) {
  return std::string("ldmatrix.m8n8.x") + std::to_string(variant & 0xff) +
         (variant >> 8 ? ".trans" : "");
}

std::string completeLoad(int32_t variant, ArrayRef<void *> parts) {
  const unsigned count = unsigned(variant & 0xff);
  const bool transpose = variant >> 8;
  if (parts.size() != 32)
    return "an ldmatrix needs all 32 lanes of a warp, but the block ends in "
           "a warp of " +
           std::to_string(parts.size());
  // Every fragment is gathered before any is written: a lane's result may
  // lie anywhere it chose, even over another lane's part.
  std::array<std::array<uint16_t, 8>, 32> fragments;
  for (unsigned lane = 0; lane < 32; ++lane)
    for (unsigned matrix = 0; matrix < count; ++matrix)
      for (unsigned half = 0; half < 2; ++half) {
        const unsigned major = lane / 4, minor = 2 * (lane % 4) + half;
        // Without .trans, element (row major, col minor); with it, the
        // element (row minor, col major) of the matrix as stored.
        const unsigned row = transpose ? minor : major;
        const unsigned col = transpose ? major : minor;
        const auto &source =
            *static_cast<const LoadPart *>(parts[8 * matrix + row]);
        fragments[lane][2 * matrix + half] = source.row[col];
      }
  for (unsigned lane = 0; lane < 32; ++lane)
    std::memcpy(static_cast<const LoadPart *>(parts[lane])->result,
                fragments[lane].data(), 4 * count);
  return "";
}

const WarpCollective kLoad = {"matrix load (ldmatrix)", describeLoadVariant,
                              completeLoad};

} // namespace

const MatrixShape *mm::gpu::sim::getMatrixShape(int32_t shape) {
  if (shape < MMSIM_MMA_M16N8K16_F16_F32 || shape > MMSIM_MFMA_F32_32X32X2_F32)
    return nullptr;
  return &kShapes[shape];
}

MM_SIM_EXPORT void mmsim_matrix_multiply(MMSimThread *thread, int32_t shape,
                                         const void *a, const void *b,
                                         const void *c, void *d, int32_t site) {
  const MatrixShape *known = getMatrixShape(shape);
  // A lane that cannot take part gets zeros, whatever happens to the
  // launch.
  auto giveZeros = [&] {
    if (known && d)
      std::memset(d, 0, 4 * size_t(known->perLane(MatrixOperand::C)));
  };
  if (!canJoinWarpCollective(thread, "mmsim_matrix_multiply", site))
    return giveZeros();
  if (!known) {
    failSimThread(thread, "a matrix multiply of shape " + Twine(shape) +
                              ", which the simulator does not know (" +
                              describeSimSite(thread, site) + ")");
    return;
  }
  if (known->lanes != thread->subgroupSize) {
    failSimThread(thread, "a matrix multiply " + Twine(known->name) +
                              ", which takes warps of " + Twine(known->lanes) +
                              " lanes, in a kernel whose subgroups have " +
                              Twine(thread->subgroupSize) + " (" +
                              describeSimSite(thread, site) + ")");
    return giveZeros();
  }
  MultiplyPart part = {a, b, c, d};
  waitAtWarpCollective(thread, kMultiply, shape, &part, site);
  // Counted once per warp: the FLOPs of the instruction, not of each lane.
  if (thread->laneId == 0)
    thread->counters->flops +=
        2 * uint64_t(known->m) * known->n * uint64_t(known->k);
}

MM_SIM_EXPORT void mmsim_load_matrix(MMSimThread *thread, uint64_t rowOffset,
                                     int32_t count, int32_t transpose,
                                     void *result, int32_t site) {
  const bool countKnown = count == 1 || count == 2 || count == 4;
  auto giveZeros = [&] {
    if (countKnown && result)
      std::memset(result, 0, 4 * size_t(count));
  };
  if (!canJoinWarpCollective(thread, "mmsim_load_matrix", site))
    return giveZeros();
  if (thread->subgroupSize != 32) {
    failSimThread(thread, "an ldmatrix, which takes warps of 32 lanes, in a "
                          "kernel whose subgroups have " +
                              Twine(thread->subgroupSize) + " (" +
                              describeSimSite(thread, site) + ")");
    return giveZeros();
  }
  if (!countKnown || (transpose != 0 && transpose != 1)) {
    failSimThread(thread, "an ldmatrix of " + Twine(count) +
                              " matrices, transpose " + Twine(transpose) +
                              "; it loads 1, 2 or 4 8x8 matrices (" +
                              describeSimSite(thread, site) + ")");
    return giveZeros();
  }
  LoadPart part = {};
  part.result = result;
  // Lanes past the matrices loaded give no row (PTX: their addresses are
  // not used), and read nothing.
  if (thread->laneId < 8 * uint32_t(count)) {
    if (rowOffset % 16 != 0) {
      failSimThread(thread, "gives an ldmatrix the row address " +
                                Twine(rowOffset) +
                                " (bytes into shared memory), which is not "
                                "16-byte aligned as the PTX ISA requires (" +
                                describeSimSite(thread, site) + ")");
    } else if (mmsim_shared_access(thread, rowOffset, 16, 0, site)) {
      // Read now, as this lane: the checks name it, and the row is
      // copied before any other lane runs again.
      std::memcpy(part.row.data(), thread->shared + rowOffset, 16);
    }
  }
  waitAtWarpCollective(thread, kLoad, loadVariant(count, transpose), &part,
                       site);
}
