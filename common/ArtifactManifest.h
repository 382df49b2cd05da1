//===- ArtifactManifest.h - what an artifact says about itself --*- C++ -*-===//
//
// The manifest an artifact embeds (docs/artifact.md): its schema and ABI
// version, written by the compiler (ManifestContents::toJSON; the compiler
// fills it from an mm module, lowering/Manifest.h) and read and checked by
// the runtime before any of the artifact's code runs (parseArtifactManifest):
// its ABI version, its config, its weight list (exactly the tensors of the
// config, with their shapes, inside the weight buffer and not overlapping)
// and its state layout (exactly the config's, common/StateLayout.h). The
// compiled code indexes the weight buffer and the state by these numbers, so
// nothing else of an artifact is trusted. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_ARTIFACTMANIFEST_H
#define MM_COMMON_ARTIFACTMANIFEST_H

#include "common/ModelConfig.h"
#include "common/Precision.h"
#include "common/StateLayout.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

/// The version of the calling convention and manifest: mm-compile writes
/// it, the runtime refuses artifacts of any other. Version 2: GPU entry
/// points take a kernel context first, and GPU kernels are the data
/// `mm_kernel_module` the runtime loads, not a global constructor's work
/// (common/KernelContextAbi.h). Version 3: the manifest records the
/// precision and each weight's dtype (f32, bf16 or f16, common/Precision.h);
/// in a reduced precision the entry points take the weight buffer as bytes.
/// Version 4: prefill takes each sequence's length [B] after the tokens (a
/// batch of sequences of different lengths in one call). Version 5: the
/// entry point prefill_last (prefill's arguments, each sequence's last
/// logits [B, 1, V]).
inline constexpr int64_t kArtifactAbiVersion = 5;

/// One tensor of the weight buffer, as the compiler lays it out.
struct ManifestWeight {
  std::string name, fallback;
  std::vector<int64_t> shape;
  /// In 4-byte words ("floats") into the weight buffer; a 16-bit tensor
  /// fills ceil(elements / 2) of them.
  int64_t offset = 0;
  Precision dtype = Precision::F32;
};

/// The 4-byte words a tensor of `elements` values in `dtype` fills.
inline int64_t weightWords(int64_t elements, Precision dtype) {
  return (elements * precisionBytes(dtype) + 3) / 4;
}

/// One field of the per-sequence state, as the compiler lays it out.
struct ManifestStateField {
  std::string name, kind, dtype; ///< dtype: "f32" or "i32"
  int64_t layer = -1;
  std::vector<int64_t> shape; ///< per sequence
  int64_t offset = 0;         ///< bytes per sequence before this field
};

/// `field` of a config's state layout as a manifest writes it.
ManifestStateField toManifestStateField(const StateField &field);

/// What a compiler writes into an artifact's manifest, less its target
/// (which the artifact writer adds): the weights (checkpoint names, shapes,
/// offsets in the flat weight buffer), the state layout (fields,
/// per-sequence byte offsets), the config and the fusion strategy.
struct ManifestContents {
  std::vector<ManifestWeight> weights;
  /// The weight buffer, in 4-byte words.
  int64_t weightFloats = 0;
  /// The matrix products' precision: f32, or the dtype of the reduced
  /// weights.
  Precision precision = Precision::F32;
  std::vector<ManifestStateField> state;
  int64_t stateBytesPerSequence = 0;
  llvm::json::Value config = nullptr;
  /// The fusion strategy, its sizes and the kernels of each kind per entry
  /// point (null when the module was lowered without fusion groups).
  llvm::json::Value fusion = nullptr;
  /// The version of the compiler that wrote it (for people; not checked).
  std::string compilerVersion;

  const ManifestWeight *findWeight(llvm::StringRef name) const;
  const ManifestStateField *findField(llvm::StringRef name) const;
  /// The manifest JSON, at kArtifactAbiVersion.
  llvm::json::Value toJSON() const;
};

/// A manifest that passed every check.
struct ArtifactManifest {
  /// The manifest as written (target, fusion, ...).
  llvm::json::Object object;
  /// The target kind ("cpu", "cuda", "hip", or what the file says).
  std::string kind;
  ModelConfig config;
  /// The matrix products' precision (docs/precision.md): with bf16 or f16
  /// the entry points take the weight buffer as bytes.
  Precision precision = Precision::F32;
  /// The weight buffer, in 4-byte words, and where each tensor goes in it,
  /// stored as which dtype.
  int64_t weightFloats = 0;
  struct Weight {
    std::string name;
    int64_t offset = 0;
    Precision dtype = Precision::F32;
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

#endif // MM_COMMON_ARTIFACTMANIFEST_H
