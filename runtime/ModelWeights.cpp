//===- ModelWeights.cpp - a config and its validated weights --------------===//

#include "runtime/ModelWeights.h"

#include "common/WeightNames.h"
#include "runtime/Safetensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cassert>
#include <cmath>

using namespace mm;
using llvm::StringRef;

namespace {

/// What a checkpoint offers: each tensor's shape and, for the error messages,
/// whether its dtype can be read as f32.
struct Offered {
  std::vector<int64_t> shape;
  std::string badDType; ///< empty when readable
};

/// Checks the offered tensors against the config. Returns the tensors to
/// read as (canonical name -> offered name), or one error listing every
/// problem.
llvm::Expected<llvm::StringMap<std::string>>
matchTensors(const ModelConfig &config, const llvm::StringMap<Offered> &offered,
             StringRef origin, bool &tied) {
  std::vector<std::string> problems;
  llvm::StringMap<std::string> toRead;
  llvm::StringMap<bool> used;

  // mamba_ssm names the embedding backbone.embedding.weight.
  auto lookup = [&](StringRef name) -> std::pair<const Offered *, std::string> {
    if (auto it = offered.find(name); it != offered.end())
      return {&it->second, name.str()};
    if (name == weight::kEmbedding)
      if (auto it = offered.find(weight::kEmbeddingMambaSsm);
          it != offered.end())
        return {&it->second, weight::kEmbeddingMambaSsm};
    return {nullptr, ""};
  };
  if (offered.count(weight::kEmbedding) &&
      offered.count(weight::kEmbeddingMambaSsm))
    problems.push_back(std::string("both '") + weight::kEmbedding + "' and '" +
                       weight::kEmbeddingMambaSsm + "' are present");

  tied = false;
  for (const WeightSpec &spec : modelWeights(config)) {
    auto [tensor, offeredName] = lookup(spec.name);
    if (!tensor && !spec.fallback.empty()) {
      // An absent lm_head.weight is tied to the embedding, which is checked
      // under its own name.
      tied = true;
      continue;
    }
    if (!tensor) {
      problems.push_back("missing tensor '" + spec.name + "' " +
                         formatShape(spec.shape));
      continue;
    }
    used[offeredName] = true;
    if (tensor->shape != spec.shape) {
      problems.push_back("tensor '" + offeredName + "' has shape " +
                         formatShape(tensor->shape) + ", expected " +
                         formatShape(spec.shape));
      continue;
    }
    if (!tensor->badDType.empty()) {
      problems.push_back("tensor '" + offeredName + "' has dtype " +
                         tensor->badDType + " (expected F32, F16 or BF16)");
      continue;
    }
    toRead[spec.name] = offeredName;
  }
  std::vector<std::string> unexpected;
  for (const auto &entry : offered)
    if (!used.count(entry.first()))
      unexpected.push_back(entry.first().str());
  llvm::sort(unexpected);
  for (const std::string &name : unexpected)
    problems.push_back("unexpected tensor '" + name + "'");

  if (problems.empty())
    return toRead;
  std::string message = origin.str() + ": " + std::to_string(problems.size()) +
                        (problems.size() == 1 ? " problem" : " problems") +
                        " with the weights for this config:";
  for (const std::string &problem : problems)
    message += "\n  " + problem;
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// An error naming the first tensor (in `names` order) with a NaN or
/// infinite value: such weights make every logit NaN.
llvm::Error checkFinite(const llvm::StringMap<std::vector<float>> &values,
                        const llvm::StringMap<std::string> &names,
                        StringRef origin) {
  std::vector<std::string> sorted;
  for (const auto &entry : names)
    sorted.push_back(entry.first().str());
  llvm::sort(sorted);
  for (const std::string &name : sorted) {
    const std::vector<float> &tensor = values.find(name)->second;
    auto bad = llvm::find_if(tensor, [](float v) { return !std::isfinite(v); });
    if (bad != tensor.end())
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          origin + ": tensor '" + names.find(name)->second + "' holds " +
              (std::isnan(*bad) ? "NaN" : "an infinite value") +
              " at element " + std::to_string(bad - tensor.begin()) +
              " (a damaged or diverged checkpoint; the tools' "
              "--allow-nonfinite-weights loads it anyway)");
  }
  return llvm::Error::success();
}

} // namespace

const std::vector<float> &ModelWeights::get(StringRef name) const {
  if (tied && name == weight::kLmHead)
    name = weight::kEmbedding;
  auto it = values.find(name);
  assert(it != values.end() && "tensor not implied by the config");
  return it->second;
}

llvm::Expected<ModelWeights> ModelWeights::load(const ModelConfig &config,
                                                StringRef checkpointPath,
                                                const LoadOptions &options) {
  auto checkpoint = Checkpoint::open(checkpointPath);
  if (!checkpoint)
    return checkpoint.takeError();

  llvm::StringMap<Offered> offered;
  for (const std::string &name : (*checkpoint)->names()) {
    const TensorInfo *info = (*checkpoint)->find(name).second;
    Offered &entry = offered[name];
    entry.shape = info->shape;
    if (info->dtype != DType::F32 && info->dtype != DType::F16 &&
        info->dtype != DType::BF16)
      entry.badDType = stringifyDType(info->dtype).str();
  }

  ModelWeights weights;
  weights.modelConfig = config;
  weights.source = checkpointPath.str();
  auto toRead = matchTensors(config, offered, checkpointPath, weights.tied);
  if (!toRead)
    return toRead.takeError();
  for (const auto &entry : *toRead) {
    auto [file, info] = (*checkpoint)->find(entry.second);
    auto values = file->toFloat32(*info);
    if (!values)
      return values.takeError();
    weights.values[entry.first()] = std::move(*values);
  }
  if (!options.allowNonFinite)
    if (llvm::Error err = checkFinite(weights.values, *toRead, checkpointPath))
      return std::move(err);
  return weights;
}

llvm::Expected<ModelWeights>
ModelWeights::loadFolder(StringRef folder, const LoadOptions &options) {
  auto config = loadModelConfig(folder);
  if (!config)
    return config.takeError();
  return load(*config, folder, options);
}

llvm::Expected<ModelWeights>
ModelWeights::fromTensors(const ModelConfig &config,
                          llvm::StringMap<Tensor> tensors, StringRef origin,
                          const LoadOptions &options) {
  llvm::StringMap<Offered> offered;
  for (const auto &entry : tensors) {
    const Tensor &tensor = entry.second;
    int64_t elements = 1;
    for (int64_t dim : tensor.shape)
      elements *= dim;
    if (elements != static_cast<int64_t>(tensor.values.size()))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          origin + ": tensor '" + entry.first() + "' has shape " +
              formatShape(tensor.shape) + " but " +
              std::to_string(tensor.values.size()) + " values");
    offered[entry.first()] = {tensor.shape, ""};
  }
  ModelWeights weights;
  weights.modelConfig = config;
  weights.source = origin.str();
  auto toRead = matchTensors(config, offered, origin, weights.tied);
  if (!toRead)
    return toRead.takeError();
  for (const auto &entry : *toRead)
    weights.values[entry.first()] = std::move(tensors[entry.second].values);
  if (!options.allowNonFinite)
    if (llvm::Error err = checkFinite(weights.values, *toRead, origin))
      return std::move(err);
  return weights;
}
