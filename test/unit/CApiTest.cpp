//===- CApiTest.cpp - the runtime's C ABI ---------------------------------===//
//
// A compiled artifact driven through runtime/MMRuntime.h only: prefill,
// decode, batches and snapshots against the reference executor on the same
// weights file, and every misuse giving a status and a message.
//
// Built twice: MMCompiledTests runs the CPU artifact on the host;
// MMCApiSimTests (MM_TEST_GPU_ARTIFACTS) runs the same tests on GPU
// artifacts on the simulator device, through libmm_runtime.so alone, as a
// program in another language would.
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestUtil.h"

#include "runtime/MMRuntime.h"
#include "runtime/Safetensors.h"
#include "runtime/reference/ReferenceExecutor.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

extern "C" int32_t mm_test_greedy_step_in_c(const char *artifact,
                                            const char *weights,
                                            const char *device,
                                            const int32_t *tokens,
                                            int64_t time);

using namespace mm;
using namespace mm::testing;

namespace {

/// An artifact of memmamba-tiny and the device it runs on.
struct Placement {
  const char *artifact;
  const char *device;
};

std::string artifactPath(const char *name = "memmamba-tiny") {
  return std::string(MM_TEST_ARTIFACTS) + "/" + name + ".mmx";
}

class CApiTest : public ::testing::TestWithParam<Placement> {
protected:
  static void SetUpTestSuite() {
    // The weights file every test opens: random weights of memmamba-tiny.
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createTemporaryFile("capi", "safetensors", path));
    weightsPath = std::string(path);
    auto tensors = initializeWeights(memmambaTiny(), {/*seed=*/21});
    std::vector<TensorToWrite> toWrite;
    for (auto &entry : tensors)
      toWrite.push_back({entry.getKey().str(), DType::F32,
                         entry.getValue().shape, entry.getValue().values});
    ASSERT_FALSE(static_cast<bool>(writeSafetensors(weightsPath, toWrite)));
  }
  static void TearDownTestSuite() { llvm::sys::fs::remove(weightsPath); }

  void SetUp() override {
    model = openModel();
    ASSERT_NE(model, nullptr) << mm_last_error();
    auto loaded = ModelWeights::load(memmambaTiny(), weightsPath);
    ASSERT_TRUE(static_cast<bool>(loaded))
        << llvm::toString(loaded.takeError());
    // The executor refers to the weights: they live as long as the test.
    weights = std::make_unique<ModelWeights>(std::move(*loaded));
    reference = std::make_unique<ReferenceExecutor>(*weights);
  }
  void TearDown() override { mm_model_free(model); }

  /// Another model of the test's artifact, on its device.
  mm_model *openModel() const {
    return mm_model_open_on_device(artifactPath(GetParam().artifact).c_str(),
                                   weightsPath.c_str(), GetParam().device);
  }
  bool onGpu() const { return std::string(GetParam().device) != "cpu"; }
  /// Spec invariant 5: 1e-4 on the CPU, 1e-3 on GPUs (f32).
  double tolerance() const { return onGpu() ? 1e-3 : 1e-4; }

  static inline std::string weightsPath;
  mm_model *model = nullptr;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<ReferenceExecutor> reference;
};

TEST_P(CApiTest, PrefillAndDecodeMatchTheReference) {
  int64_t vocab = mm_model_vocab_size(model);
  ASSERT_EQ(vocab, 256);
  mm_state *state = mm_state_create(model, 1);
  ASSERT_NE(state, nullptr) << mm_last_error();
  EXPECT_EQ(mm_state_size(state), mm_model_state_bytes(model));
  EXPECT_STREQ(mm_model_device(model), GetParam().device);

  std::vector<int32_t> prompt = randomTokens(37, vocab, 3);
  std::vector<float> logits(prompt.size() * vocab);
  ASSERT_EQ(mm_prefill_all_logits(model, state, prompt.data(), prompt.size(),
                                  logits.data()),
            0)
      << mm_last_error();
  SequenceState expectedState = reference->createState();
  auto expected = reference->prefill(prompt, expectedState);
  ASSERT_TRUE(static_cast<bool>(expected));
  EXPECT_LT(relativeError(logits.data(), expected->data(), logits.size()),
            tolerance());
  // mm_prefill gives the last position's logits, in chunks of any size.
  for (int64_t chunk : {0, 1, 5}) {
    ASSERT_EQ(mm_model_set_prefill_chunk(model, chunk), 0);
    mm_state *again = mm_state_create(model, 1);
    std::vector<float> last(vocab);
    ASSERT_EQ(
        mm_prefill(model, again, prompt.data(), prompt.size(), last.data()), 0)
        << mm_last_error();
    EXPECT_LT(relativeError(last.data(), expected->data() + 36 * vocab, vocab),
              tolerance())
        << "chunk " << chunk;
    mm_state_free(again);
  }
  ASSERT_EQ(mm_model_set_prefill_chunk(model, 512), 0);

  for (int32_t token : randomTokens(5, vocab, 4)) {
    std::vector<float> step(vocab);
    ASSERT_EQ(mm_decode(model, state, &token, step.data()), 0)
        << mm_last_error();
    auto want = reference->decode(token, expectedState);
    ASSERT_TRUE(static_cast<bool>(want));
    EXPECT_LT(relativeError(step.data(), want->data(), vocab), tolerance());
  }
  mm_state_free(state);
}

TEST_P(CApiTest, BatchesAndSnapshots) {
  int64_t vocab = mm_model_vocab_size(model);
  mm_state *state = mm_state_create(model, 2);
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(mm_state_batch(state), 2);
  EXPECT_EQ(mm_state_size(state), 2 * mm_model_state_bytes(model));
  std::vector<int32_t> tokens = randomTokens(2 * 9, vocab, 5);
  ASSERT_EQ(mm_prefill(model, state, tokens.data(), 9, nullptr), 0);

  std::vector<uint8_t> saved(mm_state_size(state));
  ASSERT_EQ(mm_state_snapshot(state, saved.data(), saved.size()), 0);
  int32_t next[2] = {7, 11};
  std::vector<float> first(2 * vocab), again(2 * vocab);
  ASSERT_EQ(mm_decode(model, state, next, first.data()), 0);
  ASSERT_EQ(mm_state_restore(state, saved.data(), saved.size()), 0);
  ASSERT_EQ(mm_decode(model, state, next, again.data()), 0);
  EXPECT_EQ(first, again);

  // Sequence 1 of the batch is the same as running it alone.
  mm_state *alone = mm_state_create(model, 1);
  std::vector<float> single(vocab), step(vocab);
  ASSERT_EQ(mm_prefill(model, alone, tokens.data() + 9, 9, single.data()), 0);
  ASSERT_EQ(mm_decode(model, alone, &next[1], step.data()), 0);
  EXPECT_LT(relativeError(step.data(), first.data() + vocab, vocab), 1e-6);
  mm_state_free(alone);
  mm_state_free(state);
}

TEST_P(CApiTest, SequencesOfDifferentLengthsPrefillInOneCall) {
  // Rows of 12 tokens: sequence 0 has 5, sequence 1 all 12; the padding
  // is never read (out of the vocabulary here). Each sequence's last
  // logits and next step are those of running it alone.
  int64_t vocab = mm_model_vocab_size(model);
  const int64_t time = 12, lengths[2] = {5, 12};
  std::vector<int32_t> tokens = randomTokens(2 * time, vocab, 9);
  std::fill(tokens.begin() + lengths[0], tokens.begin() + time, -1);
  mm_state *state = mm_state_create(model, 2);
  ASSERT_NE(state, nullptr);
  std::vector<float> last(2 * vocab), step(2 * vocab);
  ASSERT_EQ(mm_prefill_lengths(model, state, tokens.data(), time, lengths,
                               last.data()),
            0)
      << mm_last_error();
  int32_t next[2] = {3, 17};
  ASSERT_EQ(mm_decode(model, state, next, step.data()), 0) << mm_last_error();
  for (int b = 0; b < 2; ++b) {
    mm_state *alone = mm_state_create(model, 1);
    std::vector<float> single(vocab), singleStep(vocab);
    ASSERT_EQ(mm_prefill(model, alone, tokens.data() + b * time, lengths[b],
                         single.data()),
              0)
        << mm_last_error();
    ASSERT_EQ(mm_decode(model, alone, &next[b], singleStep.data()), 0);
    EXPECT_LT(relativeError(last.data() + b * vocab, single.data(), vocab),
              1e-5)
        << "sequence " << b;
    EXPECT_LT(relativeError(step.data() + b * vocab, singleStep.data(), vocab),
              1e-5)
        << "sequence " << b;
    mm_state_free(alone);
  }
  const int64_t tooLong[2] = {5, 13};
  EXPECT_NE(
      mm_prefill_lengths(model, state, tokens.data(), time, tooLong, nullptr),
      0);
  EXPECT_NE(std::string(mm_last_error())
                .find("sequence 1 has length 13, outside [0, 12]"),
            std::string::npos)
      << mm_last_error();
  EXPECT_NE(
      mm_prefill_lengths(model, state, tokens.data(), time, nullptr, nullptr),
      0);
  EXPECT_STREQ(mm_last_error(), "mm_prefill_lengths: lengths is NULL");
  mm_state_free(state);
}

TEST_P(CApiTest, MisuseGivesAStatusAndAMessage) {
  int64_t vocab = mm_model_vocab_size(model);
  mm_state *state = mm_state_create(model, 1);
  std::vector<uint8_t> before(mm_state_size(state));
  ASSERT_EQ(mm_state_snapshot(state, before.data(), before.size()), 0);

  int32_t outside[2] = {1, static_cast<int32_t>(vocab)};
  EXPECT_NE(mm_prefill(model, state, outside, 2, nullptr), 0);
  EXPECT_NE(std::string(mm_last_error()).find("outside the vocabulary"),
            std::string::npos)
      << mm_last_error();
  std::vector<uint8_t> after(before.size());
  ASSERT_EQ(mm_state_snapshot(state, after.data(), after.size()), 0);
  EXPECT_EQ(before, after);

  EXPECT_NE(mm_prefill(model, state, outside, 0, nullptr), 0);
  EXPECT_STREQ(mm_last_error(),
               "mm_prefill: time must be at least 1 and batch x time must "
               "fit in 64 bits, got time 0");
  EXPECT_NE(mm_prefill_all_logits(model, state, outside, 2, nullptr), 0);
  EXPECT_STREQ(mm_last_error(), "mm_prefill_all_logits: logits is NULL");
  EXPECT_NE(mm_model_set_prefill_chunk(model, -1), 0);
  EXPECT_NE(std::string(mm_last_error()).find("not -1"), std::string::npos);
  EXPECT_NE(mm_prefill(model, state, nullptr, 1, nullptr), 0);
  EXPECT_STREQ(mm_last_error(), "mm_prefill: tokens is NULL");
  EXPECT_NE(mm_state_restore(state, before.data(), 3), 0);
  EXPECT_NE(std::string(mm_last_error()).find("the snapshot holds 3 bytes"),
            std::string::npos);
  EXPECT_EQ(mm_state_create(model, 0), nullptr);
  EXPECT_STREQ(mm_last_error(), "mm_state_create: a state needs 1 to 1048576 "
                                "sequences, not 0");
  EXPECT_EQ(mm_state_create(model, INT64_MAX / 16), nullptr);
  EXPECT_NE(std::string(mm_last_error()).find("mm_state_create: a state needs"),
            std::string::npos);

  mm_model *other = openModel();
  ASSERT_NE(other, nullptr);
  int32_t token = 1;
  EXPECT_NE(mm_decode(other, state, &token, nullptr), 0);
  EXPECT_STREQ(mm_last_error(),
               "mm_decode: the state was created for another model");
  mm_model_free(other);
  mm_state_free(state);
}

TEST_P(CApiTest, DamagedSnapshotsAreRefused) {
  mm_state *state = mm_state_create(model, 1);
  std::vector<int32_t> tokens = randomTokens(40, 256, 12);
  ASSERT_EQ(mm_prefill(model, state, tokens.data(), 40, nullptr), 0);
  std::vector<uint8_t> good(mm_state_size(state));
  ASSERT_EQ(mm_state_snapshot(state, good.data(), good.size()), 0);
  // The pool count of layer 1 is the last int32 before the position (the
  // state layout of memmamba-tiny: common/StateLayout.h).
  const size_t position = good.size() - 4, count = position - 4;
  int32_t seen;
  std::memcpy(&seen, &good[position], 4);
  EXPECT_EQ(seen, 40);
  for (int32_t bad : {-1, 9, 1 << 30}) {
    std::vector<uint8_t> damaged = good;
    std::memcpy(&damaged[count], &bad, 4);
    EXPECT_NE(mm_state_restore(state, damaged.data(), damaged.size()), 0);
    EXPECT_NE(std::string(mm_last_error())
                  .find("mm_state_restore: invalid state: sequence 0, "
                        "layers.1.pool_count: count " +
                        std::to_string(bad)),
              std::string::npos)
        << mm_last_error();
  }
  std::vector<uint8_t> nan = good;
  const float value = std::nanf("");
  std::memcpy(&nan[8], &value, 4);
  EXPECT_NE(mm_state_restore(state, nan.data(), nan.size()), 0);
  EXPECT_NE(std::string(mm_last_error()).find("is not finite"),
            std::string::npos);
  // Nothing was restored: the state is the one before.
  std::vector<uint8_t> after(good.size());
  ASSERT_EQ(mm_state_snapshot(state, after.data(), after.size()), 0);
  EXPECT_EQ(after, good);
  mm_state_free(state);
}

TEST_P(CApiTest, AStateServesOneCallAtATime) {
  // One thread prefills long prompts on a state while this one decodes on
  // the same state. Calls that meet are refused with a message (on either
  // side), never run together.
  mm_state *state = mm_state_create(model, 1);
  // The simulator is slower: shorter prompts meet the decodes as often.
  std::vector<int32_t> tokens = randomTokens(onGpu() ? 300 : 3000, 256, 13);
  std::atomic<bool> done{false};
  std::atomic<int> refused{0};
  std::string prefillError;
  std::thread prefills([&] {
    for (int i = 0; i < (onGpu() ? 5 : 20); ++i)
      if (mm_prefill(model, state, tokens.data(), tokens.size(), nullptr)) {
        ++refused;
        prefillError = mm_last_error();
      }
    done = true;
  });
  std::string decodeError;
  int32_t token = 3;
  while (!done)
    if (mm_decode(model, state, &token, nullptr) != 0) {
      ++refused;
      decodeError = mm_last_error();
    }
  prefills.join();
  EXPECT_GT(refused.load(), 0);
  for (const std::string *error : {&prefillError, &decodeError}) {
    if (!error->empty()) {
      EXPECT_NE(error->find(": the state is in use by another call"),
                std::string::npos)
          << *error;
    }
  }
  mm_state_free(state);
}

TEST_P(CApiTest, StatesKeepTheirModelAlive) {
  mm_model *own = openModel();
  ASSERT_NE(own, nullptr);
  mm_state *state = mm_state_create(own, 1);
  std::vector<int32_t> tokens = randomTokens(5, 256, 14);
  ASSERT_EQ(mm_prefill(own, state, tokens.data(), 5, nullptr), 0);
  mm_model_free(own);
  // The handle is gone; the state and the code its layout belongs to stay.
  std::vector<uint8_t> bytes(mm_state_size(state));
  EXPECT_EQ(mm_state_snapshot(state, bytes.data(), bytes.size()), 0);
  EXPECT_EQ(mm_state_restore(state, bytes.data(), bytes.size()), 0);
  EXPECT_EQ(mm_state_batch(state), 1);
  mm_state_free(state);

  EXPECT_EQ(mm_model_open("/nonexistent.mmx", weightsPath.c_str()), nullptr);
  EXPECT_NE(std::string(mm_last_error()).find("/nonexistent.mmx"),
            std::string::npos);
  EXPECT_EQ(mm_model_open(artifactPath().c_str(), "/nonexistent.safetensors"),
            nullptr);
  EXPECT_NE(std::string(mm_last_error()).find("/nonexistent.safetensors"),
            std::string::npos)
      << mm_last_error();
  EXPECT_EQ(mm_model_open(nullptr, weightsPath.c_str()), nullptr);
  EXPECT_STREQ(mm_last_error(), "mm_model_open: artifact_path is NULL");
}

TEST_P(CApiTest, CallableFromC) {
  std::vector<int32_t> prompt = randomTokens(12, 256, 9);
  int32_t token = mm_test_greedy_step_in_c(
      artifactPath(GetParam().artifact).c_str(), weightsPath.c_str(),
      GetParam().device, prompt.data(), 12);
  ASSERT_GE(token, 0) << mm_last_error();
  SequenceState expectedState = reference->createState();
  auto logits = reference->prefill(prompt, expectedState);
  ASSERT_TRUE(static_cast<bool>(logits));
  const float *last = logits->data() + 11 * 256;
  EXPECT_EQ(token, std::max_element(last, last + 256) - last);
}

TEST_P(CApiTest, ClonesAndCopiesStayWhereTheStateLives) {
  const int64_t vocab = mm_model_vocab_size(model);
  mm_state *state = mm_state_create(model, 2);
  ASSERT_NE(state, nullptr) << mm_last_error();
  std::vector<int32_t> tokens = randomTokens(2 * 8, vocab, 15);
  ASSERT_EQ(mm_prefill(model, state, tokens.data(), 8, nullptr), 0);
  mm_state *clone = mm_state_clone(state);
  ASSERT_NE(clone, nullptr) << mm_last_error();
  EXPECT_EQ(mm_state_batch(clone), 2);
  // Both go on alike, then the copy takes the state back.
  int32_t next[2] = {3, 250};
  std::vector<float> first(2 * vocab), second(2 * vocab), again(2 * vocab);
  ASSERT_EQ(mm_decode(model, state, next, first.data()), 0) << mm_last_error();
  ASSERT_EQ(mm_decode(model, clone, next, second.data()), 0);
  EXPECT_EQ(first, second);
  mm_state *back = mm_state_clone(clone);
  ASSERT_EQ(mm_decode(model, state, next, again.data()), 0);
  ASSERT_EQ(mm_state_copy(state, back), 0) << mm_last_error();
  ASSERT_EQ(mm_decode(model, state, next, again.data()), 0);
  ASSERT_EQ(mm_decode(model, clone, next, second.data()), 0);
  EXPECT_EQ(again, second);
  // Steps that launch their kernels from the host compute the same.
  ASSERT_EQ(mm_model_set_decode_graphs(model, 0), 0);
  ASSERT_EQ(mm_decode(model, state, next, first.data()), 0);
  ASSERT_EQ(mm_model_set_decode_graphs(model, 1), 0);
  ASSERT_EQ(mm_decode(model, clone, next, second.data()), 0);
  EXPECT_EQ(first, second);

  mm_state *single = mm_state_create(model, 1);
  EXPECT_NE(mm_state_copy(single, state), 0);
  EXPECT_NE(std::string(mm_last_error())
                .find("a state of 2 sequences cannot replace one of 1"),
            std::string::npos)
      << mm_last_error();
  mm_model *other = openModel();
  mm_state *foreign = mm_state_create(other, 2);
  EXPECT_NE(mm_state_copy(foreign, state), 0);
  EXPECT_STREQ(mm_last_error(),
               "mm_state_copy: the states belong to different models");
  EXPECT_EQ(mm_state_clone(nullptr), nullptr);
  EXPECT_STREQ(mm_last_error(), "mm_state_clone: state is NULL");
  EXPECT_EQ(mm_model_set_decode_graphs(nullptr, 1), 1);
  for (mm_state *each : {state, clone, back, single, foreign})
    mm_state_free(each);
  mm_model_free(other);
}

TEST_P(CApiTest, DevicesAreCheckedAgainstTheArtifact) {
  std::string artifact = artifactPath(GetParam().artifact);
  EXPECT_EQ(
      mm_model_open_on_device(artifact.c_str(), weightsPath.c_str(), "tpu:0"),
      nullptr);
  EXPECT_NE(std::string(mm_last_error())
                .find("mm_model_open_on_device: device 'tpu:0': "),
            std::string::npos)
      << mm_last_error();
  if (!onGpu()) {
    // A CPU artifact does not run on the simulator.
    EXPECT_EQ(
        mm_model_open_on_device(artifact.c_str(), weightsPath.c_str(), "sim"),
        nullptr);
    EXPECT_NE(std::string(mm_last_error()).find("built for the host CPU"),
              std::string::npos)
        << mm_last_error();
    return;
  }
  // A GPU artifact needs a device, and says how to name one.
  EXPECT_EQ(mm_model_open(artifact.c_str(), weightsPath.c_str()), nullptr);
  EXPECT_NE(std::string(mm_last_error())
                .find("open it with mm_model_open_on_device and a device"),
            std::string::npos)
      << mm_last_error();
  EXPECT_EQ(
      mm_model_open_on_device(artifact.c_str(), weightsPath.c_str(), "cpu"),
      nullptr);
}

#ifndef MM_TEST_GPU_ARTIFACTS
INSTANTIATE_TEST_SUITE_P(Host, CApiTest,
                         ::testing::Values(Placement{"memmamba-tiny", "cpu"}));
#else
INSTANTIATE_TEST_SUITE_P(
    Simulator, CApiTest,
    ::testing::Values(Placement{"memmamba-tiny-cuda-sm_90", "sim"},
                      Placement{"memmamba-tiny-hip-gfx942", "sim"}),
    [](const ::testing::TestParamInfo<Placement> &info) {
      std::string name = info.param.artifact;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });
#endif

} // namespace
