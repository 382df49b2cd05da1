//===- Passkey.cpp - mm-eval passkey: retrieval by length and depth -------===//
//
// Builds the prompts of docs/passkey-task.md for every length, depth and
// trial, runs each prompt (only its last logits are kept), greedy-decodes
// five tokens and scores exact matches of the key's digits. Prints a length
// x depth accuracy table (or, for a single trial, the key given, the key
// found and the prefill speed), and writes every trial as JSON and the
// table as an SVG heatmap.
//
//===----------------------------------------------------------------------===//

#include "tools/mm-eval/EvalCommands.h"
#include "tools/mm-eval/EvalModel.h"
#include "tools/mm-eval/PasskeyPrompt.h"
#include "tools/mm-eval/SvgPlot.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <random>

namespace cl = llvm::cl;
using namespace mm;
using namespace mm::eval;

cl::SubCommand mm::eval::passkeyCommand(
    "passkey", "Passkey retrieval: accuracy by prompt length and key depth "
               "(docs/passkey-task.md)");

namespace {

cl::OptionCategory passkeyCategory("Passkey options");
cl::opt<std::string>
    lengthsFlag("lengths",
                cl::desc("Prompt lengths in tokens, comma-separated (1k = "
                         "1000; 33 at least)"),
                cl::value_desc("L1,L2,..."), cl::sub(passkeyCommand),
                cl::cat(passkeyCategory));
cl::opt<std::string>
    depthsFlag("depths",
               cl::desc("Where the key goes, as fractions of the filler "
                        "(default 0,0.25,0.5,0.75,1)"),
               cl::init("0,0.25,0.5,0.75,1"), cl::value_desc("D1,D2,..."),
               cl::sub(passkeyCommand), cl::cat(passkeyCategory));
cl::opt<unsigned> trialsFlag("trials",
                             cl::desc("Trials (keys) per length and depth "
                                      "(default 1)"),
                             cl::init(1), cl::sub(passkeyCommand),
                             cl::cat(passkeyCategory));
cl::opt<uint64_t> seedFlag("seed",
                           cl::desc("Seed of the keys (default 1): the same "
                                    "seed gives the same keys"),
                           cl::init(1), cl::sub(passkeyCommand),
                           cl::cat(passkeyCategory));
cl::opt<int32_t> keyFlag("key",
                         cl::desc("The key of every trial (10000 to 99999) "
                                  "instead of keys from --seed"),
                         cl::sub(passkeyCommand), cl::cat(passkeyCategory));
cl::opt<std::string> jsonFlag("json",
                              cl::desc("Write every trial and the table as "
                                       "JSON"),
                              cl::value_desc("file"), cl::sub(passkeyCommand),
                              cl::cat(passkeyCategory));
cl::opt<std::string> heatmapFlag("heatmap",
                                 cl::desc("Draw the table as an SVG heatmap"),
                                 cl::value_desc("file.svg"),
                                 cl::sub(passkeyCommand),
                                 cl::cat(passkeyCategory));
cl::opt<bool> printPromptFlag(
    "print-prompt",
    cl::desc("Print each prompt's token ids, comma-separated, one line per "
             "prompt, and exit (the model is not run)"),
    cl::sub(passkeyCommand), cl::cat(passkeyCategory));

/// A prompt longer than this runs in pieces, with a progress line every
/// kProgressSeconds.
constexpr int64_t kProgressPieceTokens = 16384;
constexpr double kProgressSeconds = 10;

/// One trial of the run.
struct Trial {
  int64_t length = 0;
  double depth = 0;
  int32_t key = 0;
  int64_t keyPosition = 0;
  std::vector<int32_t> foundTokens;
  std::string found;
  bool pass = false;
  double prefillSeconds = 0, decodeSeconds = 0;

  double tokensPerSecond() const {
    return prefillSeconds > 0 ? double(length) / prefillSeconds : 0;
  }
};

llvm::Expected<std::vector<double>> parseDepths(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef> pieces;
  llvm::SplitString(text, pieces, ",");
  if (pieces.empty())
    return makeEvalError("--depths: an empty list");
  std::vector<double> depths;
  for (llvm::StringRef piece : pieces) {
    double depth;
    if (piece.trim().getAsDouble(depth) || !(depth >= 0 && depth <= 1))
      return makeEvalError("--depths: '" + piece +
                           "' is not a depth (a fraction of the filler, 0 "
                           "to 1)");
    depths.push_back(depth);
  }
  return depths;
}

/// The accuracy as a percentage: "100", "66.7".
std::string formatPercent(double fraction) {
  std::string text = llvm::formatv("{0:F1}", 100 * fraction).str();
  if (llvm::StringRef(text).ends_with(".0"))
    text.resize(text.size() - 2);
  return text;
}

int32_t argmax(llvm::ArrayRef<float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) -
                              logits.begin());
}

/// Runs `prompt` from a fresh state and returns its last logits; a long
/// prompt runs in pieces (multiples of the prefill chunk, so the chunks
/// are those of one call) with a progress line now and then.
llvm::Expected<std::vector<float>> runPrompt(ModelRunner &runner,
                                             llvm::ArrayRef<int32_t> prompt,
                                             int64_t chunkTokens,
                                             const std::string &label) {
  int64_t piece = prompt.size();
  if (chunkTokens > 0 && int64_t(prompt.size()) > kProgressPieceTokens)
    piece =
        (kProgressPieceTokens + chunkTokens - 1) / chunkTokens * chunkTokens;
  const int64_t time = prompt.size();
  auto start = std::chrono::steady_clock::now();
  double lastReport = 0;
  std::vector<float> logits;
  for (int64_t done = 0; done < time;) {
    const int64_t length = std::min(piece, time - done);
    PromptLogits which =
        done + length == time ? PromptLogits::Last : PromptLogits::None;
    auto result = runSequence(
        runner, prompt.slice(done, length),
        done == 0 ? SequenceStart::Fresh : SequenceStart::Continue, which);
    if (!result)
      return result.takeError();
    logits = std::move(*result);
    done += length;
    double elapsed = secondsSince(start);
    if (done < time && elapsed - lastReport >= kProgressSeconds) {
      lastReport = elapsed;
      llvm::errs() << llvm::formatv(
          "mm-eval: {0}: prefill {1}/{2} tokens, {3:F1} tokens/s\n", label,
          done, time, double(done) / elapsed);
    }
  }
  return logits;
}

/// Runs one trial: prefill, then greedy decoding of the key's digits.
llvm::Error runTrial(ModelRunner &runner, const Vocabulary &vocabulary,
                     const PasskeyPrompt &prompt, int64_t chunkTokens,
                     const std::string &label, Trial &trial) {
  auto start = std::chrono::steady_clock::now();
  auto logits = runPrompt(runner, prompt.tokens, chunkTokens, label);
  if (!logits)
    return logits.takeError();
  trial.prefillSeconds = secondsSince(start);
  start = std::chrono::steady_clock::now();
  trial.foundTokens.push_back(argmax(*logits));
  while (trial.foundTokens.size() < size_t(kPasskeyDigits)) {
    auto next = runner.decode(0, trial.foundTokens.back());
    if (!next)
      return next.takeError();
    trial.foundTokens.push_back(argmax(*next));
  }
  trial.decodeSeconds = secondsSince(start);
  trial.found = vocabulary.detokenize(trial.foundTokens);
  trial.pass = llvm::equal(trial.foundTokens, prompt.answer);
  return llvm::Error::success();
}

/// The single-trial report: what the README's main job prints.
void printTrial(llvm::raw_ostream &os, const Trial &trial,
                llvm::StringRef backend) {
  os << llvm::formatv("passkey: {0} tokens, depth {1} (the key sentence at "
                      "token {2})\n",
                      trial.length, formatDepth(trial.depth),
                      trial.keyPosition);
  os << "key given: " << trial.key << "\n";
  os << "key found: " << trial.found << "\n";
  os << "result:    " << (trial.pass ? "pass" : "FAIL") << "\n";
  os << llvm::formatv("prefill:   {0} tokens in {1:F2} s, {2:F1} tokens per "
                      "second ({3})\n",
                      trial.length, trial.prefillSeconds,
                      trial.tokensPerSecond(), backend);
}

/// accuracy[length][depth]: the fraction of trials that passed.
using AccuracyTable = std::vector<std::vector<double>>;

void printTable(llvm::raw_ostream &os, const std::vector<int64_t> &lengths,
                const std::vector<double> &depths,
                const AccuracyTable &accuracy, unsigned trials,
                llvm::StringRef backend) {
  os << "passkey accuracy (%), " << trials << " trial"
     << (trials == 1 ? "" : "s") << " per cell (" << backend << ")\n";
  os << llvm::formatv("{0,-8}", "length");
  for (double depth : depths)
    os << llvm::formatv(" {0,7}", formatDepth(depth));
  os << llvm::formatv(" {0,7}\n", "all");
  for (size_t row = 0; row < lengths.size(); ++row) {
    os << llvm::formatv("{0,-8}", formatLength(lengths[row]));
    double sum = 0;
    for (double value : accuracy[row]) {
      os << llvm::formatv(" {0,7}", formatPercent(value));
      sum += value;
    }
    os << llvm::formatv(" {0,7}\n", formatPercent(sum / depths.size()));
  }
}

std::string toJson(const std::vector<Trial> &trials,
                   const std::vector<int64_t> &lengths,
                   const std::vector<double> &depths,
                   const AccuracyTable &accuracy, llvm::StringRef vocabulary,
                   llvm::StringRef backend) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  llvm::json::OStream json(stream, 2);
  json.object([&] {
    json.attribute("task", "passkey");
    json.attribute("model", getModelOptions().modelPath.getValue());
    json.attribute("backend", backend);
    json.attribute("vocab", vocabulary);
    if (keyFlag.getNumOccurrences())
      json.attribute("key", keyFlag.getValue());
    else
      json.attribute("seed", int64_t(seedFlag.getValue()));
    json.attribute("trials_per_cell", int64_t(trialsFlag.getValue()));
    json.attributeArray("lengths", [&] {
      for (int64_t length : lengths)
        json.value(length);
    });
    json.attributeArray("depths", [&] {
      for (double depth : depths)
        json.value(depth);
    });
    json.attributeArray("accuracy", [&] {
      for (const std::vector<double> &row : accuracy)
        json.array([&] {
          for (double value : row)
            json.value(value);
        });
    });
    json.attributeArray("trials", [&] {
      for (const Trial &trial : trials)
        json.object([&] {
          json.attribute("length", trial.length);
          json.attribute("depth", trial.depth);
          json.attribute("key", trial.key);
          json.attribute("key_position", trial.keyPosition);
          json.attribute("found", trial.found);
          json.attributeArray("found_tokens", [&] {
            for (int32_t token : trial.foundTokens)
              json.value(token);
          });
          json.attribute("pass", trial.pass);
          json.attribute("prefill_seconds", trial.prefillSeconds);
          json.attribute("prefill_tokens_per_second", trial.tokensPerSecond());
          json.attribute("decode_seconds", trial.decodeSeconds);
        });
    });
  });
  stream << "\n";
  return text;
}

Heatmap toHeatmap(const std::vector<int64_t> &lengths,
                  const std::vector<double> &depths,
                  const AccuracyTable &accuracy, llvm::StringRef backend) {
  Heatmap map;
  map.title = llvm::formatv("Passkey retrieval: {0} ({1}, {2} trial{3} per "
                            "cell)",
                            getModelOptions().modelPath.getValue(), backend,
                            trialsFlag.getValue(), trialsFlag == 1 ? "" : "s")
                  .str();
  map.xLabel = "depth of the key";
  map.yLabel = "prompt length (tokens)";
  for (int64_t length : lengths)
    map.rowLabels.push_back(formatLength(length));
  for (double depth : depths)
    map.colLabels.push_back(formatDepth(depth));
  map.values = accuracy;
  return map;
}

} // namespace

llvm::Error mm::eval::runPasskey() {
  if (lengthsFlag.empty())
    return makeEvalError("passkey: no lengths: pass --lengths, e.g. "
                         "--lengths 1k,10k");
  auto lengths = parseLengthList(lengthsFlag, "lengths");
  if (!lengths)
    return lengths.takeError();
  for (int64_t length : *lengths)
    if (length < kPasskeyFixedWords)
      return makeEvalError(
          "--lengths: " + llvm::Twine(length) +
          " tokens is below the prompt's fixed part (the key sentence and "
          "the question take " +
          llvm::Twine(kPasskeyFixedWords) + " tokens)");
  auto depths = parseDepths(depthsFlag);
  if (!depths)
    return depths.takeError();
  if (trialsFlag == 0)
    return makeEvalError("--trials: at least 1");
  if (keyFlag.getNumOccurrences() && seedFlag.getNumOccurrences())
    return makeEvalError("--key and --seed: pass one (--key gives every "
                         "trial the same key, --seed draws keys)");
  if (keyFlag.getNumOccurrences() &&
      (keyFlag < kMinPasskey || keyFlag > kMaxPasskey))
    return makeEvalError("--key " + llvm::Twine(keyFlag.getValue()) +
                         ": keys have five digits, 10000 to 99999");

  if (llvm::Error err = checkOutputFolder(jsonFlag, "json"))
    return err;
  if (llvm::Error err = checkOutputFolder(heatmapFlag, "heatmap"))
    return err;

  // The model (not opened to print prompts) and its vocabulary.
  std::optional<EvalModel> model;
  std::optional<Vocabulary> printVocabulary;
  if (printPromptFlag) {
    std::string path = findVocabularyPath(getModelOptions());
    if (path.empty())
      return makeEvalError("no vocabulary: pass --vocab FILE, or put "
                           "vocab.txt in the model's folder");
    auto loaded = Vocabulary::load(path);
    if (!loaded)
      return loaded.takeError();
    printVocabulary = std::move(*loaded);
  } else {
    auto opened = openEvalModel(VocabularyUse::Required);
    if (!opened)
      return opened.takeError();
    model = std::move(*opened);
  }
  const Vocabulary &vocabulary = model ? *model->vocabulary : *printVocabulary;
  auto words = PasskeyWords::fromVocabulary(vocabulary);
  if (!words)
    return words.takeError();

  // Keys: --key, or drawn in order from the seed.
  std::mt19937_64 keyGenerator(seedFlag);
  auto nextKey = [&]() -> int32_t {
    if (keyFlag.getNumOccurrences())
      return keyFlag;
    return kMinPasskey +
           int32_t(keyGenerator() % uint64_t(kMaxPasskey - kMinPasskey + 1));
  };

  const size_t numTrials = lengths->size() * depths->size() * trialsFlag;
  const int64_t chunkTokens = getModelOptions().runnerFlags.prefillChunk;
  std::string backend = model ? describeBackend(*model->runner) : "";
  std::vector<Trial> trials;
  std::vector<std::vector<unsigned>> passes(
      lengths->size(), std::vector<unsigned>(depths->size(), 0));
  for (size_t row = 0; row < lengths->size(); ++row) {
    for (size_t column = 0; column < depths->size(); ++column) {
      for (unsigned repeat = 0; repeat < trialsFlag; ++repeat) {
        Trial trial;
        trial.length = (*lengths)[row];
        trial.depth = (*depths)[column];
        trial.key = nextKey();
        auto prompt =
            buildPasskeyPrompt(*words, trial.length, trial.depth, trial.key);
        if (!prompt)
          return prompt.takeError();
        trial.keyPosition = prompt->keyPosition;
        if (printPromptFlag) {
          llvm::outs() << llvm::join(llvm::map_range(prompt->tokens,
                                                     [](int32_t token) {
                                                       return std::to_string(
                                                           token);
                                                     }),
                                     ",")
                       << "\n";
          continue;
        }
        std::string label = llvm::formatv(
            "trial {0}/{1}: length {2}, depth {3}", trials.size() + 1,
            numTrials, trial.length, formatDepth(trial.depth));
        if (llvm::Error err = runTrial(*model->runner, vocabulary, *prompt,
                                       chunkTokens, label, trial))
          return err;
        llvm::errs() << llvm::formatv(
            "mm-eval: {0}, key {1}: found '{2}', {3}, {4:F1} tokens/s\n", label,
            trial.key, trial.found, trial.pass ? "pass" : "fail",
            trial.tokensPerSecond());
        passes[row][column] += trial.pass;
        trials.push_back(std::move(trial));
      }
    }
  }
  if (printPromptFlag)
    return llvm::Error::success();
  AccuracyTable accuracy(lengths->size());
  for (size_t row = 0; row < lengths->size(); ++row)
    for (unsigned count : passes[row])
      accuracy[row].push_back(double(count) / trialsFlag);

  if (trials.size() == 1)
    printTrial(llvm::outs(), trials.front(), backend);
  else
    printTable(llvm::outs(), *lengths, *depths, accuracy, trialsFlag, backend);
  if (!jsonFlag.empty())
    if (llvm::Error err =
            writeTextFile(jsonFlag,
                          toJson(trials, *lengths, *depths, accuracy,
                                 vocabulary.source(), backend),
                          "passkey results"))
      return err;
  if (!heatmapFlag.empty())
    if (llvm::Error err = writeTextFile(
            heatmapFlag,
            renderHeatmapSvg(toHeatmap(*lengths, *depths, accuracy, backend)),
            "heatmap"))
      return err;
  return llvm::Error::success();
}
