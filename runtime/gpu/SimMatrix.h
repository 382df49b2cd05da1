//===- SimMatrix.h - warp-level matrix operations, simulated --*- C++ -*-===//
//
// The simulator's side of the vendor matrix operations host copies call
// (SimKernelAbi.h: mmsim_matrix_multiply for nvgpu.mma_sync and
// amdgpu.mfma, mmsim_load_matrix for nvgpu.ldmatrix): what each shape is,
// and which lane holds which element of each operand, as the PTX ISA and
// the AMD CDNA3 ISA lay the fragments out (the sources are cited in
// SimMatrix.cpp). Both operations are warp collectives (SimLaunch.h).
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMMATRIX_H
#define MM_RUNTIME_GPU_SIMMATRIX_H

#include <cstdint>

namespace mm::gpu::sim {

/// The element types of A and B.
enum class MatrixInput : uint8_t { F16, BF16, TF32, F32 };

/// The operands of a matrix multiply-accumulate; C and D share a layout.
enum class MatrixOperand : uint8_t { A, B, C };

/// A row and column of an operand (A is MxK, B KxN, C and D MxN).
struct MatrixPosition {
  unsigned row;
  unsigned col;
};

/// One MMSimMatrixShape.
struct MatrixShape {
  /// The instruction: "mma.sync m16n8k16 f16", "v_mfma_f32_32x32x8_f16".
  const char *name;
  /// The lanes of the warp that computes it (32 or 64).
  unsigned lanes;
  unsigned m, n, k;
  MatrixInput input;
  /// Where element `index` of `lane`'s fragment of `operand` lies.
  MatrixPosition (*locate)(MatrixOperand operand, unsigned lane,
                           unsigned index);

  /// Elements of `operand` each lane holds.
  unsigned perLane(MatrixOperand operand) const {
    switch (operand) {
    case MatrixOperand::A:
      return m * k / lanes;
    case MatrixOperand::B:
      return k * n / lanes;
    case MatrixOperand::C:
      break;
    }
    return m * n / lanes;
  }
  /// Bytes of one element of A or B.
  unsigned inputBytes() const {
    return input == MatrixInput::F16 || input == MatrixInput::BF16 ? 2 : 4;
  }
};

/// The shape `shape` (an MMSimMatrixShape) stands for, or null.
const MatrixShape *getMatrixShape(int32_t shape);

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMMATRIX_H
