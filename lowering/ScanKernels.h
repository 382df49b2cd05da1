//===- ScanKernels.h - the selective scan as a block-level GPU kernel -*- C++
//-*-===//
//
// The selective scan (with its gate, when fused) on GPU targets as one
// kernel per layer, shaped as ARCHITECTURE.md section 5 asks:
//
//   - a block per (sequence, group of `blockChannels` channels); each warp
//     (wavefront) of the block takes channels w, w + warps, ... of the group;
//   - time in chunks of `chunk` tokens, run in order; the B and C of a chunk
//     are staged once in shared memory (transposed, [state][token], so that
//     a lane reads its tokens of one state as one vector) and shared by every
//     channel of the block;
//   - within a chunk a parallel scan: lane l of a warp holds `chunk / warp`
//     consecutive tokens, composes their recurrences h -> a h + b in
//     registers, and the lanes' compositions meet by an inclusive scan of
//     log2(warp) shuffles (warp width 32 or 64, from the target); the state
//     entering the chunk comes from shared memory and the one leaving it goes
//     back there (double-buffered, so no lane reads what another writes
//     between two barriers);
//   - discretisation (softplus of delta plus its bias), the skip term D x and
//     the SiLU gate fused; exp2 with A pre-scaled by log2(e) (one exponential
//     per token and state); only the gated output and the final state are
//     written.
//
// A decode step (one token: T static 1) has no time to scan in parallel:
// its form (`step`) runs a thread per channel and a block per 8 sequences:
// the thread computes its channel's A once (kept in registers), then for each
// sequence updates the channel's N states from B and C staged once per block
// and writes them back with the gated output. There the linear computing
// delta (dt_proj) may be fused (`deltaProjection`): the block stages each
// sequence's R inputs of it in shared memory next to B and C (all three
// are slices of one x_proj row), and the thread takes the dot with its
// channel's weight row (in registers, read once per block), so that delta
// never goes through global memory and the step saves a launch.
//
// Tokens past the end of the sequence (its length, in a right-padded batch)
// take delta = 0, which makes their step the identity (exp2(0) = 1, no
// input), so no lane branches on them in the scan; a padded sequence's
// block scans only the chunks up to its length and writes zeros past them. The
// causal conv stays a kernel of its own: its output also feeds x_proj's GEMM,
// so reading its input here instead would move the same bytes.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_SCANKERNELS_H
#define MM_LOWERING_SCANKERNELS_H

#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>

namespace mm {

/// What a scan kernel computes and its tunable sizes (zero: the default).
struct ScanKernelSpec {
  std::string name = "scan";
  /// E (channels) and N (states), static.
  int64_t channels = 0, states = 0;
  /// Which of the optional operands the scan has.
  bool deltaBias = false, deltaSoftplus = false, initialState = false,
       gate = false;
  /// Each sequence's length [B] (a batch right-padded to its longest
  /// sequence; not in the step form): its tokens past it are identity
  /// steps, its outputs there zero.
  bool lengths = false;
  /// Channels per block (sharing each staged chunk of B and C) and tokens
  /// per chunk (a multiple of the warp width; the step form has none).
  int64_t blockChannels = 0, chunk = 0;
  /// One token per sequence (a decode step): the step form.
  bool step = false;
  /// The step form computes delta = x W^T from the input x [B, 1, R] and
  /// the weight W [E, R] (f32, bf16 or f16: x is then rounded to it, as
  /// mm.linear does); `rank` is R.
  bool deltaProjection = false;
  int64_t rank = 0;
};

/// A scan kernel's resolved configuration.
struct ScanConfig {
  int64_t channels = 0, states = 0;
  bool deltaBias = false, deltaSoftplus = false, initialState = false,
       gate = false, step = false, deltaProjection = false, lengths = false;
  int64_t rank = 0;
  int64_t blockChannels = 0, chunk = 0;
  /// Tokens per lane (chunk / warp width), warp width, warps per block.
  int64_t items = 0, warpWidth = 0, warps = 0;
  /// Sequences per block: 1 for prefill, several for a step.
  int64_t sequencesPerBlock = 1;
  int64_t threadsPerBlock = 0;
  /// Dynamic shared memory: the staged B and C, A log2(e), the states
  /// entering and leaving the chunk, D and the delta bias of each channel of
  /// the block (the step form: B and C of its one token, and the inputs of
  /// delta's projection).
  int64_t sharedBytes = 0;
};

/// Fills in the defaults of `spec` for `target` and checks them; the error
/// names the size and what it accepts.
llvm::Expected<ScanConfig> resolveScanConfig(const ScanKernelSpec &spec,
                                             const TargetInfo &target);

/// Adds the kernel to `module` (at its end). Its arguments, of the given
/// memref types (any strided layout; f32 elements): u [B, T, E], delta
/// [B, T, E] (with deltaProjection: its input [B, 1, R] and weight [E, R],
/// whose elements may be bf16 or f16), A_log [E, N], B [B, T, N], C [B, T, N],
/// D [E], then delta_bias [E], the initial state [B, E, N], the lengths [B]
/// (i32) and the gate z [B, T, E] where the spec has them, then the final
/// state [B, E, N] (it may be the initial state's buffer) and the output [B,
/// T, E].
llvm::Expected<mlir::gpu::GPUFuncOp>
buildScanKernel(mlir::gpu::GPUModuleOp module, const ScanKernelSpec &spec,
                mlir::TypeRange arguments, const TargetInfo &target);

/// Blocks along x of a launch (channel groups) and along y for `batch`
/// sequences.
int64_t scanBlocks(const ScanConfig &config);
int64_t scanBatchBlocks(const ScanConfig &config, int64_t batch);

/// The least global bytes a launch for `batch` sequences of `tokens` can
/// move: u, delta (and z) read and the output written once per element, B
/// and C once per token, A_log, D and the bias once, the initial state read
/// and the final state written once (bench and tests compare the
/// simulator's counters with it).
std::pair<int64_t, int64_t> scanMinimumBytes(const ScanConfig &config,
                                             int64_t batch, int64_t tokens);

} // namespace mm

#endif // MM_LOWERING_SCANKERNELS_H
