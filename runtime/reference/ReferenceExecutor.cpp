//===- ReferenceExecutor.cpp - the executable definition of the model -----===//
//
// Every step names the line of spec/MEMMAMBA.md it implements. Clarity comes
// first; the only concession to speed is binding weight pointers once.
//
//===----------------------------------------------------------------------===//

#include "runtime/reference/ReferenceExecutor.h"

#include "common/WeightNames.h"
#include "runtime/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace mm;

namespace {

double dot(const float *a, const float *b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

/// y = W x (+ bias), W [outputs, inputs] row-major as PyTorch stores it.
void linear(const float *w, const float *bias, const float *x, int64_t outputs,
            int64_t inputs, float *y) {
  for (int64_t o = 0; o < outputs; ++o)
    y[o] = static_cast<float>(dot(w + o * inputs, x, inputs) +
                              (bias ? bias[o] : 0.0));
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double silu(double v) { return v / (1.0 + std::exp(-v)); }
/// softplus with PyTorch's threshold: the identity above 20.
double softplus(double v) { return v > 20.0 ? v : std::log1p(std::exp(v)); }

/// RMSNorm(x) * weight over D values.
void rmsNorm(const float *x, const float *weight, int64_t d, double epsilon,
             float *out) {
  double inverse = 1.0 / std::sqrt(dot(x, x, d) / d + epsilon);
  for (int64_t i = 0; i < d; ++i)
    out[i] = static_cast<float>(x[i] * inverse * weight[i]);
}

} // namespace

bool LayerState::operator==(const LayerState &other) const {
  return convWindow == other.convWindow && ssmState == other.ssmState &&
         previousMixer == other.previousMixer && poolSlots == other.poolSlots &&
         poolPriorities == other.poolPriorities &&
         poolPositions == other.poolPositions && poolCount == other.poolCount;
}

bool SequenceState::operator==(const SequenceState &other) const {
  return layers == other.layers && position == other.position;
}

ReferenceExecutor::ReferenceExecutor(const ModelWeights &weights,
                                     Precision precision)
    : weights(weights), precision(precision) {
  const ModelConfig &c = weights.config();
  // The tensor `name`, rounded where the precision stores it rounded.
  auto tensor = [&](const std::string &name) -> const float * {
    const std::vector<float> &values = weights.get(name);
    if (precision == Precision::F32 || !isMatrixProductWeight(name))
      return values.data();
    auto rounded = std::make_shared<std::vector<float>>(values);
    for (float &value : *rounded)
      value = roundToPrecision(value, precision);
    roundedWeights.push_back(rounded);
    return rounded->data();
  };
  auto get = [&](int64_t layer, const char *suffix) {
    return tensor(layerWeightName(layer, suffix));
  };
  auto optional = [&](bool present, int64_t layer, const char *suffix) {
    return present ? get(layer, suffix) : nullptr;
  };
  embedding = tensor(weight::kEmbedding);
  normF = tensor(weight::kNormF);
  lmHead = tensor(weight::kLmHead);
  for (int64_t l = 0; l < c.numLayers; ++l) {
    using namespace weight;
    LayerWeights w;
    w.norm = get(l, kNorm);
    w.inProj = get(l, kInProj);
    w.inProjBias = optional(c.useBias, l, kInProjBias);
    w.conv = get(l, kConv);
    w.convBias = optional(c.useConvBias, l, kConvBias);
    w.xProj = get(l, kXProj);
    w.dtProj = get(l, kDtProj);
    w.dtProjBias = get(l, kDtProjBias);
    w.d = get(l, kD);
    w.outProj = get(l, kOutProj);
    w.outProjBias = optional(c.useBias, l, kOutProjBias);
    // A = -exp(A_log)
    const std::vector<float> &aLog = weights.get(layerWeightName(l, kALog));
    w.a.resize(aLog.size());
    for (size_t i = 0; i < aLog.size(); ++i)
      w.a[i] = static_cast<float>(-std::exp(static_cast<double>(aLog[i])));
    if (c.memory) {
      w.noteScore = get(l, kNoteScore);
      w.noteScoreBias = get(l, kNoteScoreBias);
      w.noteSummary = get(l, kNoteSummary);
      w.readScore = get(l, kReadScore);
      w.readScoreBias = get(l, kReadScoreBias);
      w.token = {get(l, kTokenAttnQ), get(l, kTokenAttnK), get(l, kTokenAttnV),
                 get(l, kTokenAttnO), get(l, kTokenGate)};
      if (c.hasCrossLayerAttention(l))
        w.layer = {get(l, kLayerAttnQ), get(l, kLayerAttnK),
                   get(l, kLayerAttnV), get(l, kLayerAttnO),
                   get(l, kLayerGate)};
    }
    layers.push_back(std::move(w));
  }
}

SequenceState ReferenceExecutor::createState() const {
  const ModelConfig &c = config();
  SequenceState state;
  for (int64_t l = 0; l < c.numLayers; ++l) {
    LayerState layer;
    layer.convWindow.assign(c.intermediateSize * (c.convKernel - 1), 0.0f);
    layer.ssmState.assign(c.intermediateSize * c.stateSize, 0.0f);
    if (c.memory) {
      int64_t m = c.memory->poolSize;
      layer.previousMixer.assign(c.hiddenSize, 0.0f);
      layer.poolSlots.assign(m * c.memory->summaryDim, 0.0f);
      layer.poolPriorities.assign(m, 0.0f);
      layer.poolPositions.assign(m, -1);
    }
    state.layers.push_back(std::move(layer));
  }
  return state;
}

void ReferenceExecutor::attend(const std::vector<float> &u,
                               const std::vector<const float *> &summaries,
                               const AttentionWeights &w,
                               std::vector<float> &out) const {
  const ModelConfig &c = config();
  const int64_t d = c.hiddenSize, s = c.memory->summaryDim,
                heads = c.memory->heads, headSize = s / heads;
  // q = W_q u; K = W_k S; V = W_v S
  std::vector<float> q(s), k(summaries.size() * s), v(summaries.size() * s);
  linear(w.query, nullptr, u.data(), s, d, q.data());
  for (size_t j = 0; j < summaries.size(); ++j) {
    linear(w.key, nullptr, summaries[j], s, s, &k[j * s]);
    linear(w.value, nullptr, summaries[j], s, s, &v[j * s]);
  }
  // softmax(q_h K_h^T / sqrt(d_s / heads)) V_h, per head, concatenated.
  std::vector<float> context(s);
  std::vector<double> scores(summaries.size());
  const double scale = 1.0 / std::sqrt(static_cast<double>(headSize));
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t offset = h * headSize;
    double maxScore = -INFINITY;
    for (size_t j = 0; j < summaries.size(); ++j) {
      scores[j] = dot(&q[offset], &k[j * s + offset], headSize) * scale;
      maxScore = std::max(maxScore, scores[j]);
    }
    double total = 0;
    for (double &score : scores)
      total += (score = std::exp(score - maxScore));
    for (int64_t i = 0; i < headSize; ++i) {
      double sum = 0;
      for (size_t j = 0; j < summaries.size(); ++j)
        sum += scores[j] * v[j * s + offset + i];
      context[offset + i] = static_cast<float>(sum / total);
    }
  }
  // W_o concat_heads(...)
  linear(w.output, nullptr, context.data(), d, s, out.data());
}

void ReferenceExecutor::step(int32_t token, SequenceState &state,
                             std::vector<float> &x,
                             ExecutionTrace *trace) const {
  const ModelConfig &c = config();
  const int64_t d = c.hiddenSize, e = c.intermediateSize, n = c.stateSize,
                k = c.convKernel, r = c.dtRank;
  std::copy_n(embedding + static_cast<int64_t>(token) * d, d, x.begin());

  std::vector<float> u(d), xz(2 * e), xc(e), dbc(r + 2 * n), y(e), m(d),
      tokenContext(d), layerContext(d), scratch, dtScratch;
  for (int64_t l = 0; l < c.numLayers; ++l) {
    const LayerWeights &w = layers[l];
    LayerState &s = state.layers[l];

    // u = RMSNorm(x) * norm.weight
    rmsNorm(x.data(), w.norm, d, c.layerNormEpsilon, u.data());
    // [xi, z] = split(in_proj(u), E)
    linear(w.inProj, w.inProjBias, productInput(u.data(), d, scratch), 2 * e,
           d, xz.data());
    const float *xi = xz.data(), *z = xz.data() + e;
    // xc = SiLU(causal_depthwise_conv1d(xi) + conv1d.bias), the window
    // holding the K-1 previous inputs, oldest first.
    for (int64_t ch = 0; ch < e; ++ch) {
      const float *taps = w.conv + ch * k;
      float *window = s.convWindow.data() + ch * (k - 1);
      double sum = w.convBias ? w.convBias[ch] : 0.0;
      for (int64_t i = 0; i + 1 < k; ++i)
        sum += static_cast<double>(taps[i]) * window[i];
      sum += static_cast<double>(taps[k - 1]) * xi[ch];
      xc[ch] = static_cast<float>(silu(sum));
      if (k > 1) {
        std::copy(window + 1, window + k - 1, window);
        window[k - 2] = xi[ch];
      }
    }
    // [d, B, C] = split(x_proj(xc), [R, N, N])
    linear(w.xProj, nullptr, productInput(xc.data(), e, scratch), r + 2 * n,
           e, dbc.data());
    // dt_proj is a matrix product of its own (rounded input); B and C are
    // read as they are.
    const float *dtIn = productInput(dbc.data(), r, dtScratch),
                *bIn = dbc.data() + r,
                *cIn = dbc.data() + r + n;
    for (int64_t ch = 0; ch < e; ++ch) {
      // delta = softplus(dt_proj.weight . d + dt_proj.bias)
      double delta =
          softplus(dot(w.dtProj + ch * r, dtIn, r) + w.dtProjBias[ch]);
      if (trace)
        trace->delta[l].push_back(static_cast<float>(delta));
      // h_t = exp(delta A) h_{t-1} + (delta xc) B_t; y_t = h_t . C_t + D xc
      float *h = s.ssmState.data() + ch * n;
      const float *a = w.a.data() + ch * n;
      double out = 0;
      for (int64_t i = 0; i < n; ++i) {
        double next = std::exp(delta * a[i]) * h[i] + delta * xc[ch] * bIn[i];
        h[i] = static_cast<float>(next);
        out += static_cast<double>(h[i]) * cIn[i];
      }
      out += static_cast<double>(w.d[ch]) * xc[ch];
      // y_t = y_t * SiLU(z_t)
      y[ch] = static_cast<float>(out * silu(z[ch]));
    }
    // m_t = out_proj(y_t)
    linear(w.outProj, w.outProjBias, productInput(y.data(), e, scratch), d, e,
           m.data());

    if (!c.memory) {
      for (int64_t i = 0; i < d; ++i)
        x[i] += m[i];
    } else {
      const MemoryConfig &memory = *c.memory;
      const int64_t summaryDim = memory.summaryDim;
      // (a) The read trigger looks at the previous token's mixer output; the
      // cross-token attention reads the pool as it stood before this token.
      float trigger = static_cast<float>(sigmoid(
          dot(w.readScore, s.previousMixer.data(), d) + w.readScoreBias[0]));
      std::fill(tokenContext.begin(), tokenContext.end(), 0.0f);
      if (s.poolCount > 0 && trigger > memory.readThreshold) {
        std::vector<const float *> pool;
        for (int32_t j = 0; j < s.poolCount; ++j)
          pool.push_back(&s.poolSlots[j * summaryDim]);
        attend(u, pool, w.token, tokenContext);
      }
      // (b) The Note Block writes.
      float score = static_cast<float>(
          sigmoid(dot(w.noteScore, u.data(), d) + w.noteScoreBias[0]));
      if (score > memory.noteThreshold) {
        int32_t slot = -1;
        const int32_t poolSize = static_cast<int32_t>(memory.poolSize);
        if (s.poolCount < poolSize) {
          slot = s.poolCount++;
        } else if (memory.eviction == Eviction::Priority) {
          // The lowest priority; on a tie the most recent position loses.
          int32_t lowest = 0;
          for (int32_t j = 1; j < poolSize; ++j)
            if (s.poolPriorities[j] < s.poolPriorities[lowest] ||
                (s.poolPriorities[j] == s.poolPriorities[lowest] &&
                 s.poolPositions[j] > s.poolPositions[lowest]))
              lowest = j;
          // A new note is later than any in the pool, so it must be strictly
          // more important to enter.
          if (score > s.poolPriorities[lowest])
            slot = lowest;
        } else {
          int32_t oldest = 0;
          for (int32_t j = 1; j < poolSize; ++j)
            if (s.poolPositions[j] < s.poolPositions[oldest])
              oldest = j;
          slot = oldest;
        }
        if (slot >= 0) {
          // s = W_N u
          linear(w.noteSummary, nullptr, u.data(), summaryDim, d,
                 &s.poolSlots[slot * summaryDim]);
          s.poolPriorities[slot] = score;
          s.poolPositions[slot] = state.position;
        }
      }
      // (c) Cross-layer attention over the pools of the layers below, as
      // they stand after processing this token.
      std::fill(layerContext.begin(), layerContext.end(), 0.0f);
      auto [first, last] = c.crossLayerSources(l);
      std::vector<const float *> sources;
      for (int64_t j = first; j < last; ++j) {
        const LayerState &below = state.layers[j];
        for (int32_t slot = 0; slot < below.poolCount; ++slot)
          sources.push_back(&below.poolSlots[slot * summaryDim]);
      }
      if (!sources.empty())
        attend(u, sources, w.layer, layerContext);
      // (d) x_next = x + m + sigmoid(token_gate) c_tok
      //              + sigmoid(layer_gate) c_lay
      for (int64_t i = 0; i < d; ++i) {
        double next = static_cast<double>(x[i]) + m[i] +
                      sigmoid(w.token.gate[i]) * tokenContext[i];
        if (w.layer.gate)
          next += sigmoid(w.layer.gate[i]) * layerContext[i];
        x[i] = static_cast<float>(next);
      }
      s.previousMixer = m;
      if (trace) {
        trace->noteScores[l].push_back(score);
        trace->readTriggers[l].push_back(trigger);
      }
    }
    if (trace)
      trace->residual[l].insert(trace->residual[l].end(), x.begin(), x.end());
  }
  ++state.position;
}

void ReferenceExecutor::logitsOf(const std::vector<float> &x,
                                 float *logits) const {
  const ModelConfig &c = config();
  // logits = lm_head(RMSNorm(x) * norm_f.weight)
  std::vector<float> normed(c.hiddenSize);
  rmsNorm(x.data(), normF, c.hiddenSize, c.layerNormEpsilon, normed.data());
  std::vector<float> scratch;
  linear(lmHead, nullptr, productInput(normed.data(), c.hiddenSize, scratch),
         c.vocabSize, c.hiddenSize, logits);
}

const float *ReferenceExecutor::productInput(const float *x, int64_t n,
                                             std::vector<float> &scratch) const {
  if (precision == Precision::F32)
    return x;
  scratch.resize(n);
  for (int64_t i = 0; i < n; ++i)
    scratch[i] = roundToPrecision(x[i], precision);
  return scratch.data();
}

/// Checks that every token is in the vocabulary and that the state belongs
/// to the model, before anything changes.
static llvm::Error checkInputs(const ModelConfig &c,
                               llvm::ArrayRef<int32_t> tokens,
                               const SequenceState &state) {
  if (llvm::Error err =
          c.checkTokens(tokens, std::max<int64_t>(1, tokens.size())))
    return err;
  if (static_cast<int64_t>(state.layers.size()) != c.numLayers)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the state was not created for this model");
  return llvm::Error::success();
}

llvm::Expected<std::vector<float>>
ReferenceExecutor::prefill(llvm::ArrayRef<int32_t> tokens, SequenceState &state,
                           ExecutionTrace *trace) const {
  const ModelConfig &c = config();
  if (llvm::Error err = checkInputs(c, tokens, state))
    return std::move(err);
  if (trace) {
    trace->residual.assign(c.numLayers, {});
    trace->noteScores.assign(c.numLayers, {});
    trace->readTriggers.assign(c.numLayers, {});
    trace->delta.assign(c.numLayers, {});
  }
  std::vector<float> logits(tokens.size() * c.vocabSize);
  std::vector<float> x(c.hiddenSize);
  for (size_t t = 0; t < tokens.size(); ++t) {
    step(tokens[t], state, x, trace);
    logitsOf(x, &logits[t * c.vocabSize]);
  }
  return logits;
}

llvm::Expected<std::vector<float>>
ReferenceExecutor::decode(int32_t token, SequenceState &state) const {
  return prefill(llvm::ArrayRef<int32_t>(token), state);
}

llvm::Expected<std::vector<std::vector<float>>> ReferenceExecutor::prefillBatch(
    llvm::ArrayRef<std::vector<int32_t>> sequences,
    llvm::MutableArrayRef<SequenceState> states) const {
  if (sequences.size() != states.size())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        std::to_string(sequences.size()) + " sequences but " +
            std::to_string(states.size()) + " states");
  // Check every sequence first, so that an error leaves all states as they
  // were.
  for (size_t i = 0; i < sequences.size(); ++i)
    if (llvm::Error err = checkInputs(config(), sequences[i], states[i]))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "sequence " + std::to_string(i) + ": " +
                                         llvm::toString(std::move(err)));
  std::vector<std::vector<float>> logits;
  for (size_t i = 0; i < sequences.size(); ++i) {
    auto result = prefill(sequences[i], states[i]);
    if (!result)
      return result.takeError();
    logits.push_back(std::move(*result));
  }
  return logits;
}
