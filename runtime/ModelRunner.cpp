//===- ModelRunner.cpp - one interface over every backend -----------------===//

#include "runtime/ModelRunner.h"

#include "runtime/CompiledModel.h"
#include "runtime/ModelWeights.h"
#include "runtime/WeightInit.h"
#include "runtime/reference/ReferenceExecutor.h"

#include "llvm/BinaryFormat/Magic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"

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
  CompiledRunner(std::unique_ptr<gpu::GpuDevice> device,
                 std::unique_ptr<CompiledModel> model)
      : device(std::move(device)), model(std::move(model)) {}
  const ModelConfig &config() const override { return model->config(); }
  llvm::StringRef backendName() const override { return model->targetKind(); }
  llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts) override {
    // Sequences of different lengths run one by one, each with its state.
    std::vector<std::vector<float>> logits;
    states.clear();
    for (const std::vector<int32_t> &prompt : prompts) {
      auto state = model->createState(1);
      if (!state)
        return state.takeError();
      states.push_back(std::move(*state));
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
  // The model goes before the device it runs on.
  std::unique_ptr<gpu::GpuDevice> device;
  std::unique_ptr<CompiledModel> model;
  std::vector<CompiledState> states;
};

llvm::StringRef getBackendName(BackendKind kind) {
  return kind == BackendKind::Reference ? "reference" : "cpu";
}

} // namespace

bool mm::isArtifact(llvm::StringRef path) {
  llvm::file_magic magic;
  return !llvm::identify_magic(path, magic) &&
         magic == llvm::file_magic::elf_shared_object;
}

llvm::Expected<std::unique_ptr<gpu::GpuDevice>>
mm::openDevice(llvm::StringRef spec) {
  if (spec == "cpu")
    return nullptr;
  llvm::StringRef vendor = spec.split(':').first;
  if (vendor != "cuda" && vendor != "hip")
    return makeError("bad device '" + spec +
                     "': expected cpu, cuda:N or hip:N (N a device index, 0 "
                     "for the first device)");
  return gpu::GpuDevice::open(spec);
}

void mm::printDevices(llvm::raw_ostream &os) {
  std::vector<std::string> notes;
  for (const gpu::DeviceDescription &device : gpu::listDevices(&notes))
    os << llvm::format("%-8s %s\n", device.spec.c_str(),
                       device.description.c_str());
  for (const std::string &note : notes)
    os << "note: " << note << "\n";
}

llvm::Expected<std::unique_ptr<ModelRunner>>
mm::openModelRunner(llvm::StringRef modelPath, const RunnerOptions &options) {
  auto device = openDevice(options.device);
  if (!device)
    return device.takeError();
  if (*device) {
    if (options.backend)
      return makeError("--backend=" + getBackendName(*options.backend) +
                       " runs on the host; on " + options.device +
                       " only compiled artifacts run (leave --backend out)");
    if (!isArtifact(modelPath))
      return makeError(modelPath + ": not a compiled artifact; " +
                       options.device +
                       " runs models compiled for it by mm-compile");
  }
  const std::optional<BackendKind> &backend = options.backend;
  bool compiled =
      backend ? *backend == BackendKind::Cpu : isArtifact(modelPath);
  std::unique_ptr<CompiledModel> artifact;
  ModelConfig config;
  if (compiled) {
    auto opened = CompiledModel::open(modelPath, device->get());
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
  if (options.randomWeights) {
    auto made = ModelWeights::fromTensors(
        config, initializeWeights(config, WeightInitOptions()),
        "random weights");
    if (!made)
      return made.takeError();
    weights = std::move(*made);
  } else {
    std::string checkpoint = options.weightsPath;
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
  return std::make_unique<CompiledRunner>(std::move(*device),
                                          std::move(artifact));
}
