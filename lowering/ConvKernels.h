//===- ConvKernels.h - the causal depthwise conv as a GPU kernel -*- C++ -*-===//
//
// The causal conv1d of a Mamba layer (with its bias, SiLU and the window of
// the last K-1 inputs carried between calls) on GPU targets as one kernel:
// a thread per (sequence, channel, tile of `tileTokens` tokens), threads of
// a block on neighbouring channels (so a warp's loads of one token are
// contiguous). A thread keeps the K taps and the K-1 inputs before the
// current token in registers and slides through its tile, reading each
// input once (plus K-1 at the tile's start) where the loop emitter's thread
// per channel re-read K inputs and the K taps for every output. The thread
// of the first tile of a channel writes the new window after reading the
// old one: only first tiles read the window (tiles are at least K-1 long),
// so the window may be updated in place.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_CONVKERNELS_H
#define MM_LOWERING_CONVKERNELS_H

#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mm {

/// The widest kernel (taps) the conv kernel keeps in registers; wider ones
/// stay on the loop emitters.
constexpr int64_t kConvKernelMaxTaps = 16;

struct ConvKernelSpec {
  std::string name = "conv";
  /// E (channels) and K (taps), static.
  int64_t channels = 0, taps = 0;
  bool bias = false, silu = false;
  /// Each sequence's length (a batch right-padded to its longest): the new
  /// window ends at it.
  bool lengths = false;
  /// Tokens per thread (0: the default, 64; at least K - 1).
  int64_t tileTokens = 0;
};

struct ConvConfig {
  int64_t channels = 0, taps = 0;
  bool bias = false, silu = false, lengths = false;
  int64_t tileTokens = 0, threadsPerBlock = 0;
};

llvm::Expected<ConvConfig> resolveConvConfig(const ConvKernelSpec &spec,
                                             const TargetInfo &target);

/// Adds the kernel to `module`. Its arguments, of the given memref types
/// (f32): x [B, T, E], the taps [E, 1, K], the bias [E] if the spec has one,
/// the window [B, E, K-1], the lengths [B] (i32) if the spec has them, the
/// output [B, T, E] and the new window [B, E, K-1] (which may be the
/// window's buffer). The grid is
/// (ceil(E / threads), max(1, ceil(T / tileTokens)), B).
llvm::Expected<mlir::gpu::GPUFuncOp>
buildConvKernel(mlir::gpu::GPUModuleOp module, const ConvKernelSpec &spec,
                mlir::TypeRange arguments, const TargetInfo &target);

} // namespace mm

#endif // MM_LOWERING_CONVKERNELS_H
