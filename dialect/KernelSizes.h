//===- KernelSizes.h - the tunable sizes of the kernels and their limits --===//
//
// The one definition of the kernel sizes a user picks (mm-fuse-kernels'
// options, the pipelines' options, mm-compile's flags, the parameters of an
// #mm.fusion attribute and the module's mm.fusion summary) and of their upper
// limits. Every place that accepts a size checks it against this table, so a
// size from outside can neither unroll the compiler into minutes nor size a
// buffer beyond reason.
//
//===----------------------------------------------------------------------===//

#ifndef MM_DIALECT_KERNELSIZES_H
#define MM_DIALECT_KERNELSIZES_H

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mm {

/// One tunable size: its option name, its key in #mm.fusion parameters (empty
/// when groups do not carry it) and in the module's mm.fusion dictionary, and
/// the largest value accepted (the smallest is 1).
struct KernelSize {
  llvm::StringLiteral option;
  llvm::StringLiteral key;
  llvm::StringLiteral moduleKey;
  int64_t max;
};

/// Input rows of a matrix product that one chunk of work streams through the
/// cache (the loop emitters' chunk); a tile never spans more than a chunk.
inline constexpr int64_t kGemmChunkTokens = 256;

/// Weight rows per block of outputs (one parallel task). Not unrolled: at
/// 4096 the widest matrix of a real model (the LM head, 50280 rows for
/// mamba-130m) is already only 13 tasks; larger blocks only idle cores.
inline constexpr KernelSize kGemmRows{"gemm-rows", "rows", "gemm_rows", 4096};
/// Input rows per tile: at most one chunk (kGemmChunkTokens).
inline constexpr KernelSize kGemmTokens{"gemm-tokens", "tokens", "gemm_tokens",
                                        kGemmChunkTokens};
/// Weight rows sharing each load of an input row: the inner loop is unrolled
/// that many times, each with its own accumulator. 16 accumulators fill the
/// vector registers of x86-64 (AVX2: 16, AVX-512: 32 with the loads);
/// beyond that they spill, and compile time grows with the unrolling (about
/// 1.5x at 32 for mamba-130m, minutes at 1000).
inline constexpr KernelSize kGemmRowsAtOnce{"gemm-rows-at-once", "rows_at_once",
                                            "gemm_rows_at_once", 16};
/// Channels per task of the selective scan and the causal conv. Not unrolled:
/// at 1024 the channels of mamba-130m (E = 1536) are two tasks.
inline constexpr KernelSize kScanChannels{"scan-channels", "channels",
                                          "scan_channels", 1024};
/// The GPU scan kernel (lowering/ScanKernels.h): channels per block, which
/// share each staged chunk of B and C, and tokens per chunk (a multiple of
/// the warp width, at most 32 per lane: lowering/ScanKernels.cpp checks it).
inline constexpr KernelSize kScanBlockChannels{
    "scan-block-channels", "block_channels", "scan_block_channels", 1024};
inline constexpr KernelSize kScanChunk{"scan-chunk", "chunk", "scan_chunk",
                                       2048};
/// The tiles of the GPU GEMM kernels (lowering/GemmKernels.h, which checks
/// how they fit together per strategy): rows of the activations and of the
/// weight per block, the depth of K staged at once, warps per block along M
/// and N (tensor cores), outputs per thread along M and N (SIMT), and
/// shared-memory stages (mma.sync).
inline constexpr KernelSize kGemmBlockM{"gemm-block-m", "block_m",
                                        "gemm_block_m", 1024};
inline constexpr KernelSize kGemmBlockN{"gemm-block-n", "block_n",
                                        "gemm_block_n", 1024};
inline constexpr KernelSize kGemmBlockK{"gemm-block-k", "block_k",
                                        "gemm_block_k", 1024};
inline constexpr KernelSize kGemmWarpsM{"gemm-warps-m", "warps_m",
                                        "gemm_warps_m", 32};
inline constexpr KernelSize kGemmWarpsN{"gemm-warps-n", "warps_n",
                                        "gemm_warps_n", 32};
inline constexpr KernelSize kGemmThreadM{"gemm-thread-m", "thread_m",
                                         "gemm_thread_m", 8};
inline constexpr KernelSize kGemmThreadN{"gemm-thread-n", "thread_n",
                                         "gemm_thread_n", 8};
inline constexpr KernelSize kGemmStages{"gemm-stages", "stages", "gemm_stages",
                                        8};
/// Threads per block of the GPU kernels: the most CUDA and HIP launch.
inline constexpr KernelSize kThreadsPerBlock{"threads-per-block", "", "", 1024};

/// The sizes an #mm.fusion attribute or mm-fuse-kernels takes.
inline constexpr KernelSize kFusionSizes[] = {
    kGemmRows,   kGemmTokens,  kGemmRowsAtOnce, kScanChannels,
    kGemmBlockM, kGemmBlockN,  kGemmBlockK,     kGemmWarpsM,
    kGemmWarpsN, kGemmThreadM, kGemmThreadN,    kGemmStages,
    kScanBlockChannels, kScanChunk};

/// The fusion size whose #mm.fusion key (or, with `moduleKey`, whose key in
/// the module's mm.fusion dictionary) is `key`; null if none.
inline const KernelSize *lookupFusionSize(llvm::StringRef key,
                                          bool moduleKey = false) {
  const KernelSize *found = llvm::find_if(kFusionSizes, [&](const auto &size) {
    return (moduleKey ? size.moduleKey : size.key) == key;
  });
  return found == std::end(kFusionSizes) ? nullptr : found;
}

/// Whether `value` is a valid `size`.
inline bool inRange(const KernelSize &size, int64_t value) {
  return value >= 1 && value <= size.max;
}

/// "must be in [1, 16], got 1000", the tail of every error on a size.
inline std::string rangeError(const KernelSize &size, int64_t value) {
  return "must be in [1, " + std::to_string(size.max) + "], got " +
         std::to_string(value);
}

} // namespace mm

#endif // MM_DIALECT_KERNELSIZES_H
