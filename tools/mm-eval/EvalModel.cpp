//===- EvalModel.cpp - the model every mm-eval subcommand runs ------------===//

#include "tools/mm-eval/EvalModel.h"

#include "common/InputFiles.h"
#include "common/OutputFile.h"
#include "tools/mm-eval/EvalCommands.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace cl = llvm::cl;
using namespace mm;
using namespace mm::eval;

namespace {

/// The options belong to every subcommand (made at run time: see
/// getModelOptions).
cl::SubCommandGroup &allCommands() {
  static cl::SubCommandGroup group(
      {&passkeyCommand, &perplexityCommand, &fidelityCommand});
  return group;
}

} // namespace

ModelOptions::ModelOptions()
    : modelPath(cl::Positional,
                cl::desc("<config.json, model folder or artifact>"),
                cl::sub(allCommands()), cl::cat(category)),
      weightsPath("weights",
                  cl::desc("Checkpoint: .safetensors, shard index, or folder "
                           "(default: the model folder)"),
                  cl::value_desc("path"), cl::sub(allCommands()),
                  cl::cat(category)),
      vocabularyPath(
          "vocab",
          cl::desc("The word list, one word per line (default: vocab.txt in "
                   "the model's folder, next to the config or artifact, or "
                   "next to the weights)"),
          cl::value_desc("vocab.txt"), cl::sub(allCommands()),
          cl::cat(category)),
      runnerFlags(category, cl::sub(allCommands())) {}

RunnerOptions ModelOptions::getRunnerOptions() const {
  RunnerOptions options;
  options.weightsPath = weightsPath;
  runnerFlags.apply(options);
  return options;
}

ModelOptions &mm::eval::getModelOptions() {
  static ModelOptions options;
  return options;
}

std::string mm::eval::findVocabularyPath(const ModelOptions &options) {
  if (!options.vocabularyPath.empty())
    return options.vocabularyPath;
  auto folderOf = [](llvm::StringRef path) -> std::string {
    if (path.empty())
      return "";
    if (llvm::sys::fs::is_directory(path))
      return path.str();
    llvm::StringRef parent = llvm::sys::path::parent_path(path);
    return parent.empty() ? "." : parent.str();
  };
  for (const std::string &folder :
       {folderOf(options.modelPath), folderOf(options.weightsPath)}) {
    if (folder.empty())
      continue;
    llvm::SmallString<256> candidate(folder);
    llvm::sys::path::append(candidate, "vocab.txt");
    if (llvm::sys::fs::exists(candidate))
      return candidate.str().str();
  }
  return "";
}

llvm::Expected<EvalModel> mm::eval::openEvalModel(VocabularyUse use) {
  const ModelOptions &options = getModelOptions();
  if (options.modelPath.empty())
    return makeEvalError("no model: pass a config, a model folder or an "
                         "artifact");
  // The vocabulary first: a wrong one fails before a model loads.
  std::optional<Vocabulary> vocabulary;
  std::string vocabularyPath = findVocabularyPath(options);
  if (vocabularyPath.empty() && use == VocabularyUse::Required)
    return makeEvalError(
        "no vocabulary: pass --vocab FILE, or put vocab.txt in the model's "
        "folder (looked next to " +
        options.modelPath +
        (options.weightsPath.empty() ? "" : " and " + options.weightsPath) +
        ")");
  if (!vocabularyPath.empty() &&
      (use == VocabularyUse::Required || !options.vocabularyPath.empty())) {
    auto loaded = Vocabulary::load(vocabularyPath);
    if (!loaded)
      return loaded.takeError();
    vocabulary = std::move(*loaded);
  }
  auto runner = openModelRunner(options.modelPath, options.getRunnerOptions());
  if (!runner)
    return runner.takeError();
  if (vocabulary)
    if (llvm::Error err = checkVocabularyFits(
            *vocabulary, (*runner)->config().vocabSize, options.modelPath))
      return std::move(err);
  return EvalModel{std::move(*runner), std::move(vocabulary)};
}

llvm::Error mm::eval::checkVocabularyFits(const Vocabulary &vocabulary,
                                          int64_t vocabSize,
                                          llvm::StringRef modelPath) {
  if (int64_t(vocabulary.size()) <= vocabSize)
    return llvm::Error::success();
  return makeEvalError(
      vocabulary.source() + ": " + llvm::Twine(vocabulary.size()) +
      " words, more than the model's vocab_size (" + llvm::Twine(vocabSize) +
      ", padded): not the vocabulary of " + modelPath);
}

std::string mm::eval::describeBackend(const ModelRunner &runner) {
  std::string name = runner.backendName().str();
  if (runner.getDevice())
    name += " on " + getModelOptions().runnerFlags.device.getValue();
  return name;
}

llvm::Expected<std::vector<float>>
mm::eval::runSequence(ModelRunner &runner, llvm::ArrayRef<int32_t> tokens,
                      SequenceStart start, PromptLogits which) {
  if (start == SequenceStart::Continue)
    return runner.extend(0, tokens, which);
  auto logits = runner.prefill({tokens.vec()}, which);
  if (!logits)
    return logits.takeError();
  return std::move(logits->front());
}

llvm::Expected<std::vector<int64_t>>
mm::eval::parseLengthList(llvm::StringRef text, llvm::StringRef flag) {
  llvm::SmallVector<llvm::StringRef> pieces;
  llvm::SplitString(text, pieces, ",");
  if (pieces.empty())
    return makeEvalError("--" + flag + ": an empty list");
  std::vector<int64_t> values;
  for (llvm::StringRef piece : pieces) {
    llvm::StringRef digits = piece.trim();
    int64_t scale = 1;
    if (digits.consume_back("k") || digits.consume_back("K"))
      scale = 1000;
    else if (digits.consume_back("M"))
      scale = 1000000;
    int64_t value;
    if (digits.getAsInteger(10, value) || value < 0 ||
        value > INT64_MAX / scale)
      return makeEvalError("--" + flag + ": '" + piece +
                           "' is not a length (a whole number, 10k = 10000)");
    values.push_back(value * scale);
  }
  return values;
}

std::string mm::eval::formatLength(int64_t length) {
  if (length >= 1000000 && length % 1000000 == 0)
    return std::to_string(length / 1000000) + "M";
  if (length >= 1000 && length % 1000 == 0)
    return std::to_string(length / 1000) + "k";
  return std::to_string(length);
}

double mm::eval::secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

llvm::Error mm::eval::checkOutputFolder(llvm::StringRef path,
                                        llvm::StringRef flag) {
  if (path.empty() || path == "-")
    return llvm::Error::success();
  llvm::StringRef folder = llvm::sys::path::parent_path(path);
  if (!folder.empty() && !llvm::sys::fs::is_directory(folder))
    return makeEvalError("--" + flag + " " + path + ": the folder " + folder +
                         " does not exist");
  return llvm::Error::success();
}

llvm::Error mm::eval::writeTextFile(llvm::StringRef path, llvm::StringRef text,
                                    llvm::StringRef what) {
  if (path == "-") {
    llvm::outs() << text;
    return llvm::Error::success();
  }
  if (llvm::Error err = writeFileSafely(path, [&](llvm::raw_ostream &os) {
        os << text;
        return llvm::Error::success();
      }))
    return makeEvalError("cannot write the " + what + ": " +
                         llvm::toString(std::move(err)));
  return llvm::Error::success();
}

llvm::Error mm::eval::makeEvalError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}
