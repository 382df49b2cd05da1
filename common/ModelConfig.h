//===- ModelConfig.h - MemMamba model configuration -------------*- C++ -*-===//
//
// The validated model configuration of spec/MEMMAMBA.md sections 1 and 2, read
// from a Hugging Face or mamba_ssm config.json. It is MLIR-free so that the
// runtime, the importer and every tool read configs the same way.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_MODELCONFIG_H
#define MM_COMMON_MODELCONFIG_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace mm {

/// Upper bounds of config values (docs/config.md, "Limits"), agreed with the
/// compiler: sizes beyond them would exhaust memory or compile time, or
/// overflow the arithmetic derived from them, before any error could name the
/// key. parseModelConfig rejects a config beyond any of them.
inline constexpr int64_t kMaxHiddenSize = 65536;           ///< D
inline constexpr int64_t kMaxIntermediateSize = 262144;    ///< E
inline constexpr int64_t kMaxStateSize = 1024;             ///< N
inline constexpr int64_t kMaxConvKernel = 64;              ///< K
inline constexpr int64_t kMaxDtRank = 65536;               ///< R
inline constexpr int64_t kMaxLayers = 1024;                ///< L
inline constexpr int64_t kMaxVocabSize = int64_t(1) << 24; ///< V, padded
inline constexpr int64_t kMaxPadVocabSizeMultiple = 65536; ///< padding unit
inline constexpr int64_t kMaxPoolSize = 4096;              ///< memory.pool_size
inline constexpr int64_t kMaxSummaryDim = 4096;       ///< memory.summary_dim
inline constexpr int64_t kMaxCrossLayerPeriod = 1024; ///< memory p
inline constexpr int64_t kMaxCrossLayerWindow = 1024; ///< memory w
/// All weights of a model together, in elements (2^36: 256 GiB as f32).
inline constexpr int64_t kMaxWeightElements = int64_t(1) << 36;
/// The largest config.json read (real ones are a few KiB).
inline constexpr uint64_t kMaxConfigBytes = 16u << 20;
/// The most JSON values a config may hold, which bounds the memory parsing
/// takes (about 100 bytes per value) independently of its byte size.
inline constexpr uint64_t kMaxConfigJsonValues = 1u << 20;

/// What a full pool does with a new note (spec section 2).
enum class Eviction { Priority, Fifo };

llvm::StringRef stringifyEviction(Eviction eviction);

/// The `memory` section of a MemMamba config.
struct MemoryConfig {
  int64_t poolSize = 50;
  int64_t summaryDim = 64;
  double noteThreshold = 0.5;
  double readThreshold = 0.3;
  /// p; 0 disables cross-layer attention.
  int64_t crossLayerPeriod = 4;
  /// w; 0 disables cross-layer attention.
  int64_t crossLayerWindow = 4;
  Eviction eviction = Eviction::Priority;
  int64_t heads = 1;
};

/// A Mamba-1 backbone, optionally with the MemMamba memory path.
struct ModelConfig {
  int64_t hiddenSize = 0;       ///< D
  int64_t numLayers = 0;        ///< L
  int64_t stateSize = 0;        ///< N
  int64_t convKernel = 0;       ///< K
  int64_t intermediateSize = 0; ///< E
  int64_t dtRank = 0;           ///< R
  int64_t vocabSize = 0;        ///< V, padded to pad_vocab_size_multiple
  double layerNormEpsilon = 0;
  bool useBias = false;
  bool useConvBias = true;
  std::optional<MemoryConfig> memory;

  /// Whether layer `layer` runs cross-layer attention: l > 0 and l % p == 0.
  bool hasCrossLayerAttention(int64_t layer) const;
  /// The half-open range [first, last) of earlier layers whose pools layer
  /// `layer` reads with cross-layer attention (empty when it has none).
  std::pair<int64_t, int64_t> crossLayerSources(int64_t layer) const;
  /// Bytes of recurrent state one sequence needs (spec section 2: conv
  /// window, SSM state and, with memory, previous mixer output, pool, count
  /// and position; 4 bytes each). Constant in sequence length. -1 when the
  /// sizes overflow int64_t, which no config that passes checkSizes does.
  int64_t stateBytesPerSequence() const;
  /// The elements of every weight modelWeights lists (lm_head counted even
  /// when tied); -1 on overflow, which no config that passes checkSizes has.
  int64_t numWeightElements() const;
  /// Checks every size against the limits above (kMax*) and that the derived
  /// totals (weights, state bytes) fit. parseModelConfig checks the same with
  /// the keys as the file spells them; this is for configs made in code or
  /// read from elsewhere. Errors start with `source`: "SOURCE: 'vocab_size'
  /// is 1099511627776, the limit is 16777216".
  llvm::Error checkSizes(llvm::StringRef source) const;
  /// Checks that every token id is in the vocabulary. `tokens` holds
  /// sequences of `time` tokens each; errors give the position in its
  /// sequence: "token 70000 at position 3 is outside the vocabulary (...)".
  llvm::Error checkTokens(llvm::ArrayRef<int32_t> tokens, int64_t time) const;
};

/// Parses config.json text. `fileName` names the file in every error, which
/// also names the offending key (e.g. "config.json: 'hidden_size': missing")
/// and, for a value out of bounds, the limit. Text nested deeper than
/// kMaxJsonDepth or holding more than kMaxConfigJsonValues values is refused
/// before it is parsed.
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef jsonText,
                                             llvm::StringRef fileName);

/// Reads a config from `path`: a config.json file, or a model folder holding
/// one (a Hugging Face model directory). At most kMaxConfigBytes are read, so
/// a device or pipe (/dev/zero) is an error, not an endless read.
llvm::Expected<ModelConfig> loadModelConfig(llvm::StringRef path);

/// The config in this project's canonical (Hugging Face) spelling; parsing the
/// result gives back the same config.
llvm::json::Value toJSON(const ModelConfig &config);

} // namespace mm

#endif // MM_COMMON_MODELCONFIG_H
