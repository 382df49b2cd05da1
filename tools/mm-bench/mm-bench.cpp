//===- mm-bench.cpp - prefill and decode throughput -----------------------===//
//
// mm-bench MODEL [--weights FILE | --random-weights] [-p 512[,8192]]
//          [-n 128] [-r 5] [--backend=reference|cpu]
//          [--device cpu|sim|cuda:N|hip:N] [-o md|json]
//          [--counters [--chip h100|h200|mi300x]]
// mm-bench --list-devices
//
// Measures, like llama-bench, prompt processing (ppP: a P-token prompt from a
// fresh state) and text generation (tgN: N decode steps after a one-token
// prompt) in tokens per second, mean and standard deviation over -r
// repetitions after warm-up runs (-w, default 1). MODEL is a config or model
// folder (the reference executor) or an artifact (compiled code, on the host or
// on the GPU --device names; the backend column says which).
//
// With --device sim, --counters prints after each test what the simulator
// counted in its last run (per kernel kind: launches, threads, global and
// shared bytes, barriers, FLOPs) and a roofline time for the chip --chip
// names, labelled an ESTIMATE (tools/mm-bench/CounterReport.h,
// docs/roofline.md); -o json puts them in each test's "counters" and prints
// the tables on stderr.
//
//===----------------------------------------------------------------------===//

#include "runtime/ModelRunner.h"
#include "runtime/gpu/SimDevice.h"
#include "tools/ChipPeaks.h"
#include "tools/RunnerFlags.h"
#include "tools/mm-bench/CounterReport.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <sys/resource.h>

namespace cl = llvm::cl;
using namespace mm;

namespace {
cl::OptionCategory category("mm-bench options");
cl::opt<std::string> modelPath(cl::Positional,
                               cl::desc("<config, model folder or artifact>"),
                               cl::cat(category));
cl::opt<std::string> weightsPath("weights", cl::desc("Checkpoint"),
                                 cl::value_desc("path"), cl::cat(category));
cl::opt<bool> randomWeights(
    "random-weights",
    cl::desc("Use mm-init-weights' random weights (no checkpoint needed)"),
    cl::cat(category));
cl::list<unsigned> promptLengths("p", cl::desc("Prompt lengths (ppP tests)"),
                                 cl::CommaSeparated, cl::cat(category));
cl::list<unsigned> mixedLengths(
    "mixed",
    cl::desc("Prompt lengths of a batch of different lengths: test ppmix "
             "prefills them as one batch (on a GPU, those of similar lengths "
             "in one call, right-padded; on the CPU one by one), ppalone one "
             "call per prompt, the baseline of the same run (t/s: the "
             "batch's tokens per second)"),
    cl::CommaSeparated, cl::cat(category));
cl::opt<unsigned> generated("n",
                            cl::desc("Tokens to generate (tgN test; 0: "
                                     "none)"),
                            cl::init(128), cl::cat(category));
cl::opt<unsigned> repetitions("r", cl::desc("Repetitions (default 5)"),
                              cl::init(5), cl::cat(category));
cl::opt<unsigned> warmups(
    "w", cl::desc("Warm-up runs before the timed ones, per test (default 1)"),
    cl::init(1), cl::cat(category));
cl::opt<BackendKind> backend(
    "backend", cl::desc("Which executor runs the model"),
    cl::values(clEnumValN(BackendKind::Reference, "reference",
                          "the reference executor"),
               clEnumValN(BackendKind::Cpu, "cpu", "a compiled artifact")),
    cl::init(BackendKind::Reference), cl::cat(category));
RunnerFlags runnerFlags(category);
cl::opt<std::string> outputFormat("o", cl::desc("Output: md (default) or json"),
                                  cl::init("md"), cl::cat(category));
cl::opt<bool> counters(
    "counters",
    cl::desc("--device sim: what the simulator counted in each test's last "
             "run, by kernel kind, with a roofline ESTIMATE for --chip"),
    cl::cat(category));
cl::opt<std::string>
    chipName("chip",
             cl::desc("The chip of the --counters estimate: h100, h200 or "
                      "mi300x (default: h100 for CUDA artifacts, mi300x for "
                      "HIP ones)"),
             cl::value_desc("chip"), cl::cat(category));

struct Result {
  std::string test;
  unsigned prompt = 0, generated = 0;
  /// A batch of prompts of these lengths (--mixed), in one call or one call
  /// per prompt; `prompt` is their total.
  std::vector<unsigned> batch;
  bool together = false;
  std::vector<double> samples; ///< tokens per second
  /// With --counters: the simulator's counts of the last run.
  std::optional<TestCounters> counts;
  double mean() const {
    double sum = 0;
    for (double s : samples)
      sum += s;
    return sum / samples.size();
  }
  double stddev() const {
    if (samples.size() < 2)
      return 0;
    double m = mean(), sum = 0;
    for (double s : samples)
      sum += (s - m) * (s - m);
    return std::sqrt(sum / (samples.size() - 1));
  }
};

/// Deterministic, not all zero.
std::vector<int32_t> promptOf(unsigned length, int64_t vocab) {
  std::vector<int32_t> tokens(length);
  for (unsigned i = 0; i < length; ++i)
    tokens[i] = static_cast<int32_t>((i * 7919u + 17u) % vocab);
  return tokens;
}

/// Runs a test once and returns its rate. With `simulator`, its counters
/// are reset where the timed part starts and read into `counts` where it
/// ends, so they hold exactly what was timed.
llvm::Expected<double>
timeOnce(ModelRunner &runner, const Result &test,
         gpu::SimDevice *simulator = nullptr,
         std::vector<gpu::SimKernelCounters> *counts = nullptr) {
  const int64_t vocab = runner.config().vocabSize;
  const unsigned prompt = test.prompt, steps = test.generated;
  std::vector<std::vector<int32_t>> prompts;
  for (unsigned length : test.batch)
    prompts.push_back(promptOf(length, vocab));
  if (test.batch.empty())
    prompts.push_back(promptOf(prompt, vocab));
  if (simulator)
    simulator->resetCounters();
  auto start = std::chrono::steady_clock::now();
  const PromptLogits which =
      steps == 0 ? PromptLogits::Last : PromptLogits::None;
  if (test.batch.empty() || test.together) {
    auto logits = runner.prefill(prompts, which);
    if (!logits)
      return logits.takeError();
  } else {
    for (const std::vector<int32_t> &tokens : prompts) {
      auto logits = runner.prefill({tokens}, which);
      if (!logits)
        return logits.takeError();
    }
  }
  double seconds;
  if (steps == 0) {
    seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (simulator)
      *counts = simulator->getCounters();
    return prompt / seconds;
  }
  // tgN counts the decode steps only, not the one-token prompt.
  if (simulator)
    simulator->resetCounters();
  start = std::chrono::steady_clock::now();
  int32_t token = 1;
  for (unsigned i = 0; i < steps; ++i) {
    auto next = runner.decode(0, token);
    if (!next)
      return next.takeError();
    token = static_cast<int32_t>(std::max_element(next->begin(), next->end()) -
                                 next->begin());
  }
  seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (simulator)
    *counts = simulator->getCounters();
  return steps / seconds;
}

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Error run() {
  if (modelPath.empty())
    return error("no model: pass a config, a model folder or an artifact");
  if (outputFormat != "md" && outputFormat != "json")
    return error("-o takes md or json, not '" + outputFormat + "'");
  if (repetitions == 0)
    return error("-r must be at least 1");
  for (unsigned length : llvm::concat<unsigned>(promptLengths, mixedLengths))
    if (length == 0)
      return error("a prompt of 0 tokens (-p or --mixed): a prompt needs at "
                   "least one token (give lengths of 1 or more, or -n alone "
                   "for decode)");
  if (chipName.getNumOccurrences() && !counters)
    return error("--chip names the chip of the --counters estimate: add "
                 "--counters");
  // Only the simulator counts what kernels do; a GPU's own counters are
  // read with its profiler (ncu), never estimated here.
  if (counters &&
      llvm::StringRef(runnerFlags.device).split(':').first != "sim")
    return error("--counters needs --device sim (the simulator counts what "
                 "the kernels do; --device " +
                 runnerFlags.device + " has no counters)");
  const ChipPeaks *chip = nullptr;
  if (chipName.getNumOccurrences() && !(chip = findChipPeaks(chipName)))
    return error("--chip=" + chipName + ": unknown chip (one of " +
                 listChipNames() + ")");
  RunnerOptions options;
  options.weightsPath = weightsPath;
  if (backend.getNumOccurrences())
    options.backend = backend.getValue();
  runnerFlags.apply(options);
  options.randomWeights = randomWeights;
  auto runner = openModelRunner(modelPath, options);
  if (!runner)
    return runner.takeError();
  gpu::SimDevice *simulator = nullptr;
  if (counters) {
    gpu::GpuDevice *device = (*runner)->getDevice();
    if (!device || !(simulator = gpu::SimDevice::get(*device)))
      return error("--counters: " + modelPath +
                   " does not run on the simulator (a GPU artifact does, "
                   "with --device sim)");
    if (!chip)
      chip = findChipPeaks((*runner)->backendName() == "hip" ? "mi300x"
                                                             : "h100");
  }
  std::vector<unsigned> lengths(promptLengths.begin(), promptLengths.end());
  if (lengths.empty() && mixedLengths.empty())
    lengths.push_back(512);
  std::vector<Result> results;
  for (unsigned length : lengths)
    results.push_back({"pp" + std::to_string(length), length, 0, {}});
  if (!mixedLengths.empty()) {
    std::vector<unsigned> batch(mixedLengths.begin(), mixedLengths.end());
    unsigned total = 0;
    for (unsigned length : batch)
      total += length;
    std::string joined;
    for (unsigned length : batch)
      joined += (joined.empty() ? ":" : ",") + std::to_string(length);
    for (bool together : {true, false}) {
      Result result{(together ? "ppmix" : "ppalone") + joined, total, 0, {}};
      result.batch = batch;
      result.together = together;
      results.push_back(std::move(result));
    }
  }
  if (generated > 0)
    results.push_back({"tg" + std::to_string(generated), 1, generated, {}});
  for (Result &result : results) {
    std::vector<gpu::SimKernelCounters> counts;
    for (unsigned i = 0; i < warmups + repetitions; ++i) {
      auto rate = timeOnce(**runner, result, simulator, &counts);
      if (!rate)
        return rate.takeError();
      if (i >= warmups) // the first runs warm up
        result.samples.push_back(*rate);
    }
    if (simulator)
      result.counts = TestCounters{
          result.test, result.generated ? result.generated : result.prompt,
          std::move(counts)};
  }

  std::string model = llvm::sys::path::stem(modelPath).str();
  int64_t stateBytes = (*runner)->config().stateBytesPerSequence();
  // The process's peak resident memory over every run (how memory grows
  // with the prompt: bench/prefill_memory.sh).
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const int64_t peakBytes = int64_t(usage.ru_maxrss) * 1024;
  if (outputFormat == "json") {
    llvm::json::Array array;
    for (const Result &result : results) {
      array.push_back(llvm::json::Object{
          {"model", model},
          {"backend", (*runner)->backendName()},
          {"test", result.test},
          {"n_prompt", result.prompt},
          {"batch_lengths", llvm::json::Array(result.batch)},
          {"n_gen", result.generated},
          {"avg_ts", result.mean()},
          {"stddev_ts", result.stddev()},
          {"samples_ts", llvm::json::Array(result.samples)},
          {"state_bytes_per_sequence", stateBytes},
          {"prefill_chunk", int64_t(runnerFlags.prefillChunk)},
          {"peak_rss_bytes", peakBytes}});
      if (result.counts) {
        array.back().getAsObject()->insert(
            {"counters", countersToJson(*result.counts, *chip)});
        // The tables too, where they do not break the JSON.
        printCounters(llvm::errs(), *result.counts, *chip);
      }
    }
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(array)))
                 << "\n";
    return llvm::Error::success();
  }
  llvm::outs() << "| model | backend | state B/seq | test | t/s |\n"
               << "| --- | --- | ---: | ---: | ---: |\n";
  for (const Result &result : results)
    llvm::outs() << llvm::format(
        "| %s | %s | %lld | %s | %.2f ± %.2f |\n", model.c_str(),
        (*runner)->backendName().str().c_str(),
        static_cast<long long>(stateBytes), result.test.c_str(), result.mean(),
        result.stddev());
  for (const Result &result : results)
    if (result.counts)
      printCounters(llvm::outs(), *result.counts, *chip);
  return llvm::Error::success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "MemMamba throughput benchmark\n");
  if (runnerFlags.listDevices) {
    printDevices(llvm::outs());
    return 0;
  }
  return runTool("mm-bench", run);
}
