//===- ModelRunner.h - one interface over every backend ---------*- C++ -*-===//
//
// What the tools need from a backend: run prompts from fresh states, then
// decode token by token. The reference executor and compiled artifacts both
// provide it, so mm-run and mm-bench treat them alike.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_MODELRUNNER_H
#define MM_RUNTIME_MODELRUNNER_H

#include "runtime/ModelConfig.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mm {

enum class BackendKind { Reference, Cpu };

class ModelRunner {
public:
  virtual ~ModelRunner() = default;
  virtual const ModelConfig &config() const = 0;
  /// "reference" or "cpu".
  virtual llvm::StringRef backendName() const = 0;
  /// Runs every prompt from a fresh state; logits [T, V] per prompt.
  virtual llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts) = 0;
  /// One token of sequence `index` (of the last prefill); logits [V].
  virtual llvm::Expected<std::vector<float>> decode(size_t index,
                                                    int32_t token) = 0;
};

/// Whether `path` is a compiled artifact (an ELF shared library).
bool isArtifact(llvm::StringRef path);

/// Opens `modelPath` (a config, a model folder, or an artifact) on a
/// backend (the CPU for artifacts, unless `backend` says otherwise), with the
/// weights at `weightsPath` (default: the model folder). With
/// `randomWeights`, weights come from mm-init-weights' initialisation
/// instead (for benchmarks of shapes without a checkpoint).
llvm::Expected<std::unique_ptr<ModelRunner>>
openModelRunner(llvm::StringRef modelPath, llvm::StringRef weightsPath,
                std::optional<BackendKind> backend, bool randomWeights);

} // namespace mm

#endif // MM_RUNTIME_MODELRUNNER_H
