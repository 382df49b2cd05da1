//===- EvalModel.h - the model every mm-eval subcommand runs ----*- C++ -*-===//
//
// The options the subcommands share (the model, its weights, its
// vocabulary, where it runs: registered in passkey, perplexity and fidelity
// alike), opening the model with them, and what the subcommands have in
// common: lists of numbers on the command line, progress lines, timing.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_MMEVAL_EVALMODEL_H
#define MM_TOOLS_MMEVAL_EVALMODEL_H

#include "runtime/ModelRunner.h"
#include "tools/RunnerFlags.h"
#include "tools/mm-eval/Vocabulary.h"

#include "llvm/Support/CommandLine.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace mm::eval {

/// The options of every subcommand.
struct ModelOptions {
  ModelOptions();

  llvm::cl::OptionCategory category{"Model options"};
  llvm::cl::opt<std::string> modelPath;
  llvm::cl::opt<std::string> weightsPath;
  llvm::cl::opt<std::string> vocabularyPath;
  RunnerFlags runnerFlags;

  /// The runtime's options these flags set.
  RunnerOptions getRunnerOptions() const;
};

/// The shared options, made on the first call. mm-eval's main calls it
/// before parsing the command line, once every subcommand exists (options
/// made during static initialisation could name a subcommand of another
/// file not constructed yet).
ModelOptions &getModelOptions();

/// The vocab.txt the model uses: --vocab, else vocab.txt in the model's
/// folder (or the folder of the config or artifact), else next to the
/// weights. Empty when none of those exists.
std::string findVocabularyPath(const ModelOptions &options);

/// A model opened as the shared options say.
struct EvalModel {
  std::unique_ptr<ModelRunner> runner;
  /// The vocabulary, when one was asked for (or found next to the model).
  std::optional<Vocabulary> vocabulary;
};

/// Whether openEvalModel needs a vocabulary.
enum class VocabularyUse {
  /// Token ids only: a vocabulary that --vocab names is still checked.
  None,
  /// Text is tokenized: a vocabulary must be found.
  Required,
};

/// Opens the model and (as `use` says) its vocabulary, checked against the
/// model: a vocabulary with more words than the model's vocab_size is an
/// error naming its file.
llvm::Expected<EvalModel> openEvalModel(VocabularyUse use);

/// An error naming the vocabulary's file when it holds more words than the
/// model at `modelPath` has ids (its vocab_size).
llvm::Error checkVocabularyFits(const Vocabulary &vocabulary, int64_t vocabSize,
                                llvm::StringRef modelPath);

/// The largest token or text file read (readTokenArgument's limit).
inline constexpr uint64_t kMaxTextFileBytes = uint64_t(1) << 30;

/// What runs the model, for reports: "reference", "cpu", or a GPU
/// artifact's kind and the device ("cuda on sim", "hip on hip:0").
std::string describeBackend(const ModelRunner &runner);

/// Whether runSequence starts a sequence or continues it.
enum class SequenceStart { Fresh, Continue };

/// Runs `tokens` on the runner's sequence 0, from a fresh state (a prefill)
/// or from where the last call left it (ModelRunner::extend); the logits
/// `which` asks for, of these tokens.
llvm::Expected<std::vector<float>> runSequence(ModelRunner &runner,
                                               llvm::ArrayRef<int32_t> tokens,
                                               SequenceStart start,
                                               PromptLogits which);

/// Parses a comma-separated list of non-negative integers (k and M
/// suffixes: 10k = 10000) for `flag`.
llvm::Expected<std::vector<int64_t>> parseLengthList(llvm::StringRef text,
                                                     llvm::StringRef flag);

/// "100k" for 100000, "1M" for a million, else the number.
std::string formatLength(int64_t length);

/// Seconds since `start`.
double secondsSince(std::chrono::steady_clock::time_point start);

/// An error when `path` (what `flag` names) cannot be written because its
/// folder does not exist, checked before a long run rather than after it.
llvm::Error checkOutputFolder(llvm::StringRef path, llvm::StringRef flag);

/// Writes `text` to `path` ("-": stdout); an error names the file.
llvm::Error writeTextFile(llvm::StringRef path, llvm::StringRef text,
                          llvm::StringRef what);

/// The error every subcommand reports.
llvm::Error makeEvalError(const llvm::Twine &message);

} // namespace mm::eval

#endif // MM_TOOLS_MMEVAL_EVALMODEL_H
