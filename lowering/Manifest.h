//===- Manifest.h - what a compiled model needs at run time -----*- C++ -*-===//
//
// The manifest of a compiled model, derived from its mm module: the weights
// (checkpoint names, shapes, offsets in the flat weight buffer), the state
// layout (fields, per-sequence byte offsets), the config and the fusion
// strategy. It travels in the artifact as JSON (its schema and writer are
// shared with the runtime: common/ArtifactManifest.h); the runtime binds
// weights and state by it.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_MANIFEST_H
#define MM_LOWERING_MANIFEST_H

#include "common/ArtifactManifest.h"

#include "mlir/IR/BuiltinOps.h"

namespace mm {

/// The version of this compiler, recorded in every artifact.
inline constexpr const char *kCompilerVersion = "0.2.0";

/// The dtype a weight of element type `element` is stored as (bf16, f16,
/// else f32).
Precision precisionOf(mlir::Type element);

/// The manifest of an mm module: ManifestContents, filled from the module.
struct Manifest : ManifestContents {
  /// Collects the weights and state layout of `module` (an mm module before
  /// lowering). Weights are laid out in order of first use, 64-byte aligned.
  static Manifest fromModule(mlir::ModuleOp module);
};

} // namespace mm

#endif // MM_LOWERING_MANIFEST_H
