//===- HostMemory.h - how much memory this machine can give -----*- C++ -*-===//
//
// Linux overcommits: an allocation larger than the machine's memory may
// succeed and then kill the process page by page as it is written. Buffers
// whose size comes from outside (a batch, a prompt, a config) are checked
// against the memory available before they are allocated, so that too much
// is an error naming what asked for it. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_HOSTMEMORY_H
#define MM_RUNTIME_HOSTMEMORY_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace mm {

/// The memory this machine can give a process now without swapping:
/// Linux's MemAvailable, or the physical memory where that is unknown (0 if
/// both are).
int64_t availableMemoryBytes();

/// An error when `bytes` for `what` are more than availableMemoryBytes():
/// "WHAT would take N bytes, more than this machine's available memory (M
/// bytes)". Requests under 256 MiB always pass without a look-up.
llvm::Error checkFitsInMemory(int64_t bytes, const llvm::Twine &what);

} // namespace mm

#endif // MM_RUNTIME_HOSTMEMORY_H
