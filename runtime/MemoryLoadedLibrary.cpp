//===- MemoryLoadedLibrary.cpp - code loaded from checked bytes -----------===//

#include "runtime/MemoryLoadedLibrary.h"

#include "llvm/ADT/Twine.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

using namespace mm;
using llvm::Error;
using llvm::StringRef;

namespace {

Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

MemoryLoadedLibrary::~MemoryLoadedLibrary() { unload(); }

void MemoryLoadedLibrary::unload() {
  if (library)
    dlclose(library);
  library = nullptr;
  if (fd >= 0)
    close(fd);
  fd = -1;
}

void *MemoryLoadedLibrary::symbol(const char *name) const {
  return library ? dlsym(library, name) : nullptr;
}

Error MemoryLoadedLibrary::load(StringRef bytes, StringRef name) {
  unload();
  std::string label = ("mm-artifact:" + name).str();
  int memory = memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memory < 0)
    return makeError(llvm::Twine("cannot create a memory file for the code: ") +
                     std::strerror(errno));
  const char *data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t written = write(memory, data, left);
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0) {
      Error error = makeError(llvm::Twine("cannot copy the code to memory: ") +
                              std::strerror(errno));
      close(memory);
      return error;
    }
    data += written;
    left -= written;
  }
  // Nothing can change the bytes from now on.
  fcntl(memory, F_ADD_SEALS,
        F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  std::string procPath = "/proc/self/fd/" + std::to_string(memory);
  dlerror();
  void *handle = dlopen(procPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *message = dlerror();
    close(memory);
    return makeError(llvm::Twine("cannot load its code: ") +
                     (message ? message : "dlopen failed"));
  }
  library = handle;
  fd = memory;
  return Error::success();
}
