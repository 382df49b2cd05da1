//===- SimKernelTable.h - the host copies an artifact carries ---*- C++ -*-===//
//
// What the simulator reads from a library holding host copies of GPU
// kernels (SimKernelAbi.h): the `mm_sim_kernels` JSON table, parsed and
// checked, with each kernel's host copy resolved to a function pointer. The
// simulator's GpuModule is one table and its GpuFunction one of its kernels.
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMKERNELTABLE_H
#define MM_RUNTIME_GPU_SIMKERNELTABLE_H

#include "common/SimKernelAbi.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mm::gpu::sim {

/// One check site of the table: the op a host copy checks, where it came
/// from, and the buffer it accesses.
struct SimSite {
  std::string kernel;
  std::string op;
  std::string loc;
  /// "argument 1", "workgroup buffer 0".
  std::string buffer;
  /// The buffer's type ("memref<?x128xf32>"), possibly empty.
  std::string type;
};

/// Where a memref argument's descriptor lies in the kernel's parameters:
/// allocated pointer, aligned pointer, offset, sizes[rank], strides[rank].
struct SimMemrefParam {
  /// The kernel argument (as the compiler numbers them: "argument N").
  unsigned argument = 0;
  /// Its first expanded parameter.
  unsigned firstParam = 0;
  unsigned rank = 0;
  unsigned elementBytes = 0;
  /// "global" for device memory; the simulator checks only those.
  std::string space;
};

struct SimKernelTable;

/// One kernel of a table, and its host copy.
struct SimKernel {
  std::string name;
  /// What the compiler made it for ("scan", "gemm"); reported by counters.
  std::string kind;
  std::string symbol;
  MMSimKernelFn function = nullptr;
  /// The byte size of each expanded kernel parameter, in order.
  std::vector<unsigned> paramBytes;
  std::vector<SimMemrefParam> memrefs;
  /// Static shared memory; dynamic shared memory follows it, 16-byte
  /// aligned.
  uint64_t sharedBytes = 0;
  /// Whether the threads of a block must run as fibers (the kernel uses
  /// barriers, shuffles or shared memory).
  bool cooperative = false;
  std::optional<std::array<unsigned, 3>> knownBlockSize;
  /// The table that holds this kernel.
  const SimKernelTable *table = nullptr;
};

/// The parsed `mm_sim_kernels` of one library.
struct SimKernelTable {
  /// "cuda:sm_90".
  std::string target;
  /// "cuda" or "hip".
  std::string vendor;
  /// "sm_90", "gfx942": the chip whose limits launches get.
  std::string chip;
  /// Lanes of a warp or wavefront (32 or 64).
  unsigned subgroupSize = 0;
  /// The library the table was read from.
  std::string library;
  /// Kernels by address: a GpuFunction points at one.
  std::vector<std::unique_ptr<SimKernel>> kernels;
  std::vector<SimSite> sites;

  /// The kernel called `name`, or null.
  const SimKernel *find(llvm::StringRef name) const;
  /// "site 3: memref.store at k.mlir:9:5, workgroup buffer 0" (with the
  /// buffer's type when known), or "no site" / "site 9 (not in the table)".
  std::string describeSite(int32_t site) const;
};

/// Parses a `mm_sim_kernels` table read from `library` (a dlopen handle or
/// link map; `libraryName` for messages) and resolves every kernel's host
/// copy there. Errors name the library and what is wrong with the table.
llvm::Expected<std::unique_ptr<SimKernelTable>>
parseSimKernelTable(llvm::StringRef json, void *library,
                    llvm::StringRef libraryName);

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMKERNELTABLE_H
