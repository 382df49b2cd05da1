//===- Perplexity.cpp - mm-eval perplexity: by context length -------------===//
//
// The two protocols of spec section 5 over a text of token ids (or a text
// file tokenized with the vocabulary):
// - window: for each context length L, up to N windows of L tokens spread
//   evenly over the text, each run from a fresh state, scoring the negative
//   log-likelihood of its last S tokens (S = 100 by default);
// - streaming: one pass over the whole text, each token scored given its
//   whole prefix, reported overall and by position bucket [0, L1), [L1,
//   L2), ..., [Lk, T).
// Both keep the logits of one piece of the text at a time (the prefill
// chunk), never [T, V], so a long text runs in bounded memory.
//
//===----------------------------------------------------------------------===//

#include "tools/mm-eval/EvalCommands.h"
#include "tools/mm-eval/EvalModel.h"

#include "common/InputFiles.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <cmath>

namespace cl = llvm::cl;
using namespace mm;
using namespace mm::eval;

cl::SubCommand mm::eval::perplexityCommand(
    "perplexity", "Perplexity by context length: window and streaming "
                  "protocols (spec section 5)");

namespace {

enum class Protocol { Window, Streaming, Both };

cl::OptionCategory perplexityCategory("Perplexity options");
cl::opt<std::string> tokensFlag(
    "tokens",
    cl::desc("The text as token ids: comma-separated, or @FILE of ids "
             "separated by white space or commas"),
    cl::value_desc("ids|@file"), cl::sub(perplexityCommand),
    cl::cat(perplexityCategory));
cl::opt<std::string>
    textFlag("text",
             cl::desc("The text as a file of words, tokenized with the "
                      "vocabulary (docs/passkey-task.md)"),
             cl::value_desc("file"), cl::sub(perplexityCommand),
             cl::cat(perplexityCategory));
cl::opt<Protocol> protocolFlag(
    "protocol", cl::desc("Which protocol (default both)"),
    cl::values(clEnumValN(Protocol::Window, "window",
                          "windows of L tokens, their last tokens scored"),
               clEnumValN(Protocol::Streaming, "streaming",
                          "one pass, every token given its whole prefix"),
               clEnumValN(Protocol::Both, "both", "both")),
    cl::init(Protocol::Both), cl::sub(perplexityCommand),
    cl::cat(perplexityCategory));
cl::opt<std::string> contextsFlag(
    "contexts",
    cl::desc("Context lengths, comma-separated (1k = 1000): the window "
             "lengths, and the bucket edges of streaming"),
    cl::value_desc("L1,L2,..."), cl::sub(perplexityCommand),
    cl::cat(perplexityCategory));
cl::opt<unsigned>
    scoreLastFlag("score-last",
                  cl::desc("Tokens scored at the end of each window "
                           "(default 100)"),
                  cl::init(100), cl::sub(perplexityCommand),
                  cl::cat(perplexityCategory));
cl::opt<unsigned> windowsFlag("windows",
                              cl::desc("Windows per context length, spread "
                                       "evenly over the text (default 10)"),
                              cl::init(10), cl::sub(perplexityCommand),
                              cl::cat(perplexityCategory));
cl::opt<std::string> jsonFlag("json", cl::desc("Write the results as JSON"),
                              cl::value_desc("file"),
                              cl::sub(perplexityCommand),
                              cl::cat(perplexityCategory));
cl::opt<std::string> csvFlag("csv", cl::desc("Write the results as CSV"),
                             cl::value_desc("file"), cl::sub(perplexityCommand),
                             cl::cat(perplexityCategory));

/// Tokens per piece of the streaming pass when --prefill-chunk is 0.
constexpr int64_t kStreamingPieceTokens = 512;
constexpr double kProgressSeconds = 10;

/// A sum of negative log-likelihoods.
struct Score {
  double nll = 0;
  int64_t tokens = 0;

  double meanNll() const { return tokens ? nll / tokens : 0; }
  double perplexity() const { return std::exp(meanNll()); }
};

/// The result of the window protocol at one context length.
struct WindowResult {
  int64_t context = 0;
  std::vector<int64_t> starts;
  Score score;
};

/// A bucket of the streaming pass: the tokens at positions [from, to).
struct Bucket {
  int64_t from = 0, to = 0;
  Score score;
};

/// The text: --tokens or --text.
llvm::Expected<std::vector<int32_t>> readText(const EvalModel &model,
                                              std::string &name) {
  const int64_t vocabSize = model.runner->config().vocabSize;
  if (!textFlag.empty()) {
    name = textFlag;
    auto buffer = readBoundedFile(textFlag, kMaxTextFileBytes, "a text");
    if (!buffer)
      return buffer.takeError();
    auto tokens = model.vocabulary->tokenize((*buffer)->getBuffer(), textFlag);
    if (!tokens)
      return tokens.takeError();
    if (tokens->size() < 2)
      return makeEvalError(textFlag + ": " + llvm::Twine(tokens->size()) +
                           " word" + (tokens->size() == 1 ? "" : "s") +
                           "; perplexity needs 2 at least");
    return tokens;
  }
  llvm::StringRef arg = tokensFlag;
  name = arg.starts_with("@") ? arg.drop_front().str() : "--tokens";
  auto tokens = readTokenArgument(arg, kMaxTextFileBytes, vocabSize);
  if (!tokens)
    return tokens.takeError();
  if (tokens->size() < 2)
    return makeEvalError(name + ": 1 token; perplexity needs 2 at least");
  return tokens;
}

/// Adds the negative log-likelihood of `targets` under the rows of `logits`
/// ([targets.size(), V]) to `score`, and to the bucket of each target's
/// position (`firstPosition` onwards) when `buckets` is given.
void scoreRows(llvm::ArrayRef<float> logits, int64_t vocab,
               llvm::ArrayRef<int32_t> targets, int64_t firstPosition,
               Score &score, std::vector<Bucket> *buckets = nullptr) {
  for (size_t i = 0; i < targets.size(); ++i) {
    llvm::ArrayRef<float> row = logits.slice(i * vocab, vocab);
    double maximum = *std::max_element(row.begin(), row.end());
    double sum = 0;
    for (float value : row)
      sum += std::exp(double(value) - maximum);
    double nll = maximum + std::log(sum) - double(row[targets[i]]);
    score.nll += nll;
    ++score.tokens;
    if (!buckets)
      continue;
    const int64_t position = firstPosition + int64_t(i);
    for (Bucket &bucket : *buckets)
      if (position >= bucket.from && position < bucket.to) {
        bucket.score.nll += nll;
        ++bucket.score.tokens;
        break;
      }
  }
}

/// The starts of up to `count` windows of `context` tokens spread evenly
/// over `total` tokens: the first at 0, the last at total - context.
std::vector<int64_t> windowStarts(int64_t total, int64_t context,
                                  int64_t count) {
  std::vector<int64_t> starts;
  if (total < context)
    return starts;
  const int64_t span = total - context;
  count = std::min(count, span + 1);
  if (count == 1)
    return {0};
  for (int64_t j = 0; j < count; ++j)
    starts.push_back(static_cast<int64_t>(__int128(j) * span / (count - 1)));
  return starts;
}

/// The window protocol at one context length.
llvm::Expected<WindowResult>
runWindows(ModelRunner &runner, llvm::ArrayRef<int32_t> text, int64_t context) {
  const int64_t vocab = runner.config().vocabSize;
  const int64_t scored = scoreLastFlag;
  WindowResult result;
  result.context = context;
  result.starts = windowStarts(text.size(), context, windowsFlag);
  auto start = std::chrono::steady_clock::now();
  double lastReport = 0;
  for (size_t w = 0; w < result.starts.size(); ++w) {
    llvm::ArrayRef<int32_t> window = text.slice(result.starts[w], context);
    // The prefix up to the first scored token gives its logits (the last);
    // the scored tokens but the last give the others'.
    const int64_t prefix = context - scored;
    auto last = runSequence(runner, window.take_front(prefix),
                            SequenceStart::Fresh, PromptLogits::Last);
    if (!last)
      return last.takeError();
    scoreRows(*last, vocab, window.slice(prefix, 1), 0, result.score);
    if (scored > 1) {
      auto rest = runSequence(runner, window.slice(prefix, scored - 1),
                              SequenceStart::Continue, PromptLogits::All);
      if (!rest)
        return rest.takeError();
      scoreRows(*rest, vocab, window.slice(prefix + 1, scored - 1), 0,
                result.score);
    }
    double elapsed = secondsSince(start);
    if (w + 1 < result.starts.size() &&
        elapsed - lastReport >= kProgressSeconds) {
      lastReport = elapsed;
      llvm::errs() << llvm::formatv(
          "mm-eval: window {0}: {1}/{2} windows, {3:F1} tokens/s\n", context,
          w + 1, result.starts.size(), double((w + 1) * context) / elapsed);
    }
  }
  if (result.starts.empty())
    llvm::errs() << "mm-eval: window " << context << ": the text holds "
                 << text.size() << " tokens, fewer than the window; skipped\n";
  else
    llvm::errs() << llvm::formatv(
        "mm-eval: window {0}: {1} windows, perplexity {2:F4}, {3:F1} s\n",
        context, result.starts.size(), result.score.perplexity(),
        secondsSince(start));
  return result;
}

/// The streaming protocol: one pass; tokens 1..T-1 scored, each given its
/// whole prefix, by the buckets the sorted `edges` make.
llvm::Expected<Score> runStreaming(ModelRunner &runner,
                                   llvm::ArrayRef<int32_t> text,
                                   const std::vector<int64_t> &edges,
                                   int64_t chunkTokens,
                                   std::vector<Bucket> &buckets) {
  const int64_t vocab = runner.config().vocabSize;
  const int64_t total = text.size();
  int64_t from = 0;
  for (int64_t edge : edges) {
    if (edge <= from)
      continue;
    buckets.push_back({from, std::min(edge, total), Score()});
    from = edge;
    if (from >= total)
      break;
  }
  if (from < total)
    buckets.push_back({from, total, Score()});

  // The last token is only a target: the pass runs tokens 0..T-2.
  const int64_t piece = chunkTokens > 0 ? chunkTokens : kStreamingPieceTokens;
  Score score;
  auto start = std::chrono::steady_clock::now();
  double lastReport = 0;
  for (int64_t done = 0; done < total - 1;) {
    const int64_t length = std::min(piece, total - 1 - done);
    auto logits =
        runSequence(runner, text.slice(done, length),
                    done == 0 ? SequenceStart::Fresh : SequenceStart::Continue,
                    PromptLogits::All);
    if (!logits)
      return logits.takeError();
    scoreRows(*logits, vocab, text.slice(done + 1, length), done + 1, score,
              &buckets);
    done += length;
    double elapsed = secondsSince(start);
    if (done < total - 1 && elapsed - lastReport >= kProgressSeconds) {
      lastReport = elapsed;
      llvm::errs() << llvm::formatv(
          "mm-eval: streaming: {0}/{1} tokens, {2:F1} tokens/s, perplexity "
          "so far {3:F4}\n",
          done, total, double(done) / elapsed, score.perplexity());
    }
  }
  llvm::errs() << llvm::formatv(
      "mm-eval: streaming: {0} tokens, perplexity {1:F4}, {2:F1} s\n", total,
      score.perplexity(), secondsSince(start));
  return score;
}

std::string bucketName(const Bucket &bucket, llvm::StringRef separator) {
  return (llvm::Twine(bucket.from) + separator + llvm::Twine(bucket.to)).str();
}

struct Results {
  std::string textName;
  int64_t textTokens = 0;
  std::string backend;
  std::vector<WindowResult> windows;
  std::optional<Score> streaming;
  std::vector<Bucket> buckets;
};

void printResults(llvm::raw_ostream &os, const Results &results) {
  os << "perplexity of " << results.textName << " (" << results.textTokens
     << " tokens, " << results.backend << ")\n";
  if (protocolFlag != Protocol::Streaming) {
    os << "window protocol: the last " << scoreLastFlag
       << " tokens of windows of L tokens, up to " << windowsFlag
       << " windows\n";
    os << llvm::formatv("{0,-10} {1,8} {2,9} {3,10} {4,12}\n", "context",
                        "windows", "scored", "mean NLL", "perplexity");
    for (const WindowResult &result : results.windows) {
      if (result.starts.empty()) {
        os << llvm::formatv("{0,-10} {1,8} {2,9} {3,10} {4,12}\n",
                            result.context, 0, 0, "-", "-");
        continue;
      }
      os << llvm::formatv("{0,-10} {1,8} {2,9} {3,10:F4} {4,12:F4}\n",
                          result.context, result.starts.size(),
                          result.score.tokens, result.score.meanNll(),
                          result.score.perplexity());
    }
  }
  if (results.streaming) {
    os << "streaming protocol: every token given its whole prefix, by "
          "position\n";
    os << llvm::formatv("{0,-20} {1,9} {2,10} {3,12}\n", "positions", "scored",
                        "mean NLL", "perplexity");
    auto printRow = [&](llvm::StringRef name, const Score &score) {
      os << llvm::formatv("{0,-20} {1,9} {2,10:F4} {3,12:F4}\n", name,
                          score.tokens, score.meanNll(), score.perplexity());
    };
    for (const Bucket &bucket : results.buckets)
      if (bucket.score.tokens)
        printRow("[" + bucketName(bucket, ", ") + ")", bucket.score);
    printRow("all", *results.streaming);
  }
}

void writeScore(llvm::json::OStream &json, const Score &score) {
  json.attribute("tokens", score.tokens);
  json.attribute("mean_nll", score.meanNll());
  json.attribute("perplexity", score.perplexity());
}

std::string toJson(const Results &results) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  llvm::json::OStream json(stream, 2);
  json.object([&] {
    json.attribute("task", "perplexity");
    json.attribute("model", getModelOptions().modelPath.getValue());
    json.attribute("backend", results.backend);
    json.attribute("text", results.textName);
    json.attribute("text_tokens", results.textTokens);
    if (protocolFlag != Protocol::Streaming)
      json.attributeObject("window", [&] {
        json.attribute("score_last", int64_t(scoreLastFlag.getValue()));
        json.attribute("max_windows", int64_t(windowsFlag.getValue()));
        json.attributeArray("contexts", [&] {
          for (const WindowResult &result : results.windows)
            json.object([&] {
              json.attribute("context", result.context);
              json.attributeArray("starts", [&] {
                for (int64_t start : result.starts)
                  json.value(start);
              });
              if (result.starts.empty()) {
                json.attribute("tokens", 0);
                json.attribute("mean_nll", nullptr);
                json.attribute("perplexity", nullptr);
              } else {
                writeScore(json, result.score);
              }
            });
        });
      });
    if (results.streaming)
      json.attributeObject("streaming", [&] {
        writeScore(json, *results.streaming);
        json.attributeArray("buckets", [&] {
          for (const Bucket &bucket : results.buckets)
            json.object([&] {
              json.attribute("from", bucket.from);
              json.attribute("to", bucket.to);
              writeScore(json, bucket.score);
            });
        });
      });
  });
  stream << "\n";
  return text;
}

std::string toCsv(const Results &results) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "protocol,context,windows,tokens,mean_nll,perplexity\n";
  auto printRow = [&](llvm::StringRef protocol, llvm::StringRef context,
                      llvm::StringRef windows, const Score &score) {
    os << protocol << "," << context << "," << windows << "," << score.tokens
       << ","
       << llvm::format("%.17g,%.17g\n", score.meanNll(), score.perplexity());
  };
  for (const WindowResult &result : results.windows)
    if (!result.starts.empty())
      printRow("window", std::to_string(result.context),
               std::to_string(result.starts.size()), result.score);
  if (results.streaming) {
    for (const Bucket &bucket : results.buckets)
      if (bucket.score.tokens)
        printRow("streaming", bucketName(bucket, "-"), "", bucket.score);
    printRow("streaming", "all", "", *results.streaming);
  }
  return text;
}

} // namespace

llvm::Error mm::eval::runPerplexity() {
  if (tokensFlag.empty() == textFlag.empty())
    return makeEvalError("perplexity: pass the text as --tokens @ids.txt "
                         "(token ids) or --text FILE (words), one of them");
  if (contextsFlag.empty())
    return makeEvalError("perplexity: no context lengths: pass --contexts, "
                         "e.g. --contexts 1k,2k,4k");
  auto contexts = parseLengthList(contextsFlag, "contexts");
  if (!contexts)
    return contexts.takeError();
  if (scoreLastFlag == 0)
    return makeEvalError("--score-last: at least 1 token");
  if (windowsFlag == 0)
    return makeEvalError("--windows: at least 1");
  if (protocolFlag != Protocol::Streaming)
    for (int64_t context : *contexts)
      if (context <= int64_t(scoreLastFlag))
        return makeEvalError(
            "--contexts: a window of " + llvm::Twine(context) +
            " tokens cannot score its last " +
            llvm::Twine(scoreLastFlag.getValue()) +
            " (each needs a token before it): windows must be longer than "
            "--score-last");

  if (llvm::Error err = checkOutputFolder(jsonFlag, "json"))
    return err;
  if (llvm::Error err = checkOutputFolder(csvFlag, "csv"))
    return err;

  auto model = openEvalModel(textFlag.empty() ? VocabularyUse::None
                                              : VocabularyUse::Required);
  if (!model)
    return model.takeError();
  Results results;
  auto text = readText(*model, results.textName);
  if (!text)
    return text.takeError();
  results.textTokens = text->size();
  ModelRunner &runner = *model->runner;
  results.backend = describeBackend(runner);

  if (protocolFlag != Protocol::Streaming)
    for (int64_t context : *contexts) {
      auto result = runWindows(runner, *text, context);
      if (!result)
        return result.takeError();
      results.windows.push_back(std::move(*result));
    }
  if (protocolFlag != Protocol::Window) {
    std::vector<int64_t> edges = *contexts;
    llvm::sort(edges);
    auto score = runStreaming(runner, *text, edges,
                              getModelOptions().runnerFlags.prefillChunk,
                              results.buckets);
    if (!score)
      return score.takeError();
    results.streaming = *score;
  }

  printResults(llvm::outs(), results);
  if (!jsonFlag.empty())
    if (llvm::Error err =
            writeTextFile(jsonFlag, toJson(results), "perplexity results"))
      return err;
  if (!csvFlag.empty())
    if (llvm::Error err =
            writeTextFile(csvFlag, toCsv(results), "perplexity table"))
      return err;
  return llvm::Error::success();
}
