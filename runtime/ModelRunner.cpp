//===- ModelRunner.cpp - one interface over every backend -----------------===//

#include "runtime/ModelRunner.h"

#include "runtime/CompiledModel.h"
#include "runtime/HostMemory.h"
#include "runtime/ModelWeights.h"
#include "runtime/WeightInit.h"
#include "runtime/reference/ReferenceExecutor.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/BinaryFormat/Magic.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <optional>

using namespace mm;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// An error when `logits` (rows of `vocab`, from `firstPosition` on) are not
/// all finite, naming the sequence and the position.
llvm::Error checkFinite(llvm::ArrayRef<float> logits, int64_t vocab,
                        size_t sequence, int64_t firstPosition) {
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isfinite(logits[i]))
      return makeError("the logits of sequence " + std::to_string(sequence) +
                       " at position " +
                       std::to_string(firstPosition + int64_t(i) / vocab) +
                       " are not finite: the weights hold NaN or infinite "
                       "values, or the model overflowed");
  return llvm::Error::success();
}

/// An error when the last prefill ran no sequence `index` (of `sequences`).
llvm::Error checkSequenceIndex(size_t index, size_t sequences) {
  if (index < sequences)
    return llvm::Error::success();
  return makeError("no sequence " + std::to_string(index) +
                   " (the last prefill ran " + std::to_string(sequences) + ")");
}

class ReferenceRunner : public ModelRunner {
public:
  ReferenceRunner(ModelWeights weights, Precision precision,
                  int64_t chunkTokens)
      : weights(std::move(weights)), executor(this->weights, precision),
        chunkTokens(chunkTokens) {}
  const ModelConfig &config() const override { return weights.config(); }
  llvm::StringRef backendName() const override { return "reference"; }
  llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts,
          PromptLogits which) override {
    states.assign(prompts.size(), executor.createState());
    std::vector<std::vector<float>> result(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      auto logits = run(i, prompts[i], which);
      if (!logits)
        return logits.takeError();
      result[i] = std::move(*logits);
    }
    return result;
  }
  llvm::Expected<std::vector<float>> extend(size_t index,
                                            llvm::ArrayRef<int32_t> tokens,
                                            PromptLogits which) override {
    if (llvm::Error err = checkSequenceIndex(index, states.size()))
      return std::move(err);
    return run(index, tokens, which);
  }
  llvm::Expected<std::vector<float>> decode(size_t index,
                                            int32_t token) override {
    if (llvm::Error err = checkSequenceIndex(index, states.size()))
      return std::move(err);
    auto logits = executor.decode(token, states[index]);
    if (!logits)
      return logits.takeError();
    if (llvm::Error err = checkFinite(*logits, config().vocabSize, index,
                                      states[index].position - 1))
      return std::move(err);
    return logits;
  }

private:
  /// Runs `tokens` on states[index] in chunks; the logits `which` asks for.
  llvm::Expected<std::vector<float>>
  run(size_t index, llvm::ArrayRef<int32_t> tokens, PromptLogits which) {
    const int64_t vocab = config().vocabSize;
    const int64_t time = tokens.size();
    const int64_t firstPosition = states[index].position;
    const int64_t chunk = chunkTokens == 0 ? time : chunkTokens;
    std::vector<float> result;
    if (which == PromptLogits::All)
      result.reserve(time * vocab);
    for (int64_t start = 0; start < time; start += chunk) {
      auto logits = executor.prefill(
          tokens.slice(start, std::min(chunk, time - start)), states[index]);
      if (!logits)
        return makeError("sequence " + std::to_string(index) + ": " +
                         llvm::toString(logits.takeError()));
      if (llvm::Error err =
              checkFinite(*logits, vocab, index, firstPosition + start))
        return std::move(err);
      if (which == PromptLogits::All)
        result.insert(result.end(), logits->begin(), logits->end());
      else if (which == PromptLogits::Last && start + chunk >= time)
        result.assign(logits->end() - vocab, logits->end());
    }
    return result;
  }

  llvm::Expected<std::vector<std::vector<int32_t>>>
  poolPositions(size_t index) const override {
    if (llvm::Error err = checkSequenceIndex(index, states.size()))
      return std::move(err);
    std::vector<std::vector<int32_t>> result;
    if (!config().memory)
      return result;
    for (const LayerState &layer : states[index].layers) {
      std::vector<int32_t> &positions = result.emplace_back(
          layer.poolPositions.begin(),
          layer.poolPositions.begin() + layer.poolCount);
      llvm::sort(positions);
    }
    return result;
  }

  ModelWeights weights;
  ReferenceExecutor executor;
  int64_t chunkTokens;
  std::vector<SequenceState> states;
};

class CompiledRunner : public ModelRunner {
public:
  CompiledRunner(std::unique_ptr<gpu::GpuDevice> device,
                 std::unique_ptr<CompiledModel> model, int64_t chunkTokens,
                 DecodeOptions decodeOptions)
      : device(std::move(device)), model(std::move(model)),
        chunkTokens(chunkTokens), decodeOptions(decodeOptions) {}
  const ModelConfig &config() const override { return model->config(); }
  llvm::StringRef backendName() const override { return model->targetKind(); }
  llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts,
          PromptLogits which) override {
    // On a GPU, prompts of similar lengths share a call, right-padded to the
    // longest of them (each sequence stops at its own length): fewer
    // launches. On the host a call costs little beyond its tokens, and the
    // padding would cost more (mm-bench --mixed 240,256,272 on mamba-130m-2l:
    // 0.90x of one call per prompt): each prompt runs alone. Then each
    // sequence goes on with a state of its own.
    states.clear();
    const size_t count = prompts.size();
    for (size_t i = 0; i < count; ++i)
      if (prompts[i].empty())
        return makeError("sequence " + std::to_string(i) + ": an empty prompt");
    std::vector<std::vector<float>> logits(count);
    std::vector<std::optional<CompiledState>> own(count);
    for (const std::vector<size_t> &group :
         groupPrompts(prompts, /*shareCalls=*/model->device() != nullptr))
      if (llvm::Error err = prefillGroup(prompts, group, which, logits, own))
        return std::move(err);
    for (std::optional<CompiledState> &state : own)
      states.push_back(std::move(*state));
    return logits;
  }
  llvm::Expected<std::vector<float>> extend(size_t index,
                                            llvm::ArrayRef<int32_t> tokens,
                                            PromptLogits which) override {
    if (llvm::Error err = checkSequenceIndex(index, states.size()))
      return std::move(err);
    PrefillOptions options;
    options.logits = which;
    options.chunkTokens = chunkTokens;
    auto result = model->prefill(tokens, tokens.size(), states[index], options);
    if (!result)
      return makeError("sequence " + std::to_string(index) + ": " +
                       llvm::toString(result.takeError()));
    return result;
  }
  llvm::Expected<std::vector<float>> decode(size_t index,
                                            int32_t token) override {
    if (llvm::Error err = checkSequenceIndex(index, states.size()))
      return std::move(err);
    return model->decode({token}, states[index], decodeOptions);
  }
  gpu::GpuDevice *getDevice() const override { return device.get(); }
  llvm::Expected<std::vector<std::vector<int32_t>>>
  poolPositions(size_t index) const override {
    if (llvm::Error err = checkSequenceIndex(index, states.size()))
      return std::move(err);
    return model->poolPositions(states[index], 0);
  }

private:
  /// The prompts' indices in groups that share a prefill call (one each
  /// without `shareCalls`): by length, the next one joins a group while the
  /// group's padded tokens stay within 1.5 times its own plus 64 per
  /// sequence (a batch of very different lengths does not compute thousands
  /// of padding positions for a short prompt; prompts of similar lengths
  /// share the launches).
  static std::vector<std::vector<size_t>>
  groupPrompts(const std::vector<std::vector<int32_t>> &prompts,
               bool shareCalls) {
    std::vector<size_t> order(prompts.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    llvm::stable_sort(order, [&](size_t a, size_t b) {
      return prompts[a].size() < prompts[b].size();
    });
    std::vector<std::vector<size_t>> groups;
    int64_t tokens = 0;
    for (size_t i : order) {
      const int64_t length = prompts[i].size();
      const int64_t size = groups.empty() ? 0 : groups.back().size();
      // Sorted: the new prompt is the group's longest.
      if (groups.empty() || !shareCalls ||
          (size + 1) * length * 2 > 3 * (tokens + length) + 128 * (size + 1)) {
        groups.emplace_back();
        tokens = 0;
      }
      groups.back().push_back(i);
      tokens += length;
    }
    return groups;
  }

  /// One prefill call for the prompts `group` names: their logits and each
  /// one's own state.
  llvm::Error prefillGroup(const std::vector<std::vector<int32_t>> &prompts,
                           llvm::ArrayRef<size_t> group, PromptLogits which,
                           std::vector<std::vector<float>> &logits,
                           std::vector<std::optional<CompiledState>> &own) {
    const int64_t batch = group.size();
    int64_t time = 0;
    PrefillOptions options;
    options.logits = which;
    options.chunkTokens = chunkTokens;
    for (size_t i : group) {
      options.lengths.push_back(static_cast<int64_t>(prompts[i].size()));
      time = std::max(time, options.lengths.back());
    }
    std::vector<int32_t> tokens;
    try {
      tokens.assign(batch * time, 0);
    } catch (const std::bad_alloc &) {
      return makeError("out of memory for " + std::to_string(batch) +
                       " prompts padded to " + std::to_string(time) +
                       " tokens");
    }
    for (int64_t b = 0; b < batch; ++b)
      llvm::copy(prompts[group[b]], tokens.begin() + b * time);
    auto state = model->createState(batch);
    if (!state)
      return state.takeError();
    auto result = model->prefill(tokens, time, *state, options);
    // The call's errors name its sequences by their place in it.
    if (!result) {
      std::vector<std::string> names;
      for (size_t i : group)
        names.push_back(std::to_string(i));
      return makeError((batch == 1 ? "sequence " + names[0]
                                   : "sequences " + llvm::join(names, ", ") +
                                         " (one call, in this order)") +
                       ": " + llvm::toString(result.takeError()));
    }
    const int64_t vocab = model->config().vocabSize;
    for (int64_t b = 0; b < batch; ++b) {
      llvm::Expected<CompiledState> single =
          batch == 1 ? llvm::Expected<CompiledState>(std::move(*state))
                     : model->extractSequence(*state, b);
      if (!single)
        return single.takeError();
      own[group[b]] = std::move(*single);
      const float *start = result->data();
      if (which == PromptLogits::Last)
        logits[group[b]].assign(start + b * vocab, start + (b + 1) * vocab);
      else if (which == PromptLogits::All)
        logits[group[b]].assign(start + b * time * vocab,
                                start +
                                    (b * time + options.lengths[b]) * vocab);
    }
    return llvm::Error::success();
  }

  // The model goes before the device it runs on.
  std::unique_ptr<gpu::GpuDevice> device;
  std::unique_ptr<CompiledModel> model;
  int64_t chunkTokens;
  DecodeOptions decodeOptions;
  std::vector<CompiledState> states;
};

llvm::StringRef getBackendName(BackendKind kind) {
  return kind == BackendKind::Reference ? "reference" : "cpu";
}

} // namespace

bool mm::isArtifact(llvm::StringRef path) {
  llvm::file_magic magic;
  return llvm::sys::fs::is_regular_file(path) &&
         !llvm::identify_magic(path, magic) &&
         magic == llvm::file_magic::elf_shared_object;
}

llvm::Error mm::checkModelFileKind(llvm::StringRef path) {
  // Only regular files are looked into (reading a FIFO or /dev/zero here
  // would block or never end); the readers refuse the others.
  if (!llvm::sys::fs::is_regular_file(path))
    return llvm::Error::success();
  llvm::file_magic magic;
  if (llvm::identify_magic(path, magic))
    return llvm::Error::success();
  bool elf = magic == llvm::file_magic::elf ||
             magic == llvm::file_magic::elf_relocatable ||
             magic == llvm::file_magic::elf_executable ||
             magic == llvm::file_magic::elf_core;
  if (elf)
    return makeError(path + ": an ELF file, but not an artifact (mm-compile "
                            "writes artifacts as shared libraries)");
  // A safetensors file starts with the 8-byte length of its JSON header.
  auto head = llvm::MemoryBuffer::getFileSlice(path, 9, 0);
  if (head && (*head)->getBufferSize() == 9 && (*head)->getBuffer()[8] == '{' &&
      llvm::support::endian::read64le((*head)->getBufferStart()) > 1)
    return makeError(path + ": a safetensors file (weights), not a model: "
                            "pass a config.json, a model folder or an "
                            "artifact, and this file with --weights");
  if (magic != llvm::file_magic::elf_shared_object &&
      llvm::sys::path::extension(path) == ".mmx")
    return makeError(path + ": not an artifact (mm-compile writes .mmx files "
                            "as shared libraries; this one has no ELF "
                            "header) and not a config");
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<gpu::GpuDevice>>
mm::openDevice(llvm::StringRef spec) {
  if (spec == "cpu")
    return nullptr;
  llvm::StringRef vendor = spec.split(':').first;
  if (vendor != "cuda" && vendor != "hip" && vendor != "sim")
    return makeError("bad device '" + spec +
                     "': expected cpu, cuda:N, hip:N (N a device index, 0 "
                     "for the first device) or sim (the GPU simulator)");
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
  if (llvm::Error err = checkModelFileKind(modelPath))
    return std::move(err);
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
    if (options.precision && *options.precision != artifact->getPrecision())
      return makeError(modelPath + ": compiled for precision " +
                       stringifyPrecision(artifact->getPrecision()) +
                       ", not " + stringifyPrecision(*options.precision) +
                       " (mm-compile --precision fixes an artifact's)");
  } else {
    auto parsed = loadModelConfig(modelPath);
    if (!parsed)
      return parsed.takeError();
    config = *parsed;
  }

  std::optional<ModelWeights> weights;
  if (options.randomWeights) {
    if (llvm::Error err = checkFitsInMemory(
            4 * config.numWeightElements(),
            "random weights for " + modelPath + " (" +
                llvm::Twine(config.numWeightElements()) + " values)"))
      return std::move(err);
    auto made = ModelWeights::fromTensors(
        config, initializeWeights(config, WeightInitOptions()),
        "random weights", {options.allowNonFiniteWeights});
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
    auto loaded =
        ModelWeights::load(config, checkpoint, {options.allowNonFiniteWeights});
    if (!loaded)
      return loaded.takeError();
    weights = std::move(*loaded);
  }
  if (options.chunkTokens < 0 || options.chunkTokens > kMaxChunkTokens)
    return makeError("a prefill chunk holds 0 (no limit) to " +
                     std::to_string(kMaxChunkTokens) + " tokens, not " +
                     std::to_string(options.chunkTokens));
  if (!compiled)
    return std::make_unique<ReferenceRunner>(
        std::move(*weights), options.precision.value_or(Precision::F32),
        options.chunkTokens);
  if (llvm::Error err = artifact->bindWeights(*weights))
    return std::move(err);
  return std::make_unique<CompiledRunner>(
      std::move(*device), std::move(artifact), options.chunkTokens,
      DecodeOptions{options.decodeGraphs});
}
