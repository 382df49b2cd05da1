//===- RuntimeTestUtil.h - shared helpers of the runtime tests --*- C++ -*-===//

#ifndef MM_TEST_UNIT_RUNTIMETESTUTIL_H
#define MM_TEST_UNIT_RUNTIMETESTUTIL_H

#include "common/ModelConfig.h"
#include "runtime/ModelWeights.h"
#include "runtime/WeightInit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace mm::testing {

/// examples/memmamba-tiny.json, with the eviction policy as a parameter.
inline ModelConfig memmambaTiny(Eviction eviction = Eviction::Priority) {
  ModelConfig c;
  c.hiddenSize = 64;
  c.numLayers = 2;
  c.stateSize = 16;
  c.convKernel = 4;
  c.intermediateSize = 128;
  c.dtRank = 4;
  c.vocabSize = 256;
  c.layerNormEpsilon = 1e-5;
  c.useConvBias = true;
  MemoryConfig &m = c.memory.emplace();
  m.poolSize = 8;
  m.summaryDim = 16;
  m.crossLayerPeriod = 1;
  m.crossLayerWindow = 1;
  m.heads = 2;
  m.eviction = eviction;
  return c;
}

/// The widths of Hugging Face mamba-130m (D 768, E 1536, N 16, R 48, V 50280),
/// with fewer layers to keep the tests fast.
inline ModelConfig mamba130mShape(int64_t layers = 2) {
  ModelConfig c;
  c.hiddenSize = 768;
  c.numLayers = layers;
  c.stateSize = 16;
  c.convKernel = 4;
  c.intermediateSize = 1536;
  c.dtRank = 48;
  c.vocabSize = 50280;
  c.layerNormEpsilon = 1e-5;
  c.useConvBias = true;
  return c;
}

inline ModelWeights randomWeights(const ModelConfig &config, uint64_t seed,
                                  bool untied = false) {
  WeightInitOptions options;
  options.seed = seed;
  options.untiedLmHead = untied;
  auto weights = ModelWeights::fromTensors(
      config, initializeWeights(config, options), "random weights");
  if (!weights) {
    ADD_FAILURE() << llvm::toString(weights.takeError());
    std::abort();
  }
  return std::move(*weights);
}

/// Fresh random token ids in [0, vocab).
inline std::vector<int32_t> randomTokens(size_t count, int64_t vocab,
                                         uint64_t seed) {
  std::vector<int32_t> tokens(count);
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  for (int32_t &token : tokens) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    token = static_cast<int32_t>(state % static_cast<uint64_t>(vocab));
  }
  return tokens;
}

/// The message of an error, or "" for success (consumes it).
inline std::string message(llvm::Error error) {
  return error ? llvm::toString(std::move(error)) : std::string();
}

template <typename T> std::string message(llvm::Expected<T> value) {
  return value ? std::string() : llvm::toString(value.takeError());
}

/// ||a - b|| / ||b||.
inline double relativeError(const float *a, const float *b, size_t n) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < n; ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return std::sqrt(diff / norm);
}

} // namespace mm::testing

#endif // MM_TEST_UNIT_RUNTIMETESTUTIL_H
