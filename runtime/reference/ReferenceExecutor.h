//===- ReferenceExecutor.h - the executable definition of the model -*- C++
//-*-===//
//
// A plain, readable implementation of spec/MEMMAMBA.md, token by token, in the
// spec's order of operations: the oracle every backend is compared with.
// Storage is f32 (weights, activations, recurrent state); dot products and
// reductions accumulate in f64.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_REFERENCE_REFERENCEEXECUTOR_H
#define MM_RUNTIME_REFERENCE_REFERENCEEXECUTOR_H

#include "common/Precision.h"
#include "runtime/ModelWeights.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace mm {

/// The per-sequence state of spec section 2, field for field as in the
/// compiled model's mm.state_layout.
struct LayerState {
  std::vector<float> convWindow;      ///< [E, K-1], oldest input first
  std::vector<float> ssmState;        ///< [E, N]
  std::vector<float> previousMixer;   ///< [D] (memory only)
  std::vector<float> poolSlots;       ///< [M, S]; slots [0, count) are valid
  std::vector<float> poolPriorities;  ///< [M]
  std::vector<int32_t> poolPositions; ///< [M], -1 when empty
  int32_t poolCount = 0;

  bool operator==(const LayerState &other) const;
};

struct SequenceState {
  std::vector<LayerState> layers;
  /// Tokens processed so far: the position of the next token.
  int32_t position = 0;

  bool operator==(const SequenceState &other) const;
};

/// What a run can record besides the logits (spec section 4 metrics).
struct ExecutionTrace {
  /// [layer][t * D + d]: the residual stream after layer l at each position.
  std::vector<std::vector<float>> residual;
  /// [layer][t]: the note score and read trigger of each position (memory).
  std::vector<std::vector<float>> noteScores, readTriggers;
  /// [layer][t * E + e]: the step size Δ of each position and channel, as
  /// the scan used it, rounded to f32 (the analytic S6 ETMF of spec
  /// section 4).
  std::vector<std::vector<float>> delta;
};

class ReferenceExecutor {
public:
  /// Keeps a reference to `weights`, which must outlive the executor. With
  /// a reduced `precision` (bf16 or f16) it computes what an artifact of
  /// that precision computes (docs/precision.md): the matrix products'
  /// weights and the embedding rounded to it, and each matrix product's
  /// input too (in_proj, x_proj, dt_proj, out_proj, lm_head); products
  /// still accumulate in f64, everything else is unchanged.
  explicit ReferenceExecutor(const ModelWeights &weights,
                             Precision precision = Precision::F32);

  const ModelConfig &config() const { return weights.config(); }

  /// The state of a new sequence (all zero, empty pools).
  SequenceState createState() const;

  /// Runs `tokens` from `state` (updated in place) and returns the logits of
  /// every position, [T, V] row-major. Tokens outside the vocabulary are an
  /// error, and then the state is unchanged.
  llvm::Expected<std::vector<float>>
  prefill(llvm::ArrayRef<int32_t> tokens, SequenceState &state,
          ExecutionTrace *trace = nullptr) const;

  /// One decode step: the logits [V] of `token`.
  llvm::Expected<std::vector<float>> decode(int32_t token,
                                            SequenceState &state) const;

  /// A batch of sequences of any lengths, each from its own state.
  llvm::Expected<std::vector<std::vector<float>>>
  prefillBatch(llvm::ArrayRef<std::vector<int32_t>> sequences,
               llvm::MutableArrayRef<SequenceState> states) const;

  /// The state is a value: a snapshot is a copy and restoring assigns it.
  SequenceState snapshot(const SequenceState &state) const { return state; }
  void restore(SequenceState &state, const SequenceState &saved) const {
    state = saved;
  }

private:
  struct AttentionWeights {
    const float *query = nullptr, *key = nullptr, *value = nullptr,
                *output = nullptr, *gate = nullptr;
  };
  struct LayerWeights {
    const float *norm, *inProj, *inProjBias, *conv, *convBias, *xProj, *dtProj,
        *dtProjBias, *d, *outProj, *outProjBias;
    std::vector<float> a; ///< A = -exp(A_log), [E, N]
    // Memory.
    const float *noteScore = nullptr, *noteScoreBias = nullptr,
                *noteSummary = nullptr, *readScore = nullptr,
                *readScoreBias = nullptr;
    AttentionWeights token, layer;
  };

  /// Runs one token through every layer; returns x after the last layer.
  void step(int32_t token, SequenceState &state, std::vector<float> &x,
            ExecutionTrace *trace) const;
  /// Attention of `u` over `summaries` (rows of S) with `weights`, added to
  /// `out` [D].
  void attend(const std::vector<float> &u,
              const std::vector<const float *> &summaries,
              const AttentionWeights &weights, std::vector<float> &out) const;
  void logitsOf(const std::vector<float> &x, float *logits) const;
  /// The input a matrix product multiplies: `x` (n values), or in a reduced
  /// precision its rounded copy in `scratch`.
  const float *productInput(const float *x, int64_t n,
                            std::vector<float> &scratch) const;

  const ModelWeights &weights;
  Precision precision;
  /// The rounded copies of the matrix products' weights in a reduced
  /// precision (shared by copies of the executor).
  std::vector<std::shared_ptr<const std::vector<float>>> roundedWeights;
  std::vector<LayerWeights> layers;
  const float *embedding, *normF, *lmHead;
};

} // namespace mm

#endif // MM_RUNTIME_REFERENCE_REFERENCEEXECUTOR_H
