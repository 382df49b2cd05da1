//===- SimulatorAbi.h - what the simulator passes share ----------*- C++ -*-===//
//
// Names and offsets shared by mm-simulator-kernels and
// mm-simulator-kernel-table: the attributes the first leaves for the second,
// and the MMSimThread / MMSimCounters field offsets of the simulator's ABI
// (common/SimKernelAbi.h, the contract with the runtime).
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_SIMULATORABI_H
#define MM_LOWERING_SIMULATORABI_H

#include "common/SimKernelAbi.h"

#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <cstdint>

namespace mm::sim {

/// The host copy of kernel K is `__mmsim_impl_K`; its entry point, taking
/// the launch's kernelParams, `__mmsim_K`.
inline constexpr llvm::StringLiteral kImplPrefix = "__mmsim_impl_";
inline constexpr llvm::StringLiteral kEntryPrefix = "__mmsim_";
/// The artifact's kernel table (a NUL-terminated JSON string).
inline constexpr llvm::StringLiteral kTableSymbol = "mm_sim_kernels";

// Attributes of a host copy (func.func, then llvm.func).
inline constexpr llvm::StringLiteral kKernelAttr = "mmsim.kernel";
inline constexpr llvm::StringLiteral kKindAttr = "mmsim.kind";
/// Per kernel argument: its memref rank, or -1 for a scalar.
inline constexpr llvm::StringLiteral kArgRanksAttr = "mmsim.arg_ranks";
/// Per kernel argument: bytes of its (element) type.
inline constexpr llvm::StringLiteral kArgElementBytesAttr =
    "mmsim.arg_element_bytes";
inline constexpr llvm::StringLiteral kSharedBytesAttr = "mmsim.shared_bytes";
inline constexpr llvm::StringLiteral kCooperativeAttr = "mmsim.cooperative";
inline constexpr llvm::StringLiteral kKnownBlockSizeAttr =
    "mmsim.known_block_size";
// Attributes of the module.
inline constexpr llvm::StringLiteral kSitesAttr = "mmsim.sites";
inline constexpr llvm::StringLiteral kTargetAttr = "mmsim.target";

inline constexpr int64_t kThreadIdOffset = offsetof(MMSimThread, threadId);
inline constexpr int64_t kBlockIdOffset = offsetof(MMSimThread, blockId);
inline constexpr int64_t kBlockDimOffset = offsetof(MMSimThread, blockDim);
inline constexpr int64_t kGridDimOffset = offsetof(MMSimThread, gridDim);
inline constexpr int64_t kLaneIdOffset = offsetof(MMSimThread, laneId);
inline constexpr int64_t kSubgroupSizeOffset =
    offsetof(MMSimThread, subgroupSize);
inline constexpr int64_t kSharedOffset = offsetof(MMSimThread, shared);
inline constexpr int64_t kCountersOffset = offsetof(MMSimThread, counters);
inline constexpr int64_t kGlobalLoadBytesOffset =
    offsetof(MMSimCounters, globalLoadBytes);
inline constexpr int64_t kGlobalStoreBytesOffset =
    offsetof(MMSimCounters, globalStoreBytes);
inline constexpr int64_t kFlopsOffset = offsetof(MMSimCounters, flops);

} // namespace mm::sim

#endif // MM_LOWERING_SIMULATORABI_H
