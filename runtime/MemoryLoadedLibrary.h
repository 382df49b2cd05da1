//===- MemoryLoadedLibrary.h - code loaded from checked bytes ---*- C++ -*-===//
//
// The runtime's half of the artifact seal (common/ArtifactSeal.h): once the
// bytes of an artifact passed their checksum, their shared library is loaded
// from an anonymous, sealed memory file (memfd) holding exactly those bytes,
// never from the path again, so a file replaced on disk cannot change what
// runs. Linux only (memfd_create, dlopen); MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_MEMORYLOADEDLIBRARY_H
#define MM_RUNTIME_MEMORYLOADEDLIBRARY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace mm {

/// A shared library loaded with dlopen from an anonymous, sealed memory
/// file holding `library`: what runs is exactly these bytes. The memory
/// file stays open while the library is loaded (the loader tells loaded
/// libraries apart by path, and /proc/self/fd/N names a new file once N is
/// closed and reused).
class MemoryLoadedLibrary {
public:
  MemoryLoadedLibrary() = default;
  ~MemoryLoadedLibrary();
  MemoryLoadedLibrary(const MemoryLoadedLibrary &) = delete;
  MemoryLoadedLibrary &operator=(const MemoryLoadedLibrary &) = delete;

  /// Loads `library`; `name` labels the memory file (as /proc/PID/maps shows
  /// it). Errors carry dlerror's message.
  llvm::Error load(llvm::StringRef library, llvm::StringRef name);
  /// dlclose, then closes the memory file.
  void unload();
  void *handle() const { return library; }
  void *symbol(const char *name) const;

private:
  void *library = nullptr;
  int fd = -1;
};

} // namespace mm

#endif // MM_RUNTIME_MEMORYLOADEDLIBRARY_H
