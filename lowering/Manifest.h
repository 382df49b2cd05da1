//===- Manifest.h - what a compiled model needs from the runtime -*- C++
//-*-===//
//
// The manifest of a compiled model, derived from its mm module: the weights
// (checkpoint names, shapes, offsets in the flat weight buffer), the state
// layout (fields, per-sequence byte offsets), the config and the fusion
// strategy. It travels in the
// artifact as JSON; the runtime binds weights and state by it.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_MANIFEST_H
#define MM_LOWERING_MANIFEST_H

#include "runtime/ArtifactManifest.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

/// The version of this compiler, recorded in every artifact.
inline constexpr const char *kCompilerVersion = "0.1.0";

struct ManifestWeight {
  std::string name, fallback;
  std::vector<int64_t> shape;
  int64_t offset = 0; ///< in floats, into the weight buffer
};

struct ManifestStateField {
  std::string name, kind, dtype; ///< dtype: "f32" or "i32"
  int64_t layer = -1;
  std::vector<int64_t> shape; ///< per sequence
  int64_t offset = 0;         ///< bytes per sequence before this field
};

struct Manifest {
  std::vector<ManifestWeight> weights;
  int64_t weightFloats = 0;
  std::vector<ManifestStateField> state;
  int64_t stateBytesPerSequence = 0;
  llvm::json::Value config = nullptr;
  /// The fusion strategy, its sizes and the kernels of each kind per entry
  /// point (null when the module was lowered without fusion groups).
  llvm::json::Value fusion = nullptr;

  /// Collects the weights and state layout of `module` (an mm module before
  /// lowering). Weights are laid out in order of first use, 64-byte aligned.
  static Manifest fromModule(mlir::ModuleOp module);

  const ManifestWeight *findWeight(llvm::StringRef name) const;
  const ManifestStateField *findField(llvm::StringRef name) const;
  llvm::json::Value toJSON() const;
};

} // namespace mm

#endif // MM_LOWERING_MANIFEST_H
