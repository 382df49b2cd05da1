//===- CompiledModel.h - running a compiled artifact on the host -*- C++
//-*-===//
//
// Loads an artifact written by `mm-compile --target=cpu` (a shared library
// embedding its manifest), checks it against this machine and the runtime's
// ABI, binds weights by name from the manifest, and runs the compiled entry
// points. MLIR-free: the artifact is opened with dlopen.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_COMPILEDMODEL_H
#define MM_RUNTIME_COMPILEDMODEL_H

#include "runtime/ModelConfig.h"
#include "runtime/ModelWeights.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mm {

/// The per-sequence state of a batch, as the artifact lays it out: each
/// field a [batch, ...] array at batch * (its per-sequence offset).
struct CompiledState {
  int64_t batch = 0;
  std::vector<uint8_t> bytes;
};

class CompiledModel {
public:
  ~CompiledModel();

  /// Opens and checks an artifact: its ABI version, its target (triple and
  /// CPU features this machine must have) and its manifest.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  open(llvm::StringRef artifactPath);

  /// The config the artifact was compiled for.
  const ModelConfig &config() const { return modelConfig; }
  const llvm::json::Object &manifest() const { return manifestObject; }

  /// Binds weights (validated for config()) by the manifest's names.
  llvm::Error bindWeights(const ModelWeights &weights);

  /// A fresh state for `batch` sequences (the compiled init_state).
  CompiledState createState(int64_t batch) const;
  /// Bytes of state per sequence.
  int64_t stateBytesPerSequence() const { return stateBytes; }

  /// Runs `time` tokens of each of state.batch sequences (tokens row-major
  /// [batch, time]); returns logits [batch, time, V].
  llvm::Expected<std::vector<float>> prefill(llvm::ArrayRef<int32_t> tokens,
                                             int64_t time,
                                             CompiledState &state) const;
  /// One decode step for each sequence: tokens [batch] -> logits [batch, V].
  llvm::Expected<std::vector<float>> decode(llvm::ArrayRef<int32_t> tokens,
                                            CompiledState &state) const;

private:
  CompiledModel() = default;
  llvm::Error checkInputs(llvm::ArrayRef<int32_t> tokens, int64_t time,
                          const CompiledState &state) const;

  std::string path;
  void *library = nullptr;
  llvm::json::Object manifestObject;
  ModelConfig modelConfig;
  int64_t weightFloats = 0, stateBytes = 0;
  std::vector<float> weightBuffer;
  bool weightsBound = false;
  void *prefillFn = nullptr, *decodeFn = nullptr, *initFn = nullptr;
};

} // namespace mm

#endif // MM_RUNTIME_COMPILEDMODEL_H
