//===- TuningFile.cpp - what mm-tune measured and mm-compile applies ------===//

#include "common/TuningFile.h"

#include "common/InputFiles.h"
#include "common/OutputFile.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/xxhash.h"
#include "llvm/TargetParser/Host.h"

using namespace mm;
namespace json = llvm::json;

namespace {

/// Tuning files hold a few kinds with at most a few hundred trials each.
constexpr uint64_t kMaxTuningFileBytes = 16 << 20;

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

json::Object paramsToJSON(const TuningParams &params) {
  json::Object object;
  for (const auto &[name, value] : params) {
    int64_t number = 0;
    if (!llvm::StringRef(value).getAsInteger(10, number))
      object[name] = number;
    else
      object[name] = value;
  }
  return object;
}

/// Reads the fields of a tuning file, naming the field of every error.
class Reader {
public:
  explicit Reader(llvm::StringRef path) : path(path) {}

  /// Records the first error; false, for the callers' returns.
  bool fail(const llvm::Twine &field, const llvm::Twine &what) {
    if (problem.empty())
      problem = (path + ": " + field + ": " + what).str();
    return false;
  }
  llvm::Error error() const { return makeError(problem); }
  llvm::Error failed(const llvm::Twine &field, const llvm::Twine &what) {
    fail(field, what);
    return error();
  }

  const json::Object *object(const json::Object &parent, llvm::StringRef name,
                             const std::string &field) {
    const json::Value *value = parent.get(name);
    if (!value || !value->getAsObject()) {
      fail(field, value ? "expected an object" : "missing");
      return nullptr;
    }
    return value->getAsObject();
  }

  bool string(const json::Object &parent, llvm::StringRef name,
              const std::string &field, std::string &out) {
    const json::Value *value = parent.get(name);
    if (!value || !value->getAsString()) {
      fail(field, value ? "expected a string" : "missing");
      return false;
    }
    out = value->getAsString()->str();
    return true;
  }

  bool number(const json::Object &parent, llvm::StringRef name,
              const std::string &field, double &out) {
    const json::Value *value = parent.get(name);
    std::optional<double> number = value ? value->getAsNumber() : std::nullopt;
    if (!number || *number < 0) {
      fail(field, value ? "expected a number, at least 0" : "missing");
      return false;
    }
    out = *number;
    return true;
  }

  bool integer(const json::Object &parent, llvm::StringRef name,
               const std::string &field, int64_t &out) {
    const json::Value *value = parent.get(name);
    std::optional<int64_t> number =
        value ? value->getAsInteger() : std::nullopt;
    if (!number || *number < 0) {
      fail(field, value ? "expected an integer, at least 0" : "missing");
      return false;
    }
    out = *number;
    return true;
  }

  bool params(const json::Object &parent, llvm::StringRef name,
              const std::string &field, TuningParams &out) {
    const json::Object *object = this->object(parent, name, field);
    if (!object)
      return false;
    for (const auto &[key, value] : *object) {
      if (std::optional<llvm::StringRef> text = value.getAsString())
        out[key.str()] = text->str();
      else if (std::optional<int64_t> number = value.getAsInteger())
        out[key.str()] = std::to_string(*number);
      else {
        fail(field + "." + key.str(), "expected a string or an integer");
        return false;
      }
    }
    return true;
  }

  llvm::Expected<TuningFile> read(const json::Value &root) {
    TuningFile file;
    const json::Object *top = root.getAsObject();
    if (!top)
      return makeError(path + ": not a tuning file (expected a JSON object)");
    std::string format;
    if (!string(*top, "format", "format", format))
      return error();
    if (format != kTuningFormat)
      return failed("format", "'" + format + "' is not " + kTuningFormat +
                                  " (written by another version of mm-tune?)");
    const json::Object *key = object(*top, "key", "key");
    if (!key)
      return error();
    for (auto [name, out] :
         {std::pair<llvm::StringRef, std::string *>{"model", &file.key.model},
          {"model_shape", &file.key.modelShape},
          {"target", &file.key.target},
          {"device", &file.key.device},
          {"compiler", &file.key.compiler},
          {"precision", &file.key.precision}})
      if (!string(*key, name, ("key." + name).str(), *out))
        return error();
    const json::Object *workload = object(*top, "workload", "workload");
    if (!workload)
      return error();
    for (auto [name, out] : {std::pair<llvm::StringRef, int64_t *>{
                                 "prompt", &file.workload.prompt},
                             {"generate", &file.workload.generate},
                             {"batch", &file.workload.batch},
                             {"repetitions", &file.workload.repetitions}})
      if (!integer(*workload, name, ("workload." + name).str(), *out))
        return error();
    if (!number(*top, "seconds", "seconds", file.seconds))
      return error();
    const json::Object *kinds = object(*top, "kinds", "kinds");
    if (!kinds)
      return error();
    for (const auto &[name, value] : *kinds) {
      std::string field = "kinds." + name.str();
      const json::Object *entry = value.getAsObject();
      if (!entry)
        return failed(field, "expected an object");
      TunedKind &kind = file.kinds[name.str()];
      if (!params(*entry, "default", field + ".default", kind.defaults) ||
          !params(*entry, "best", field + ".best", kind.best))
        return error();
      std::optional<bool> complete = entry->getBoolean("complete");
      if (!complete)
        return failed(field + ".complete", "expected true or false");
      kind.complete = *complete;
      const json::Array *tried = entry->getArray("tried");
      if (!tried)
        return failed(field + ".tried", "expected an array");
      for (auto [index, trialValue] : llvm::enumerate(*tried)) {
        std::string trialField =
            field + ".tried[" + std::to_string(index) + "]";
        const json::Object *trialObject = trialValue.getAsObject();
        if (!trialObject)
          return failed(trialField, "expected an object");
        TuningTrial trial;
        if (!params(*trialObject, "params", trialField + ".params",
                    trial.params) ||
            !string(*trialObject, "status", trialField + ".status",
                    trial.status))
          return error();
        if (trial.status != "ok" && trial.status != "differs" &&
            trial.status != "failed")
          return failed(trialField + ".status",
                        "'" + trial.status + "' is not ok, differs or failed");
        if (const json::Value *detail = trialObject->get("detail")) {
          if (!detail->getAsString())
            return failed(trialField + ".detail", "expected a string");
          trial.detail = detail->getAsString()->str();
        }
        if (trial.ok() &&
            (!number(*trialObject, "prefill_ms", trialField + ".prefill_ms",
                     trial.prefillMs) ||
             !number(*trialObject, "decode_ms", trialField + ".decode_ms",
                     trial.decodeMs)))
          return error();
        kind.tried.push_back(std::move(trial));
      }
    }
    return file;
  }

private:
  std::string path;
  std::string problem;
};

} // namespace

std::string mm::formatTuningParams(const TuningParams &params) {
  std::string text;
  for (const auto &[name, value] : params)
    text += (text.empty() ? "" : " ") + name + "=" + value;
  return text.empty() ? "-" : text;
}

const TuningTrial *TunedKind::find(const TuningParams &params) const {
  for (const TuningTrial &trial : tried)
    if (trial.params == params)
      return &trial;
  return nullptr;
}

json::Value TuningFile::toJSON() const {
  json::Object kindsObject;
  for (const auto &[name, kind] : kinds) {
    json::Array tried;
    for (const TuningTrial &trial : kind.tried) {
      json::Object entry{{"params", paramsToJSON(trial.params)},
                         {"status", trial.status}};
      if (!trial.detail.empty())
        entry["detail"] = trial.detail;
      if (trial.ok()) {
        entry["prefill_ms"] = trial.prefillMs;
        entry["decode_ms"] = trial.decodeMs;
      }
      tried.push_back(std::move(entry));
    }
    kindsObject[name] = json::Object{{"default", paramsToJSON(kind.defaults)},
                                     {"best", paramsToJSON(kind.best)},
                                     {"complete", kind.complete},
                                     {"tried", std::move(tried)}};
  }
  return json::Object{
      {"format", kTuningFormat},
      {"key", json::Object{{"model", key.model},
                           {"model_shape", key.modelShape},
                           {"target", key.target},
                           {"device", key.device},
                           {"compiler", key.compiler},
                           {"precision", key.precision}}},
      {"workload", json::Object{{"prompt", workload.prompt},
                                {"generate", workload.generate},
                                {"batch", workload.batch},
                                {"repetitions", workload.repetitions}}},
      {"seconds", seconds},
      {"kinds", std::move(kindsObject)}};
}

llvm::Expected<TuningFile> mm::readTuningFile(llvm::StringRef path) {
  auto buffer = readBoundedFile(path, kMaxTuningFileBytes, "a tuning file");
  if (!buffer)
    return buffer.takeError();
  llvm::Expected<json::Value> root = parseBoundedJson((*buffer)->getBuffer());
  if (!root)
    return makeError(path + ": not a tuning file (not JSON: " +
                     llvm::toString(root.takeError()) + ")");
  return Reader(path).read(*root);
}

llvm::Error mm::writeTuningFile(llvm::StringRef path, const TuningFile &file) {
  return writeFileSafely(path, [&](llvm::raw_ostream &os) {
    os << llvm::formatv("{0:2}", file.toJSON()) << "\n";
    return llvm::Error::success();
  });
}

std::vector<std::string> mm::tuningKeyMismatches(const TuningKey &file,
                                                 const TuningKey &wanted,
                                                 bool checkDevice) {
  std::vector<std::string> mismatches;
  auto compare = [&](llvm::StringRef field, const std::string &tuned,
                     const std::string &compiling) {
    if (tuned != compiling)
      mismatches.push_back((field + ": tuned for '" + tuned +
                            "', compiling for '" + compiling + "'")
                               .str());
  };
  if (file.model != wanted.model)
    mismatches.push_back("model: tuned for another shape (" + file.modelShape +
                         "), compiling " + wanted.modelShape);
  compare("target", file.target, wanted.target);
  if (checkDevice)
    compare("device", file.device, wanted.device);
  compare("compiler", file.compiler, wanted.compiler);
  compare("precision", file.precision, wanted.precision);
  return mismatches;
}

std::string mm::modelShapeKey(const ModelConfig &config) {
  // json::Value prints objects in key order: one text per shape.
  std::string text = llvm::formatv("{0}", mm::toJSON(config)).str();
  return llvm::utohexstr(llvm::xxh3_64bits(text), /*LowerCase=*/true,
                         /*Width=*/16);
}

std::string mm::describeModelShape(const ModelConfig &config) {
  std::string text = llvm::formatv(
      "{0}, {1} layers, d_model {2}, d_inner {3}, d_state {4}, vocab {5}",
      config.memory ? "memmamba" : "mamba", config.numLayers, config.hiddenSize,
      config.intermediateSize, config.stateSize, config.vocabSize);
  if (config.memory)
    text += llvm::formatv(", pool {0} x {1}", config.memory->poolSize,
                          config.memory->summaryDim)
                .str();
  return text;
}

std::string mm::describeHostDevice() {
  unsigned threads = llvm::hardware_concurrency().compute_thread_count();
  std::string text = llvm::sys::getProcessTriple();
  llvm::StringRef cpu = llvm::sys::getHostCPUName();
  if (!cpu.empty() && cpu != "generic")
    text += (", " + cpu).str();
  text += ", " + std::to_string(threads) + " hardware thread" +
          (threads == 1 ? "" : "s");
  return text;
}
