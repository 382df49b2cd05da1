//===- Tuning.cpp - the compiler's tunable choices, per kernel kind -------===//

#include "lowering/Tuning.h"

#include "dialect/KernelSizes.h"
#include "dialect/MMDialect.h"
#include "lowering/Manifest.h"
#include "lowering/Schedules.h"

#include "llvm/ADT/StringExtras.h"

using namespace mm;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::vector<std::string> values(std::initializer_list<int64_t> sizes) {
  std::vector<std::string> text = {kTuningAuto.str()};
  for (int64_t size : sizes)
    text.push_back(std::to_string(size));
  return text;
}

const std::vector<std::string> kSwitch = {kTuningAuto.str(), "off"};
const std::vector<std::string> kLowering = {kTuningAuto.str(), "loops"};

using BoolOption = decltype(CompilePipelineOptions::gemmKernels);

/// The pipeline option a GPU kind's `kernel` parameter switches.
BoolOption *kernelOption(llvm::StringRef kind,
                         CompilePipelineOptions &options) {
  if (kind == "gemm")
    return &options.gemmKernels;
  if (kind == "scan")
    return &options.scanKernels;
  if (kind == "conv")
    return &options.convKernels;
  if (kind == "norm")
    return &options.normKernels;
  if (kind == "memory")
    return &options.memoryKernels;
  return nullptr;
}

} // namespace

TuningParams KindTuningSpace::defaults() const {
  TuningParams params;
  for (const TuningParameter &parameter : parameters)
    params[parameter.name] = kTuningAuto.str();
  return params;
}

int64_t KindTuningSpace::combinations() const {
  int64_t count = 1;
  for (const TuningParameter &parameter : parameters)
    count *= parameter.values.size();
  return count;
}

std::vector<KindTuningSpace> mm::tuningSpace(const TargetInfo &target,
                                             bool memory) {
  std::vector<KindTuningSpace> space;
  if (!target.isGpu()) {
    // The GEMMs take most of the time: the schedule's block of output
    // channels per thread and its register tile (tokens x rows_at_once
    // accumulators of 8 lanes, default 4 x 3; AVX2 has 16 registers,
    // AVX-512 32).
    space.push_back({"gemm",
                     {{"rows", values({32, 128, 256})},
                      {"tokens", values({1, 2, 6})},
                      {"rows_at_once", values({2, 4, 6})},
                      {"lowering", kLowering}}});
    space.push_back(
        {"scan", {{"channels", values({4, 8, 32, 64})}, {"fusion", kSwitch}}});
    space.push_back(
        {"conv",
         {{"channels", values({4, 8, 32, 64})}, {"lowering", kLowering}}});
    if (memory)
      space.push_back({"memory", {{"fusion", kSwitch}}});
    space.push_back({"norm", {{"fusion", kSwitch}, {"lowering", kLowering}}});
    space.push_back({"embed", {{"lowering", kLowering}}});
    space.push_back({"elementwise", {{"lowering", kLowering}}});
    return space;
  }
  int64_t warp = target.subgroupWidth;
  space.push_back({"gemm",
                   {{"kernel", kSwitch},
                    {"block_m", values({32, 64, 128})},
                    {"block_n", values({32, 64, 128})},
                    {"block_k", values({16, 32, 64})},
                    {"stages", values({2, 3, 4})},
                    {"rows", values({2, 8, 16})}}});
  space.push_back({"scan",
                   {{"kernel", kSwitch},
                    {"block_channels", values({32, 128, 256})},
                    {"chunk", values({2 * warp, 8 * warp, 16 * warp})},
                    {"fusion", kSwitch}}});
  space.push_back({"conv", {{"kernel", kSwitch}}});
  if (memory)
    space.push_back({"memory", {{"kernel", kSwitch}, {"fusion", kSwitch}}});
  space.push_back({"norm", {{"kernel", kSwitch}, {"fusion", kSwitch}}});
  return space;
}

std::string mm::describeTuningKinds(llvm::ArrayRef<KindTuningSpace> space) {
  std::vector<std::string> kinds;
  for (const KindTuningSpace &entry : space)
    kinds.push_back(entry.kind);
  return llvm::join(kinds, ", ");
}

llvm::Error mm::applyTuningParams(llvm::StringRef kind,
                                  const TuningParams &params,
                                  const TargetInfo &target,
                                  CompilePipelineOptions &options,
                                  llvm::StringRef field) {
  std::vector<KindTuningSpace> space = tuningSpace(target, /*memory=*/true);
  auto kindSpace = llvm::find_if(
      space, [&](const KindTuningSpace &entry) { return entry.kind == kind; });
  if (kindSpace == space.end())
    return makeError(field + ": no kernel kind '" + kind + "' is tuned for " +
                     target.spec() + " (" + describeTuningKinds(space) + ")");
  for (const auto &[name, value] : params) {
    std::string where = (field + "." + name).str();
    bool known = llvm::any_of(
        kindSpace->parameters,
        [&, &name = name](const TuningParameter &p) { return p.name == name; });
    if (!known) {
      std::vector<std::string> names;
      for (const TuningParameter &p : kindSpace->parameters)
        names.push_back(p.name);
      return makeError(where + ": a " + kind + " kernel has no tunable " +
                       "parameter '" + name + "' on " + target.spec() +
                       " (it has " + llvm::join(names, ", ") + ")");
    }
    if (value == kTuningAuto)
      continue;
    if (name == "fusion" || name == "kernel") {
      if (value == "on")
        continue;
      if (value != "off")
        return makeError(where + ": '" + value + "' is not auto, on or off");
      if (name == "fusion")
        options.unfuse.push_back(kind.str());
      else
        *kernelOption(kind, options) = false;
      continue;
    }
    if (name == "lowering") {
      if (value == "schedule")
        continue;
      if (value != kLoopsScheduleName)
        return makeError(where + ": '" + value +
                         "' is not auto, schedule or loops");
      options.schedules.push_back((kind + ":" + kLoopsScheduleName).str());
      continue;
    }
    // A kernel size.
    const KernelSize *size = lookupFusionSize(name);
    int64_t number = 0;
    if (llvm::StringRef(value).getAsInteger(10, number))
      return makeError(where + ": '" + value + "' is not auto or a size");
    if (size && !inRange(*size, number))
      return makeError(where + ": " + rangeError(*size, number));
    options.kernelSizes.push_back((kind + "." + name + "=" + value).str());
  }
  return llvm::Error::success();
}

TuningKey mm::tuningKeyFor(const ModelConfig &config, const TargetInfo &target,
                           llvm::StringRef precision, llvm::StringRef device) {
  TuningKey key;
  key.model = modelShapeKey(config);
  key.modelShape = describeModelShape(config);
  key.target = target.spec();
  key.device = device.str();
  key.compiler = kCompilerVersion;
  key.precision = precision.str();
  return key;
}

llvm::Expected<std::vector<std::string>>
mm::applyTuningFile(llvm::StringRef path, const TuningKey &wanted,
                    bool checkDevice, const TargetInfo &target,
                    CompilePipelineOptions &options) {
  llvm::Expected<TuningFile> file = readTuningFile(path);
  if (!file)
    return file.takeError();
  std::vector<std::string> mismatches =
      tuningKeyMismatches(file->key, wanted, checkDevice);
  if (!mismatches.empty())
    return mismatches;
  // Checked whole before anything is set: a bad kind leaves `options` as
  // they were.
  CompilePipelineOptions tuned;
  tuned.target = target.spec();
  for (const auto &[kind, entry] : file->kinds)
    if (llvm::Error error =
            applyTuningParams(kind, entry.best, target, tuned,
                              (path + ": kinds." + kind + ".best").str()))
      return std::move(error);
  for (const std::string &size : tuned.kernelSizes)
    options.kernelSizes.push_back(size);
  for (const std::string &kind : tuned.unfuse)
    options.unfuse.push_back(kind);
  // A schedule the user gave for a kind wins over the file's.
  for (const std::string &schedule : tuned.schedules) {
    llvm::StringRef kind = llvm::StringRef(schedule).split(':').first;
    if (llvm::none_of(options.schedules, [&](const std::string &given) {
          return llvm::StringRef(given).split(':').first == kind;
        }))
      options.schedules.push_back(schedule);
  }
  for (llvm::StringRef kind : {"gemm", "scan", "conv", "norm", "memory"})
    if (!*kernelOption(kind, tuned))
      *kernelOption(kind, options) = false;
  options.tuning = (path + " (" + file->key.device + ")").str();
  return mismatches;
}
