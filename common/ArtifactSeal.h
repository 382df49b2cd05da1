//===- ArtifactSeal.h - checksummed artifacts -------------------*- C++ -*-===//
//
// An artifact is native code that the runtime loads into its process, so it
// must load exactly the bytes it checked. mm-compile seals every artifact: a
// 48-byte trailer after the shared library holds the SHA-256 of everything
// before it (code and embedded manifest alike), its length and a magic. The
// dynamic loader ignores bytes past what the ELF headers map, so a sealed
// file is still an ordinary shared library. The runtime reads the file once,
// checks the seal, reads the manifest from those bytes, and loads the same
// bytes from an anonymous sealed memory file (runtime/MemoryLoadedLibrary.h),
// never from the path again: a file replaced or edited on disk, or another
// file of the same name on the library path, cannot change what runs.
//
// The seal's format is shared by the compiler, which writes it, and the
// runtime, which checks it; MLIR-free, LLVM Support only.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_ARTIFACTSEAL_H
#define MM_COMMON_ARTIFACTSEAL_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace mm {

/// The size of the trailer a seal appends.
constexpr size_t kArtifactSealBytes = 48;
/// The largest artifact file the runtime reads (1 GiB).
constexpr uint64_t kMaxArtifactBytes = uint64_t(1) << 30;

/// `library` (the linked shared library) followed by its seal.
std::string sealArtifact(llvm::StringRef library);

/// An artifact file read into memory and checked against its seal.
struct SealedArtifact {
  std::unique_ptr<llvm::MemoryBuffer> file;
  /// The shared library: the file without its seal.
  llvm::StringRef library;
  /// The SHA-256 of `library`, as 64 hex digits.
  std::string digest;
};

/// Reads the artifact at `path` (a regular file of at most
/// kMaxArtifactBytes) and checks its seal. Errors say what is wrong and
/// what to do, without naming the path (callers prefix it): "not a sealed
/// artifact (no seal; recompile it with mm-compile)", "damaged: its
/// checksum does not match its contents (...)".
llvm::Expected<SealedArtifact> readSealedArtifact(llvm::StringRef path);

/// Checks the seal of artifact bytes already in memory; returns the
/// library without the seal.
llvm::Expected<llvm::StringRef> checkArtifactSeal(llvm::StringRef bytes);

} // namespace mm

#endif // MM_COMMON_ARTIFACTSEAL_H
