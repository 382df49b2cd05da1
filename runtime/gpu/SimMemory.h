//===- SimMemory.h - the simulator's device memory --------------*- C++ -*-===//
//
// The simulator's device memory is host memory, 256-byte aligned like a
// GPU allocator's, with a registry of the live allocations so that launches
// can check that every buffer a kernel gets lies inside one, and errors can
// say which ("the weights (allocation #1, 4096 bytes)").
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMMEMORY_H
#define MM_RUNTIME_GPU_SIMMEMORY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace mm::gpu::sim {

/// "0x7f12a4c00000": an address in messages.
std::string formatAddress(const void *pointer);

/// The live allocations of one simulator. Thread safe.
class SimAllocations {
public:
  /// The alignment of every allocation.
  static constexpr size_t kAlignment = 256;

  SimAllocations() = default;
  ~SimAllocations();
  SimAllocations(const SimAllocations &) = delete;
  SimAllocations &operator=(const SimAllocations &) = delete;

  /// `bytes` (non-zero) of host memory, uninitialised.
  llvm::Expected<void *> allocate(size_t bytes);
  /// Frees an allocation; anything else (an interior or unknown pointer) is
  /// an error.
  llvm::Error free(void *pointer);
  /// Labels the allocation that starts at `pointer` (ignored otherwise).
  void name(void *pointer, llvm::StringRef label);

  /// The allocation holding byte `address`, described.
  struct Found {
    uintptr_t base = 0;
    size_t size = 0;
    /// "the weights (allocation #1, 4096 bytes)", "allocation #3 (64
    /// bytes)".
    std::string description;
  };
  std::optional<Found> find(const void *address) const;

  /// Checks that [pointer, pointer + bytes) lies within one allocation;
  /// `what` names the range in errors ("the destination of a copy").
  llvm::Error checkInside(const void *pointer, size_t bytes,
                          llvm::StringRef what) const;
  /// Checks that a range that starts inside an allocation ends inside it
  /// too (a range outside device memory is host memory, and fine).
  llvm::Error checkNoOverrun(const void *pointer, size_t bytes,
                             llvm::StringRef what) const;

private:
  struct Allocation {
    size_t size;
    uint64_t serial;
    std::string label;
  };
  static std::string describe(const Allocation &allocation);
  /// The allocation holding `address`, with the mutex held.
  const std::pair<const uintptr_t, Allocation> *
  findLocked(uintptr_t address) const;

  mutable std::mutex mutex;
  std::map<uintptr_t, Allocation> live;
  uint64_t nextSerial = 1;
};

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMMEMORY_H
