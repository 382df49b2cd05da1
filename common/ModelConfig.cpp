//===- ModelConfig.cpp - MemMamba model configuration ---------------------===//
//
// Reads config.json in both spellings of spec section 1. Every value comes from
// the file or from a rule the spec states ("auto" dt rank, expand * D); the
// mamba_ssm spelling additionally falls back to the values that mamba_ssm's
// Mamba-1 module hard-codes, because its config.json leaves them out
// (docs/config.md). Nothing is taken from a library's defaults.
//
//===----------------------------------------------------------------------===//

#include "common/ModelConfig.h"
#include "common/InputFiles.h"
#include "common/WeightNames.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mm;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
namespace json = llvm::json;

llvm::StringRef mm::stringifyEviction(Eviction eviction) {
  return eviction == Eviction::Priority ? "priority" : "fifo";
}

bool ModelConfig::hasCrossLayerAttention(int64_t layer) const {
  auto [first, last] = crossLayerSources(layer);
  return first < last;
}

std::pair<int64_t, int64_t>
ModelConfig::crossLayerSources(int64_t layer) const {
  if (!memory || memory->crossLayerPeriod == 0 ||
      memory->crossLayerWindow == 0 || layer <= 0 ||
      layer % memory->crossLayerPeriod != 0)
    return {layer, layer};
  return {std::max<int64_t>(0, layer - memory->crossLayerWindow), layer};
}

namespace {

/// a * b + c, or std::nullopt when it overflows int64_t.
std::optional<int64_t> mulAdd(int64_t a, int64_t b, int64_t c = 0) {
  int64_t product, sum;
  if (__builtin_mul_overflow(a, b, &product) ||
      __builtin_add_overflow(product, c, &sum))
    return std::nullopt;
  return sum;
}

} // namespace

int64_t ModelConfig::stateBytesPerSequence() const {
  // Per layer: E * (K - 1 + N), and with memory D + pool * (summary + 2) + 1.
  std::optional<int64_t> perLayer =
      mulAdd(intermediateSize, convKernel - 1 + stateSize);
  if (perLayer && memory) {
    std::optional<int64_t> pool =
        mulAdd(memory->poolSize, memory->summaryDim + 2, hiddenSize + 1);
    perLayer = pool ? mulAdd(*perLayer, 1, *pool) : std::nullopt;
  }
  std::optional<int64_t> words =
      perLayer ? mulAdd(numLayers, *perLayer, memory ? 1 : 0) : std::nullopt;
  std::optional<int64_t> bytes = words ? mulAdd(*words, 4) : std::nullopt;
  return bytes.value_or(-1);
}

int64_t ModelConfig::numWeightElements() const {
  int64_t total = 0;
  for (const WeightSpec &spec : modelWeights(*this)) {
    int64_t elements = 1;
    for (int64_t dim : spec.shape)
      if (dim < 0 || __builtin_mul_overflow(elements, dim, &elements))
        return -1;
    if (__builtin_add_overflow(total, elements, &total))
      return -1;
  }
  return total;
}

llvm::Error ModelConfig::checkSizes(StringRef source) const {
  auto fail = [&](const Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   Twine(source) + ": " + message);
  };
  struct Bound {
    const char *key;
    int64_t value, minimum, maximum;
  };
  llvm::SmallVector<Bound> bounds = {
      {"hidden_size", hiddenSize, 1, kMaxHiddenSize},
      {"num_hidden_layers", numLayers, 1, kMaxLayers},
      {"state_size", stateSize, 1, kMaxStateSize},
      {"conv_kernel", convKernel, 1, kMaxConvKernel},
      {"intermediate_size", intermediateSize, 1, kMaxIntermediateSize},
      {"time_step_rank", dtRank, 1, kMaxDtRank},
      {"vocab_size", vocabSize, 1, kMaxVocabSize}};
  if (memory)
    bounds.append(
        {{"memory.pool_size", memory->poolSize, 1, kMaxPoolSize},
         {"memory.summary_dim", memory->summaryDim, 1, kMaxSummaryDim},
         {"memory.heads", memory->heads, 1, memory->summaryDim},
         {"memory.cross_layer_period", memory->crossLayerPeriod, 0,
          kMaxCrossLayerPeriod},
         {"memory.cross_layer_window", memory->crossLayerWindow, 0,
          kMaxCrossLayerWindow}});
  for (const Bound &bound : bounds) {
    if (bound.value < bound.minimum)
      return fail(llvm::formatv("'{0}' must be at least {1}, got {2}",
                                bound.key, bound.minimum, bound.value));
    if (bound.value > bound.maximum)
      return fail(llvm::formatv("'{0}' is {1}, the limit is {2}", bound.key,
                                bound.value, bound.maximum));
  }
  if (!std::isfinite(layerNormEpsilon) || layerNormEpsilon < 0)
    return fail(llvm::formatv("'layer_norm_epsilon' must be a finite number, "
                              "not negative, got {0}",
                              layerNormEpsilon));
  if (memory) {
    if (memory->summaryDim % memory->heads != 0)
      return fail(llvm::formatv("'memory.heads' ({0}) does not divide "
                                "'memory.summary_dim' ({1})",
                                memory->heads, memory->summaryDim));
    if (!std::isfinite(memory->noteThreshold) ||
        !std::isfinite(memory->readThreshold))
      return fail("'memory.note_threshold' and 'memory.read_threshold' must "
                  "be finite numbers");
  }

  // The totals: within the bounds above they cannot overflow, but the weights
  // can still exceed what any machine holds.
  int64_t weights = numWeightElements();
  if (weights < 0 || weights > kMaxWeightElements)
    return fail(llvm::formatv(
        "the model has {0} weights ({1} hidden, {2} layers, vocabulary {3}), "
        "the limit is {4} (2^36, 256 GiB as f32)",
        weights < 0 ? std::string("more than 2^63") : std::to_string(weights),
        hiddenSize, numLayers, vocabSize, kMaxWeightElements));
  if (stateBytesPerSequence() < 0)
    return fail("the recurrent state of one sequence overflows 2^63 bytes");
  return llvm::Error::success();
}

llvm::Error ModelConfig::checkTokens(llvm::ArrayRef<int32_t> tokens,
                                     int64_t time) const {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocabSize)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "token " + std::to_string(tokens[i]) + " at position " +
              std::to_string(i % time) + " is outside the vocabulary (size " +
              std::to_string(vocabSize) + ")");
  return llvm::Error::success();
}

namespace {

/// One place a value may be spelled: a key of the top-level object or of a
/// nested one (mamba_ssm's `ssm_cfg`).
struct Spelling {
  const json::Object *object;
  std::string key;     ///< the key inside `object`
  std::string display; ///< how errors name it, e.g. "ssm_cfg.d_state"
};

/// A value found under one of its spellings.
struct Found {
  const json::Value *value;
  std::string display;
};

class ConfigReader {
public:
  ConfigReader(const json::Object &root, StringRef fileName)
      : root(root), ssmConfig(root.getObject("ssm_cfg")), fileName(fileName) {}

  /// An error about one key: "FILE: 'KEY': MESSAGE".
  llvm::Error error(const Twine &key, const Twine &message) const {
    return errorAbout("'" + key + "'", message);
  }
  /// An error about `subject`, already quoted (it may name several keys).
  llvm::Error errorAbout(const Twine &subject, const Twine &message) const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   Twine(fileName) + ": " + subject + ": " +
                                       message);
  }

  /// Spellings of a backbone key: each top-level key, then the same mamba_ssm
  /// names inside `ssm_cfg`.
  llvm::SmallVector<Spelling> spellings(llvm::ArrayRef<StringRef> topLevel,
                                        llvm::ArrayRef<StringRef> ssmCfg = {}) {
    llvm::SmallVector<Spelling> result;
    for (StringRef key : topLevel)
      result.push_back({&root, key.str(), key.str()});
    if (ssmConfig)
      for (StringRef key : ssmCfg)
        result.push_back({ssmConfig, key.str(), ("ssm_cfg." + key).str()});
    return result;
  }

  /// "'hidden_size' (or 'd_model')": every spelling of a key, quoted.
  static std::string describe(llvm::ArrayRef<Spelling> spellings) {
    std::string text = "'" + spellings.front().display + "'";
    if (spellings.size() > 1)
      text += " (or '" +
              llvm::join(llvm::map_range(spellings.drop_front(),
                                         [](const Spelling &s) {
                                           return StringRef(s.display);
                                         }),
                         "', '") +
              "')";
    return text;
  }

  /// Finds the value of a key under any of its spellings. Two spellings with
  /// different values are a contradiction, reported with both names.
  Expected<std::optional<Found>> find(llvm::ArrayRef<Spelling> spellings) {
    std::optional<Found> found;
    for (const Spelling &spelling : spellings) {
      const json::Value *value = spelling.object->get(spelling.key);
      if (!value || value->kind() == json::Value::Null)
        continue;
      if (!found) {
        found = Found{value, spelling.display};
        continue;
      }
      if (!sameValue(*found->value, *value))
        return error(found->display,
                     llvm::formatv("contradicts '{0}' ({1} vs {2})",
                                   spelling.display, *found->value, *value)
                         .str());
    }
    return found;
  }

  /// The value of a key under any of its spellings, checked and converted by
  /// `convert`; `fallback` when the key is absent, an error when there is no
  /// fallback.
  template <typename T, typename Convert>
  Expected<T> get(llvm::ArrayRef<Spelling> spellings, std::optional<T> fallback,
                  Convert convert) {
    auto found = find(spellings);
    if (!found)
      return found.takeError();
    if (!*found) {
      if (fallback)
        return *fallback;
      return errorAbout(describe(spellings), "missing");
    }
    return convert(**found);
  }

  /// "FILE: 'KEY' is VALUE, the limit is LIMIT": a value above its bound.
  llvm::Error aboveLimit(StringRef display, const Twine &value,
                         const Twine &limit) const {
    return aboveLimitAbout("'" + display + "'", value, limit);
  }
  /// The same about `subject`, already quoted (it may name several keys).
  llvm::Error aboveLimitAbout(const Twine &subject, const Twine &value,
                              const Twine &limit) const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   Twine(fileName) + ": " + subject + " is " +
                                       value + ", the limit is " + limit);
  }

  Expected<int64_t> getInt(llvm::ArrayRef<Spelling> spellings,
                           std::optional<int64_t> fallback, int64_t minimum,
                           int64_t maximum) {
    return get<int64_t>(spellings, fallback, [&](const Found &found) {
      return checkInt(found, minimum, maximum);
    });
  }

  /// An integer in [minimum, maximum]. The range is checked on the number
  /// first: json::Value::getAsInteger converts doubles up to 2^63 inclusive,
  /// which is undefined behaviour for 2^63 itself.
  Expected<int64_t> checkInt(const Found &found, int64_t minimum,
                             int64_t maximum) const {
    auto notInteger = [&] {
      return error(
          found.display,
          llvm::formatv("expected an integer, got {0}", *found.value).str());
    };
    std::optional<double> number = found.value->getAsNumber();
    double integral;
    if (!number || !std::isfinite(*number) ||
        std::modf(*number, &integral) != 0.0)
      return notInteger();
    if (*number > double(maximum))
      return aboveLimit(found.display, llvm::formatv("{0}", *found.value).str(),
                        Twine(maximum));
    if (*number < double(minimum))
      return error(found.display, llvm::formatv("must be at least {0}, got {1}",
                                                minimum, *found.value)
                                      .str());
    std::optional<int64_t> value = found.value->getAsInteger();
    if (!value)
      return notInteger();
    if (*value > maximum) // above the limit by less than a double's rounding
      return aboveLimit(found.display, Twine(*value), Twine(maximum));
    if (*value < minimum)
      return error(found.display, llvm::formatv("must be at least {0}, got {1}",
                                                minimum, *value)
                                      .str());
    return *value;
  }

  Expected<double> getNumber(llvm::ArrayRef<Spelling> spellings,
                             std::optional<double> fallback) {
    return get<double>(
        spellings, fallback, [&](const Found &found) -> Expected<double> {
          std::optional<double> value = found.value->getAsNumber();
          if (!value || !std::isfinite(*value))
            return error(
                found.display,
                llvm::formatv("expected a finite number, got {0}", *found.value)
                    .str());
          // -0 reads as 0: JSON's "-0" is the integer 0, so a config
          // written back would otherwise not read as itself.
          return *value == 0 ? 0.0 : *value;
        });
  }

  Expected<bool> getBool(llvm::ArrayRef<Spelling> spellings,
                         std::optional<bool> fallback) {
    return get<bool>(
        spellings, fallback, [&](const Found &found) -> Expected<bool> {
          std::optional<bool> value = found.value->getAsBoolean();
          if (!value)
            return error(
                found.display,
                llvm::formatv("expected true or false, got {0}", *found.value)
                    .str());
          return *value;
        });
  }

  /// Stores a read value into `field`, or passes its error on.
  template <typename T> static llvm::Error assign(T &field, Expected<T> value) {
    if (!value)
      return value.takeError();
    field = *value;
    return llvm::Error::success();
  }

  Expected<ModelConfig> read();

private:
  static bool sameValue(const json::Value &a, const json::Value &b) {
    std::optional<double> x = a.getAsNumber(), y = b.getAsNumber();
    if (x && y)
      return *x == *y;
    return a == b;
  }

  Expected<MemoryConfig> readMemory(const json::Object &memory);
  llvm::Error checkSupported();

  const json::Object &root;
  const json::Object *ssmConfig;
  std::string fileName;
};

} // namespace

/// Rejects configs of architectures this project does not compile, so that a
/// Mamba-2 or LayerNorm checkpoint is never run as if it were Mamba-1.
llvm::Error ConfigReader::checkSupported() {
  if (const json::Value *type = root.get("model_type")) {
    std::optional<StringRef> name = type->getAsString();
    if (!name || (*name != "mamba" && *name != "memmamba"))
      return error("model_type",
                   llvm::formatv("{0} is not supported (expected \"mamba\" or "
                                 "\"memmamba\")",
                                 *type)
                       .str());
  }
  if (const json::Value *value = root.get("ssm_cfg");
      value && !value->getAsObject())
    return error("ssm_cfg", "expected an object");
  if (ssmConfig)
    if (const json::Value *layer = ssmConfig->get("layer"))
      if (layer->getAsString() != StringRef("Mamba1"))
        return error(
            "ssm_cfg.layer",
            llvm::formatv("{0} is not supported (only Mamba1)", *layer).str());
  if (const json::Value *mlp = root.get("d_intermediate"))
    if (mlp->getAsInteger() != std::optional<int64_t>(0))
      return error("d_intermediate",
                   "MLP blocks between mixers are not supported (expected 0)");
  if (const json::Value *rms = root.get("rms_norm"))
    if (rms->getAsBoolean() != std::optional<bool>(true))
      return error("rms_norm", "only RMSNorm models are supported");
  if (const json::Value *act = root.get("hidden_act"))
    if (act->getAsString() != StringRef("silu"))
      return error(
          "hidden_act",
          llvm::formatv("{0} is not supported (only \"silu\")", *act).str());
  return llvm::Error::success();
}

Expected<MemoryConfig> ConfigReader::readMemory(const json::Object &memory) {
  static constexpr StringRef known[] = {
      "pool_size",          "summary_dim",
      "note_threshold",     "read_threshold",
      "cross_layer_period", "cross_layer_window",
      "eviction",           "heads"};
  // Unknown keys are errors here (unlike the backbone, whose configs carry
  // many unrelated keys): a misspelt memory key would otherwise be ignored.
  for (const auto &entry : memory)
    if (!llvm::is_contained(known, StringRef(entry.first)))
      return error("memory." + entry.first.str(),
                   "unknown key (known: " +
                       llvm::join(llvm::ArrayRef(known), ", ") + ")");

  auto key = [&](StringRef name) {
    return llvm::SmallVector<Spelling>{
        {&memory, name.str(), ("memory." + name).str()}};
  };
  // Absent keys keep the spec's defaults, which `result` starts with.
  MemoryConfig result;
  if (llvm::Error err =
          assign(result.poolSize,
                 getInt(key("pool_size"), result.poolSize, 1, kMaxPoolSize)))
    return std::move(err);
  if (llvm::Error err = assign(
          result.summaryDim,
          getInt(key("summary_dim"), result.summaryDim, 1, kMaxSummaryDim)))
    return std::move(err);
  if (llvm::Error err =
          assign(result.noteThreshold,
                 getNumber(key("note_threshold"), result.noteThreshold)))
    return std::move(err);
  if (llvm::Error err =
          assign(result.readThreshold,
                 getNumber(key("read_threshold"), result.readThreshold)))
    return std::move(err);
  if (llvm::Error err =
          assign(result.crossLayerPeriod,
                 getInt(key("cross_layer_period"), result.crossLayerPeriod, 0,
                        kMaxCrossLayerPeriod)))
    return std::move(err);
  if (llvm::Error err =
          assign(result.crossLayerWindow,
                 getInt(key("cross_layer_window"), result.crossLayerWindow, 0,
                        kMaxCrossLayerWindow)))
    return std::move(err);
  if (llvm::Error err = assign(
          result.heads, getInt(key("heads"), result.heads, 1, kMaxSummaryDim)))
    return std::move(err);
  if (result.heads > result.summaryDim)
    return aboveLimit("memory.heads", Twine(result.heads),
                      "'memory.summary_dim' (" + Twine(result.summaryDim) +
                          ")");
  if (result.summaryDim % result.heads != 0)
    return error("memory.heads",
                 llvm::formatv("{0} does not divide memory.summary_dim ({1})",
                               result.heads, result.summaryDim)
                     .str());

  if (const json::Value *eviction = memory.get("eviction")) {
    std::optional<StringRef> name = eviction->getAsString();
    if (name == StringRef("priority"))
      result.eviction = Eviction::Priority;
    else if (name == StringRef("fifo"))
      result.eviction = Eviction::Fifo;
    else
      return error(
          "memory.eviction",
          llvm::formatv("expected \"priority\" or \"fifo\", got {0}", *eviction)
              .str());
  }
  return result;
}

Expected<ModelConfig> ConfigReader::read() {
  if (llvm::Error err = checkSupported())
    return std::move(err);

  // mamba_ssm's config.json names only what differs from its Mamba-1 module;
  // its hard-coded values apply to what is absent. The Hugging Face spelling
  // writes every key, so there a missing key is an error.
  bool mambaSsm = root.get("d_model") || ssmConfig;
  auto ssmDefault = [&](auto value) {
    return mambaSsm ? std::optional<decltype(value)>(value) : std::nullopt;
  };

  ModelConfig config;
  if (llvm::Error err = assign(config.hiddenSize,
                               getInt(spellings({"hidden_size", "d_model"}),
                                      std::nullopt, 1, kMaxHiddenSize)))
    return std::move(err);
  if (llvm::Error err = assign(
          config.numLayers, getInt(spellings({"num_hidden_layers", "n_layer"}),
                                   std::nullopt, 1, kMaxLayers)))
    return std::move(err);
  if (llvm::Error err =
          assign(config.stateSize,
                 getInt(spellings({"state_size", "d_state"}, {"d_state"}),
                        ssmDefault(int64_t(16)), 1, kMaxStateSize)))
    return std::move(err);
  if (llvm::Error err =
          assign(config.convKernel,
                 getInt(spellings({"conv_kernel", "d_conv"}, {"d_conv"}),
                        ssmDefault(int64_t(4)), 1, kMaxConvKernel)))
    return std::move(err);

  // E: intermediate_size, else expand * D; both present must agree.
  auto innerSpellings =
      spellings({"intermediate_size", "d_inner"}, {"d_inner"});
  auto inner = find(innerSpellings);
  if (!inner)
    return inner.takeError();
  auto expandSpellings = spellings({"expand"}, {"expand"});
  auto expandFound = find(expandSpellings);
  if (!expandFound)
    return expandFound.takeError();
  std::optional<int64_t> expand = ssmDefault(int64_t(2));
  if (*expandFound) {
    auto value = checkInt(**expandFound, 1, kMaxIntermediateSize);
    if (!value)
      return value.takeError();
    expand = *value;
  }
  // Both factors are bounded, so expand * D fits in int64_t.
  if (*inner) {
    if (llvm::Error err = assign(config.intermediateSize,
                                 checkInt(**inner, 1, kMaxIntermediateSize)))
      return std::move(err);
    if (*expandFound && *expand * config.hiddenSize != config.intermediateSize)
      return error((*inner)->display,
                   llvm::formatv("{0} contradicts '{1}' * hidden size "
                                 "({2} * {3} = {4})",
                                 config.intermediateSize,
                                 (*expandFound)->display, *expand,
                                 config.hiddenSize, *expand * config.hiddenSize)
                       .str());
  } else if (expand) {
    config.intermediateSize = *expand * config.hiddenSize;
    if (config.intermediateSize > kMaxIntermediateSize)
      return aboveLimitAbout(
          *expandFound ? "'" + (*expandFound)->display + "' * hidden size"
                       : std::string("'expand' (default 2) * hidden size"),
          llvm::formatv("{0} * {1} = {2}", *expand, config.hiddenSize,
                        config.intermediateSize)
              .str(),
          Twine(kMaxIntermediateSize) + " (of 'intermediate_size')");
  } else {
    return errorAbout(describe(innerSpellings),
                      "missing (and no 'expand' to derive it from)");
  }

  // R: an integer or "auto" = ceil(D / 16).
  auto rankSpellings = spellings({"time_step_rank", "dt_rank"}, {"dt_rank"});
  auto rank = find(rankSpellings);
  if (!rank)
    return rank.takeError();
  if (!*rank && !mambaSsm)
    return errorAbout(describe(rankSpellings), "missing");
  if (!*rank || (*rank)->value->getAsString() == StringRef("auto")) {
    config.dtRank = (config.hiddenSize + 15) / 16;
  } else {
    if ((*rank)->value->getAsString())
      return error((*rank)->display,
                   llvm::formatv("expected an integer or \"auto\", got {0}",
                                 *(*rank)->value)
                       .str());
    auto value = checkInt(**rank, 1, kMaxDtRank);
    if (!value)
      return value.takeError();
    config.dtRank = *value;
  }

  auto vocab =
      getInt(spellings({"vocab_size"}), std::nullopt, 1, kMaxVocabSize);
  if (!vocab)
    return vocab.takeError();
  auto multiple = getInt(spellings({"pad_vocab_size_multiple"}), int64_t(1), 1,
                         kMaxPadVocabSizeMultiple);
  if (!multiple)
    return multiple.takeError();
  config.vocabSize = (*vocab + *multiple - 1) / *multiple * *multiple;
  if (config.vocabSize > kMaxVocabSize)
    return aboveLimit("vocab_size",
                      llvm::formatv("{0}, padded to a multiple of {1}: {2}",
                                    *vocab, *multiple, config.vocabSize)
                          .str(),
                      Twine(kMaxVocabSize));

  if (llvm::Error err =
          assign(config.layerNormEpsilon,
                 getNumber(spellings({"layer_norm_epsilon", "rms_norm_eps",
                                      "norm_epsilon"}),
                           ssmDefault(1e-5))))
    return std::move(err);
  if (config.layerNormEpsilon < 0)
    return error("layer_norm_epsilon", "must not be negative");
  if (llvm::Error err = assign(
          config.useBias, getBool(spellings({"use_bias", "bias"}, {"bias"}),
                                  ssmDefault(false))))
    return std::move(err);
  if (llvm::Error err = assign(
          config.useConvBias,
          getBool(spellings({"use_conv_bias", "conv_bias"}, {"conv_bias"}),
                  ssmDefault(true))))
    return std::move(err);

  if (const json::Value *memory = root.get("memory");
      memory && memory->kind() != json::Value::Null) {
    const json::Object *object = memory->getAsObject();
    if (!object)
      return error("memory", "expected an object");
    if (llvm::Error err = assign(config.memory.emplace(), readMemory(*object)))
      return std::move(err);
  }
  // Every key is within its bound; the totals derived from them must be too.
  if (llvm::Error err = config.checkSizes(fileName))
    return std::move(err);
  return config;
}

Expected<ModelConfig> mm::parseModelConfig(StringRef jsonText,
                                           StringRef fileName) {
  // Bound the memory the parse takes before parsing: a small file of many
  // tiny values ("[0,0,0,...]") costs about 20 times its size.
  JsonCounts counts = countJson(jsonText);
  if (counts.values > kMaxConfigJsonValues)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: too large: up to {1} JSON values, the limit is "
                      "{2} (a config.json has a few dozen)",
                      fileName, counts.values, kMaxConfigJsonValues));
  Expected<json::Value> parsed = parseBoundedJson(jsonText);
  if (!parsed) {
    // json::ParseError logs "[line:col, byte=N]: message"; put the position
    // where compilers put it.
    std::string message = llvm::toString(parsed.takeError());
    StringRef text(message);
    std::string position;
    if (text.consume_front("[")) {
      auto [where, rest] = text.split("]: ");
      position = where.split(",").first.str();
      text = rest;
    }
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        Twine(fileName) + (position.empty() ? "" : ":" + position) +
            ": invalid JSON: " + text);
  }
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   Twine(fileName) +
                                       ": expected a JSON object at the top");
  return ConfigReader(*root, fileName).read();
}

Expected<ModelConfig> mm::loadModelConfig(StringRef path) {
  llvm::SmallString<256> file(path);
  if (llvm::sys::fs::is_directory(file))
    llvm::sys::path::append(file, "config.json");
  Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      readBoundedFile(file, kMaxConfigBytes, "a config");
  if (!buffer)
    return buffer.takeError();
  return parseModelConfig((*buffer)->getBuffer(), file);
}

json::Value mm::toJSON(const ModelConfig &config) {
  json::Object object{
      {"model_type", config.memory ? "memmamba" : "mamba"},
      {"hidden_size", config.hiddenSize},
      {"num_hidden_layers", config.numLayers},
      {"state_size", config.stateSize},
      {"conv_kernel", config.convKernel},
      {"intermediate_size", config.intermediateSize},
      {"time_step_rank", config.dtRank},
      {"vocab_size", config.vocabSize},
      {"layer_norm_epsilon", config.layerNormEpsilon},
      {"use_bias", config.useBias},
      {"use_conv_bias", config.useConvBias},
  };
  if (const auto &memory = config.memory)
    object["memory"] = json::Object{
        {"pool_size", memory->poolSize},
        {"summary_dim", memory->summaryDim},
        {"note_threshold", memory->noteThreshold},
        {"read_threshold", memory->readThreshold},
        {"cross_layer_period", memory->crossLayerPeriod},
        {"cross_layer_window", memory->crossLayerWindow},
        {"eviction", stringifyEviction(memory->eviction)},
        {"heads", memory->heads},
    };
  return object;
}
