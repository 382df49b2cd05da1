//===- WeightNames.cpp - Checkpoint names of MemMamba weights -------------===//

#include "common/WeightNames.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mm;

std::string mm::layerWeightName(int64_t layer, const char *suffix) {
  return "backbone.layers." + std::to_string(layer) + "." + suffix;
}

std::vector<WeightSpec> mm::layerWeights(const ModelConfig &config,
                                         int64_t layer) {
  const int64_t d = config.hiddenSize, e = config.intermediateSize,
                n = config.stateSize, k = config.convKernel, r = config.dtRank;
  std::vector<WeightSpec> specs;
  auto add = [&](const char *suffix, std::vector<int64_t> shape) {
    specs.push_back({layerWeightName(layer, suffix), std::move(shape), ""});
  };
  using namespace weight;
  add(kNorm, {d});
  add(kInProj, {2 * e, d});
  if (config.useBias)
    add(kInProjBias, {2 * e});
  add(kConv, {e, 1, k});
  if (config.useConvBias)
    add(kConvBias, {e});
  add(kXProj, {r + 2 * n, e});
  add(kDtProj, {e, r});
  add(kDtProjBias, {e});
  add(kALog, {e, n});
  add(kD, {e});
  add(kOutProj, {d, e});
  if (config.useBias)
    add(kOutProjBias, {d});
  if (!config.memory)
    return specs;
  const int64_t s = config.memory->summaryDim;
  add(kNoteScore, {1, d});
  add(kNoteScoreBias, {1});
  add(kNoteSummary, {s, d});
  add(kReadScore, {1, d});
  add(kReadScoreBias, {1});
  add(kTokenAttnQ, {s, d});
  add(kTokenAttnK, {s, s});
  add(kTokenAttnV, {s, s});
  add(kTokenAttnO, {d, s});
  add(kTokenGate, {d});
  if (config.hasCrossLayerAttention(layer)) {
    add(kLayerAttnQ, {s, d});
    add(kLayerAttnK, {s, s});
    add(kLayerAttnV, {s, s});
    add(kLayerAttnO, {d, s});
    add(kLayerGate, {d});
  }
  return specs;
}

std::vector<WeightSpec> mm::modelWeights(const ModelConfig &config) {
  std::vector<WeightSpec> specs;
  specs.push_back(
      {weight::kEmbedding, {config.vocabSize, config.hiddenSize}, ""});
  for (int64_t layer = 0; layer < config.numLayers; ++layer) {
    std::vector<WeightSpec> layerSpecs = layerWeights(config, layer);
    specs.insert(specs.end(), layerSpecs.begin(), layerSpecs.end());
  }
  specs.push_back({weight::kNormF, {config.hiddenSize}, ""});
  specs.push_back({weight::kLmHead,
                   {config.vocabSize, config.hiddenSize},
                   weight::kEmbedding});
  return specs;
}

bool mm::isMatrixProductWeight(llvm::StringRef name) {
  using namespace weight;
  if (name == kEmbedding || name == kLmHead)
    return true;
  if (!name.consume_front("backbone.layers."))
    return false;
  auto [layer, suffix] = name.split('.');
  return !layer.empty() && llvm::all_of(layer, llvm::isDigit) &&
         llvm::is_contained({kInProj, kXProj, kDtProj, kOutProj}, suffix);
}
