//===- StackUsageTest.cpp - compiled models on a small thread stack -------===//
//
// A caller's thread may have a small stack: a JVM's threads have 1 MiB. The
// compiled entry points keep every buffer whose size comes from the config
// or the prompt on the heap (KernelBuilder::scratchBuffer), so prefill and
// decode run on a 1 MiB thread and give what they give on the main thread.
// Before, memmamba-24l's pool scratch made a stack frame of 1.2 MB and a
// pool of 4096 notes one of 1.7 MB: both crashed here.
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestUtil.h"

#include "runtime/CompiledModel.h"

#include <pthread.h>

#include <functional>
#include <string>

using namespace mm;
using namespace mm::testing;

namespace {

/// A JVM's default thread stack.
constexpr size_t kSmallStack = size_t(1) << 20;

/// Runs `body` on a new thread with a stack of `bytes` and waits for it.
/// Returns an error message, empty on success.
std::string runOnThread(size_t bytes, const std::function<void()> &body) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0)
    return "pthread_attr_init failed";
  std::string error;
  if (pthread_attr_setstacksize(&attr, bytes) != 0) {
    error = "pthread_attr_setstacksize failed";
  } else {
    pthread_t thread;
    auto trampoline = [](void *arg) -> void * {
      (*static_cast<const std::function<void()> *>(arg))();
      return nullptr;
    };
    if (pthread_create(&thread, &attr, trampoline,
                       const_cast<std::function<void()> *>(&body)) != 0)
      error = "pthread_create failed";
    else if (pthread_join(thread, nullptr) != 0)
      error = "pthread_join failed";
  }
  pthread_attr_destroy(&attr);
  return error;
}

/// What one run of a model gives: the prefill's logits, each decode step's,
/// and the state after them.
struct ModelRun {
  std::string error;
  std::vector<float> prefill;
  std::vector<std::vector<float>> decode;
  std::vector<uint8_t> state;
};

/// Prefill `time` tokens of each of `batch` sequences, then `steps` decode
/// steps, from a fresh state.
ModelRun runModel(const CompiledModel &model, llvm::ArrayRef<int32_t> tokens,
                  int64_t batch, int64_t time, int steps) {
  ModelRun run;
  auto state = model.createState(batch);
  if (!state) {
    run.error = llvm::toString(state.takeError());
    return run;
  }
  auto logits = model.prefill(tokens, time, *state);
  if (!logits) {
    run.error = llvm::toString(logits.takeError());
    return run;
  }
  run.prefill = std::move(*logits);
  for (int step = 0; step < steps; ++step) {
    std::vector<int32_t> next(tokens.begin() + step * batch,
                              tokens.begin() + (step + 1) * batch);
    auto decoded = model.decode(next, *state);
    if (!decoded) {
      run.error = llvm::toString(decoded.takeError());
      return run;
    }
    run.decode.push_back(std::move(*decoded));
  }
  run.state = state->bytes;
  return run;
}

struct Case {
  const char *artifact;
  int64_t batch, time;
  int steps;
};

class StackUsageTest : public ::testing::TestWithParam<Case> {};

TEST_P(StackUsageTest, PrefillAndDecodeOnAOneMiBThread) {
  const Case &c = GetParam();
  std::string path = std::string(MM_TEST_ARTIFACTS) + "/" + c.artifact + ".mmx";
  auto opened = CompiledModel::open(path);
  ASSERT_TRUE(static_cast<bool>(opened)) << llvm::toString(opened.takeError());
  std::unique_ptr<CompiledModel> model = std::move(*opened);
  {
    ModelWeights weights = randomWeights(model->config(), /*seed=*/7);
    ASSERT_FALSE(static_cast<bool>(model->bindWeights(weights)));
  }
  std::vector<int32_t> tokens =
      randomTokens(c.batch * c.time, model->config().vocabSize, /*seed=*/11);

  ModelRun onMain = runModel(*model, tokens, c.batch, c.time, c.steps);
  ASSERT_EQ(onMain.error, "");
  ModelRun small;
  ASSERT_EQ(runOnThread(kSmallStack,
                        [&] {
                          small = runModel(*model, tokens, c.batch, c.time,
                                           c.steps);
                        }),
            "");
  ASSERT_EQ(small.error, "");
  // The same code on the same inputs: the same bits.
  EXPECT_EQ(small.prefill, onMain.prefill);
  ASSERT_EQ(small.decode.size(), onMain.decode.size());
  for (size_t step = 0; step < onMain.decode.size(); ++step)
    EXPECT_EQ(small.decode[step], onMain.decode[step])
        << "decode step " << step;
  EXPECT_EQ(small.state, onMain.state);
}

INSTANTIATE_TEST_SUITE_P(
    Artifacts, StackUsageTest,
    ::testing::Values(
        // 24 layers, pools of 50 notes of 64 values, cross-layer attention
        // over 4 pools every 4 layers.
        Case{"memmamba-24l", /*batch=*/1, /*time=*/48, /*steps=*/3},
        // Pools of 4096 notes (the config's limit), a long prompt, two
        // sequences.
        Case{"memmamba-tiny-pool4096", /*batch=*/2, /*time=*/300,
             /*steps=*/4}),
    [](const ::testing::TestParamInfo<Case> &info) {
      std::string name = info.param.artifact;
      for (char &ch : name)
        if (!isalnum(static_cast<unsigned char>(ch)))
          ch = '_';
      return name;
    });

} // namespace
