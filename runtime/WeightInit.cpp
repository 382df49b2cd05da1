//===- WeightInit.cpp - random weights with Mamba's initialisation --------===//

#include "runtime/WeightInit.h"

#include "common/WeightNames.h"
#include "runtime/SplitMix64.h"

#include "llvm/ADT/StringRef.h"

#include <cmath>

using namespace mm;
using llvm::StringRef;

namespace {

uint64_t streamSeed(uint64_t seed, StringRef name) {
  uint64_t hash = 0xcbf29ce484222325ull; // FNV-1a
  for (char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return SplitMix64(seed ^ hash).next();
}

double logit(double p) { return std::log(p / (1.0 - p)); }

/// A probability strictly inside (0, 1) near `threshold`, for biases that put
/// sigmoid scores around thresholds the config may set anywhere.
double insideUnit(double threshold) {
  return std::min(0.99, std::max(0.01, threshold));
}

} // namespace

llvm::StringMap<ModelWeights::Tensor>
mm::initializeWeights(const ModelConfig &config,
                      const WeightInitOptions &options) {
  llvm::StringMap<ModelWeights::Tensor> tensors;
  const double d = static_cast<double>(config.hiddenSize);
  for (const WeightSpec &spec : modelWeights(config)) {
    if (spec.name == weight::kLmHead && !options.untiedLmHead)
      continue;
    ModelWeights::Tensor &tensor = tensors[spec.name];
    tensor.shape = spec.shape;
    int64_t count = 1;
    for (int64_t dim : spec.shape)
      count *= dim;
    tensor.values.resize(count);
    SplitMix64 random(streamSeed(options.seed, spec.name));
    StringRef name(spec.name);
    auto fill = [&](auto draw) {
      for (float &value : tensor.values)
        value = static_cast<float>(draw());
    };
    // Kaiming-uniform, as PyTorch initialises Linear and Conv1d weights and
    // biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    auto kaiming = [&](int64_t fanIn) {
      double bound = 1.0 / std::sqrt(static_cast<double>(fanIn));
      fill([&] { return random.uniform(-bound, bound); });
    };

    if (name == weight::kEmbedding || name == weight::kLmHead) {
      fill([&] { return random.normal(0.02); });
    } else if (name.ends_with("norm.weight") || name == weight::kNormF) {
      fill([&] { return 1.0 + random.uniform(-0.1, 0.1); });
    } else if (name.ends_with(weight::kALog)) {
      int64_t n = config.stateSize;
      for (int64_t i = 0; i < count; ++i)
        tensor.values[i] = static_cast<float>(std::log(double(i % n + 1)));
    } else if (name.ends_with(weight::kD)) {
      fill([] { return 1.0; });
    } else if (name.ends_with(weight::kDtProjBias)) {
      fill([&] {
        double dt = std::exp(random.uniform(std::log(1e-3), std::log(1e-1)));
        dt = std::max(dt, 1e-4);
        return dt + std::log(-std::expm1(-dt)); // softplus^-1(dt)
      });
    } else if (name.ends_with(weight::kDtProj)) {
      double bound = 1.0 / std::sqrt(static_cast<double>(config.dtRank));
      fill([&] { return random.uniform(-bound, bound); });
    } else if (name.ends_with(weight::kConv) ||
               name.ends_with(weight::kConvBias)) {
      kaiming(config.convKernel); // fan_in of a depthwise conv: 1 * K
    } else if (name.ends_with(weight::kNoteScore)) {
      // u has unit RMS, so w . u ~ N(0, 1): scores straddle the threshold.
      fill([&] { return random.normal(1.0 / std::sqrt(d)); });
    } else if (name.ends_with(weight::kNoteScoreBias)) {
      fill([&] { return logit(insideUnit(config.memory->noteThreshold)); });
    } else if (name.ends_with(weight::kReadScore)) {
      // The mixer output of a freshly initialised layer has an RMS near
      // 0.05: scale up so that w . m_prev is of order 1.
      fill([&] { return random.normal(16.0 / std::sqrt(d)); });
    } else if (name.ends_with(weight::kReadScoreBias)) {
      fill([&] { return logit(insideUnit(config.memory->readThreshold)); });
    } else if (name.ends_with(weight::kTokenGate) ||
               name.ends_with(weight::kLayerGate)) {
      fill([&] { return random.uniform(-1.0, 1.0); });
    } else {
      // Linear weights [out, in] (fan_in = in) and their biases, which
      // modelWeights() lists right after their weight.
      int64_t fanIn = spec.shape.back();
      StringRef base = name;
      if (spec.shape.size() == 1 && base.consume_back(".bias"))
        if (auto it = tensors.find((base + ".weight").str());
            it != tensors.end())
          fanIn = it->second.shape.back();
      kaiming(fanIn);
    }
  }
  return tensors;
}
