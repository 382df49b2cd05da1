//===- ArtifactSeal.cpp - checksummed artifacts ---------------------------===//

#include "runtime/ArtifactSeal.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SHA256.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace mm;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

/// The trailer: SHA-256 (32 bytes), the library's length (8, little
/// endian), then this magic (8).
constexpr char kSealMagic[8] = {'M', 'M', 'X', 'S', 'E', 'A', 'L', '1'};
constexpr size_t kDigestBytes = 32;

Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::array<uint8_t, kDigestBytes> digestOf(StringRef bytes) {
  return llvm::SHA256::hash(llvm::arrayRefFromStringRef(bytes));
}

} // namespace

std::string mm::sealArtifact(StringRef library) {
  std::string sealed = library.str();
  std::array<uint8_t, kDigestBytes> digest = digestOf(library);
  sealed.append(reinterpret_cast<const char *>(digest.data()), digest.size());
  char length[8];
  llvm::support::endian::write64le(length, library.size());
  sealed.append(length, sizeof(length));
  sealed.append(kSealMagic, sizeof(kSealMagic));
  return sealed;
}

Expected<StringRef> mm::checkArtifactSeal(StringRef bytes) {
  if (bytes.size() < kArtifactSealBytes ||
      !bytes.ends_with(StringRef(kSealMagic, sizeof(kSealMagic))))
    return makeError("not a sealed artifact (no checksum seal at its end: a "
                     "file that mm-compile did not write, or one cut short; "
                     "recompile it with mm-compile)");
  StringRef seal = bytes.take_back(kArtifactSealBytes);
  StringRef library = bytes.drop_back(kArtifactSealBytes);
  uint64_t length = llvm::support::endian::read64le(seal.data() + kDigestBytes);
  if (length != library.size())
    return makeError("damaged: its seal covers " + llvm::Twine(length) +
                     " bytes, but " + llvm::Twine(library.size()) +
                     " precede it (recompile it with mm-compile)");
  std::array<uint8_t, kDigestBytes> digest = digestOf(library);
  if (std::memcmp(digest.data(), seal.data(), kDigestBytes) != 0)
    return makeError("damaged: its SHA-256 checksum does not match its "
                     "contents (the file was changed after mm-compile wrote "
                     "it; recompile it)");
  return library;
}

Expected<SealedArtifact> mm::readSealedArtifact(StringRef path) {
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(path, status))
    return makeError("cannot read: " + ec.message());
  if (status.type() == llvm::sys::fs::file_type::directory_file)
    return makeError("is a directory, not an artifact");
  if (status.type() != llvm::sys::fs::file_type::regular_file)
    return makeError("not a regular file (an artifact is a file written by "
                     "mm-compile)");
  if (status.getSize() > kMaxArtifactBytes)
    return makeError("a file of " + llvm::Twine(status.getSize()) +
                     " bytes, larger than any artifact (limit " +
                     llvm::Twine(kMaxArtifactBytes) + ")");
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false,
                                            /*IsVolatile=*/true);
  if (!buffer)
    return makeError("cannot read: " + buffer.getError().message());
  SealedArtifact artifact;
  artifact.file = std::move(*buffer);
  Expected<StringRef> library = checkArtifactSeal(artifact.file->getBuffer());
  if (!library)
    return library.takeError();
  artifact.library = *library;
  StringRef seal = artifact.file->getBuffer().take_back(kArtifactSealBytes);
  artifact.digest = llvm::toHex(seal.take_front(kDigestBytes),
                                /*LowerCase=*/true);
  return artifact;
}

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
