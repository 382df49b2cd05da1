//===- GemmKernels.h - matrix-product kernels for the GPU targets -*- C++ -*-===//
//
// The GEMM kernels of `linear` and `lm_head` on GPU targets:
//
//   C[M, N] (f32) = A[M, K] * W[N, K]^T
//
// with M dynamic (tokens), N and K static, W row-major [N, K] as Hugging Face
// stores linear weights. buildGemmKernel adds one gpu.func to a gpu.module and
// returns it with its configuration, from which gemmLaunch gives the launch
// geometry for any M. Four strategies (ARCHITECTURE.md section 7):
//
//   - MmaSync (NVIDIA sm_80 and up): warps multiply 16x8x16 tiles with
//     nvgpu.mma.sync (bf16 or f16 inputs, f32 sums), fragments loaded with
//     nvgpu.ldmatrix from shared memory, tiles staged through `stages`
//     shared-memory buffers by asynchronous copies. sm_90 uses mma.sync too:
//     wgmma cannot be checked on the simulator.
//   - Mfma (AMD gfx90a, gfx942): wavefronts of 64 multiply 16x16x16 tiles
//     with amdgpu.mfma, tiles staged through shared memory.
//   - Simt (every GPU target, f32): a shared-memory-tiled kernel in which
//     each thread computes a register block of outputs with vector FMAs.
//   - Gemv (every GPU target, any of the types; the default for few rows,
//     a decode step): no shared memory and no staging. `lanes` consecutive
//     lanes share one output column: each reads 16-byte chunks of the
//     column's row of W (and of the few rows of A) straight from global
//     memory, strided by `lanes` chunks along K, so that one load of a
//     warp reads 16 x `lanes` contiguous bytes of each of several rows of
//     W (whole sectors); the lanes' f32 sums are then added up with xor
//     shuffles. Decode is weight-bandwidth bound: W is read once per block
//     of rows.
//
// M, N and K need not be multiples of any tile: the staging zero-fills what
// lies outside the matrices and the stores are guarded.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_GEMMKERNELS_H
#define MM_LOWERING_GEMMKERNELS_H

#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>

namespace mm {

enum class GemmStrategy { Simt, MmaSync, Mfma, Gemv };

/// "simt", "mma", "mfma", "gemv".
llvm::StringRef gemmStrategyName(GemmStrategy strategy);

/// The tunable parameters of a GEMM kernel (mm-tune searches them). Zero
/// takes the strategy's default.
struct GemmTiles {
  /// Rows of A (tokens) and of W (outputs) per block, and the depth of K
  /// staged at once.
  int64_t blockM = 0, blockN = 0, blockK = 0;
  /// MmaSync and Mfma: warps (wavefronts) per block along M and N; each
  /// computes a (blockM / warpsM) x (blockN / warpsN) tile.
  int64_t warpsM = 0, warpsN = 0;
  /// Simt: outputs per thread along M and N (its register block).
  int64_t threadM = 0, threadN = 0;
  /// Shared-memory buffers in flight (MmaSync: 2 or more; the others 1).
  int64_t stages = 0;
  /// Gemv: lanes sharing one output column (a power of two up to the warp
  /// width; their sums meet by log2(lanes) shuffles). Gemv uses blockM
  /// (rows of A per block, each thread all of them, at most 8) and blockN
  /// (columns per block: blockN x lanes threads) too, not the others.
  int64_t lanes = 0;
};

/// What a GEMM kernel computes and how.
struct GemmKernelSpec {
  std::string name = "gemm";
  int64_t n = 0, k = 0;
  /// Element types of A and W: f32, bf16 or f16. The tensor-core strategies
  /// and Gemv multiply in the 16-bit type of the two (an f32 operand is
  /// rounded to it, as mm.linear rounds); Simt widens both to f32.
  mlir::Type aType, wType;
  /// The strategy; nullopt picks Gemv for few rows, else the target's
  /// tensor-core one when an input is 16-bit, else Simt.
  std::optional<GemmStrategy> strategy;
  GemmTiles tiles;
  /// M is small (a decode step: one row per sequence): the default
  /// strategy is then Gemv, and the others' default tiles take the fewest
  /// rows the strategy allows, so that a block does not multiply dozens of
  /// rows that are not there.
  bool fewRows = false;
};

/// A kernel's resolved configuration (defaults filled in, checked).
struct GemmConfig {
  GemmStrategy strategy = GemmStrategy::Simt;
  int64_t n = 0, k = 0;
  mlir::Type aType, wType;
  /// The type shared memory holds and the matrix instruction multiplies:
  /// bf16 or f16 (tensor cores), f32 (Simt). Gemv rounds both operands to
  /// it (the 16-bit type of the two, else f32) and sums in f32.
  mlir::Type computeType;
  GemmTiles tiles;
  int64_t threadsPerBlock = 0;
  int64_t sharedBytes = 0;
  /// The target's warp (wavefront) width.
  int64_t warpWidth = 0;
};

struct GemmLaunch {
  std::array<int64_t, 3> grid = {1, 1, 1};
  std::array<int64_t, 3> block = {1, 1, 1};
  /// Dynamic shared memory per block, bytes.
  int64_t sharedBytes = 0;
};

struct GemmKernel {
  mlir::gpu::GPUFuncOp function;
  GemmConfig config;
};

/// Fills in the defaults of `spec` for `target` and checks everything; the
/// error names the parameter and what it accepts.
llvm::Expected<GemmConfig> resolveGemmConfig(const GemmKernelSpec &spec,
                                             const TargetInfo &target);

/// Adds the kernel to `module` (at its end). Its arguments are
///   A: memref<?xKxTa, strided<[?, 1], offset: ?>>
///   W: memref<NxKxTw, strided<[K, 1], offset: ?>>
///   C: memref<?xNxf32, strided<[?, 1], offset: ?>>
/// (M is A's first size; C has M rows). Alignment contract: where a row
/// of A or W is a whole number of 16-byte chunks (K * element bytes a
/// multiple of 16), the views' offsets and A's row stride must keep every
/// row 16-byte aligned: the staging then uses 16-byte loads and cp.async,
/// which fault on unaligned addresses on a GPU (the simulator does not
/// check alignment).
llvm::Expected<GemmKernel> buildGemmKernel(mlir::gpu::GPUModuleOp module,
                                           const GemmKernelSpec &spec,
                                           const TargetInfo &target);

/// Grid, block and dynamic shared memory of a launch for `m` rows of A.
GemmLaunch gemmLaunch(const GemmConfig &config, int64_t m);

/// The least global bytes a launch for `m` rows can move with these tiles:
/// A read once per column of blocks, W once per row of blocks, C written
/// once (bench/gemm_counters.sh compares the simulator's counters to it).
std::pair<int64_t, int64_t> gemmMinimumBytes(const GemmConfig &config,
                                             int64_t m);

} // namespace mm

#endif // MM_LOWERING_GEMMKERNELS_H
