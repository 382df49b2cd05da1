//===- ModelWeights.h - a config and its validated weights ------*- C++ -*-===//
//
// Binds a checkpoint to a config: every tensor the config implies must be
// present with its shape (spec sections 1 and 2); missing, unexpected and
// mis-shaped tensors are all reported, by name, in one error. Values are
// converted to f32 on load (files may hold f32, f16 or bf16).
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_MODELWEIGHTS_H
#define MM_RUNTIME_MODELWEIGHTS_H

#include "common/ModelConfig.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mm {

/// How weights are loaded.
struct WeightLoadOptions {
  /// Accept NaN and infinite values. By default they are an error naming the
  /// tensor and element: one of them makes every logit NaN.
  bool allowNonFinite = false;
};

class ModelWeights {
public:
  using LoadOptions = WeightLoadOptions;

  /// Loads `checkpointPath` (a .safetensors file, a shard index, or a model
  /// folder) for `config`.
  static llvm::Expected<ModelWeights>
  load(const ModelConfig &config, llvm::StringRef checkpointPath,
       const LoadOptions &options = LoadOptions());

  /// Loads a model folder: config.json plus model.safetensors (or shards).
  static llvm::Expected<ModelWeights>
  loadFolder(llvm::StringRef folder,
             const LoadOptions &options = LoadOptions());

  /// Validates tensors already in memory (name -> (shape, f32 values)), with
  /// the same rules as load(); `origin` names them in errors.
  struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  static llvm::Expected<ModelWeights>
  fromTensors(const ModelConfig &config, llvm::StringMap<Tensor> tensors,
              llvm::StringRef origin,
              const LoadOptions &options = LoadOptions());

  const ModelConfig &config() const { return modelConfig; }
  /// The values of a tensor the config implies (by its canonical name; a
  /// tied lm_head.weight resolves to the embedding).
  const std::vector<float> &get(llvm::StringRef name) const;
  /// Whether lm_head.weight came from the embedding.
  bool tiedLmHead() const { return tied; }
  /// Where the tensors came from (the checkpoint path, or fromTensors'
  /// origin), for errors about them.
  const std::string &origin() const { return source; }

private:
  ModelConfig modelConfig;
  std::string source;
  llvm::StringMap<std::vector<float>> values;
  bool tied = false;
};

} // namespace mm

#endif // MM_RUNTIME_MODELWEIGHTS_H
