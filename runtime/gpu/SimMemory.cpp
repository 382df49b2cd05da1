//===- SimMemory.cpp - the simulator's device memory ----------------------===//

#include "runtime/gpu/SimMemory.h"

#include "runtime/gpu/GpuDriver.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <new>

using namespace mm::gpu;
using namespace mm::gpu::sim;
using detail::makeError;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

std::string sim::formatAddress(const void *pointer) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format_hex(uintptr_t(pointer), 0);
  return text;
}

SimAllocations::~SimAllocations() {
  // What the program did not free goes with the device, as on a GPU.
  for (auto &[base, allocation] : live)
    ::operator delete(reinterpret_cast<void *>(base),
                      std::align_val_t(kAlignment));
}

Expected<void *> SimAllocations::allocate(size_t bytes) {
  void *pointer =
      ::operator new(bytes, std::align_val_t(kAlignment), std::nothrow);
  if (!pointer)
    return makeError("sim: out of host memory for an allocation of " +
                     Twine(bytes) + " bytes");
  std::lock_guard<std::mutex> lock(mutex);
  live[uintptr_t(pointer)] = {bytes, nextSerial++, std::string()};
  return pointer;
}

Error SimAllocations::free(void *pointer) {
  std::unique_lock<std::mutex> lock(mutex);
  auto found = live.find(uintptr_t(pointer));
  if (found == live.end()) {
    const auto *holder = findLocked(uintptr_t(pointer));
    std::string where =
        holder ? "byte " + std::to_string(uintptr_t(pointer) - holder->first) +
                     " of " + describe(holder->second)
               : "not device memory";
    return makeError("sim: freeing " + formatAddress(pointer) +
                     ", which is not the start of a live allocation (" + where +
                     ")");
  }
  live.erase(found);
  lock.unlock();
  ::operator delete(pointer, std::align_val_t(kAlignment));
  return Error::success();
}

void SimAllocations::name(void *pointer, StringRef label) {
  std::lock_guard<std::mutex> lock(mutex);
  auto found = live.find(uintptr_t(pointer));
  if (found != live.end())
    found->second.label = label.str();
}

std::string SimAllocations::describe(const Allocation &allocation) {
  std::string size = std::to_string(allocation.size) + " bytes";
  std::string serial = "allocation #" + std::to_string(allocation.serial);
  if (allocation.label.empty())
    return serial + " (" + size + ")";
  return allocation.label + " (" + serial + ", " + size + ")";
}

const std::pair<const uintptr_t, SimAllocations::Allocation> *
SimAllocations::findLocked(uintptr_t address) const {
  auto after = live.upper_bound(address);
  if (after == live.begin())
    return nullptr;
  const auto &candidate = *std::prev(after);
  if (address - candidate.first >= candidate.second.size)
    return nullptr;
  return &candidate;
}

std::optional<SimAllocations::Found>
SimAllocations::find(const void *address) const {
  std::lock_guard<std::mutex> lock(mutex);
  const auto *found = findLocked(uintptr_t(address));
  if (!found)
    return std::nullopt;
  return Found{found->first, found->second.size, describe(found->second)};
}

Error SimAllocations::checkInside(const void *pointer, size_t bytes,
                                  StringRef what) const {
  std::optional<Found> found = find(pointer);
  if (!found)
    return makeError(what + " (" + formatAddress(pointer) +
                     ") is not device memory");
  return checkNoOverrun(pointer, bytes, what);
}

Error SimAllocations::checkNoOverrun(const void *pointer, size_t bytes,
                                     StringRef what) const {
  std::optional<Found> found = find(pointer);
  if (!found)
    return Error::success();
  uint64_t begin = uintptr_t(pointer) - found->base;
  if (bytes <= found->size - begin)
    return Error::success();
  return makeError(what + " reaches bytes [" + Twine(begin) + ", " +
                   Twine(begin + bytes) + ") of " + found->description);
}
