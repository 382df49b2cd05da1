//===- CompiledModelTest.cpp - compiled host code against the oracle ------===//
//
// Artifacts compiled by the build (test/unit/CMakeLists.txt) run through the
// runtime API and are compared with the reference executor on the same
// random weights: prefill at several lengths, decode, chunked prefill,
// batches, snapshots (spec section 3, invariants 2 to 6).
//
// Built twice: MMCompiledTests runs the CPU artifacts on the host;
// MMCompiledSimTests (MM_TEST_GPU_ARTIFACTS) runs the same tests on GPU
// artifacts for sm_80, sm_90, gfx90a and gfx942 on the simulator device,
// and on a real GPU when MM_TEST_GPU_DEVICE names one (cuda:0).
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestUtil.h"

#include <gmock/gmock.h>

#include "runtime/CompiledModel.h"
#include "runtime/gpu/GpuDevice.h"
#include "runtime/gpu/SimDevice.h"
#include "runtime/reference/ReferenceExecutor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <tuple>
#include <unistd.h>

using namespace mm;
using namespace mm::testing;

namespace {

/// Where an artifact runs.
enum class Where {
  Host,
  /// The simulator device.
  Simulator,
  /// The GPU MM_TEST_GPU_DEVICE names (skipped when it names none).
  RealGpu,
};

struct Artifact {
  const char *name;
  std::vector<size_t> lengths;
  Where where = Where::Host;
  /// The chunk sizes EveryChunkSizeGivesTheReferenceLogits tries.
  std::vector<int64_t> chunks = {1, 3, 32, 69, 70, 0};
};

/// The device `where` names, opened once for the process; null for the host.
gpu::GpuDevice *testDevice(Where where) {
  if (where == Where::Host)
    return nullptr;
  static std::map<Where, std::unique_ptr<gpu::GpuDevice>> devices;
  std::unique_ptr<gpu::GpuDevice> &device = devices[where];
  if (!device) {
    const char *spec = where == Where::Simulator
                           ? "sim"
                           : std::getenv("MM_TEST_GPU_DEVICE");
    if (!spec || !*spec)
      return nullptr;
    auto opened = gpu::GpuDevice::open(spec);
    if (!opened) {
      ADD_FAILURE() << "opening " << spec << ": "
                    << llvm::toString(opened.takeError());
      return nullptr;
    }
    device = std::move(*opened);
  }
  return device.get();
}

class CompiledModelTest : public ::testing::TestWithParam<Artifact> {
protected:
  void SetUp() override {
    if (GetParam().where == Where::RealGpu && !testDevice(Where::RealGpu))
      GTEST_SKIP() << "no GPU: set MM_TEST_GPU_DEVICE=cuda:0 to run the GPU "
                      "artifacts on one";
    device = testDevice(GetParam().where);
    auto opened = openArtifact();
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
    auto logits = model->prefill(tokens, time, state, {PromptLogits::All});
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
  /// A copy of `state` (on the device for a GPU model).
  CompiledState copyOf(const CompiledState &state) {
    auto copy = model->copyState(state);
    if (!copy) {
      ADD_FAILURE() << llvm::toString(copy.takeError());
      return {};
    }
    return std::move(*copy);
  }
  /// The bytes of `state`, on the host.
  std::vector<uint8_t> bytesOf(const CompiledState &state) {
    auto bytes = model->readState(state);
    if (!bytes) {
      ADD_FAILURE() << llvm::toString(bytes.takeError());
      return {};
    }
    return std::move(*bytes);
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
  llvm::Expected<std::unique_ptr<CompiledModel>> openArtifact() const {
    return CompiledModel::open(std::string(MM_TEST_ARTIFACTS) + "/" +
                                   GetParam().name + ".mmx",
                               device);
  }
  /// Spec invariant 5: 1e-4 on the CPU, 1e-3 on GPUs (f32).
  double tolerance() const { return device ? 1e-3 : 1e-4; }

  gpu::GpuDevice *device = nullptr;
  std::unique_ptr<CompiledModel> model;
  const ModelWeights *weights = nullptr;
  std::unique_ptr<ReferenceExecutor> reference;
};

TEST_P(CompiledModelTest, PrefillMatchesTheReference) {
  for (size_t length : GetParam().lengths) {
    std::vector<int32_t> tokens = randomTokens(length, vocab(), length);
    CompiledState state = createState(1);
    SequenceState expectedState = reference->createState();
    std::vector<float> ours = compiledPrefill(tokens, length, state);
    std::vector<float> expected = referencePrefill(tokens, expectedState);
    ASSERT_EQ(ours.size(), expected.size());
    EXPECT_LT(relativeError(ours.data(), expected.data(), ours.size()),
              tolerance())
        << "length " << length;
    // The last position alone, where errors accumulate most.
    EXPECT_LT(relativeError(&ours[(length - 1) * vocab()],
                            &expected[(length - 1) * vocab()], vocab()),
              tolerance())
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
              tolerance())
        << "step " << i;
  }
}

TEST_P(CompiledModelTest, ChunkedPrefillEqualsWholePrefill) {
  std::vector<int32_t> tokens = randomTokens(40, vocab(), 3);
  CompiledState whole = createState(1), chunked = copyOf(whole);
  std::vector<float> expected = compiledPrefill(tokens, 40, whole);
  std::vector<float> first =
      compiledPrefill(llvm::ArrayRef(tokens).take_front(13), 13, chunked);
  std::vector<float> second =
      compiledPrefill(llvm::ArrayRef(tokens).drop_front(13), 27, chunked);
  first.insert(first.end(), second.begin(), second.end());
  ASSERT_EQ(first.size(), expected.size());
  EXPECT_LT(relativeError(first.data(), expected.data(), first.size()), 1e-6);
  std::vector<uint8_t> chunkedBytes = bytesOf(chunked),
                       wholeBytes = bytesOf(whole);
  ASSERT_EQ(chunkedBytes.size(), wholeBytes.size());
  EXPECT_LT(relativeError(reinterpret_cast<const float *>(chunkedBytes.data()),
                          reinterpret_cast<const float *>(wholeBytes.data()),
                          wholeBytes.size() / 4),
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

TEST_P(CompiledModelTest, MixedLengthBatchEqualsEachSequenceAlone) {
  // Spec invariant 4, in one call: sequences of different lengths
  // right-padded to the longest (one with no tokens at all), whole and in
  // chunks that end inside some sequences and after others. Each sequence's
  // logits are the reference's on it alone, its rows past its length NaN;
  // its state is the one it reaches alone (the memory's decisions
  // compared exactly), and decoding goes on from it.
  // (The longest ends chunks of the GPU scan after the others end; the
  // 130m width, slow on the simulator, is shorter and runs in chunks only.)
  const bool big = model->config().hiddenSize >= 512;
  const std::vector<int64_t> lengths =
      big ? std::vector<int64_t>{20, 1, 0, 33}
          : std::vector<int64_t>{45, 1, 0, 300};
  const std::vector<int64_t> chunks =
      big ? std::vector<int64_t>{16} : std::vector<int64_t>{0, 16};
  const int64_t batch = lengths.size(), time = lengths.back();
  std::vector<int32_t> tokens = randomTokens(batch * time, vocab(), 21);
  // The padding is never read: out-of-vocabulary values there change
  // nothing.
  for (int64_t b = 0; b < batch; ++b)
    std::fill(tokens.begin() + b * time + lengths[b],
              tokens.begin() + (b + 1) * time, int32_t(-7));
  std::vector<SequenceState> expectedStates;
  std::vector<std::vector<float>> expected;
  for (int64_t b = 0; b < batch; ++b) {
    expectedStates.push_back(reference->createState());
    expected.push_back(lengths[b]
                           ? referencePrefill(llvm::ArrayRef(tokens).slice(
                                                  b * time, lengths[b]),
                                              expectedStates.back())
                           : std::vector<float>());
  }
  for (int64_t chunk : chunks) {
    CompiledState state = createState(batch);
    PrefillOptions options{PromptLogits::All, chunk, lengths};
    auto logits = model->prefill(tokens, time, state, options);
    ASSERT_TRUE(static_cast<bool>(logits))
        << llvm::toString(logits.takeError());
    // Without logits (prefill_last, whose head reads row 0 of the sequence
    // with no tokens) the same states, bit for bit: the layers run the
    // same kernels.
    CompiledState unread = createState(batch);
    auto none = model->prefill(tokens, time, unread,
                               {PromptLogits::None, chunk, lengths});
    ASSERT_TRUE(static_cast<bool>(none)) << llvm::toString(none.takeError());
    EXPECT_EQ(bytesOf(unread), bytesOf(state)) << "chunk " << chunk;
    for (int64_t b = 0; b < batch; ++b) {
      const float *row = logits->data() + b * time * vocab();
      if (lengths[b]) {
        EXPECT_LT(relativeError(row, expected[b].data(), expected[b].size()),
                  tolerance())
            << "sequence " << b << ", chunk " << chunk;
      }
      EXPECT_TRUE(std::all_of(row + lengths[b] * vocab(), row + time * vocab(),
                              [](float x) { return std::isnan(x); }))
          << "sequence " << b << ": its padding's logits are NaN";
      // The state it reaches alone, as its own run leaves it.
      CompiledState alone = createState(1);
      if (lengths[b])
        compiledPrefill(llvm::ArrayRef(tokens).slice(b * time, lengths[b]),
                        lengths[b], alone);
      auto own = model->extractSequence(state, b);
      ASSERT_TRUE(static_cast<bool>(own)) << llvm::toString(own.takeError());
      std::vector<uint8_t> ownBytes = bytesOf(*own),
                           aloneBytes = bytesOf(alone);
      ASSERT_EQ(ownBytes.size(), aloneBytes.size());
      // Floats within rounding, integers (positions, counts) exactly.
      for (const StateField &field : model->stateFields()) {
        const uint8_t *ours = ownBytes.data() + field.offset,
                      *theirs = aloneBytes.data() + field.offset;
        if (!field.isFloat) {
          EXPECT_EQ(std::memcmp(ours, theirs, 4 * field.elements), 0)
              << field.name << " of sequence " << b << ", chunk " << chunk;
          continue;
        }
        std::vector<float> x(field.elements), y(field.elements);
        std::memcpy(x.data(), ours, 4 * field.elements);
        std::memcpy(y.data(), theirs, 4 * field.elements);
        double scale = 0, difference = 0;
        for (int64_t i = 0; i < field.elements; ++i) {
          scale = std::max(scale, double(std::fabs(y[i])));
          difference = std::max(difference, double(std::fabs(x[i] - y[i])));
        }
        EXPECT_LE(difference, 1e-5 * std::max(scale, 1.0))
            << field.name << " of sequence " << b << ", chunk " << chunk;
      }
      auto ownPools = model->poolPositions(state, b);
      auto alonePools = model->poolPositions(alone, 0);
      ASSERT_TRUE(ownPools && alonePools);
      EXPECT_EQ(*ownPools, *alonePools) << "sequence " << b;
    }
    // Decoding goes on from each sequence's own state, together.
    for (int step = 0; step < 2; ++step) {
      std::vector<int32_t> next = randomTokens(batch, vocab(), 30 + step);
      auto ours = model->decode(next, state);
      ASSERT_TRUE(static_cast<bool>(ours)) << llvm::toString(ours.takeError());
      for (int64_t b = 0; b < batch; ++b) {
        SequenceState copy = expectedStates[b];
        for (int earlier = 0; earlier < step; ++earlier)
          ASSERT_TRUE(static_cast<bool>(reference->decode(
              randomTokens(batch, vocab(), 30 + earlier)[b], copy)));
        auto theirs = reference->decode(next[b], copy);
        ASSERT_TRUE(static_cast<bool>(theirs));
        EXPECT_LT(
            relativeError(ours->data() + b * vocab(), theirs->data(), vocab()),
            tolerance())
            << "sequence " << b << ", step " << step;
      }
    }
  }
  // The last logits of each sequence are its last token's, whole and in
  // chunks (the shorter sequence ends inside the second chunk).
  std::vector<int32_t> two(tokens.begin(), tokens.begin() + time);
  two.insert(two.end(), tokens.begin() + 3 * time, tokens.end());
  for (int64_t chunk : {int64_t(0), int64_t(16)}) {
    CompiledState state = createState(2);
    PrefillOptions last{PromptLogits::Last, chunk, {lengths[0], lengths[3]}};
    auto lastLogits = model->prefill(two, time, state, last);
    ASSERT_TRUE(static_cast<bool>(lastLogits))
        << llvm::toString(lastLogits.takeError());
    EXPECT_LT(relativeError(lastLogits->data(),
                            &expected[0][(lengths[0] - 1) * vocab()], vocab()),
              tolerance())
        << "chunk " << chunk;
    EXPECT_LT(relativeError(lastLogits->data() + vocab(),
                            &expected[3][(lengths[3] - 1) * vocab()], vocab()),
              tolerance())
        << "chunk " << chunk;
  }
  CompiledState state = createState(2);
  // Lengths that do not fit the rows, and a sequence with no last token.
  std::vector<uint8_t> before = bytesOf(state);
  EXPECT_THAT(message(model->prefill(two, time, state,
                                     {PromptLogits::All, 0, {time + 1, 1}})),
              ::testing::HasSubstr("sequence 0 has length " +
                                   std::to_string(time + 1) + ", outside [0, " +
                                   std::to_string(time) + "]"));
  EXPECT_THAT(
      message(model->prefill(two, time, state, {PromptLogits::All, 0, {1}})),
      ::testing::HasSubstr("1 lengths for 2 sequences"));
  EXPECT_THAT(
      message(
          model->prefill(two, time, state, {PromptLogits::Last, 0, {3, 0}})),
      ::testing::HasSubstr("sequence 1 has no tokens, so no last logits"));
  EXPECT_EQ(bytesOf(state), before);
}

TEST_P(CompiledModelTest, SnapshotAndRestoreReproduceTheRun) {
  CompiledState state = createState(2);
  compiledPrefill(randomTokens(2 * 12, vocab(), 5), 12, state);
  // A snapshot where the state lives (device memory for a GPU model), and
  // one on the host.
  CompiledState saved = copyOf(state);
  std::vector<uint8_t> savedBytes = bytesOf(state);
  std::vector<int32_t> next = randomTokens(2 * 6, vocab(), 6);
  std::vector<float> first = compiledPrefill(next, 6, state);
  std::vector<uint8_t> after = bytesOf(state);
  EXPECT_NE(after, savedBytes);
  ASSERT_EQ(message(model->restoreState(state, saved)), "");
  EXPECT_EQ(bytesOf(state), savedBytes);
  EXPECT_EQ(compiledPrefill(next, 6, state), first);
  EXPECT_EQ(bytesOf(state), after);
  ASSERT_EQ(message(model->writeState(state, savedBytes)), "");
  EXPECT_EQ(compiledPrefill(next, 6, state), first);
  EXPECT_EQ(bytesOf(state), after);
  // The saved copy is a state of its own: it runs, and did not move.
  EXPECT_EQ(compiledPrefill(next, 6, saved), first);
  // States of other batches do not mix.
  CompiledState single = createState(1);
  EXPECT_THAT(message(model->restoreState(single, saved)),
              ::testing::HasSubstr("a state of 2 sequences cannot replace one "
                                   "of 1"));
  EXPECT_THAT(message(model->writeState(single, savedBytes)),
              ::testing::HasSubstr("a snapshot of"));
}

TEST_P(CompiledModelTest, DecodeStepsReplayAGraphOfTheirLaunches) {
  // Steps replayed from the graph captured at the first one compute what
  // steps that launch their kernels from the host do, bit for bit, on
  // every sequence of a batch.
  const int64_t batch = 2;
  CompiledState replayed = createState(batch);
  compiledPrefill(randomTokens(batch * 9, vocab(), 11), 9, replayed);
  CompiledState launched = copyOf(replayed);
  gpu::SimDevice *simulator = device ? gpu::SimDevice::get(*device) : nullptr;
  auto launches = [&] {
    uint64_t total = 0;
    if (simulator)
      for (const gpu::SimKernelCounters &kernel : simulator->getCounters())
        total += kernel.launches;
    return total;
  };
  uint64_t replayedLaunches = 0, launchedLaunches = 0;
  for (int step = 0; step < 8; ++step) {
    std::vector<int32_t> tokens = randomTokens(batch, vocab(), 40 + step);
    uint64_t before = launches();
    auto fromGraph = model->decode(tokens, replayed, {/*graphs=*/true});
    uint64_t middle = launches();
    auto fromHost = model->decode(tokens, launched, {/*graphs=*/false});
    ASSERT_TRUE(fromGraph && fromHost) << "step " << step;
    EXPECT_EQ(*fromGraph, *fromHost) << "step " << step;
    replayedLaunches += middle - before;
    launchedLaunches += launches() - middle;
  }
  EXPECT_EQ(bytesOf(replayed), bytesOf(launched));
  // The graph holds every kernel of the step (the simulator counts the
  // kernels a replay runs).
  EXPECT_EQ(replayedLaunches, launchedLaunches);
  if (!simulator)
    return;
  EXPECT_GT(replayedLaunches, 0u);
  // The kernels of a step: at most 14 per layer and 8 more. Per layer the
  // norm, the four GEMVs, the conv and scan steps, the memory block's step
  // kernel and the copy of its mixer output, the cross-layer attention's
  // step kernel where there is one; once per step the embedding, the final
  // norm, the LM head, the position and a kernel per type of pool field
  // the cross-layer attentions read (copied after them). Kernels on the
  // loop emitters (a linear with bias: memmamba-fifo-p2's in_proj and
  // out_proj; mamba-130m-2l's GEMMs and scan, on them for CI's time)
  // launch once per sequence. At batch 1 memmamba-fifo-p2 launches 45 for
  // its 4 layers, memmamba-tiny 27 for 2.
  const int64_t layers = model->config().numLayers;
  EXPECT_LE(replayedLaunches / 8, uint64_t(14 * layers + 8));
  const double perLayer = double(replayedLaunches) / 8 / layers;
  RecordProperty("decode_launches_per_layer", std::to_string(perLayer));
}

TEST_P(CompiledModelTest, BadInputIsRejectedAndLeavesTheStateAlone) {
  CompiledState state = createState(1);
  std::vector<uint8_t> before = bytesOf(state);
  auto logits = model->prefill({1, static_cast<int32_t>(vocab())}, 2, state);
  ASSERT_FALSE(static_cast<bool>(logits));
  EXPECT_NE(
      llvm::toString(logits.takeError()).find("is outside the vocabulary"),
      std::string::npos);
  auto wrongCount = model->prefill({1, 2, 3}, 2, state);
  ASSERT_FALSE(static_cast<bool>(wrongCount));
  llvm::consumeError(wrongCount.takeError());
  EXPECT_EQ(bytesOf(state), before);
}

TEST_P(CompiledModelTest, EveryChunkSizeGivesTheReferenceLogits) {
  // A prompt longer than the chunk runs in pieces, carrying the state;
  // batches gather each piece's tokens. Whatever the chunk, the logits are
  // the reference's, and only those asked for come back.
  const int64_t batch = 2, time = 70;
  std::vector<int32_t> tokens = randomTokens(batch * time, vocab(), 8);
  std::vector<std::vector<float>> expected(batch);
  std::vector<SequenceState> expectedStates;
  for (int64_t b = 0; b < batch; ++b) {
    expectedStates.push_back(reference->createState());
    expected[b] = referencePrefill(llvm::ArrayRef(tokens).slice(b * time, time),
                                   expectedStates.back());
  }
  for (int64_t chunk : GetParam().chunks) {
    CompiledState all = createState(batch), last = createState(batch),
                  none = createState(batch);
    auto allLogits =
        model->prefill(tokens, time, all, {PromptLogits::All, chunk});
    auto lastLogits =
        model->prefill(tokens, time, last, {PromptLogits::Last, chunk});
    auto noLogits =
        model->prefill(tokens, time, none, {PromptLogits::None, chunk});
    ASSERT_TRUE(allLogits && lastLogits && noLogits) << "chunk " << chunk;
    ASSERT_EQ(int64_t(allLogits->size()), batch * time * vocab());
    ASSERT_EQ(int64_t(lastLogits->size()), batch * vocab());
    EXPECT_TRUE(noLogits->empty());
    for (int64_t b = 0; b < batch; ++b) {
      EXPECT_LT(relativeError(allLogits->data() + b * time * vocab(),
                              expected[b].data(), time * vocab()),
                tolerance())
          << "chunk " << chunk << ", sequence " << b;
      // The last position's logits (prefill_last: the head on that row
      // alone, another kernel than all rows') are the reference's.
      EXPECT_LT(relativeError(lastLogits->data() + b * vocab(),
                              expected[b].data() + (time - 1) * vocab(),
                              vocab()),
                tolerance())
          << "chunk " << chunk << ", sequence " << b;
    }
    std::vector<uint8_t> allBytes = bytesOf(all);
    EXPECT_EQ(bytesOf(last), allBytes) << "chunk " << chunk;
    EXPECT_EQ(bytesOf(none), allBytes) << "chunk " << chunk;
    EXPECT_FALSE(static_cast<bool>(model->checkState(all)));
  }
}

TEST_P(CompiledModelTest, StatesFromOutsideAreChecked) {
  CompiledState state = createState(2);
  compiledPrefill(randomTokens(2 * 50, vocab(), 9), 50, state);
  ASSERT_EQ(message(model->checkState(state)), "");
  auto field = [&](llvm::StringRef kind, int64_t layer) -> const StateField * {
    for (const StateField &f : model->stateFields())
      if (f.kind == kind && f.layer == layer)
        return &f;
    return nullptr;
  };
  // Element `index` of sequence 1 of a field ([batch, ...] at batch *
  // offset), in a snapshot.
  const std::vector<uint8_t> good = bytesOf(state);
  auto at = [&](std::vector<uint8_t> &bytes, const StateField &f,
                int64_t index) {
    return bytes.data() + state.batch * f.offset + 4 * (f.elements + index);
  };
  auto expectRefused = [&](const std::vector<uint8_t> &bad,
                           llvm::StringRef what) {
    std::string error = message(model->checkState(state.batch, bad));
    EXPECT_THAT(error, ::testing::HasSubstr("sequence 1"));
    EXPECT_THAT(error, ::testing::HasSubstr(what.str()));
    // A restore refuses it, and leaves the state alone.
    EXPECT_THAT(message(model->writeState(state, bad)),
                ::testing::HasSubstr(what.str()));
    EXPECT_EQ(bytesOf(state), good);
    // A host state is the caller's bytes: a run checks them, refuses
    // these, and leaves them alone.
    if (device)
      return;
    CompiledState host;
    host.batch = state.batch;
    host.bytes = bad;
    EXPECT_FALSE(static_cast<bool>(model->decode({1, 2}, host)));
    EXPECT_EQ(host.bytes, bad);
  };

  const StateField *ssm = field("ssm_state", 0);
  ASSERT_NE(ssm, nullptr);
  std::vector<uint8_t> nan = good;
  float value = std::nanf("");
  std::memcpy(at(nan, *ssm, 5), &value, 4);
  EXPECT_THAT(message(model->checkState(state.batch, nan)),
              ::testing::HasSubstr("layers.0.ssm_state: element 5 is not "
                                   "finite"));
  EXPECT_THAT(message(model->writeState(state, nan)),
              ::testing::HasSubstr("element 5 is not finite"));
  // Only restores check every value; runs check what indexes memory.
  EXPECT_EQ(message(model->checkState(state.batch, nan, /*checkValues=*/false)),
            "");

  if (!model->config().memory)
    return;
  const int64_t last = model->config().numLayers - 1;
  const StateField *count = field("pool_count", last);
  const StateField *positions = field("pool_positions", last);
  ASSERT_TRUE(count && positions);
  for (int32_t badCount : {-1, int32_t(model->config().memory->poolSize + 1),
                           std::numeric_limits<int32_t>::max()}) {
    std::vector<uint8_t> bad = good;
    std::memcpy(at(bad, *count, 0), &badCount, 4);
    expectRefused(bad, count->name + ": count " + std::to_string(badCount));
  }
  int32_t used;
  std::vector<uint8_t> probe = good;
  std::memcpy(&used, at(probe, *count, 0), 4);
  ASSERT_GT(used, 1) << "the test needs notes in the pool";
  for (int32_t badPosition : {-5, 50, 1 << 30}) {
    std::vector<uint8_t> bad = good;
    std::memcpy(at(bad, *positions, 0), &badPosition, 4);
    expectRefused(bad, positions->name + ": slot 0 holds position " +
                           std::to_string(badPosition));
  }
  // Two slots of one token.
  std::vector<uint8_t> twice = good;
  std::memcpy(at(twice, *positions, 1), at(twice, *positions, 0), 4);
  expectRefused(twice, positions->name + ": slot 1 holds position");
}

TEST_P(CompiledModelTest, NonFiniteWeightsAndLogitsAreErrors) {
  llvm::StringMap<ModelWeights::Tensor> tensors =
      initializeWeights(model->config(), {/*seed=*/5});
  const std::string name = "backbone.layers.0.mixer.out_proj.weight";
  tensors[name].values[17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(
      message(ModelWeights::fromTensors(model->config(), tensors, "bad.st")),
      ::testing::HasSubstr("bad.st: tensor '" + name +
                           "' holds NaN at element 17"));
  tensors[name].values[17] = -std::numeric_limits<float>::infinity();
  EXPECT_THAT(
      message(ModelWeights::fromTensors(model->config(), tensors, "bad.st")),
      ::testing::HasSubstr("holds an infinite value at element 17"));
  // Loaded anyway, on request: every run fails instead of printing token 0.
  auto loaded = ModelWeights::fromTensors(model->config(), std::move(tensors),
                                          "bad.st", {/*allowNonFinite=*/true});
  ASSERT_TRUE(static_cast<bool>(loaded)) << message(loaded.takeError());
  auto opened = openArtifact();
  ASSERT_TRUE(static_cast<bool>(opened));
  ASSERT_EQ(message((*opened)->bindWeights(*loaded)), "");
  auto state = (*opened)->createState(1);
  ASSERT_TRUE(static_cast<bool>(state));
  auto before = (*opened)->readState(*state);
  ASSERT_TRUE(static_cast<bool>(before));
  // All logits are checked from the first position; the last ones
  // (prefill_last computes no others) at the last.
  EXPECT_THAT(
      message((*opened)->prefill({1, 2, 3}, 3, *state, {PromptLogits::All})),
      ::testing::HasSubstr("the logits at position 0 are not finite"));
  EXPECT_THAT(message((*opened)->prefill({1, 2, 3}, 3, *state)),
              ::testing::HasSubstr("the logits at position 2 are not finite"));
  auto after = (*opened)->readState(*state);
  ASSERT_TRUE(static_cast<bool>(after));
  EXPECT_EQ(*after, *before);
  EXPECT_THAT(message((*opened)->decode({4}, *state)),
              ::testing::HasSubstr("are not finite"));
}

TEST_P(CompiledModelTest, SizesFromOutsideAreChecked) {
  EXPECT_THAT(message(model->createState(0)),
              ::testing::HasSubstr("a state needs 1 to 1048576 sequences"));
  EXPECT_THAT(message(model->createState(int64_t(1) << 40)),
              ::testing::HasSubstr("not 1099511627776"));
  // More sequences than this machine's memory holds: an error, not an
  // allocation the kernel overcommits and then kills the process for.
  const int64_t physical =
      int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
  // (The simulator's device memory is this machine's too.)
  const int64_t batch = physical / model->stateBytesPerSequence() + 1;
  if (batch <= kMaxBatch && (!device || device->isSimulator())) {
    EXPECT_THAT(message(model->createState(batch)),
                ::testing::HasSubstr("more than this machine's available "
                                     "memory"));
  }
  // More than a GPU's memory.
  if (device && !device->isSimulator()) {
    const int64_t onDevice =
        device->getTotalMemory() / model->stateBytesPerSequence() + 1;
    if (onDevice <= kMaxBatch) {
      EXPECT_THAT(message(model->createState(onDevice)),
                  ::testing::HasSubstr("more than the memory of"));
    }
  }
  CompiledState state = createState(1);
  EXPECT_THAT(message(model->prefill({1}, 1, state, {PromptLogits::Last, -1})),
              ::testing::HasSubstr("chunks hold 1 to"));
  EXPECT_THAT(
      message(model->prefill({1}, std::numeric_limits<int64_t>::max(), state)),
      ::testing::HasSubstr("tokens for 1 sequences of"));
}

std::string artifactName(const ::testing::TestParamInfo<Artifact> &info) {
  std::string name = info.param.name;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

#ifndef MM_TEST_GPU_ARTIFACTS
INSTANTIATE_TEST_SUITE_P(
    Artifacts, CompiledModelTest,
    ::testing::Values(Artifact{"memmamba-tiny", {1, 7, 128, 1001, 8192}},
                      Artifact{"memmamba-fifo-p2", {1, 7, 300}},
                      Artifact{"memmamba-fifo-p2-unfused", {1, 7, 300}},
                      Artifact{"mamba-130m-2l", {1, 7, 33}}),
    artifactName);
#else
/// The GPU artifacts of one target (memmamba-tiny-cuda-sm_90.mmx, ...), on
/// `where`. The 130m shape's lm_head (50280 x 768 per token) sets the pace
/// of the simulator (about 55 tokens/s on two cores) and of the reference
/// (f64): its chunk sizes are fewer, and its 1000-token prompt runs on
/// sm_90 only on the simulator (2 to 3 minutes on two cores).
std::vector<Artifact> gpuArtifacts(Where where,
                                   std::initializer_list<const char *> targets) {
  // Stable addresses for the names the artifacts point to.
  static std::deque<std::string> names;
  std::vector<Artifact> artifacts;
  for (const char *target : targets) {
    std::string suffix = target;
    bool longRuns = suffix == "cuda-sm_90" || where == Where::RealGpu;
    for (const char *config :
         {"memmamba-tiny", "memmamba-fifo-p2", "mamba-130m-2l"}) {
      names.push_back(std::string(config) + "-" + suffix);
      bool big = llvm::StringRef(config) == "mamba-130m-2l";
      std::vector<size_t> lengths = {1, 7, 100};
      if (!big || longRuns)
        lengths.push_back(1000);
      Artifact artifact{names.back().c_str(), lengths, where};
      if (big)
        artifact.chunks = {32};
      artifacts.push_back(artifact);
    }
  }
  return artifacts;
}
INSTANTIATE_TEST_SUITE_P(
    Simulator, CompiledModelTest,
    ::testing::ValuesIn(gpuArtifacts(Where::Simulator,
                                     {"cuda-sm_80", "cuda-sm_90", "hip-gfx90a",
                                      "hip-gfx942"})),
    artifactName);
// PTX for sm_80 runs on every NVIDIA GPU from the A100 on (the driver
// compiles it for its chip).
INSTANTIATE_TEST_SUITE_P(RealGpu, CompiledModelTest,
                         ::testing::ValuesIn(gpuArtifacts(Where::RealGpu,
                                                          {"cuda-sm_80"})),
                         artifactName);
#endif

#ifndef MM_TEST_GPU_ARTIFACTS
// Properties of CPU artifacts.
TEST(CompiledModel, ManifestRecordsTheFusionStrategy) {
  for (auto [name, strategy, rows] :
       {std::tuple<const char *, const char *, int64_t>{"memmamba-fifo-p2",
                                                        "fused", 64},
        {"memmamba-fifo-p2-unfused", "unfused", 20}}) {
    auto model = CompiledModel::open(std::string(MM_TEST_ARTIFACTS) + "/" +
                                     name + ".mmx");
    ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    const llvm::json::Object *fusion = (*model)->manifest().getObject("fusion");
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
                .find("/nonexistent/model.mmx: cannot read: No such file"),
            std::string::npos);
  EXPECT_THAT(message(CompiledModel::open("/dev/zero")),
              ::testing::HasSubstr("/dev/zero: not a regular file"));
  EXPECT_THAT(message(CompiledModel::open("/tmp")),
              ::testing::HasSubstr("/tmp: is a directory"));
}

#else
/// Launches summed over the kernels the simulator `device` ran.
uint64_t simulatedLaunches(gpu::GpuDevice &device) {
  uint64_t launches = 0;
  for (const gpu::SimKernelCounters &kernel :
       static_cast<gpu::SimDevice &>(device).getCounters())
    launches += kernel.launches;
  return launches;
}

TEST(CompiledSimModel, ModelsOnTwoSimulatorsRunTheirOwnKernels) {
  // Each model's kernel context loads the artifact's kernels on its own
  // device; the two simulators share nothing, and each runs every launch
  // of its model's calls.
  auto first = gpu::GpuDevice::open("sim"), second = gpu::GpuDevice::open("sim");
  ASSERT_TRUE(first && second);
  std::string path =
      std::string(MM_TEST_ARTIFACTS) + "/memmamba-tiny-cuda-sm_90.mmx";
  auto model = CompiledModel::open(path, first->get());
  auto other = CompiledModel::open(path, second->get());
  ASSERT_TRUE(model && other);
  ModelWeights weights = randomWeights((*model)->config(), /*seed=*/21);
  ASSERT_EQ(message((*model)->bindWeights(weights)), "");
  ASSERT_EQ(message((*other)->bindWeights(weights)), "");
  ReferenceExecutor reference(weights);

  std::vector<int32_t> tokens = randomTokens(7, (*model)->config().vocabSize,
                                             /*seed=*/5);
  std::vector<std::vector<float>> logits;
  for (CompiledModel *each : {model->get(), other->get()}) {
    gpu::GpuDevice &device = *each->device();
    uint64_t before = simulatedLaunches(device);
    auto state = each->createState(1);
    ASSERT_TRUE(static_cast<bool>(state)) << message(state.takeError());
    auto out = each->prefill(tokens, 7, *state, {PromptLogits::All});
    ASSERT_TRUE(static_cast<bool>(out)) << message(out.takeError());
    EXPECT_GT(simulatedLaunches(device), before);
    logits.push_back(std::move(*out));
  }
  EXPECT_EQ(logits[0], logits[1]);
  SequenceState referenceState = reference.createState();
  auto expected = reference.prefill(tokens, referenceState);
  ASSERT_TRUE(static_cast<bool>(expected)) << message(expected.takeError());
  ASSERT_EQ(logits[0].size(), expected->size());
  EXPECT_LT(relativeError(logits[0].data(), expected->data(), expected->size()),
            1e-3);

  // The second model keeps running once the first and its device are gone.
  model->reset();
  first->reset();
  auto state = (*other)->createState(1);
  ASSERT_TRUE(static_cast<bool>(state));
  EXPECT_TRUE(static_cast<bool>((*other)->prefill(tokens, 7, *state)));
}
#endif

} // namespace
