//===- CompiledModelTest.cpp - compiled host code against the oracle ------===//
//
// Artifacts compiled by the build (test/unit/CMakeLists.txt) run through the
// runtime API and are compared with the reference executor on the same
// random weights: prefill at several lengths, decode, chunked prefill,
// batches, snapshots (spec section 3, invariants 2 to 6).
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestUtil.h"

#include "runtime/CompiledModel.h"
#include "runtime/reference/ReferenceExecutor.h"

#include <map>
#include <tuple>

using namespace mm;
using namespace mm::testing;

namespace {

struct Artifact {
  const char *name;
  std::vector<size_t> lengths;
};

class CompiledModelTest : public ::testing::TestWithParam<Artifact> {
protected:
  void SetUp() override {
    std::string path =
        std::string(MM_TEST_ARTIFACTS) + "/" + GetParam().name + ".mmx";
    auto opened = CompiledModel::open(path);
    ASSERT_TRUE(static_cast<bool>(opened))
        << llvm::toString(opened.takeError());
    model = std::move(*opened);
    // Random weights of the 130m widths take seconds to make: once per
    // artifact for all the tests.
    static std::map<std::string, std::unique_ptr<ModelWeights>> cache;
    std::unique_ptr<ModelWeights> &cached = cache[GetParam().name];
    if (!cached)
      cached = std::make_unique<ModelWeights>(
          randomWeights(model->config(), /*seed=*/13));
    weights = cached.get();
    ASSERT_FALSE(static_cast<bool>(model->bindWeights(*weights)));
    reference = std::make_unique<ReferenceExecutor>(*weights);
  }

  std::vector<float> compiledPrefill(llvm::ArrayRef<int32_t> tokens,
                                     int64_t time, CompiledState &state) {
    auto logits = model->prefill(tokens, time, state);
    if (!logits) {
      ADD_FAILURE() << llvm::toString(logits.takeError());
      return {};
    }
    return std::move(*logits);
  }
  CompiledState createState(int64_t batch) {
    auto state = model->createState(batch);
    if (!state) {
      ADD_FAILURE() << llvm::toString(state.takeError());
      return {};
    }
    return std::move(*state);
  }
  std::vector<float> referencePrefill(llvm::ArrayRef<int32_t> tokens,
                                      SequenceState &state) {
    auto logits = reference->prefill(tokens, state);
    if (!logits) {
      ADD_FAILURE() << llvm::toString(logits.takeError());
      return {};
    }
    return std::move(*logits);
  }
  int64_t vocab() const { return model->config().vocabSize; }

  std::unique_ptr<CompiledModel> model;
  const ModelWeights *weights = nullptr;
  std::unique_ptr<ReferenceExecutor> reference;
};

constexpr double kTolerance = 1e-4; // spec invariant 5, CPU

TEST_P(CompiledModelTest, PrefillMatchesTheReference) {
  for (size_t length : GetParam().lengths) {
    std::vector<int32_t> tokens = randomTokens(length, vocab(), length);
    CompiledState state = createState(1);
    SequenceState expectedState = reference->createState();
    std::vector<float> ours = compiledPrefill(tokens, length, state);
    std::vector<float> expected = referencePrefill(tokens, expectedState);
    ASSERT_EQ(ours.size(), expected.size());
    EXPECT_LT(relativeError(ours.data(), expected.data(), ours.size()),
              kTolerance)
        << "length " << length;
    // The last position alone, where errors accumulate most.
    EXPECT_LT(relativeError(&ours[(length - 1) * vocab()],
                            &expected[(length - 1) * vocab()], vocab()),
              kTolerance)
        << "length " << length;
  }
}

TEST_P(CompiledModelTest, DecodeMatchesTheReference) {
  std::vector<int32_t> prompt = randomTokens(9, vocab(), 1);
  CompiledState state = createState(1);
  SequenceState expectedState = reference->createState();
  compiledPrefill(prompt, prompt.size(), state);
  referencePrefill(prompt, expectedState);
  std::vector<int32_t> steps = randomTokens(64, vocab(), 2);
  for (size_t i = 0; i < steps.size(); ++i) {
    auto ours = model->decode({steps[i]}, state);
    auto expected = reference->decode(steps[i], expectedState);
    ASSERT_TRUE(ours && expected);
    EXPECT_LT(relativeError(ours->data(), expected->data(), vocab()),
              kTolerance)
        << "step " << i;
  }
}

TEST_P(CompiledModelTest, ChunkedPrefillEqualsWholePrefill) {
  std::vector<int32_t> tokens = randomTokens(40, vocab(), 3);
  CompiledState whole = createState(1), chunked = whole;
  std::vector<float> expected = compiledPrefill(tokens, 40, whole);
  std::vector<float> first =
      compiledPrefill(llvm::ArrayRef(tokens).take_front(13), 13, chunked);
  std::vector<float> second =
      compiledPrefill(llvm::ArrayRef(tokens).drop_front(13), 27, chunked);
  first.insert(first.end(), second.begin(), second.end());
  ASSERT_EQ(first.size(), expected.size());
  EXPECT_LT(relativeError(first.data(), expected.data(), first.size()), 1e-6);
  EXPECT_LT(relativeError(reinterpret_cast<const float *>(chunked.bytes.data()),
                          reinterpret_cast<const float *>(whole.bytes.data()),
                          whole.bytes.size() / 4),
            1e-5);
}

TEST_P(CompiledModelTest, BatchEqualsSeparateRuns) {
  const int64_t batch = 3, time = 11;
  std::vector<int32_t> tokens = randomTokens(batch * time, vocab(), 4);
  CompiledState together = createState(batch);
  std::vector<float> logits = compiledPrefill(tokens, time, together);
  for (int64_t b = 0; b < batch; ++b) {
    CompiledState alone = createState(1);
    std::vector<float> expected = compiledPrefill(
        llvm::ArrayRef(tokens).slice(b * time, time), time, alone);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                           logits.begin() + b * time * vocab()))
        << "sequence " << b;
  }
}

TEST_P(CompiledModelTest, SnapshotAndRestoreReproduceTheRun) {
  CompiledState state = createState(1);
  compiledPrefill(randomTokens(12, vocab(), 5), 12, state);
  CompiledState saved = state;
  std::vector<int32_t> next = randomTokens(6, vocab(), 6);
  std::vector<float> first = compiledPrefill(next, 6, state);
  CompiledState after = state;
  state = saved;
  EXPECT_EQ(compiledPrefill(next, 6, state), first);
  EXPECT_EQ(state.bytes, after.bytes);
}

TEST_P(CompiledModelTest, BadInputIsRejectedAndLeavesTheStateAlone) {
  CompiledState state = createState(1);
  std::vector<uint8_t> before = state.bytes;
  auto logits = model->prefill({1, static_cast<int32_t>(vocab())}, 2, state);
  ASSERT_FALSE(static_cast<bool>(logits));
  EXPECT_NE(
      llvm::toString(logits.takeError()).find("is outside the vocabulary"),
      std::string::npos);
  auto wrongCount = model->prefill({1, 2, 3}, 2, state);
  ASSERT_FALSE(static_cast<bool>(wrongCount));
  llvm::consumeError(wrongCount.takeError());
  EXPECT_EQ(state.bytes, before);
}

INSTANTIATE_TEST_SUITE_P(
    Artifacts, CompiledModelTest,
    ::testing::Values(Artifact{"memmamba-tiny", {1, 7, 128, 1001, 8192}},
                      Artifact{"memmamba-fifo-p2", {1, 7, 300}},
                      Artifact{"memmamba-fifo-p2-unfused", {1, 7, 300}},
                      Artifact{"mamba-130m-2l", {1, 7, 33}}),
    [](const ::testing::TestParamInfo<Artifact> &info) {
      std::string name = info.param.name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(CompiledModel, ManifestRecordsTheFusionStrategy) {
  for (auto [name, strategy, rows] :
       {std::tuple<const char *, const char *, int64_t>{"memmamba-fifo-p2",
                                                        "fused", 64},
        {"memmamba-fifo-p2-unfused", "unfused", 20}}) {
    auto model = CompiledModel::open(std::string(MM_TEST_ARTIFACTS) + "/" +
                                     name + ".mmx");
    ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    const llvm::json::Object *fusion =
        (*model)->manifest().getObject("fusion");
    ASSERT_NE(fusion, nullptr) << name;
    EXPECT_EQ(fusion->getString("strategy"), strategy);
    EXPECT_EQ(fusion->getInteger("gemm_rows"), rows);
    const llvm::json::Object *kernels = fusion->getObject("kernels");
    ASSERT_NE(kernels, nullptr);
    const llvm::json::Object *prefill = kernels->getObject("prefill");
    ASSERT_NE(prefill, nullptr);
    // Fused: one scan kernel per layer with its gate; unfused: the gates
    // are elementwise kernels of their own.
    EXPECT_EQ(prefill->getInteger("scan"), (*model)->config().numLayers);
    EXPECT_GT(prefill->getInteger("gemm").value_or(0), 0);
  }
}

TEST(CompiledModel, RefusesWhatIsNotAnArtifact) {
  auto missing = CompiledModel::open("/nonexistent/model.mmx");
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError())
                .find("/nonexistent/model.mmx: cannot load the artifact"),
            std::string::npos);
}

} // namespace
