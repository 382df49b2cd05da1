//===- WeightNames.h - Checkpoint names of MemMamba weights -----*- C++ -*-===//
//
// The checkpoint names and shapes that a config implies (spec sections 1 and
// 2). The importer, the decomposition pass and the runtime's weight loader all
// derive names from here, so a name is spelled in exactly one place.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_WEIGHTNAMES_H
#define MM_COMMON_WEIGHTNAMES_H

#include "common/ModelConfig.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

/// One tensor a model needs. `fallback` names the tensor used when this one is
/// absent from the checkpoint (lm_head tied to the embedding).
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
  std::string fallback;
};

namespace weight {
// Model-level tensors.
inline constexpr const char *kEmbedding = "backbone.embeddings.weight";
inline constexpr const char *kEmbeddingMambaSsm = "backbone.embedding.weight";
inline constexpr const char *kNormF = "backbone.norm_f.weight";
inline constexpr const char *kLmHead = "lm_head.weight";

// Per-layer suffixes, below "backbone.layers.{l}.".
inline constexpr const char *kNorm = "norm.weight";
inline constexpr const char *kInProj = "mixer.in_proj.weight";
inline constexpr const char *kInProjBias = "mixer.in_proj.bias";
inline constexpr const char *kConv = "mixer.conv1d.weight";
inline constexpr const char *kConvBias = "mixer.conv1d.bias";
inline constexpr const char *kXProj = "mixer.x_proj.weight";
inline constexpr const char *kDtProj = "mixer.dt_proj.weight";
inline constexpr const char *kDtProjBias = "mixer.dt_proj.bias";
inline constexpr const char *kALog = "mixer.A_log";
inline constexpr const char *kD = "mixer.D";
inline constexpr const char *kOutProj = "mixer.out_proj.weight";
inline constexpr const char *kOutProjBias = "mixer.out_proj.bias";
inline constexpr const char *kNoteScore = "memory.note_score.weight";
inline constexpr const char *kNoteScoreBias = "memory.note_score.bias";
inline constexpr const char *kNoteSummary = "memory.note_summary.weight";
inline constexpr const char *kReadScore = "memory.read_score.weight";
inline constexpr const char *kReadScoreBias = "memory.read_score.bias";
inline constexpr const char *kTokenAttnQ = "memory.token_attn.q.weight";
inline constexpr const char *kTokenAttnK = "memory.token_attn.k.weight";
inline constexpr const char *kTokenAttnV = "memory.token_attn.v.weight";
inline constexpr const char *kTokenAttnO = "memory.token_attn.o.weight";
inline constexpr const char *kTokenGate = "memory.token_gate";
inline constexpr const char *kLayerAttnQ = "memory.layer_attn.q.weight";
inline constexpr const char *kLayerAttnK = "memory.layer_attn.k.weight";
inline constexpr const char *kLayerAttnV = "memory.layer_attn.v.weight";
inline constexpr const char *kLayerAttnO = "memory.layer_attn.o.weight";
inline constexpr const char *kLayerGate = "memory.layer_gate";
} // namespace weight

/// "backbone.layers.{layer}.{suffix}".
std::string layerWeightName(int64_t layer, const char *suffix);

/// The tensors of layer `layer`, in checkpoint order.
std::vector<WeightSpec> layerWeights(const ModelConfig &config, int64_t layer);

/// Every tensor of the model: embedding, the layers, norm_f, lm_head.
std::vector<WeightSpec> modelWeights(const ModelConfig &config);

/// Whether the canonical tensor `name` is a weight of the backbone's matrix
/// products (in_proj, x_proj, dt_proj, out_proj, lm_head) or the embedding
/// they share: the tensors a reduced precision stores in bf16 or f16
/// (common/Precision.h). Biases and the memory block's weights are not.
bool isMatrixProductWeight(llvm::StringRef name);

} // namespace mm

#endif // MM_COMMON_WEIGHTNAMES_H
