//===- CompiledGpuModelTest.cpp - GPU artifacts, on a fake driver ---------===//
//
// GPU artifacts through CompiledModel and the tools' runner, without a GPU:
// the hand-written artifact Inputs/fake-gpu-artifact.c (its manifests for
// several targets built by test/unit/CMakeLists.txt) runs on the fake CUDA
// driver, whose device memory is host memory and whose kernels are host
// functions the artifact registers. The fake device is sm_90
// (FakeCudaDriver.cpp).
//
//===----------------------------------------------------------------------===//

#include "GpuTestUtil.h"
#include "RuntimeTestUtil.h"

#include "common/WeightNames.h"
#include "runtime/CompiledModel.h"
#include "runtime/ModelRunner.h"

#include <cmath>
#include <cstring>

#include <gmock/gmock.h>

using namespace mm;
using namespace mm::testing;

namespace {

std::string artifact(const char *name) {
  return std::string(MM_FAKE_GPU_ARTIFACTS) + "/" + name + ".mmx";
}

/// logits[b, t, v] as the artifact's fake_step computes it, for a token at
/// `position` of a sequence whose state holds `marker` (s[1]).
float expectedLogit(const ModelWeights &weights, int32_t token, int64_t v,
                    float position, float marker) {
  const int64_t hidden = weights.config().hiddenSize;
  float value = weights.get(weight::kEmbedding)[token * hidden + v % hidden];
  value += weights.get(weight::kNormF)[v % hidden] * position;
  value += 100 * marker;
  return value;
}

/// The state float `index` of sequence `b` (read from the device).
float stateFloat(const CompiledModel &model, const CompiledState &state,
                 int64_t b, int64_t index) {
  auto bytes = model.readState(state);
  if (!bytes) {
    ADD_FAILURE() << llvm::toString(bytes.takeError());
    return std::nanf("");
  }
  const int64_t floats = bytes->size() / 4 / state.batch;
  float value;
  std::memcpy(&value, bytes->data() + 4 * (b * floats + index), 4);
  return value;
}

class CompiledGpuModelTest : public FakeDriverTest {
protected:
  void SetUp() override {
    FakeDriverTest::SetUp();
    static ModelWeights shared = randomWeights(memmambaTiny(), /*seed=*/3);
    weights = &shared;
  }

  /// Opens `name` on `device`, failing the test if it cannot.
  std::unique_ptr<CompiledModel> openModel(gpu::GpuDevice *device,
                                           const char *name = "cuda-sm_80") {
    auto model = CompiledModel::open(artifact(name), device);
    if (!model) {
      ADD_FAILURE() << llvm::toString(model.takeError());
      return nullptr;
    }
    EXPECT_EQ(message((*model)->bindWeights(*weights)), "");
    return std::move(*model);
  }

  /// The error of opening `name` on `device` ("" if it opens).
  std::string openError(const char *name, gpu::GpuDevice *device) {
    return message(CompiledModel::open(artifact(name), device));
  }

  CompiledState createState(const CompiledModel &model, int64_t batch) {
    auto state = model.createState(batch);
    if (!state) {
      ADD_FAILURE() << llvm::toString(state.takeError());
      return {};
    }
    return std::move(*state);
  }

  /// The sm_80 artifact on two fake devices, cuda:0 and cuda:1.
  struct TwoDevices {
    // The models go before their devices.
    std::unique_ptr<gpu::GpuDevice> first, second;
    std::unique_ptr<CompiledModel> model, other;
  };
  TwoDevices openOnTwoDevices() {
    setEnv("FAKE_CUDA_DEVICES", "2");
    TwoDevices opened;
    opened.first = open("cuda:0");
    opened.second = open("cuda:1");
    if (!opened.first || !opened.second) {
      ADD_FAILURE() << "the fake driver has no two devices";
      return opened;
    }
    opened.model = openModel(opened.first.get());
    opened.other = openModel(opened.second.get());
    return opened;
  }

  std::vector<float> run(const CompiledModel &model,
                         llvm::ArrayRef<int32_t> tokens, int64_t time,
                         CompiledState &state) {
    auto logits = model.prefill(tokens, time, state, {PromptLogits::All});
    if (!logits) {
      ADD_FAILURE() << llvm::toString(logits.takeError());
      return {};
    }
    return std::move(*logits);
  }

  const ModelWeights *weights = nullptr;
};

/// A model of the sm_80 artifact on cuda:0, its weights bound.
class OpenGpuModelTest : public CompiledGpuModelTest {
protected:
  void SetUp() override {
    CompiledGpuModelTest::SetUp();
    device = open();
    ASSERT_TRUE(device);
    model = openModel(device.get());
    ASSERT_TRUE(model);
  }
  void TearDown() override {
    model.reset();
    device.reset();
    CompiledGpuModelTest::TearDown();
  }

  std::unique_ptr<gpu::GpuDevice> device;
  std::unique_ptr<CompiledModel> model;
};

TEST_F(OpenGpuModelTest, LoadsItsKernelsOnTheDeviceAndFreesEverything) {
  EXPECT_EQ(model->targetKind(), "cuda");
  EXPECT_EQ(model->device(), device.get());
  EXPECT_EQ(stats().modules, 1);
  {
    CompiledState state = createState(*model, 2);
    EXPECT_EQ(stats().streams, 2);
    run(*model, {1, 2, 3, 4}, 2, state);
    // The weights, the state and the copy a failed call would restore stay
    // on the device; the call's buffers are gone.
    EXPECT_EQ(stats().allocations, 3);
  }
  // The state took its memory and stream with it.
  EXPECT_EQ(stats().allocations, 1);
  EXPECT_EQ(stats().streams, 1);
  model.reset();
  // The destructor unloaded the kernels (the model's kernel context) and
  // freed the weights.
  EXPECT_EQ(stats().modules, 0);
  EXPECT_EQ(stats().allocations, 0);
  EXPECT_EQ(stats().streams, 0);
}

TEST_F(OpenGpuModelTest, PrefillAndDecodeRunTheKernelsOnDeviceCopies) {
  const int64_t vocab = model->config().vocabSize;

  // init_state ran on the device: each sequence's marker.
  CompiledState state = createState(*model, 2);
  ASSERT_EQ(state.batch, 2);
  ASSERT_TRUE(state.device);
  EXPECT_TRUE(state.bytes.empty());
  ASSERT_EQ(state.size(), 2 * model->stateBytesPerSequence());
  EXPECT_EQ(stateFloat(*model, state, 0, 1), 1.0f);
  EXPECT_EQ(stateFloat(*model, state, 1, 1), 2.0f);
  EXPECT_EQ(stateFloat(*model, state, 1, 0), 0.0f);

  // Prefill of [2, 3] tokens: the weights the artifact sees are the bound
  // ones, and the state advances.
  std::vector<int32_t> tokens = {5, 17, 3, 200, 7, 255};
  std::vector<float> logits = run(*model, tokens, 3, state);
  ASSERT_EQ(static_cast<int64_t>(logits.size()), 2 * 3 * vocab);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t v : {int64_t(0), int64_t(1), int64_t(63), vocab - 1})
        EXPECT_FLOAT_EQ(logits[(b * 3 + t) * vocab + v],
                        expectedLogit(*weights, tokens[b * 3 + t], v, t, b + 1))
            << "b " << b << " t " << t << " v " << v;
  EXPECT_EQ(stateFloat(*model, state, 0, 0), 3.0f);
  EXPECT_EQ(stateFloat(*model, state, 0, 2), 25.0f);
  EXPECT_EQ(stateFloat(*model, state, 1, 2), 462.0f);

  // Decode continues at position 3.
  auto decoded = model->decode({9, 10}, state);
  ASSERT_TRUE(static_cast<bool>(decoded)) << message(decoded.takeError());
  for (int64_t b = 0; b < 2; ++b)
    EXPECT_FLOAT_EQ((*decoded)[b * vocab + 70],
                    expectedLogit(*weights, 9 + b, 70, 3, b + 1));
  EXPECT_EQ(stateFloat(*model, state, 1, 0), 4.0f);
}

TEST_F(OpenGpuModelTest, AnEntryCallSynchronisesOnceAfterAllItsWork) {
  // The artifact launches on the context's stream without synchronising,
  // and its temporary is stream-ordered; the runtime waits once per call,
  // for the results it copies back.
  FakeCudaStats before = stats();
  CompiledState state = createState(*model, 2);
  FakeCudaStats created = stats();
  EXPECT_EQ(created.synchronizations - before.synchronizations, 1);
  EXPECT_EQ(created.launches - before.launches, 1);

  std::vector<float> logits = run(*model, {5, 17, 3, 200, 7, 255}, 3, state);
  ASSERT_FALSE(logits.empty());
  FakeCudaStats prefilled = stats();
  EXPECT_EQ(prefilled.synchronizations - created.synchronizations, 1);
  EXPECT_EQ(prefilled.launches - created.launches, 2);
  // The call's buffer and the artifact's temporary.
  EXPECT_EQ(prefilled.streamOrderedAllocations -
                created.streamOrderedAllocations,
            2);

  auto decoded = model->decode({9, 10}, state);
  ASSERT_TRUE(static_cast<bool>(decoded)) << message(decoded.takeError());
  FakeCudaStats after = stats();
  EXPECT_EQ(after.synchronizations - prefilled.synchronizations, 1);
  EXPECT_EQ(after.launches - prefilled.launches, 2);
  // Nothing of the calls is left behind but what the state keeps: the
  // weights, the state, its saved copy, the step's token and logit buffers,
  // and the temporary its captured step allocates.
  EXPECT_EQ(after.allocations, 5);
}

TEST_F(OpenGpuModelTest, OnlyTokensAndLogitsCrossToTheDevice) {
  // The weights stay where bindWeights put them and the state where
  // createState did: a prefill and a decode copy their tokens in (and a
  // prefill of more than one token its sequences' lengths) and the logits
  // out, and nothing else crosses (the state is saved aside on the device,
  // for a failed call to go back to). A one-token prefill is a decode step.
  const int64_t vocab = model->config().vocabSize;
  CompiledState state = createState(*model, 1);
  FakeCudaStats before = stats();
  std::vector<float> first = run(*model, {42, 43}, 2, state);
  std::vector<float> second = run(*model, {44}, 1, state);
  auto decoded = model->decode({45}, state);
  ASSERT_TRUE(static_cast<bool>(decoded)) << message(decoded.takeError());
  ASSERT_FALSE(first.empty() || second.empty());
  FakeCudaStats after = stats();
  EXPECT_EQ(after.hostToDeviceBytes - before.hostToDeviceBytes, 4 * 4 + 4);
  EXPECT_EQ(after.deviceToHostBytes - before.deviceToHostBytes, 4 * 4 * vocab);
  EXPECT_EQ(after.deviceToDeviceBytes - before.deviceToDeviceBytes,
            3 * state.size());
  EXPECT_FLOAT_EQ(second[11], expectedLogit(*weights, 44, 11, 2, 1));
  EXPECT_FLOAT_EQ((*decoded)[11], expectedLogit(*weights, 45, 11, 3, 1));
}

TEST_F(OpenGpuModelTest, LastLogitsAreOneRowFromPrefillLast) {
  // Without all logits a prefill calls the artifact's prefill_last: the
  // tokens and the length cross in, one row of logits per sequence out.
  const int64_t vocab = model->config().vocabSize;
  CompiledState state = createState(*model, 1);
  FakeCudaStats before = stats();
  auto last = model->prefill({42, 43, 44}, 3, state, {PromptLogits::Last});
  ASSERT_TRUE(static_cast<bool>(last)) << message(last.takeError());
  FakeCudaStats after = stats();
  EXPECT_EQ(after.hostToDeviceBytes - before.hostToDeviceBytes, 3 * 4 + 4);
  EXPECT_EQ(after.deviceToHostBytes - before.deviceToHostBytes, 4 * vocab);
  ASSERT_EQ(int64_t(last->size()), vocab);
  EXPECT_FLOAT_EQ((*last)[11], expectedLogit(*weights, 44, 11, 2, 1));
  EXPECT_EQ(stateFloat(*model, state, 0, 0), 3.0f);
  // In chunks of two tokens (the last chunk, one token, a decode step).
  CompiledState chunked = createState(*model, 1);
  auto pieces =
      model->prefill({42, 43, 44}, 3, chunked, {PromptLogits::Last, 2});
  ASSERT_TRUE(static_cast<bool>(pieces)) << message(pieces.takeError());
  EXPECT_EQ(*pieces, *last);
}

TEST_F(OpenGpuModelTest, SnapshotsStayOnTheDevice) {
  CompiledState state = createState(*model, 1);
  run(*model, {1, 2, 3, 4, 5}, 5, state);
  FakeCudaStats before = stats();
  auto saved = model->copyState(state);
  ASSERT_TRUE(static_cast<bool>(saved)) << message(saved.takeError());
  std::vector<float> first = run(*model, {6, 7}, 2, state);
  ASSERT_EQ(message(model->restoreState(state, *saved)), "");
  FakeCudaStats after = stats();
  // The copy and the restore went device to device; the run's tokens, its
  // length and its logits are all that crossed.
  EXPECT_EQ(after.hostToDeviceBytes - before.hostToDeviceBytes, 2 * 4 + 4);
  EXPECT_EQ(after.deviceToHostBytes - before.deviceToHostBytes,
            2 * 4 * model->config().vocabSize);
  EXPECT_EQ(stateFloat(*model, state, 0, 0), 5.0f);
  EXPECT_EQ(run(*model, {6, 7}, 2, state), first);
  EXPECT_EQ(stateFloat(*model, state, 0, 0), 7.0f);
  // A snapshot on the host, and back.
  auto bytes = model->readState(*saved);
  ASSERT_TRUE(static_cast<bool>(bytes));
  ASSERT_EQ(message(model->writeState(state, *bytes)), "");
  EXPECT_EQ(stateFloat(*model, state, 0, 0), 5.0f);
  EXPECT_EQ(run(*model, {6, 7}, 2, state), first);
}

TEST_F(OpenGpuModelTest, DecodeReplaysTheStepCapturedAtTheFirst) {
  const int64_t vocab = model->config().vocabSize;
  CompiledState state = createState(*model, 2);
  run(*model, {1, 2, 3, 4}, 2, state);
  FakeCudaStats before = stats();
  for (int step = 0; step < 4; ++step) {
    auto decoded =
        model->decode({int32_t(9 + step), int32_t(20 + step)}, state);
    ASSERT_TRUE(static_cast<bool>(decoded)) << message(decoded.takeError());
    for (int64_t b = 0; b < 2; ++b)
      EXPECT_FLOAT_EQ(
          (*decoded)[b * vocab + 70],
          expectedLogit(*weights, (b ? 20 : 9) + step, 70, 2 + step, b + 1))
          << "step " << step << ", sequence " << b;
  }
  FakeCudaStats after = stats();
  // One graph (and its instantiation), captured once, launched per step;
  // its two kernels ran at each.
  EXPECT_EQ(after.graphs - before.graphs, 2);
  EXPECT_EQ(after.graphLaunches - before.graphLaunches, 4);
  EXPECT_EQ(after.launches - before.launches, 4 * 2);
  EXPECT_EQ(stateFloat(*model, state, 1, 0), 6.0f);

  // Steps without graphs launch the kernels themselves, to the same end.
  auto copy = model->copyState(state);
  ASSERT_TRUE(static_cast<bool>(copy));
  auto replayed = model->decode({30, 31}, state);
  auto launched = model->decode({30, 31}, *copy, {/*graphs=*/false});
  ASSERT_TRUE(replayed && launched);
  EXPECT_EQ(*replayed, *launched);
  EXPECT_EQ(stats().graphLaunches - after.graphLaunches, 1);
}

TEST_F(OpenGpuModelTest, DecodeRunsWhereTheDriverCannotCapture) {
  CompiledState state = createState(*model, 1);
  const long graphLaunches = stats().graphLaunches;
  setEnv("FAKE_CUDA_FAIL", "cuStreamBeginCapture");
  for (int step = 0; step < 2; ++step) {
    auto decoded = model->decode({9}, state);
    ASSERT_TRUE(static_cast<bool>(decoded)) << message(decoded.takeError());
    EXPECT_FLOAT_EQ((*decoded)[5], expectedLogit(*weights, 9, 5, step, 1));
  }
  EXPECT_EQ(stats().graphLaunches, graphLaunches);
}

TEST_F(CompiledGpuModelTest, AStateRunsOnlyOnItsDevice) {
  TwoDevices devices = openOnTwoDevices();
  CompiledModel *model = devices.model.get(), *other = devices.other.get();
  ASSERT_TRUE(model && other);
  CompiledState state = createState(*model, 1);
  EXPECT_THAT(message(other->prefill({1}, 1, state)),
              ::testing::HasSubstr("the state lives on another device "
                                   "(cuda:0) than this model (cuda:1)"));
  EXPECT_THAT(message(other->copyState(state)),
              ::testing::HasSubstr("another device"));
  CompiledState host;
  host.batch = 1;
  host.bytes.resize(model->stateBytesPerSequence());
  EXPECT_THAT(message(model->decode({1}, host)),
              ::testing::HasSubstr("the state lives on the host, this model "
                                   "runs on cuda:0"));
}

TEST_F(OpenGpuModelTest, RebindingWeightsReusesTheirDeviceMemory) {
  ModelWeights other = randomWeights(memmambaTiny(), /*seed=*/4);
  ASSERT_EQ(message(model->bindWeights(other)), "");
  EXPECT_EQ(stats().allocations, 1);
  CompiledState state = createState(*model, 1);
  std::vector<float> logits = run(*model, {42}, 1, state);
  ASSERT_FALSE(logits.empty());
  EXPECT_FLOAT_EQ(logits[11], expectedLogit(other, 42, 11, 0, 1));
}

TEST_F(OpenGpuModelTest, AFailingLaunchIsAnErrorAndLeavesTheState) {
  CompiledState state = createState(*model, 1);
  run(*model, {1, 2}, 2, state);
  auto before = model->readState(state);
  ASSERT_TRUE(static_cast<bool>(before));
  setEnv("FAKE_CUDA_FAIL", "cuLaunchKernel");
  std::string error = message(model->prefill({3, 4}, 2, state));
  // (The last logits only: the entry point prefill_last.)
  EXPECT_NE(error.find(artifact("cuda-sm_80") + ": prefill_last on cuda:0: "),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("mgpuLaunchKernel: cuLaunchKernel failed"),
            std::string::npos)
      << error;
  // The failed call went back to the state's saved copy.
  auto after = model->readState(state);
  ASSERT_TRUE(static_cast<bool>(after));
  EXPECT_EQ(*after, *before);
  EXPECT_NE(message(model->createState(1)).find("init_state on cuda:0: "),
            std::string::npos);
  // The next call, with the driver well again, runs (the first error does
  // not linger) and frees what it allocates.
  setEnv("FAKE_CUDA_FAIL", std::nullopt);
  run(*model, {3, 4}, 2, state);
  EXPECT_EQ(stateFloat(*model, state, 0, 0), 4.0f);
  // The weights, the state and its saved copy.
  EXPECT_EQ(stats().allocations, 3);
}

TEST_F(CompiledGpuModelTest, AFailingKernelLoadFailsTheOpen) {
  auto device = open();
  ASSERT_TRUE(device);
  setEnv("FAKE_CUDA_FAIL", "cuModuleLoadDataEx");
  std::string error = openError("cuda-sm_80", device.get());
  EXPECT_NE(error.find(artifact("cuda-sm_80") +
                       ": loading its kernels on cuda:0 failed: "
                       "cuModuleLoadDataEx failed"),
            std::string::npos)
      << error;
  EXPECT_EQ(stats().modules, 0);
}

TEST_F(CompiledGpuModelTest, AGpuArtifactNeedsADevice) {
  EXPECT_EQ(openError("cuda-sm_80", nullptr),
            artifact("cuda-sm_80") +
                ": built for cuda:sm_80; run it on a device: --device cuda:N");
  EXPECT_EQ(openError("hip-gfx942", nullptr),
            artifact("hip-gfx942") +
                ": built for hip:gfx942; run it on a device: --device hip:N");
  // Refused from its manifest alone: nothing of it ran.
  EXPECT_EQ(stats().modules, 0);
}

TEST_F(CompiledGpuModelTest, TheDeviceMustRunTheArtifactsTarget) {
  auto device = open();
  ASSERT_TRUE(device);
  EXPECT_EQ(openError("cuda-sm_100", device.get()),
            artifact("cuda-sm_100") +
                ": built for cuda:sm_100, but cuda:0 (Fake CUDA Device 0) is "
                "sm_90: it needs compute capability 10.0 or newer");
  EXPECT_EQ(openError("hip-gfx942", device.get()),
            artifact("hip-gfx942") +
                ": built for hip:gfx942, but cuda:0 (Fake CUDA Device 0, "
                "sm_90) is a cuda device");
  EXPECT_EQ(openError("cpu", device.get()),
            artifact("cpu") + ": built for the host CPU, not for cuda:0 (Fake "
                              "CUDA Device 0): run it on the CPU (--device "
                              "cpu), or compile the model for the GPU");
  EXPECT_EQ(stats().modules, 0);
}

TEST_F(CompiledGpuModelTest, AnArtifactOfTheOldAbiIsRefused) {
  // ABI version 1 loaded its kernels in global constructors and had no
  // kernel context: refused from the manifest, before any of it runs.
  auto device = open();
  ASSERT_TRUE(device);
  EXPECT_EQ(openError("cuda-sm_80-abi1", device.get()),
            artifact("cuda-sm_80-abi1") +
                ": artifact ABI version 1 (GPU kernels loaded by global "
                "constructors, entry points without a kernel context), this "
                "runtime runs version " +
                std::to_string(kArtifactAbiVersion) +
                " (recompile it with this version's mm-compile)");
  EXPECT_EQ(stats().modules, 0);
}

TEST_F(CompiledGpuModelTest, ModelsOfOneArtifactRunOnDifferentDevices) {
  // Each model's kernel context loads the kernels on its own device (the
  // fake driver launches a function only in the context of its module), so
  // models of one artifact run side by side on two devices.
  TwoDevices devices = openOnTwoDevices();
  ASSERT_TRUE(devices.model && devices.other);
  EXPECT_EQ(stats().modules, 2);
  for (CompiledModel *each : {devices.model.get(), devices.other.get()}) {
    CompiledState state = createState(*each, 1);
    std::vector<float> logits = run(*each, {5}, 1, state);
    ASSERT_EQ(int64_t(logits.size()), each->config().vocabSize);
    EXPECT_FLOAT_EQ(logits[1], expectedLogit(*weights, 5, 1, 0, 1));
  }
  devices.model.reset();
  devices.other.reset();
  EXPECT_EQ(stats().modules, 0);
}

TEST_F(CompiledGpuModelTest, WithoutADeviceTheErrorSaysHowToPickOne) {
  EXPECT_THAT(openError("cuda-sm_80", nullptr),
              ::testing::HasSubstr("built for cuda:sm_80; run it on a device: "
                                   "--device cuda:N"));
  EXPECT_THAT(message(CompiledModel::open(artifact("cuda-sm_80"), nullptr,
                                          "open it with a device")),
              ::testing::HasSubstr("run it on a device: open it with a "
                                   "device"));
}

TEST(CompiledModelChip, CudaRunsOnItsCapabilityAndNewerHipOnlyOnItsChip) {
  auto on = [](gpu::Vendor vendor, const char *arch) {
    gpu::GpuDeviceInfo info;
    info.vendor = vendor;
    info.name = "GPU";
    info.arch = arch;
    return info;
  };
  const gpu::Vendor cuda = gpu::Vendor::Cuda, hip = gpu::Vendor::Hip;
  EXPECT_EQ(message(checkChip("sm_80", on(cuda, "sm_90"))), "");
  EXPECT_EQ(message(checkChip("sm_90", on(cuda, "sm_90"))), "");
  EXPECT_EQ(message(checkChip("sm_90", on(cuda, "sm_120"))), "");
  EXPECT_EQ(message(checkChip("sm_90", on(cuda, "sm_86"))),
            "built for cuda:sm_90, but cuda:0 (GPU) is sm_86: it needs "
            "compute capability 9.0 or newer");
  EXPECT_EQ(message(checkChip("sm_90a", on(cuda, "sm_90"))), "");
  EXPECT_EQ(message(checkChip("sm_90a", on(cuda, "sm_100"))),
            "built for cuda:sm_90a, but cuda:0 (GPU) is sm_100: code for "
            "sm_90a runs only on compute capability 9.0");
  EXPECT_EQ(message(checkChip("sm_100f", on(cuda, "sm_103"))), "");
  EXPECT_NE(message(checkChip("sm_100f", on(cuda, "sm_120"))), "");
  EXPECT_EQ(message(checkChip("compute_80", on(cuda, "sm_90"))),
            "built for cuda:compute_80, which is not a CUDA chip (sm_XY)");
  EXPECT_EQ(message(checkChip("gfx942", on(hip, "gfx942"))), "");
  EXPECT_EQ(message(checkChip("gfx942", on(hip, "gfx90a"))),
            "built for hip:gfx942, but hip:0 (GPU) is gfx90a: HIP code runs "
            "only on the chip it was built for");
}

//===----------------------------------------------------------------------===//
// The tools' runner (--device)
//===----------------------------------------------------------------------===//

RunnerOptions onDevice(const char *device) {
  RunnerOptions options;
  options.device = device;
  options.randomWeights = true;
  return options;
}

TEST_F(CompiledGpuModelTest, TheRunnerRunsAGpuArtifactOnTheDeviceItNames) {
  auto runner = openModelRunner(artifact("cuda-sm_80"), onDevice("cuda:0"));
  ASSERT_TRUE(static_cast<bool>(runner)) << message(runner.takeError());
  EXPECT_EQ((*runner)->backendName(), "cuda");
  auto logits = (*runner)->prefill({{1, 2, 3}, {4}}, PromptLogits::All);
  ASSERT_TRUE(static_cast<bool>(logits)) << message(logits.takeError());
  EXPECT_EQ(logits->size(), 2u);
  auto next = (*runner)->decode(1, 5);
  ASSERT_TRUE(static_cast<bool>(next)) << message(next.takeError());
  EXPECT_EQ(static_cast<int64_t>(next->size()), (*runner)->config().vocabSize);
}

TEST_F(CompiledGpuModelTest, TheRunnerReportsDevicesItCannotUse) {
  // HIP is hidden (FakeDriverTest), and a missing CUDA driver is the
  // driver's error.
  EXPECT_NE(message(openModelRunner(artifact("cuda-sm_80"), onDevice("hip:0")))
                .find("hip: driver unavailable"),
            std::string::npos);
  EXPECT_EQ(message(openModelRunner(artifact("cuda-sm_80"), onDevice("tpu:0"))),
            "bad device 'tpu:0': expected cpu, cuda:N, hip:N (N a device "
            "index, 0 for the first device) or sim (the GPU simulator)");
  EXPECT_NE(message(openModelRunner(artifact("cuda-sm_80"), onDevice("cuda:3")))
                .find("no such device"),
            std::string::npos);
  RunnerOptions reference = onDevice("cuda:0");
  reference.backend = BackendKind::Reference;
  EXPECT_EQ(message(openModelRunner(artifact("cuda-sm_80"), reference)),
            "--backend=reference runs on the host; on cuda:0 only compiled "
            "artifacts run (leave --backend out)");
  // A GPU runs compiled artifacts only (this is the C source of a manifest).
  std::string source = std::string(MM_FAKE_GPU_ARTIFACTS) + "/cpu-manifest.c";
  EXPECT_NE(message(openModelRunner(source, onDevice("cuda:0")))
                .find("not a compiled artifact"),
            std::string::npos);
  // Without a device, a GPU artifact says what to pass.
  EXPECT_NE(message(openModelRunner(artifact("cuda-sm_80"), onDevice("cpu")))
                .find("run it on a device: --device cuda:N"),
            std::string::npos);
  setEnv("MM_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  EXPECT_EQ(message(openModelRunner(artifact("cuda-sm_80"), onDevice("cuda:0")))
                .find("cuda: driver unavailable (/nonexistent/libcuda.so.1"),
            0u);
}

} // namespace
