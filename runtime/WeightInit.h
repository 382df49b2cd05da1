//===- WeightInit.h - random weights with Mamba's initialisation -*- C++
//-*-===//
//
// Deterministic random weights for any config, initialised the way Mamba
// initialises a new model, so that every test and example has realistic
// weights without downloading a checkpoint.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_WEIGHTINIT_H
#define MM_RUNTIME_WEIGHTINIT_H

#include "common/ModelConfig.h"
#include "runtime/ModelWeights.h"

#include "llvm/ADT/StringMap.h"

#include <cstdint>

namespace mm {

struct WeightInitOptions {
  uint64_t seed = 0;
  /// Write a separate lm_head.weight instead of tying it to the embedding.
  bool untiedLmHead = false;
};

/// Every tensor the config implies (lm_head.weight only when untied):
/// - A_log = log(1..N) per channel, D = 1;
/// - dt_proj.bias = softplus^-1(dt), dt ~ LogUniform[1e-3, 1e-1] (floor 1e-4),
///   dt_proj.weight ~ U(+-R^-1/2);
/// - linear and conv weights and biases Kaiming-uniform, U(+-1/sqrt(fan_in));
/// - embeddings (and an untied lm_head) ~ N(0, 0.02);
/// - RMSNorm weights 1 + U(+-0.1), so that tests see them applied;
/// - memory: note/read score biases = logit(threshold) and score weights
///   scaled so that the scores of typical activations fall on both sides of
///   their thresholds; attention weights Kaiming-uniform; gates U(+-1).
/// Each tensor draws from its own stream (seed, name), so adding a tensor
/// never changes the others.
llvm::StringMap<ModelWeights::Tensor>
initializeWeights(const ModelConfig &config, const WeightInitOptions &options);

} // namespace mm

#endif // MM_RUNTIME_WEIGHTINIT_H
