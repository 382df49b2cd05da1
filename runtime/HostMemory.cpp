//===- HostMemory.cpp - how much memory this machine can give -------------===//

#include "runtime/HostMemory.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <string>
#include <unistd.h>

using namespace mm;

int64_t mm::availableMemoryBytes() {
  if (auto meminfo = llvm::MemoryBuffer::getFileAsStream("/proc/meminfo")) {
    llvm::SmallVector<llvm::StringRef> lines;
    (*meminfo)->getBuffer().split(lines, '\n');
    for (llvm::StringRef line : lines) {
      uint64_t kib;
      // "MemAvailable:   12345678 kB"
      if (line.consume_front("MemAvailable:") &&
          !line.trim().drop_back(3).trim().getAsInteger(10, kib))
        return int64_t(kib) * 1024;
    }
  }
  return int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
}

llvm::Error mm::checkFitsInMemory(int64_t bytes, const llvm::Twine &what) {
  if (bytes < (int64_t(1) << 28))
    return llvm::Error::success();
  const int64_t available = availableMemoryBytes();
  if (available <= 0 || bytes <= available)
    return llvm::Error::success();
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      what + " would take " + std::to_string(bytes) +
          " bytes, more than this machine's available memory (" +
          std::to_string(available) + " bytes)");
}
