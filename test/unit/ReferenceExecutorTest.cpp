//===- ReferenceExecutorTest.cpp - the oracle against the spec ------------===//
//
// A hand-checked one-layer model, the invariants of spec section 3 (prefill
// == decode, chunked prefill, batches, snapshots), causality, and the pool
// semantics of section 2.
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestUtil.h"

#include "common/WeightNames.h"
#include "runtime/reference/ReferenceExecutor.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

using namespace mm;
using namespace mm::testing;

namespace {

std::vector<float> prefillOk(const ReferenceExecutor &executor,
                             llvm::ArrayRef<int32_t> tokens,
                             SequenceState &state,
                             ExecutionTrace *trace = nullptr) {
  auto logits = executor.prefill(tokens, state, trace);
  if (!logits) {
    ADD_FAILURE() << llvm::toString(logits.takeError());
    return {};
  }
  return std::move(*logits);
}

//===----------------------------------------------------------------------===//
// Hand-checked
//===----------------------------------------------------------------------===//

TEST(ReferenceExecutor, OneLayerByHand) {
  ModelConfig c;
  c.hiddenSize = 2;
  c.numLayers = 1;
  c.stateSize = 1;
  c.convKernel = 2;
  c.intermediateSize = 2;
  c.dtRank = 1;
  c.vocabSize = 3;
  c.layerNormEpsilon = 1e-6;
  c.useBias = false;
  c.useConvBias = true;
  const std::vector<float> emb{0.5f, -1.0f, 1.5f, 0.25f, -0.75f, 2.0f};
  const std::vector<float> norm{1.0f, 0.5f}, normF{1.0f, 1.5f};
  const std::vector<float> inProj{0.3f,  -0.2f, 0.1f, 0.4f,
                                  -0.5f, 0.6f,  0.2f, 0.1f};
  const std::vector<float> conv{0.7f, -0.3f, 0.4f, 0.9f},
      convBias{0.05f, -0.1f};
  const std::vector<float> xProj{0.2f, -0.1f, 0.5f, 0.3f, -0.4f, 0.8f};
  const std::vector<float> dtProj{1.2f, -0.7f}, dtBias{-1.0f, 0.5f};
  const std::vector<float> aLog{0.0f, static_cast<float>(std::log(2.0))};
  const std::vector<float> skip{1.0f, 0.5f};
  const std::vector<float> outProj{0.6f, -0.4f, 0.3f, 0.8f};

  llvm::StringMap<ModelWeights::Tensor> tensors;
  auto layer = [](const char *suffix) { return layerWeightName(0, suffix); };
  tensors[weight::kEmbedding] = {{3, 2}, emb};
  tensors[layer(weight::kNorm)] = {{2}, norm};
  tensors[layer(weight::kInProj)] = {{4, 2}, inProj};
  tensors[layer(weight::kConv)] = {{2, 1, 2}, conv};
  tensors[layer(weight::kConvBias)] = {{2}, convBias};
  tensors[layer(weight::kXProj)] = {{3, 2}, xProj};
  tensors[layer(weight::kDtProj)] = {{2, 1}, dtProj};
  tensors[layer(weight::kDtProjBias)] = {{2}, dtBias};
  tensors[layer(weight::kALog)] = {{2, 1}, aLog};
  tensors[layer(weight::kD)] = {{2}, skip};
  tensors[layer(weight::kOutProj)] = {{2, 2}, outProj};
  tensors[weight::kNormF] = {{2}, normF};
  auto weights = ModelWeights::fromTensors(c, tensors, "by hand");
  ASSERT_TRUE(static_cast<bool>(weights))
      << llvm::toString(weights.takeError());

  // The model of spec section 1 written out for two channels, one state.
  auto silu = [](double v) { return v / (1 + std::exp(-v)); };
  auto softplus = [](double v) { return std::log(1 + std::exp(v)); };
  std::array<double, 2> previousXi{0, 0}, h{0, 0};
  std::vector<double> expected;
  for (int token : {1, 2}) {
    double x0 = emb[2 * token], x1 = emb[2 * token + 1];
    double inv = 1 / std::sqrt((x0 * x0 + x1 * x1) / 2 + 1e-6);
    double u0 = x0 * inv * norm[0], u1 = x1 * inv * norm[1];
    double xi[2] = {inProj[0] * u0 + inProj[1] * u1,
                    inProj[2] * u0 + inProj[3] * u1};
    double z[2] = {inProj[4] * u0 + inProj[5] * u1,
                   inProj[6] * u0 + inProj[7] * u1};
    double xc[2];
    for (int ch = 0; ch < 2; ++ch) {
      xc[ch] = silu(conv[2 * ch] * previousXi[ch] + conv[2 * ch + 1] * xi[ch] +
                    convBias[ch]);
      previousXi[ch] = xi[ch];
    }
    double dtIn = xProj[0] * xc[0] + xProj[1] * xc[1];
    double b = xProj[2] * xc[0] + xProj[3] * xc[1];
    double cc = xProj[4] * xc[0] + xProj[5] * xc[1];
    double y[2];
    for (int ch = 0; ch < 2; ++ch) {
      double delta = softplus(dtProj[ch] * dtIn + dtBias[ch]);
      double a = -std::exp(static_cast<double>(aLog[ch]));
      h[ch] = std::exp(delta * a) * h[ch] + delta * xc[ch] * b;
      y[ch] = (h[ch] * cc + skip[ch] * xc[ch]) * silu(z[ch]);
    }
    x0 += outProj[0] * y[0] + outProj[1] * y[1];
    x1 += outProj[2] * y[0] + outProj[3] * y[1];
    double invF = 1 / std::sqrt((x0 * x0 + x1 * x1) / 2 + 1e-6);
    double n0 = x0 * invF * normF[0], n1 = x1 * invF * normF[1];
    for (int v = 0; v < 3; ++v)
      expected.push_back(emb[2 * v] * n0 + emb[2 * v + 1] * n1);
  }

  ReferenceExecutor executor(*weights);
  SequenceState state = executor.createState();
  std::vector<float> logits = prefillOk(executor, {1, 2}, state);
  ASSERT_EQ(logits.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(logits[i], expected[i], 1e-6 * std::abs(expected[i]) + 1e-7)
        << "logit " << i;
  EXPECT_NEAR(state.layers[0].convWindow[0], previousXi[0], 1e-6);
  EXPECT_NEAR(state.layers[0].ssmState[1], h[1], 1e-6);
  EXPECT_EQ(state.position, 2);
}

//===----------------------------------------------------------------------===//
// Invariants 2, 3, 4 and 6, causality: on memmamba-tiny and the 130m shape
//===----------------------------------------------------------------------===//

struct Shape {
  const char *name;
  ModelConfig config;
  size_t length;
};

class Invariants : public ::testing::TestWithParam<Shape> {
protected:
  void SetUp() override {
    // Random weights of the 130m shape take a second to make: make them once
    // per model for all the tests.
    static std::map<std::string, std::unique_ptr<ModelWeights>> cache;
    std::unique_ptr<ModelWeights> &cached = cache[GetParam().name];
    if (!cached)
      cached = std::make_unique<ModelWeights>(
          randomWeights(GetParam().config, /*seed=*/7));
    weights = cached.get();
    executor = std::make_unique<ReferenceExecutor>(*weights);
  }
  std::vector<int32_t> tokens(uint64_t seed, size_t length = 0) const {
    return randomTokens(length ? length : GetParam().length,
                        GetParam().config.vocabSize, seed);
  }
  const ModelWeights *weights = nullptr;
  std::unique_ptr<ReferenceExecutor> executor;
};

TEST_P(Invariants, PrefillEqualsDecodeAtEveryPosition) {
  const int64_t vocab = GetParam().config.vocabSize;
  std::vector<int32_t> prompt = tokens(1);
  SequenceState whole = executor->createState(), stepwise = whole;
  std::vector<float> logits = prefillOk(*executor, prompt, whole);
  for (size_t t = 0; t < prompt.size(); ++t) {
    auto step = executor->decode(prompt[t], stepwise);
    ASSERT_TRUE(static_cast<bool>(step)) << llvm::toString(step.takeError());
    EXPECT_EQ(relativeError(step->data(), &logits[t * vocab], vocab), 0.0)
        << "position " << t;
  }
  EXPECT_TRUE(whole == stepwise);
}

TEST_P(Invariants, ChunkedPrefillEqualsWholePrefill) {
  const int64_t vocab = GetParam().config.vocabSize;
  std::vector<int32_t> prompt = tokens(2);
  size_t split = prompt.size() / 3;
  SequenceState whole = executor->createState(), chunked = whole;
  std::vector<float> expected = prefillOk(*executor, prompt, whole);
  std::vector<float> first =
      prefillOk(*executor, llvm::ArrayRef(prompt).take_front(split), chunked);
  std::vector<float> second =
      prefillOk(*executor, llvm::ArrayRef(prompt).drop_front(split), chunked);
  first.insert(first.end(), second.begin(), second.end());
  ASSERT_EQ(first.size(), prompt.size() * vocab);
  EXPECT_EQ(relativeError(first.data(), expected.data(), first.size()), 0.0);
  EXPECT_TRUE(whole == chunked);
}

TEST_P(Invariants, BatchEqualsSeparateRuns) {
  std::vector<std::vector<int32_t>> batch{tokens(3), tokens(4, 1),
                                          tokens(5, GetParam().length / 2 + 1)};
  std::vector<SequenceState> states(batch.size(), executor->createState());
  auto logits = executor->prefillBatch(batch, states);
  ASSERT_TRUE(static_cast<bool>(logits)) << llvm::toString(logits.takeError());
  for (size_t i = 0; i < batch.size(); ++i) {
    SequenceState alone = executor->createState();
    std::vector<float> expected = prefillOk(*executor, batch[i], alone);
    ASSERT_EQ((*logits)[i].size(), expected.size());
    EXPECT_EQ(
        relativeError((*logits)[i].data(), expected.data(), expected.size()),
        0.0)
        << "sequence " << i;
    EXPECT_TRUE(states[i] == alone) << "sequence " << i;
  }
}

TEST_P(Invariants, SnapshotAndRestoreReproduceTheRun) {
  SequenceState state = executor->createState();
  prefillOk(*executor, tokens(6), state);
  SequenceState saved = executor->snapshot(state);
  std::vector<int32_t> next = tokens(7, 5);
  std::vector<float> first = prefillOk(*executor, next, state);
  SequenceState after = state;
  executor->restore(state, saved);
  EXPECT_TRUE(state == saved);
  std::vector<float> again = prefillOk(*executor, next, state);
  EXPECT_EQ(first, again);
  EXPECT_TRUE(state == after);
}

TEST_P(Invariants, ChangingALaterTokenNeverChangesEarlierOutputs) {
  const int64_t vocab = GetParam().config.vocabSize;
  std::vector<int32_t> prompt = tokens(8);
  size_t t = prompt.size() / 2;
  std::vector<int32_t> changed = prompt;
  changed[t + 1] = (changed[t + 1] + 1) % vocab;
  SequenceState a = executor->createState(), b = a;
  std::vector<float> original = prefillOk(*executor, prompt, a);
  std::vector<float> modified = prefillOk(*executor, changed, b);
  EXPECT_TRUE(std::equal(original.begin(), original.begin() + (t + 1) * vocab,
                         modified.begin()))
      << "positions up to " << t << " changed";
  EXPECT_GT(relativeError(&modified[(t + 1) * vocab],
                          &original[(t + 1) * vocab], vocab),
            0.0);
}

TEST_P(Invariants, TokensOutsideTheVocabularyAreRejected) {
  SequenceState state = executor->createState(), before = state;
  auto logits = executor->prefill(
      {1, static_cast<int32_t>(GetParam().config.vocabSize)}, state);
  ASSERT_FALSE(static_cast<bool>(logits));
  EXPECT_NE(llvm::toString(logits.takeError())
                .find("token " + std::to_string(GetParam().config.vocabSize) +
                      " at position 1 is outside the vocabulary"),
            std::string::npos);
  EXPECT_TRUE(state == before);
}

INSTANTIATE_TEST_SUITE_P(
    Models, Invariants,
    ::testing::Values(Shape{"memmamba_tiny", memmambaTiny(), 48},
                      Shape{"memmamba_tiny_fifo", memmambaTiny(Eviction::Fifo),
                            48},
                      Shape{"mamba_130m_shape", mamba130mShape(), 6}),
    [](const ::testing::TestParamInfo<Shape> &info) {
      return std::string(info.param.name);
    });

//===----------------------------------------------------------------------===//
// Pool semantics
//===----------------------------------------------------------------------===//

/// The pool the spec prescribes after the noted tokens (score, position):
/// priority keeps the top M by (score, then earlier position), FIFO the last
/// M. An independent formulation (sort the prefix) of the executor's
/// incremental eviction.
std::set<int32_t> expectedPool(const std::vector<float> &scores,
                               int32_t firstPosition, double threshold,
                               int64_t poolSize, Eviction eviction) {
  std::vector<std::pair<float, int32_t>> noted;
  for (size_t t = 0; t < scores.size(); ++t)
    if (scores[t] > threshold)
      noted.push_back({scores[t], firstPosition + static_cast<int32_t>(t)});
  if (eviction == Eviction::Priority)
    std::stable_sort(noted.begin(), noted.end(),
                     [](const auto &a, const auto &b) {
                       return a.first > b.first; // ties keep position order
                     });
  else
    std::reverse(noted.begin(), noted.end());
  std::set<int32_t> pool;
  for (size_t i = 0; i < noted.size() && i < size_t(poolSize); ++i)
    pool.insert(noted[i].second);
  return pool;
}

std::set<int32_t> poolPositions(const LayerState &layer) {
  std::set<int32_t> positions(layer.poolPositions.begin(),
                              layer.poolPositions.begin() + layer.poolCount);
  EXPECT_EQ(positions.size(), size_t(layer.poolCount)) << "duplicate positions";
  return positions;
}

/// A one-layer model whose note score is chosen per token: the embedding of
/// token i is e_i, so u = c e_i and note_score.weight[i] = logit(score_i) / c.
class PoolHarness {
public:
  PoolHarness(Eviction eviction, std::vector<double> scores,
              double readBias = -10.0) {
    ModelConfig c;
    c.hiddenSize = 8;
    c.numLayers = 1;
    c.stateSize = 2;
    c.convKernel = 2;
    c.intermediateSize = 8;
    c.dtRank = 1;
    c.vocabSize = 8;
    c.layerNormEpsilon = 1e-5;
    MemoryConfig &m = c.memory.emplace();
    m.poolSize = 3;
    m.summaryDim = 4;
    m.noteThreshold = 0.5;
    m.readThreshold = 0.5;
    m.crossLayerPeriod = 0;
    m.heads = 1;
    m.eviction = eviction;
    config = c;
    WeightInitOptions options;
    options.seed = 3;
    tensors = initializeWeights(c, options);
    std::vector<float> &emb = tensors[weight::kEmbedding].values;
    std::fill(emb.begin(), emb.end(), 0.0f);
    for (int i = 0; i < 8; ++i)
      emb[i * 8 + i] = 1.0f;
    std::fill(tensors[layerWeightName(0, weight::kNorm)].values.begin(),
              tensors[layerWeightName(0, weight::kNorm)].values.end(), 1.0f);
    double u = 1.0 / std::sqrt(1.0 / 8 + 1e-5);
    std::vector<float> &noteWeight =
        tensors[layerWeightName(0, weight::kNoteScore)].values;
    for (size_t i = 0; i < scores.size(); ++i)
      noteWeight[i] = static_cast<float>(
          scores[i] == 0.5 ? 0.0 : std::log(scores[i] / (1 - scores[i])) / u);
    tensors[layerWeightName(0, weight::kNoteScoreBias)].values = {0.0f};
    std::fill(tensors[layerWeightName(0, weight::kReadScore)].values.begin(),
              tensors[layerWeightName(0, weight::kReadScore)].values.end(),
              0.0f);
    tensors[layerWeightName(0, weight::kReadScoreBias)].values = {
        static_cast<float>(readBias)};
  }

  ModelWeights weights() const {
    auto result = ModelWeights::fromTensors(config, tensors, "pool harness");
    EXPECT_TRUE(static_cast<bool>(result));
    return std::move(*result);
  }

  ModelConfig config;
  llvm::StringMap<ModelWeights::Tensor> tensors;
};

// Scores of tokens 0..5: 0.6, 0.9, 0.7, 0.65, 0.4 (never noted) and exactly
// 0.5 (the threshold: not noted, comparisons are strict).
const std::vector<double> kScores{0.6, 0.9, 0.7, 0.65, 0.4, 0.5};
// Positions 0..8: A B C D E F G, then the two that are never noted.
const std::vector<int32_t> kSequence{0, 1, 0, 0, 2, 0, 3, 4, 5};

TEST(PoolSemantics, PriorityKeepsTheTopScoresAndTiesDropTheLaterToken) {
  PoolHarness harness(Eviction::Priority, kScores);
  ModelWeights weights = harness.weights();
  ReferenceExecutor executor(weights);
  SequenceState state = executor.createState();
  std::vector<float> scores;
  for (size_t t = 0; t < kSequence.size(); ++t) {
    ExecutionTrace trace;
    prefillOk(executor, {kSequence[t]}, state, &trace);
    scores.push_back(trace.noteScores[0][0]);
    EXPECT_EQ(poolPositions(state.layers[0]),
              expectedPool(scores, 0, 0.5, 3, Eviction::Priority))
        << "after position " << t;
  }
  // Worked by hand: position 3 (0.6) ties with 0 and 2 but is later, so it
  // stays out; 4 (0.7) evicts 2 (the most recent of the 0.6 ties); 6 (0.65)
  // evicts 0; 7 (0.4) and 8 (exactly 0.5) are never noted.
  EXPECT_EQ(poolPositions(state.layers[0]), (std::set<int32_t>{1, 4, 6}));
  EXPECT_EQ(scores[2], scores[0]);
  EXPECT_EQ(scores[8], 0.5f);
}

TEST(PoolSemantics, FifoKeepsTheLastNotedTokens) {
  PoolHarness harness(Eviction::Fifo, kScores);
  ModelWeights weights = harness.weights();
  ReferenceExecutor executor(weights);
  SequenceState state = executor.createState();
  prefillOk(executor, kSequence, state);
  EXPECT_EQ(poolPositions(state.layers[0]), (std::set<int32_t>{4, 5, 6}));
}

TEST(PoolSemantics, ReadsThePoolAsItStoodBeforeTheToken) {
  // The read trigger is always on; token 1 (score 0.9) is noted.
  PoolHarness harness(Eviction::Priority, kScores, /*readBias=*/10.0);
  ModelWeights reading = harness.weights();
  // The same model whose cross-token attention contributes nothing.
  for (float &v :
       harness.tensors[layerWeightName(0, weight::kTokenAttnO)].values)
    v = 0.0f;
  ModelWeights silent = harness.weights();
  ReferenceExecutor withRead(reading), withoutRead(silent);
  SequenceState a = withRead.createState(), b = withoutRead.createState();
  ExecutionTrace traceA, traceB;
  prefillOk(withRead, {1, 1}, a, &traceA);
  prefillOk(withoutRead, {1, 1}, b, &traceB);
  // Position 0 is noted, but reads an empty pool: no contribution.
  EXPECT_EQ(a.layers[0].poolCount, 2);
  EXPECT_TRUE(std::equal(traceA.residual[0].begin(),
                         traceA.residual[0].begin() + 8,
                         traceB.residual[0].begin()));
  // Position 1 reads position 0's note.
  EXPECT_FALSE(std::equal(traceA.residual[0].begin() + 8,
                          traceA.residual[0].end(),
                          traceB.residual[0].begin() + 8));
}

TEST(PoolSemantics, LongSequencesKeepThePrescribedPool) {
  for (Eviction eviction : {Eviction::Priority, Eviction::Fifo}) {
    ModelConfig config = memmambaTiny(eviction);
    ModelWeights weights = randomWeights(config, 11);
    ReferenceExecutor executor(weights);
    SequenceState state = executor.createState();
    std::vector<std::vector<float>> scores(config.numLayers);
    size_t noted = 0;
    for (int chunk = 0; chunk < 8; ++chunk) {
      ExecutionTrace trace;
      prefillOk(executor, randomTokens(64, config.vocabSize, 100 + chunk),
                state, &trace);
      for (int64_t l = 0; l < config.numLayers; ++l) {
        scores[l].insert(scores[l].end(), trace.noteScores[l].begin(),
                         trace.noteScores[l].end());
        EXPECT_EQ(poolPositions(state.layers[l]),
                  expectedPool(scores[l], 0, config.memory->noteThreshold,
                               config.memory->poolSize, eviction))
            << "layer " << l << " after chunk " << chunk;
      }
    }
    for (float score : scores[0])
      noted += score > config.memory->noteThreshold;
    // The initialisation puts scores on both sides of the threshold.
    EXPECT_GT(noted, 50u);
    EXPECT_LT(noted, scores[0].size() - 50);
  }
}

TEST(PoolSemantics, CrossLayerAttentionOnlyOnLayersAMultipleOfP) {
  ModelConfig config = memmambaTiny();
  config.numLayers = 4;
  config.memory->crossLayerPeriod = 2;
  config.memory->crossLayerWindow = 2;
  WeightInitOptions options;
  options.seed = 5;
  llvm::StringMap<ModelWeights::Tensor> tensors =
      initializeWeights(config, options);
  for (int64_t l = 0; l < 4; ++l)
    EXPECT_EQ(tensors.count(layerWeightName(l, weight::kLayerAttnO)),
              l == 2 ? 1u : 0u)
        << "layer " << l;
  auto original = ModelWeights::fromTensors(config, tensors, "original");
  ASSERT_TRUE(static_cast<bool>(original));
  for (float &v : tensors[layerWeightName(2, weight::kLayerAttnO)].values)
    v *= -3.0f;
  auto changed = ModelWeights::fromTensors(config, tensors, "changed");
  ASSERT_TRUE(static_cast<bool>(changed));
  ReferenceExecutor a(*original), b(*changed);
  SequenceState sa = a.createState(), sb = b.createState();
  ExecutionTrace ta, tb;
  std::vector<int32_t> prompt = randomTokens(32, config.vocabSize, 9);
  prefillOk(a, prompt, sa, &ta);
  prefillOk(b, prompt, sb, &tb);
  EXPECT_EQ(ta.residual[0], tb.residual[0]);
  EXPECT_EQ(ta.residual[1], tb.residual[1]);
  EXPECT_NE(ta.residual[2], tb.residual[2]);
}

TEST(PoolSemantics, VeryNegativeGatesGivePlainMamba) {
  ModelConfig config = memmambaTiny();
  WeightInitOptions options;
  options.seed = 21;
  llvm::StringMap<ModelWeights::Tensor> tensors =
      initializeWeights(config, options);
  ModelConfig plain = config;
  plain.memory.reset();
  llvm::StringMap<ModelWeights::Tensor> plainTensors;
  for (const auto &entry : tensors)
    if (!llvm::StringRef(entry.first()).contains(".memory."))
      plainTensors[entry.first()] = entry.second;
  for (int64_t l = 0; l < config.numLayers; ++l) {
    for (const char *gate : {weight::kTokenGate, weight::kLayerGate})
      if (auto it = tensors.find(layerWeightName(l, gate)); it != tensors.end())
        std::fill(it->second.values.begin(), it->second.values.end(), -1000.0f);
  }
  auto memoryWeights = ModelWeights::fromTensors(config, tensors, "memory");
  auto plainWeights = ModelWeights::fromTensors(plain, plainTensors, "plain");
  ASSERT_TRUE(static_cast<bool>(memoryWeights));
  ASSERT_TRUE(static_cast<bool>(plainWeights));
  ReferenceExecutor withMemory(*memoryWeights), without(*plainWeights);
  SequenceState a = withMemory.createState(), b = without.createState();
  std::vector<int32_t> prompt = randomTokens(40, config.vocabSize, 4);
  std::vector<float> la = prefillOk(withMemory, prompt, a);
  std::vector<float> lb = prefillOk(without, prompt, b);
  EXPECT_EQ(la, lb);
  EXPECT_GT(a.layers[0].poolCount, 0); // the memory path did run
}

} // namespace
