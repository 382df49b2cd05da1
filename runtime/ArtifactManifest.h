//===- ArtifactManifest.h - what an artifact says about itself --*- C++ -*-===//
//
// The manifest an artifact embeds (docs/artifact.md), read and checked
// before any of the artifact's code runs: its ABI version, its config, its
// weight list (exactly the tensors of the config, with their shapes, inside
// the weight buffer and not overlapping) and its state layout (exactly the
// config's, runtime/StateLayout.h). The compiled code indexes the weight
// buffer and the state by these numbers, so nothing else of an artifact is
// trusted. MLIR-free; shared with the compiler, which writes the same
// version.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_ARTIFACTMANIFEST_H
#define MM_RUNTIME_ARTIFACTMANIFEST_H

#include "runtime/ModelConfig.h"
#include "runtime/StateLayout.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

/// The version of the calling convention and manifest: mm-compile writes
/// it, the runtime refuses artifacts of any other.
inline constexpr int64_t kArtifactAbiVersion = 1;

/// A manifest that passed every check.
struct ArtifactManifest {
  /// The manifest as written (target, fusion, ...).
  llvm::json::Object object;
  /// The target kind ("cpu", "cuda", "hip", or what the file says).
  std::string kind;
  ModelConfig config;
  /// The weight buffer, in floats, and where each tensor goes in it.
  int64_t weightFloats = 0;
  struct Weight {
    std::string name;
    int64_t offset = 0;
  };
  std::vector<Weight> weights;
  /// The state: bytes per sequence and its fields.
  int64_t stateBytes = 0;
  std::vector<StateField> fields;
};

/// Parses and checks manifest text. Errors say what is wrong without naming
/// the artifact (callers prefix it); errors in its config name `origin`.
llvm::Expected<ArtifactManifest> parseArtifactManifest(llvm::StringRef text,
                                                       llvm::StringRef origin);

} // namespace mm

#endif // MM_RUNTIME_ARTIFACTMANIFEST_H
