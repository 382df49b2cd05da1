//===- ModelConfig.h - MemMamba model configuration -------------*- C++ -*-===//
//
// The validated model configuration of spec/MEMMAMBA.md sections 1 and 2, read
// from a Hugging Face or mamba_ssm config.json. It is MLIR-free so that the
// runtime, the importer and every tool read configs the same way.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_MODELCONFIG_H
#define MM_RUNTIME_MODELCONFIG_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace mm {

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
  /// and position; 4 bytes each). Constant in sequence length.
  int64_t stateBytesPerSequence() const;
  /// Checks that every token id is in the vocabulary. `tokens` holds
  /// sequences of `time` tokens each; errors give the position in its
  /// sequence: "token 70000 at position 3 is outside the vocabulary (...)".
  llvm::Error checkTokens(llvm::ArrayRef<int32_t> tokens, int64_t time) const;
};

/// Parses config.json text. `fileName` names the file in every error, which
/// also names the offending key (e.g. "config.json: 'hidden_size': missing").
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef jsonText,
                                             llvm::StringRef fileName);

/// Reads a config from `path`: a config.json file, or a model folder holding
/// one (a Hugging Face model directory).
llvm::Expected<ModelConfig> loadModelConfig(llvm::StringRef path);

/// The config in this project's canonical (Hugging Face) spelling; parsing the
/// result gives back the same config.
llvm::json::Value toJSON(const ModelConfig &config);

} // namespace mm

#endif // MM_RUNTIME_MODELCONFIG_H
