//===- ArtifactSeal.cpp - checksummed artifacts ---------------------------===//

#include "common/ArtifactSeal.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SHA256.h"

#include <cstring>

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
