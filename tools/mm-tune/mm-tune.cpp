//===- mm-tune.cpp - measure the compiler's choices on a device -----------===//
//
// mm-tune CONFIG --target=T [--device D] [--budget SECONDS] -o tuning.json
//
// For each kernel kind of the model (lowering/Tuning.h: the GEMMs first),
// compiles candidates of the kind's parameters (sizes, fusion, lowering, GPU
// kernels) with every other kind at its best so far, rejects a candidate
// whose logits or memory decisions differ from the reference executor's on
// a short prompt, and times the rest on the device: a prefill of --prompt
// tokens then --generate decode steps, the median of -r runs after a
// warm-up. A kind with few combinations is searched exhaustively, a larger
// one by coordinate descent (one parameter at a time, until a pass changes
// nothing). A candidate replaces the best only when it is faster by
// --min-gain, so noise does not pick it.
//
// The tuning file (common/TuningFile.h) is written after every candidate:
// a run stopped by its budget (or by Ctrl-C) goes on from it the next time,
// measuring only what it has not. mm-compile --tuning=FILE applies it.
// The tuner runs where the artifact runs: the CPU, or a CUDA or HIP device
// (the same code); never the simulator, whose counters are no timing.
//
//===----------------------------------------------------------------------===//

#include "common/Precision.h"
#include "common/TuningFile.h"
#include "dialect/MMDialect.h"
#include "importer/ConfigImporter.h"
#include "lowering/ArtifactWriter.h"
#include "lowering/Pipelines.h"
#include "lowering/TargetInfo.h"
#include "lowering/Tuning.h"
#include "runtime/ModelRunner.h"
#include "runtime/gpu/GpuDevice.h"
#include "tools/ToolMain.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

using namespace mlir;
using mm::ModelRunner;
using mm::PromptLogits;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("mm-tune options");
cl::opt<std::string> configPath(cl::Positional, cl::Required,
                                cl::desc("<config.json or model folder>"),
                                cl::cat(category));
cl::opt<std::string> outputPath(
    "o",
    cl::desc("The tuning file: written after every candidate; an existing "
             "one for the same model, target, device, compiler, precision "
             "and workload is resumed"),
    cl::value_desc("file"), cl::init("tuning.json"), cl::cat(category));
cl::opt<std::string> target("target",
                            cl::desc("Target: cpu (default), cuda:sm_XX, "
                                     "hip:gfxNNN"),
                            cl::init("cpu"), cl::cat(category));
cl::opt<std::string> deviceSpec(
    "device",
    cl::desc("Where the candidates run and are timed: cpu (default), cuda:N "
             "or hip:N, matching the target"),
    cl::init("cpu"), cl::value_desc("cpu|cuda:N|hip:N"), cl::cat(category));
cl::opt<double> budget(
    "budget",
    cl::desc("Seconds this run may spend (default 600); no candidate starts "
             "after them, and the next run goes on where this one stopped"),
    cl::init(600), cl::cat(category));
cl::opt<unsigned> promptTokens("prompt",
                               cl::desc("Prompt tokens of the timed prefill "
                                        "(default 256)"),
                               cl::init(256), cl::cat(category));
cl::opt<unsigned>
    generateTokens("generate",
                   cl::desc("Decode steps timed after it (default 16)"),
                   cl::init(16), cl::cat(category));
cl::opt<unsigned> repetitions("r",
                              cl::desc("Timed runs per candidate, after one "
                                       "warm-up; the median counts (default "
                                       "3)"),
                              cl::init(3), cl::cat(category));
cl::opt<unsigned> exhaustiveLimit(
    "exhaustive-limit",
    cl::desc("A kind with at most this many combinations is searched "
             "exhaustively, a larger one by coordinate descent (default 16)"),
    cl::init(16), cl::cat(category));
cl::opt<double>
    minGain("min-gain",
            cl::desc("How much faster a candidate must be to replace the best "
                     "(default 0.02: 2%)"),
            cl::init(0.02), cl::cat(category));
cl::opt<double> tolerance(
    "tolerance",
    cl::desc("The largest relative difference of a candidate's logits from "
             "the reference executor's (default 1e-3 for f32, 2e-2 for bf16 "
             "and f16)"),
    cl::init(0), cl::cat(category));
cl::list<std::string>
    onlyKinds("kinds",
              cl::desc("Tune only these kinds (default: all the model has)"),
              cl::CommaSeparated, cl::value_desc("KIND"), cl::cat(category));
cl::opt<std::string> precisionName(
    "precision",
    cl::desc("The matrix products' precision: f32 (default), bf16 or f16"),
    cl::init("f32"), cl::cat(category));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("A checkpoint for the candidates and the reference (default: "
             "random weights, mm-init-weights' initialisation; the times "
             "depend on the shape, not the values)"),
    cl::cat(category));

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/// Deterministic tokens, not all zero (mm-bench's prompts).
std::vector<int32_t> promptOf(unsigned length, int64_t vocab,
                              unsigned salt = 0) {
  std::vector<int32_t> tokens(length);
  for (unsigned i = 0; i < length; ++i)
    tokens[i] = static_cast<int32_t>((i * 7919u + 17u + salt * 104729u) %
                                     static_cast<uint64_t>(vocab));
  return tokens;
}

/// What the reference executor computes on the check prompt: its last
/// logits alone (compiled code's prefill_last, what the timed runs call),
/// every position's, two decode steps' and the pools' contents after them.
struct ReferenceOutputs {
  std::vector<int32_t> prompt;
  std::vector<float> last;
  std::vector<float> prefill;
  std::vector<std::vector<float>> steps;
  std::vector<std::vector<int32_t>> pools;
};

constexpr unsigned kCheckPromptTokens = 24;
constexpr int32_t kCheckStepTokens[] = {3, 5};

llvm::Expected<ReferenceOutputs> runCheck(ModelRunner &runner,
                                          llvm::ArrayRef<int32_t> prompt) {
  ReferenceOutputs outputs;
  outputs.prompt.assign(prompt.begin(), prompt.end());
  auto last = runner.prefill({outputs.prompt}, PromptLogits::Last);
  if (!last)
    return last.takeError();
  outputs.last = std::move(last->front());
  auto logits = runner.prefill({outputs.prompt}, PromptLogits::All);
  if (!logits)
    return logits.takeError();
  outputs.prefill = std::move(logits->front());
  for (int32_t token : kCheckStepTokens) {
    auto step = runner.decode(0, token);
    if (!step)
      return step.takeError();
    outputs.steps.push_back(std::move(*step));
  }
  auto pools = runner.poolPositions(0);
  if (!pools)
    return pools.takeError();
  outputs.pools = std::move(*pools);
  return outputs;
}

/// max |a - b| / max |b|.
double relativeDifference(llvm::ArrayRef<float> a, llvm::ArrayRef<float> b) {
  double difference = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    difference = std::max(difference, std::fabs(double(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return scale > 0 ? difference / scale : difference;
}

/// Why `got` is not `want` within `limit`, or "".
std::string compareOutputs(const ReferenceOutputs &got,
                           const ReferenceOutputs &want, double limit) {
  double last = relativeDifference(got.last, want.last);
  if (got.last.size() != want.last.size() || !(last <= limit))
    return llvm::formatv("the prompt's last logits differ from the reference "
                         "by {0:e} (relative; the limit is {1:e})",
                         last, limit);
  double prefill = relativeDifference(got.prefill, want.prefill);
  if (got.prefill.size() != want.prefill.size() || !(prefill <= limit))
    return llvm::formatv("prefill logits differ from the reference by {0:e} "
                         "(relative; the limit is {1:e})",
                         prefill, limit);
  for (size_t i = 0; i < want.steps.size(); ++i) {
    double step = relativeDifference(got.steps[i], want.steps[i]);
    if (!(step <= limit))
      return llvm::formatv("decode step {0}'s logits differ from the "
                           "reference by {1:e} (relative; the limit is {2:e})",
                           i + 1, step, limit);
  }
  if (got.pools != want.pools)
    return "the memory pools hold other tokens than the reference's (spec "
           "invariant 5)";
  return "";
}

/// The tuner: the config, the device, the reference outputs, the file.
class Tuner {
public:
  Tuner(MLIRContext &context, ModuleOp imported, mm::TargetInfo targetInfo,
        mm::TuningFile &file, std::string scratch)
      : context(context), imported(imported), targetInfo(targetInfo),
        file(file), scratch(std::move(scratch)) {}

  llvm::Error prepare();
  /// Tunes every kind of `space` the model has; false when the budget ran
  /// out first.
  llvm::Expected<bool> tune(llvm::ArrayRef<mm::KindTuningSpace> space);
  void printTable(llvm::raw_ostream &os,
                  llvm::ArrayRef<mm::KindTuningSpace> space) const;

private:
  /// Sets `options` to every kind at its best, and `kind` at `params`.
  llvm::Error optionsFor(llvm::StringRef kind, const mm::TuningParams &params,
                         mm::CompilePipelineOptions &options);
  /// Whether the model compiled with the best options has kernels of
  /// `kind`.
  llvm::Expected<bool> hasKernels(llvm::StringRef kind);
  /// Compiles, checks and times one candidate; records it in the file.
  /// `combinations`: the kind's, for the progress line, when all are
  /// tried (0 otherwise).
  llvm::Expected<const mm::TuningTrial *>
  measure(llvm::StringRef kind, const mm::TuningParams &params,
          int64_t combinations);
  llvm::Expected<bool> searchKind(const mm::KindTuningSpace &space);
  llvm::Error save();
  bool outOfBudget() const { return secondsSince(start) >= budget; }

  MLIRContext &context;
  ModuleOp imported;
  mm::TargetInfo targetInfo;
  mm::TuningFile &file;
  std::string scratch;
  mm::RunnerOptions runnerOptions;
  ReferenceOutputs reference;
  double limit = 0;
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
  double savedSeconds = 0;
  unsigned compiled = 0;
};

llvm::Error Tuner::prepare() {
  savedSeconds = file.seconds;
  std::optional<mm::Precision> precision = mm::parsePrecision(precisionName);
  limit = tolerance > 0 ? tolerance.getValue()
                        : (*precision == mm::Precision::F32 ? 1e-3 : 2e-2);
  runnerOptions.device = deviceSpec;
  runnerOptions.weightsPath = weightsPath;
  runnerOptions.randomWeights = weightsPath.empty();
  runnerOptions.precision = *precision;
  mm::RunnerOptions referenceOptions = runnerOptions;
  referenceOptions.device = "cpu";
  referenceOptions.backend = mm::BackendKind::Reference;
  llvm::errs() << "mm-tune: the reference executor on a prompt of "
               << kCheckPromptTokens << " tokens and "
               << std::size(kCheckStepTokens) << " decode steps\n";
  auto runner = mm::openModelRunner(configPath, referenceOptions);
  if (!runner)
    return runner.takeError();
  auto outputs = runCheck(
      **runner, promptOf(kCheckPromptTokens, (*runner)->config().vocabSize, 1));
  if (!outputs)
    return outputs.takeError();
  reference = std::move(*outputs);
  return llvm::Error::success();
}

llvm::Error Tuner::optionsFor(llvm::StringRef kind,
                              const mm::TuningParams &params,
                              mm::CompilePipelineOptions &options) {
  options.target = targetInfo.spec();
  options.precision = precisionName;
  for (const auto &[name, entry] : file.kinds) {
    const mm::TuningParams &chosen = name == kind ? params : entry.best;
    if (llvm::Error error = mm::applyTuningParams(name, chosen, targetInfo,
                                                  options, "kinds." + name))
      return error;
  }
  if (!kind.empty() && !file.kinds.count(kind.str()))
    if (llvm::Error error = mm::applyTuningParams(
            kind, params, targetInfo, options, "kinds." + kind.str()))
      return error;
  return llvm::Error::success();
}

llvm::Expected<bool> Tuner::hasKernels(llvm::StringRef kind) {
  mm::CompilePipelineOptions options;
  if (llvm::Error error = optionsFor("", mm::TuningParams(), options))
    return std::move(error);
  OwningOpRef<ModuleOp> module = imported.clone();
  PassManager pm(&context);
  if (llvm::Error error = mm::buildFusedPipeline(pm, options))
    return std::move(error);
  std::string messages;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
    messages += diagnostic.str() + "\n";
    return success();
  });
  if (failed(pm.run(*module)))
    return makeError("the model does not compile with the best choices so "
                     "far: " +
                     messages);
  bool found = false;
  module->walk([&](func::FuncOp function) {
    if (auto fusion = function->getAttrOfType<mm::FusionAttr>(
            mm::MMDialect::kFusionAttrName))
      found |= mm::stringifyFusionKind(fusion.getKind()) == kind;
  });
  return found;
}

llvm::Expected<const mm::TuningTrial *>
Tuner::measure(llvm::StringRef kind, const mm::TuningParams &params,
               int64_t combinations) {
  mm::TunedKind &entry = file.kinds[kind.str()];
  if (const mm::TuningTrial *trial = entry.find(params))
    return trial;
  llvm::errs() << llvm::formatv(
                      "[{0} {1}{2}] {0} ", kind, entry.tried.size() + 1,
                      combinations ? "/" + std::to_string(combinations)
                                   : std::string())
               << mm::formatTuningParams(params) << ": ";
  llvm::errs().flush();
  mm::TuningTrial trial;
  trial.params = params;
  auto record = [&](llvm::StringRef status, const std::string &detail) {
    trial.status = status.str();
    trial.detail = detail;
  };

  mm::CompilePipelineOptions options;
  if (llvm::Error error = optionsFor(kind, params, options))
    return std::move(error);
  // Compile, into a fresh file each time: the runtime loads each artifact's
  // bytes once, so a reused path would be no saving.
  std::string artifact =
      (scratch + "/candidate-" + llvm::Twine(compiled++) + ".mmx").str();
  std::string messages;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
      messages += diagnostic.str() + "\n";
      return success();
    });
    OwningOpRef<ModuleOp> module = imported.clone();
    PassManager pm(&context);
    llvm::Error built = targetInfo.isGpu() ? mm::buildGpuPipeline(pm, options)
                                           : mm::buildHostPipeline(pm, options);
    if (built)
      record("failed", "does not compile: " + llvm::toString(std::move(built)));
    else if (failed(pm.run(*module)))
      record("failed", "does not compile: " + messages);
    else if (llvm::Error written = mm::writeHostArtifact(
                 *module, mm::HostTarget::detect(), artifact,
                 targetInfo.isGpu() ? &targetInfo : nullptr))
      record("failed",
             "does not compile: " + llvm::toString(std::move(written)));
  }
  if (trial.status.empty()) {
    auto runner = mm::openModelRunner(artifact, runnerOptions);
    if (!runner) {
      record("failed", "does not load: " + llvm::toString(runner.takeError()));
    } else if (auto outputs = runCheck(**runner, reference.prompt); !outputs) {
      record("failed", "does not run: " + llvm::toString(outputs.takeError()));
    } else if (std::string why = compareOutputs(*outputs, reference, limit);
               !why.empty()) {
      record("differs", why);
    } else {
      // One warm-up, then the timed runs.
      const int64_t vocab = (*runner)->config().vocabSize;
      std::vector<double> prefill, decode;
      for (unsigned run = 0; run <= repetitions && trial.status.empty();
           ++run) {
        auto begin = std::chrono::steady_clock::now();
        auto logits = (*runner)->prefill({promptOf(promptTokens, vocab)},
                                         PromptLogits::None);
        double prefillSeconds = secondsSince(begin);
        if (!logits) {
          record("failed",
                 "does not run: " + llvm::toString(logits.takeError()));
          break;
        }
        begin = std::chrono::steady_clock::now();
        int32_t token = 1;
        for (unsigned step = 0; step < generateTokens; ++step) {
          auto next = (*runner)->decode(0, token);
          if (!next) {
            record("failed",
                   "does not run: " + llvm::toString(next.takeError()));
            break;
          }
          token = static_cast<int32_t>(
              std::max_element(next->begin(), next->end()) - next->begin());
        }
        if (run > 0) {
          prefill.push_back(prefillSeconds * 1e3);
          decode.push_back(secondsSince(begin) * 1e3);
        }
      }
      if (trial.status.empty()) {
        trial.status = "ok";
        trial.prefillMs = median(prefill);
        trial.decodeMs = median(decode);
      }
    }
  }
  llvm::sys::fs::remove(artifact);
  if (trial.ok())
    llvm::errs() << llvm::formatv("prefill {0:f1} ms, decode {1:f1} ms\n",
                                  trial.prefillMs, trial.decodeMs);
  else
    llvm::errs() << trial.status << " (" << trial.detail << ")\n";
  entry.tried.push_back(std::move(trial));
  if (llvm::Error error = save())
    return std::move(error);
  return &entry.tried.back();
}

llvm::Error Tuner::save() {
  file.seconds = savedSeconds + secondsSince(start);
  return mm::writeTuningFile(outputPath, file);
}

/// Every combination of the values of `space`'s parameters.
std::vector<mm::TuningParams>
allCombinations(const mm::KindTuningSpace &space) {
  std::vector<mm::TuningParams> combinations = {mm::TuningParams()};
  for (const mm::TuningParameter &parameter : space.parameters) {
    std::vector<mm::TuningParams> longer;
    for (const mm::TuningParams &partial : combinations)
      for (const std::string &value : parameter.values) {
        mm::TuningParams params = partial;
        params[parameter.name] = value;
        longer.push_back(std::move(params));
      }
    combinations = std::move(longer);
  }
  return combinations;
}

llvm::Expected<bool> Tuner::searchKind(const mm::KindTuningSpace &space) {
  mm::TunedKind &entry = file.kinds[space.kind];
  entry.defaults = space.defaults();
  if (entry.best.empty())
    entry.best = entry.defaults;
  const bool exhaustive = space.combinations() <= exhaustiveLimit;
  const int64_t total = exhaustive ? space.combinations() : 0;
  auto baseline = measure(space.kind, entry.defaults, total);
  if (!baseline)
    return baseline.takeError();
  if (!(*baseline)->ok())
    return makeError("the compiler's default for the " + space.kind +
                     " kernels " + (*baseline)->status + ": " +
                     (*baseline)->detail);
  // The best trial so far (a copy: measuring moves the trials): the
  // recorded best (a resumed run) or the default.
  mm::TuningTrial best = **baseline;
  if (const mm::TuningTrial *recorded = entry.find(entry.best);
      recorded && recorded->ok())
    best = *recorded;
  entry.best = best.params;
  auto consider = [&](const mm::TuningParams &params) -> llvm::Expected<bool> {
    if (outOfBudget())
      return false;
    auto trial = measure(space.kind, params, total);
    if (!trial)
      return trial.takeError();
    if ((*trial)->ok() &&
        (*trial)->totalMs() < best.totalMs() * (1 - minGain)) {
      best = **trial;
      entry.best = params;
    }
    return true;
  };
  if (exhaustive) {
    for (const mm::TuningParams &params : allCombinations(space)) {
      auto going = consider(params);
      if (!going || !*going)
        return going;
    }
  } else {
    // Coordinate descent from the best: each parameter through its values
    // with the others held, until a pass changes nothing.
    for (bool changed = true; changed;) {
      changed = false;
      for (const mm::TuningParameter &parameter : space.parameters) {
        mm::TuningParams around = best.params;
        for (const std::string &value : parameter.values) {
          mm::TuningParams params = around;
          params[parameter.name] = value;
          auto going = consider(params);
          if (!going || !*going)
            return going;
        }
        changed |= best.params != around;
      }
    }
  }
  entry.complete = true;
  if (llvm::Error error = save())
    return std::move(error);
  return true;
}

llvm::Expected<bool> Tuner::tune(llvm::ArrayRef<mm::KindTuningSpace> space) {
  for (const mm::KindTuningSpace &kindSpace : space) {
    if (!onlyKinds.empty() && !llvm::is_contained(onlyKinds, kindSpace.kind))
      continue;
    auto found = file.kinds.find(kindSpace.kind);
    if (found != file.kinds.end() && found->second.complete)
      continue;
    llvm::Expected<bool> present = hasKernels(kindSpace.kind);
    if (!present)
      return present.takeError();
    if (!*present) {
      llvm::errs() << "mm-tune: no " << kindSpace.kind
                   << " kernels in this model with the best choices so far\n";
      continue;
    }
    llvm::errs() << "mm-tune: " << kindSpace.kind << ", "
                 << kindSpace.combinations() << " combinations ("
                 << (kindSpace.combinations() <= exhaustiveLimit
                         ? "all of them"
                         : "coordinate descent")
                 << ")\n";
    llvm::Expected<bool> finished = searchKind(kindSpace);
    if (!finished || !*finished)
      return finished;
  }
  return true;
}

void Tuner::printTable(llvm::raw_ostream &os,
                       llvm::ArrayRef<mm::KindTuningSpace> space) const {
  os << llvm::formatv("Tuned on {0} for {1} ({2}): prefill {3} tokens + {4} "
                      "decode steps, median of {5}; {6:f0} s of tuning\n\n",
                      file.key.device, file.key.target, file.key.modelShape,
                      file.workload.prompt, file.workload.generate,
                      file.workload.repetitions, file.seconds);
  os << "| kind | default | best | default ms (prefill + decode) | best ms | "
        "speedup | tried |\n";
  os << "| --- | --- | --- | ---: | ---: | ---: | --- |\n";
  for (const mm::KindTuningSpace &kindSpace : space) {
    auto found = file.kinds.find(kindSpace.kind);
    if (found == file.kinds.end())
      continue;
    const mm::TunedKind &entry = found->second;
    const mm::TuningTrial *byDefault = entry.find(entry.defaults);
    const mm::TuningTrial *best = entry.find(entry.best);
    if (!byDefault || !best || !byDefault->ok() || !best->ok())
      continue;
    size_t rejected = llvm::count_if(
        entry.tried, [](const mm::TuningTrial &t) { return !t.ok(); });
    os << llvm::formatv(
        "| {0} | {1} | {2} | {3:f1} ({4:f1} + {5:f1}) | {6:f1} ({7:f1} + "
        "{8:f1}) | {9:f2}x | {10}{11}{12} |\n",
        kindSpace.kind, mm::formatTuningParams(entry.defaults),
        mm::formatTuningParams(entry.best), byDefault->totalMs(),
        byDefault->prefillMs, byDefault->decodeMs, best->totalMs(),
        best->prefillMs, best->decodeMs, byDefault->totalMs() / best->totalMs(),
        entry.tried.size(),
        rejected ? llvm::formatv(", {0} rejected", rejected).str() : "",
        entry.complete ? "" : ", unfinished");
  }
}

/// The description --list-devices gives `spec`.
llvm::Expected<std::string> describeDevice(llvm::StringRef spec) {
  std::vector<std::string> notes;
  for (const mm::gpu::DeviceDescription &device : mm::gpu::listDevices(&notes))
    if (device.spec == spec)
      return device.description;
  std::string text = "no device " + spec.str() + " on this machine";
  for (const std::string &note : notes)
    text += "; " + note;
  return makeError(text + " (mm-bench --list-devices lists them)");
}

llvm::Error run() {
  if (deviceSpec == "sim")
    return makeError("--device=sim: mm-tune times candidates on a real "
                     "device, and the simulator's counters are no timing "
                     "(tune on cpu, cuda:N or hip:N; the simulator checks "
                     "kernels, mm-bench --counters estimates them)");
  llvm::Expected<mm::TargetInfo> targetInfo = mm::TargetInfo::parse(target);
  if (!targetInfo)
    return targetInfo.takeError();
  llvm::StringRef vendor = llvm::StringRef(deviceSpec).split(':').first;
  if (vendor != targetInfo->kindName())
    return makeError(
        "--device=" + deviceSpec +
        " cannot run code for --target=" + targetInfo->spec() + " (" +
        (targetInfo->isGpu()
             ? "pass --device=" + targetInfo->kindName().str() + ":N"
             : std::string("pass --device=cpu")) +
        ")");
  if (!mm::parsePrecision(precisionName))
    return makeError("--precision=" + precisionName +
                     ": expected f32, bf16 or f16");
  if (promptTokens == 0 || repetitions == 0)
    return makeError("--prompt and -r must be at least 1");
  llvm::Expected<std::string> device = describeDevice(deviceSpec);
  if (!device)
    return device.takeError();

  DialectRegistry registry;
  registry.insert<mm::MMDialect, func::FuncDialect>();
  mm::registerArtifactTranslations(registry);
  mm::registerLoweringInterfaces(registry);
  MLIRContext context(registry);
  auto module = mm::importModelConfigFile(&context, configPath);
  if (!module)
    return module.takeError();
  mm::ModelConfig config =
      (**module)
          ->getAttrOfType<mm::ModelConfigAttr>(mm::MMDialect::kConfigAttrName)
          .getModelConfig();

  mm::TuningFile file;
  file.key = mm::tuningKeyFor(config, *targetInfo, precisionName, *device);
  file.workload = {promptTokens, generateTokens, 1, repetitions};
  if (llvm::sys::fs::exists(outputPath)) {
    llvm::Expected<mm::TuningFile> existing = mm::readTuningFile(outputPath);
    if (!existing)
      return existing.takeError();
    std::vector<std::string> mismatches =
        mm::tuningKeyMismatches(existing->key, file.key, /*checkDevice=*/true);
    const mm::TuningWorkload &w = existing->workload;
    if (w.prompt != file.workload.prompt ||
        w.generate != file.workload.generate ||
        w.batch != file.workload.batch ||
        w.repetitions != file.workload.repetitions)
      mismatches.push_back(llvm::formatv(
          "workload: measured with --prompt {0} --generate {1} -r {2}",
          w.prompt, w.generate, w.repetitions));
    if (!mismatches.empty())
      return makeError(outputPath + " holds another tuning (" +
                       llvm::join(mismatches, "; ") +
                       "): pass another -o, or remove it to start over");
    // Its choices must be this compiler's before any is built on.
    for (const auto &[kind, entry] : existing->kinds) {
      mm::CompilePipelineOptions scratch;
      if (llvm::Error error =
              mm::applyTuningParams(kind, entry.best, *targetInfo, scratch,
                                    outputPath + ": kinds." + kind + ".best"))
        return error;
    }
    file = std::move(*existing);
    llvm::errs() << "mm-tune: resuming " << outputPath << " ("
                 << llvm::formatv("{0:f0}", file.seconds)
                 << " s of tuning so far)\n";
  }

  llvm::SmallString<128> scratch;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("mm-tune", scratch))
    return makeError("cannot create a scratch folder: " + ec.message());
  std::vector<mm::KindTuningSpace> space =
      mm::tuningSpace(*targetInfo, config.memory.has_value());
  for (const std::string &kind : onlyKinds)
    if (llvm::none_of(space, [&](const mm::KindTuningSpace &entry) {
          return entry.kind == kind;
        })) {
      llvm::sys::fs::remove_directories(scratch);
      return makeError("--kinds: '" + kind + "' is not a kind tuned for " +
                       targetInfo->spec() + " (" +
                       mm::describeTuningKinds(space) + ")");
    }
  Tuner tuner(context, **module, *targetInfo, file, scratch.str().str());
  llvm::Error failed = tuner.prepare();
  llvm::Expected<bool> finished =
      failed ? llvm::Expected<bool>(std::move(failed)) : tuner.tune(space);
  llvm::sys::fs::remove_directories(scratch);
  if (!finished)
    return finished.takeError();
  llvm::outs() << "\n";
  tuner.printTable(llvm::outs(), space);
  llvm::outs() << "\n"
               << (*finished ? "Done"
                             : "The budget is spent; run again to go on")
               << ": " << outputPath << " (mm-compile --tuning=" << outputPath
               << ")\n";
  return llvm::Error::success();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "memmamba-mlir tuner: measures the compiler's choices per kernel "
      "kind on a device and writes the best to a tuning file\n");
  return mm::runTool("mm-tune", run);
}
