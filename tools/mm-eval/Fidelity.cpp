//===- Fidelity.cpp - mm-eval fidelity: ETMF and ECLMF --------------------===//
//
// mm-eval fidelity MODEL [--weights W] (--tokens IDS|@FILE | --text FILE
//                  --vocab V) [--positions N] [--max-distance K] [--seed S]
//                  [--csv FILE] [--svg FILE]
//
// The memory fidelity metrics of spec/MEMMAMBA.md section 4, by
// perturbation: N positions t (t + K < T, drawn from the seed) each get
// their token swapped for another one (drawn from the seed too), and the
// reference executor's trace gives the change δ^l_τ of the residual stream
// after every layer l at the positions τ = t .. t+K. Then
//   ETMF(l, k)  = E_t ||δ^l_{t+k}|| / E_t ||δ^l_t||
//   ECLMF(l, k) = E_t ||δ^l_{t+k}|| / E_t ||δ^0_{t+k}||
// and the analytic S6 ETMF, the mean over channels, states and the chosen t
// of exp(A · sum of Δ over positions t+1 .. t+k), from the original
// sequence's Δ. Compiled artifacts do not expose per-layer residuals, so
// everything runs on the reference executor; an artifact as MODEL gives its
// config (from its manifest), run with --weights. docs/eval.md, "fidelity".
//
// Cost: the original sequence runs once up to the last chosen position
// (untraced), and each position runs its window of K + 1 tokens twice
// (original and perturbed) from the state before it, in chunks so memory
// stays bounded by the chunk, not by K or T.
//
//===----------------------------------------------------------------------===//

#include "tools/mm-eval/EvalCommands.h"
#include "tools/mm-eval/EvalModel.h"
#include "tools/mm-eval/SvgPlot.h"
#include "tools/mm-eval/Vocabulary.h"

#include "common/InputFiles.h"
#include "common/WeightNames.h"
#include "runtime/CompiledModel.h"
#include "runtime/ModelRunner.h"
#include "runtime/ModelWeights.h"
#include "runtime/SplitMix64.h"
#include "runtime/reference/ReferenceExecutor.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace cl = llvm::cl;
using namespace mm;
using namespace mm::eval;

cl::SubCommand mm::eval::fidelityCommand(
    "fidelity", "Memory fidelity (spec section 4): ETMF and ECLMF by "
                "perturbation, and the analytic S6 ETMF");

namespace {

cl::OptionCategory category("mm-eval fidelity options");
cl::opt<int64_t> numPositions(
    "positions",
    cl::desc("How many positions t to perturb, each with t + K below the "
             "sequence length (default 16; fewer when the sequence has "
             "fewer)"),
    cl::init(16), cl::value_desc("N"), cl::sub(fidelityCommand),
    cl::cat(category));
cl::opt<int64_t> maxDistance(
    "max-distance",
    cl::desc("The largest distance k measured (default 64; below the "
             "sequence length)"),
    cl::init(64), cl::value_desc("K"), cl::sub(fidelityCommand),
    cl::cat(category));
cl::opt<uint64_t>
    seed("seed",
         cl::desc("Seed of the positions and the replacement tokens "
                  "(default 1)"),
         cl::init(1), cl::value_desc("S"), cl::sub(fidelityCommand),
         cl::cat(category));
cl::opt<std::string> tokenArg(
    "tokens",
    cl::desc("The sequence as token ids, comma-separated, or @FILE of ids "
             "separated by white space or commas"),
    cl::value_desc("ids|@file"), cl::sub(fidelityCommand), cl::cat(category));
cl::opt<std::string>
    textPath("text",
             cl::desc("The sequence as a text file, split into words by the "
                      "vocabulary's tokenizer"),
             cl::value_desc("file"), cl::sub(fidelityCommand),
             cl::cat(category));
cl::opt<std::string> csvPath(
    "csv", cl::desc("Write layer,k,etmf,eclmf,analytic_etmf rows as CSV"),
    cl::value_desc("file"), cl::sub(fidelityCommand), cl::cat(category));
cl::opt<std::string>
    svgPath("svg",
            cl::desc("Draw ETMF, ECLMF and the analytic ETMF against k, one "
                     "curve per layer (log scale), as SVG"),
            cl::value_desc("file"), cl::sub(fidelityCommand),
            cl::cat(category));

/// Tokens per call of the reference executor: bounds the logits and trace
/// one call holds.
constexpr int64_t kChunkTokens = 256;

/// One perturbation: the token at `position` swapped for `replacement`.
struct Perturbation {
  int64_t position;
  int32_t original, replacement;
};

/// Draws min(count, T - K) distinct positions t with t + K < T, in
/// increasing order, and for each a replacement from `candidates` (sorted,
/// distinct) other than the token there.
llvm::Expected<std::vector<Perturbation>>
drawPerturbations(llvm::ArrayRef<int32_t> tokens, int64_t count,
                  int64_t distance, llvm::ArrayRef<int32_t> candidates,
                  uint64_t seed) {
  // SplitMix64, not std::uniform_int_distribution: a seed names the same
  // positions and replacements on every platform.
  SplitMix64 random(seed);
  const int64_t available = static_cast<int64_t>(tokens.size()) - distance;
  std::vector<int64_t> positions(available);
  std::iota(positions.begin(), positions.end(), 0);
  count = std::min(count, available);
  // A partial Fisher-Yates shuffle picks `count` of them.
  for (int64_t i = 0; i < count; ++i)
    std::swap(positions[i], positions[i + random.below(available - i)]);
  positions.resize(count);
  std::sort(positions.begin(), positions.end());
  std::vector<Perturbation> result;
  for (int64_t t : positions) {
    const int32_t original = tokens[t];
    auto it = std::lower_bound(candidates.begin(), candidates.end(), original);
    const bool among = it != candidates.end() && *it == original;
    const uint64_t choices = candidates.size() - (among ? 1 : 0);
    if (choices == 0)
      return makeEvalError("no token may replace token " +
                           llvm::Twine(original) + " at position " +
                           llvm::Twine(t) +
                           ": the replacement ids hold no other token");
    uint64_t pick = random.below(choices);
    // Skip the original's own index.
    if (among && pick >= static_cast<uint64_t>(it - candidates.begin()))
      ++pick;
    result.push_back({t, original, candidates[pick]});
  }
  return result;
}

/// What the perturbation runs measured.
struct FidelityResult {
  /// [layer][k]: the sum over the chosen t of ||δ^l_{t+k}||.
  std::vector<std::vector<double>> deltaNorms;
  /// [layer][k]: the sum over the chosen t of the mean over channels and
  /// states of exp(A · sum of Δ over t+1 .. t+k).
  std::vector<std::vector<double>> analyticSums;
  int64_t positions = 0;

  double etmf(int64_t l, int64_t k) const {
    return ratio(deltaNorms[l][k], deltaNorms[l][0]);
  }
  double eclmf(int64_t l, int64_t k) const {
    return ratio(deltaNorms[l][k], deltaNorms[0][k]);
  }
  double analyticEtmf(int64_t l, int64_t k) const {
    return analyticSums[l][k] / positions;
  }
  /// A ratio of means; not a number when the denominator is 0 (the
  /// perturbation left that layer unchanged).
  static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }
};

/// A = -exp(A_log) of each layer, [E * N], rounded to f32 as the reference
/// executor's scan uses it.
std::vector<std::vector<float>> stateMatrices(const ModelWeights &weights) {
  std::vector<std::vector<float>> result;
  for (int64_t l = 0; l < weights.config().numLayers; ++l) {
    const std::vector<float> &aLog =
        weights.get(layerWeightName(l, weight::kALog));
    std::vector<float> a(aLog.size());
    for (size_t i = 0; i < aLog.size(); ++i)
      a[i] = static_cast<float>(-std::exp(static_cast<double>(aLog[i])));
    result.push_back(std::move(a));
  }
  return result;
}

/// Runs the perturbations on the reference executor.
llvm::Expected<FidelityResult>
measure(const ModelWeights &weights, llvm::ArrayRef<int32_t> tokens,
        llvm::ArrayRef<Perturbation> perturbations, int64_t distance) {
  const ModelConfig &c = weights.config();
  const int64_t layers = c.numLayers, d = c.hiddenSize, e = c.intermediateSize,
                n = c.stateSize;
  ReferenceExecutor executor(weights);
  const std::vector<std::vector<float>> a = stateMatrices(weights);
  FidelityResult result;
  result.positions = perturbations.size();
  result.deltaNorms.assign(layers, std::vector<double>(distance + 1, 0.0));
  result.analyticSums.assign(layers, std::vector<double>(distance + 1, 0.0));

  SequenceState state = executor.createState();
  int64_t done = 0; // Tokens `state` has processed.
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < perturbations.size(); ++i) {
    const Perturbation &p = perturbations[i];
    // The original sequence up to t.
    while (done < p.position) {
      int64_t size = std::min(kChunkTokens, p.position - done);
      if (auto logits = executor.prefill(tokens.slice(done, size), state);
          !logits)
        return logits.takeError();
      done += size;
    }
    // The window t .. t+K, original and perturbed, from the state before t.
    SequenceState original = state, perturbed = state;
    std::vector<int32_t> window(tokens.begin() + p.position,
                                tokens.begin() + p.position + distance + 1);
    std::vector<int32_t> changed = window;
    changed[0] = p.replacement;
    // Per layer and channel, the sum of Δ over t+1 .. t+k so far.
    std::vector<std::vector<double>> deltaSums(layers,
                                               std::vector<double>(e, 0.0));
    for (int64_t first = 0; first <= distance; first += kChunkTokens) {
      const int64_t size = std::min(kChunkTokens, distance + 1 - first);
      ExecutionTrace before, after;
      if (auto logits = executor.prefill(
              llvm::ArrayRef(window).slice(first, size), original, &before);
          !logits)
        return logits.takeError();
      if (auto logits = executor.prefill(
              llvm::ArrayRef(changed).slice(first, size), perturbed, &after);
          !logits)
        return logits.takeError();
      for (int64_t l = 0; l < layers; ++l) {
        for (int64_t j = 0; j < size; ++j) {
          const int64_t k = first + j;
          // ||δ^l_{t+k}||
          double sum = 0;
          for (int64_t x = 0; x < d; ++x) {
            double diff = static_cast<double>(after.residual[l][j * d + x]) -
                          static_cast<double>(before.residual[l][j * d + x]);
            sum += diff * diff;
          }
          result.deltaNorms[l][k] += std::sqrt(sum);
          // The analytic ETMF: Δ of position t+k joins the sums for k > 0.
          double mean = 0;
          for (int64_t ch = 0; ch < e; ++ch) {
            if (k > 0)
              deltaSums[l][ch] += before.delta[l][j * e + ch];
            for (int64_t s = 0; s < n; ++s)
              mean += std::exp(static_cast<double>(a[l][ch * n + s]) *
                               deltaSums[l][ch]);
          }
          result.analyticSums[l][k] += mean / static_cast<double>(e * n);
        }
      }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    llvm::errs() << llvm::format(
        "fidelity: position %zu of %zu (t = %lld, %d -> %d), %.1f s\n", i + 1,
        perturbations.size(), static_cast<long long>(p.position), p.original,
        p.replacement, seconds);
  }
  return result;
}

/// A value for the CSV: "nan" when not finite.
std::string csvNumber(double v) {
  if (!std::isfinite(v))
    return "nan";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format("%.9g", v);
  return text;
}

std::string renderCsv(const FidelityResult &result, int64_t layers,
                      int64_t distance) {
  std::string text = "layer,k,etmf,eclmf,analytic_etmf\n";
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t k = 0; k <= distance; ++k)
      text += std::to_string(l) + "," + std::to_string(k) + "," +
              csvNumber(result.etmf(l, k)) + "," +
              csvNumber(result.eclmf(l, k)) + "," +
              csvNumber(result.analyticEtmf(l, k)) + "\n";
  return text;
}

std::string renderSvg(const FidelityResult &result, int64_t layers,
                      int64_t distance, llvm::StringRef model) {
  auto panel = [&](const std::string &title, const std::string &yLabel,
                   auto value) {
    CurvePlot plot;
    plot.title = title;
    plot.xLabel = "distance k (tokens)";
    plot.yLabel = yLabel;
    plot.logY = true;
    for (int64_t l = 0; l < layers; ++l) {
      Curve curve;
      curve.label = "layer " + std::to_string(l);
      for (int64_t k = 0; k <= distance; ++k) {
        curve.x.push_back(k);
        curve.y.push_back(value(l, k));
      }
      plot.curves.push_back(std::move(curve));
    }
    return plot;
  };
  const std::string suffix = " (" + model.str() + ", " +
                             std::to_string(result.positions) + " positions)";
  return renderCurvePanelsSvg(
      {panel("ETMF by perturbation" + suffix, "ETMF",
             [&](int64_t l, int64_t k) { return result.etmf(l, k); }),
       panel("ECLMF by perturbation" + suffix, "ECLMF",
             [&](int64_t l, int64_t k) { return result.eclmf(l, k); }),
       panel("Analytic S6 ETMF" + suffix, "analytic ETMF",
             [&](int64_t l, int64_t k) { return result.analyticEtmf(l, k); })});
}

/// The short summary on stdout: per layer, the three metrics at a few
/// distances.
void printSummary(llvm::raw_ostream &os, const FidelityResult &result,
                  llvm::ArrayRef<Perturbation> perturbations, int64_t layers,
                  int64_t distance, int64_t tokens) {
  os << "fidelity: " << tokens << " tokens, " << perturbations.size()
     << " positions, k = 0.." << distance << " (reference executor)\n";
  os << "perturbations (t:token>replacement):";
  for (const Perturbation &p : perturbations)
    os << " " << p.position << ":" << p.original << ">" << p.replacement;
  os << "\n";
  std::vector<int64_t> ks;
  for (int64_t k : {int64_t(1), distance / 4, distance / 2, distance})
    if (k > 0 && (ks.empty() || ks.back() < k))
      ks.push_back(k);
  os << llvm::format("%-6s %-8s", "layer", "metric");
  for (int64_t k : ks)
    os << llvm::format(" %12s", ("k=" + std::to_string(k)).c_str());
  os << "\n";
  for (int64_t l = 0; l < layers; ++l) {
    auto row = [&](const char *name, auto value) {
      os << llvm::format("%-6lld %-8s", static_cast<long long>(l), name);
      for (int64_t k : ks)
        os << llvm::format(" %12.4g", value(k));
      os << "\n";
    };
    row("etmf", [&](int64_t k) { return result.etmf(l, k); });
    row("eclmf", [&](int64_t k) { return result.eclmf(l, k); });
    row("analytic", [&](int64_t k) { return result.analyticEtmf(l, k); });
  }
}

/// The config of MODEL: its config.json, or an artifact's manifest (a GPU
/// artifact is opened on the simulator when it cannot open on the host:
/// only its manifest is used).
llvm::Expected<ModelConfig> loadConfigOf(llvm::StringRef modelPath) {
  if (llvm::Error err = checkModelFileKind(modelPath))
    return std::move(err);
  if (!isArtifact(modelPath))
    return loadModelConfig(modelPath);
  auto artifact = CompiledModel::open(modelPath);
  if (artifact)
    return (*artifact)->config();
  auto simulator = openDevice("sim");
  if (!simulator) {
    llvm::consumeError(simulator.takeError());
    return artifact.takeError();
  }
  auto onSimulator = CompiledModel::open(modelPath, simulator->get());
  if (!onSimulator) {
    llvm::consumeError(onSimulator.takeError());
    return artifact.takeError();
  }
  llvm::consumeError(artifact.takeError());
  return (*onSimulator)->config();
}

} // namespace

llvm::Error mm::eval::runFidelity() {
  const ModelOptions &options = getModelOptions();
  if (options.modelPath.empty())
    return makeEvalError(
        "no model: pass a config, a model folder or an artifact");
  if (tokenArg.empty() == textPath.empty())
    return makeEvalError(
        "pass the sequence as --tokens IDS|@FILE or as --text FILE "
        "(one of them)");
  if (numPositions <= 0)
    return makeEvalError("--positions must be at least 1, not " +
                         llvm::Twine(numPositions));
  if (maxDistance <= 0)
    return makeEvalError("--max-distance must be at least 1, not " +
                         llvm::Twine(maxDistance));

  // The vocabulary: needed for --text; otherwise used, when there is one,
  // for the ids that may replace a token.
  std::optional<Vocabulary> vocabulary;
  const std::string vocabularyPath = findVocabularyPath(options);
  if (!textPath.empty() && vocabularyPath.empty())
    return makeEvalError("--text needs a vocabulary: pass --vocab FILE, or put "
                         "vocab.txt in the model's folder");
  if (!vocabularyPath.empty()) {
    auto loaded = Vocabulary::load(vocabularyPath);
    if (!loaded)
      return loaded.takeError();
    vocabulary = std::move(*loaded);
  }

  // The model's config (an artifact's from its manifest): its vocab_size
  // bounds the token ids and the vocabulary.
  auto config = loadConfigOf(options.modelPath);
  if (!config)
    return config.takeError();
  if (vocabulary)
    if (llvm::Error err = checkVocabularyFits(*vocabulary, config->vocabSize,
                                              options.modelPath))
      return err;

  // The sequence.
  std::vector<int32_t> tokens;
  if (!textPath.empty()) {
    auto text = readBoundedFile(textPath, kMaxTextFileBytes, "a text file");
    if (!text)
      return text.takeError();
    auto ids = vocabulary->tokenize((*text)->getBuffer(), textPath);
    if (!ids)
      return ids.takeError();
    tokens = std::move(*ids);
    if (tokens.empty())
      return makeEvalError(textPath + ": no words");
  } else {
    auto ids =
        readTokenArgument(tokenArg, kMaxTextFileBytes, config->vocabSize);
    if (!ids)
      return ids.takeError();
    tokens = std::move(*ids);
  }
  const int64_t time = tokens.size();
  if (maxDistance >= time)
    return makeEvalError("--max-distance " + llvm::Twine(maxDistance) +
                         " must be below the number of tokens (" +
                         llvm::Twine(time) +
                         "): every perturbed position t needs t + K < T");

  // The weights, on the reference executor.
  std::string checkpoint = options.weightsPath;
  if (checkpoint.empty()) {
    if (!llvm::sys::fs::is_directory(options.modelPath))
      return makeEvalError(options.modelPath +
                           ": no weights: pass --weights FILE "
                           "or a model folder holding them");
    checkpoint = options.modelPath;
  }
  auto weights = ModelWeights::load(
      *config, checkpoint, {options.runnerFlags.allowNonFiniteWeights});
  if (!weights)
    return weights.takeError();

  // Replacements: the vocabulary's ids, else every id below vocab_size.
  std::vector<int32_t> candidates(vocabulary ? vocabulary->size()
                                             : config->vocabSize);
  std::iota(candidates.begin(), candidates.end(), 0);
  auto perturbations =
      drawPerturbations(tokens, numPositions, maxDistance, candidates, seed);
  if (!perturbations)
    return perturbations.takeError();
  if (static_cast<int64_t>(perturbations->size()) < numPositions)
    llvm::errs() << "fidelity: note: only " << perturbations->size()
                 << " positions have t + " << maxDistance << " < " << time
                 << "; measuring all of them\n";

  auto result = measure(*weights, tokens, *perturbations, maxDistance);
  if (!result)
    return result.takeError();
  const int64_t layers = config->numLayers;
  printSummary(llvm::outs(), *result, *perturbations, layers, maxDistance,
               time);
  if (!csvPath.empty())
    if (llvm::Error err = writeTextFile(
            csvPath, renderCsv(*result, layers, maxDistance), "CSV"))
      return err;
  if (!svgPath.empty())
    if (llvm::Error err = writeTextFile(
            svgPath,
            renderSvg(*result, layers, maxDistance,
                      llvm::sys::path::filename(options.modelPath)),
            "SVG"))
      return err;
  return llvm::Error::success();
}
