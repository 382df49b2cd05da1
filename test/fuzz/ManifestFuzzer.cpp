//===- ManifestFuzzer.cpp - libFuzzer target for the manifest reader ------===//
//
// Feeds arbitrary bytes to parseArtifactManifest, which the runtime runs on
// an artifact's embedded manifest before any of its code. Whatever it
// accepts must be safe to index by: every weight inside the weight buffer,
// the state fields end to end and covering the config's state. ASan and
// UBSan catch what the reader gets wrong.
//
//===----------------------------------------------------------------------===//

#include "common/ArtifactManifest.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<ArtifactManifest> manifest =
      parseArtifactManifest(text, "fuzz (manifest)");
  if (!manifest) {
    std::string message = llvm::toString(manifest.takeError());
    llvm::StringRef m(message);
    if (!m.starts_with("corrupt manifest: ") &&
        !m.starts_with("artifact ABI version ") &&
        !m.starts_with("fuzz (manifest)"))
      __builtin_trap(); // every error says what it is about
    return 0;
  }
  for (const ArtifactManifest::Weight &weight : manifest->weights)
    if (weight.offset < 0 || weight.offset > manifest->weightFloats)
      __builtin_trap();
  int64_t next = 0;
  for (const StateField &field : manifest->fields) {
    if (field.offset != next || field.elements < 0)
      __builtin_trap();
    next += 4 * field.elements;
  }
  if (next != manifest->stateBytes ||
      next != manifest->config.stateBytesPerSequence())
    __builtin_trap();
  return 0;
}
