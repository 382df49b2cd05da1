//===- ModelRunner.cpp - one interface over every backend -----------------===//

#include "runtime/ModelRunner.h"

#include "runtime/CompiledModel.h"
#include "runtime/ModelWeights.h"
#include "runtime/WeightInit.h"
#include "runtime/reference/ReferenceExecutor.h"

#include "llvm/BinaryFormat/Magic.h"
#include "llvm/Support/FileSystem.h"

using namespace mm;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

class ReferenceRunner : public ModelRunner {
public:
  explicit ReferenceRunner(ModelWeights weights)
      : weights(std::move(weights)), executor(this->weights) {}
  const ModelConfig &config() const override { return weights.config(); }
  llvm::StringRef backendName() const override { return "reference"; }
  llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts) override {
    states.assign(prompts.size(), executor.createState());
    return executor.prefillBatch(prompts, states);
  }
  llvm::Expected<std::vector<float>> decode(size_t index,
                                            int32_t token) override {
    return executor.decode(token, states[index]);
  }

private:
  ModelWeights weights;
  ReferenceExecutor executor;
  std::vector<SequenceState> states;
};

class CompiledRunner : public ModelRunner {
public:
  explicit CompiledRunner(std::unique_ptr<CompiledModel> model)
      : model(std::move(model)) {}
  const ModelConfig &config() const override { return model->config(); }
  llvm::StringRef backendName() const override { return "cpu"; }
  llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts) override {
    // Sequences of different lengths run one by one, each with its state.
    std::vector<std::vector<float>> logits;
    states.clear();
    for (const std::vector<int32_t> &prompt : prompts) {
      states.push_back(model->createState(1));
      auto result = model->prefill(prompt, prompt.size(), states.back());
      if (!result)
        return makeError("sequence " + std::to_string(logits.size()) + ": " +
                         llvm::toString(result.takeError()));
      logits.push_back(std::move(*result));
    }
    return logits;
  }
  llvm::Expected<std::vector<float>> decode(size_t index,
                                            int32_t token) override {
    return model->decode({token}, states[index]);
  }

private:
  std::unique_ptr<CompiledModel> model;
  std::vector<CompiledState> states;
};

} // namespace

bool mm::isArtifact(llvm::StringRef path) {
  llvm::file_magic magic;
  return !llvm::identify_magic(path, magic) &&
         magic == llvm::file_magic::elf_shared_object;
}

llvm::Expected<std::unique_ptr<ModelRunner>>
mm::openModelRunner(llvm::StringRef modelPath, llvm::StringRef weightsPath,
                    std::optional<BackendKind> backend, bool randomWeights) {
  bool compiled =
      backend ? *backend == BackendKind::Cpu : isArtifact(modelPath);
  std::unique_ptr<CompiledModel> artifact;
  ModelConfig config;
  if (compiled) {
    auto opened = CompiledModel::open(modelPath);
    if (!opened)
      return opened.takeError();
    artifact = std::move(*opened);
    config = artifact->config();
  } else {
    auto parsed = loadModelConfig(modelPath);
    if (!parsed)
      return parsed.takeError();
    config = *parsed;
  }

  std::optional<ModelWeights> weights;
  if (randomWeights) {
    auto made = ModelWeights::fromTensors(
        config, initializeWeights(config, WeightInitOptions()),
        "random weights");
    if (!made)
      return made.takeError();
    weights = std::move(*made);
  } else {
    std::string checkpoint = weightsPath.str();
    if (checkpoint.empty()) {
      if (compiled || !llvm::sys::fs::is_directory(modelPath))
        return makeError(modelPath + ": no weights: pass --weights FILE or "
                                     "a model folder holding them");
      checkpoint = modelPath.str();
    }
    auto loaded = ModelWeights::load(config, checkpoint);
    if (!loaded)
      return loaded.takeError();
    weights = std::move(*loaded);
  }
  if (!compiled)
    return std::make_unique<ReferenceRunner>(std::move(*weights));
  if (llvm::Error err = artifact->bindWeights(*weights))
    return std::move(err);
  return std::make_unique<CompiledRunner>(std::move(artifact));
}
