//===- ModelConfigTest.cpp - config.json parsing --------------------------===//

#include "common/ModelConfig.h"
#include "common/WeightNames.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <unistd.h>

using namespace mm;

namespace {

ModelConfig parseOk(llvm::StringRef json) {
  llvm::Expected<ModelConfig> config = parseModelConfig(json, "config.json");
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return {};
  }
  return *config;
}

/// The error text of a config that must not parse.
std::string parseError(llvm::StringRef json) {
  llvm::Expected<ModelConfig> config = parseModelConfig(json, "config.json");
  if (config) {
    ADD_FAILURE() << "parsed, but should not have: " << json.str();
    return "";
  }
  return llvm::toString(config.takeError());
}

std::string canonical(const ModelConfig &config) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << toJSON(config);
  return text;
}

constexpr const char *kHuggingFace130m = R"({
  "model_type": "mamba", "hidden_size": 768, "num_hidden_layers": 24,
  "n_layer": 24, "state_size": 16, "conv_kernel": 4, "expand": 2,
  "intermediate_size": 1536, "time_step_rank": 48, "vocab_size": 50280,
  "pad_vocab_size_multiple": 8, "layer_norm_epsilon": 1e-05,
  "use_bias": false, "use_conv_bias": true, "hidden_act": "silu",
  "rms_norm": true, "residual_in_fp32": true})";

constexpr const char *kMambaSsm130m = R"({
  "d_model": 768, "d_intermediate": 0, "n_layer": 24, "vocab_size": 50277,
  "ssm_cfg": {}, "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": true,
  "residual_in_fp32": true, "fused_add_norm": true,
  "pad_vocab_size_multiple": 8, "tie_embeddings": true})";

TEST(ModelConfig, HuggingFaceSpelling) {
  ModelConfig config = parseOk(kHuggingFace130m);
  EXPECT_EQ(config.hiddenSize, 768);
  EXPECT_EQ(config.numLayers, 24);
  EXPECT_EQ(config.stateSize, 16);
  EXPECT_EQ(config.convKernel, 4);
  EXPECT_EQ(config.intermediateSize, 1536);
  EXPECT_EQ(config.dtRank, 48);
  EXPECT_EQ(config.vocabSize, 50280);
  EXPECT_DOUBLE_EQ(config.layerNormEpsilon, 1e-5);
  EXPECT_FALSE(config.useBias);
  EXPECT_TRUE(config.useConvBias);
  EXPECT_FALSE(config.memory.has_value());
}

TEST(ModelConfig, MambaSsmSpellingReadsAsTheSameModel) {
  // mamba_ssm pads 50277 up to 50280 and derives the rest from its Mamba-1
  // module; the result is the Hugging Face config of the same checkpoint.
  EXPECT_EQ(canonical(parseOk(kMambaSsm130m)),
            canonical(parseOk(kHuggingFace130m)));
}

TEST(ModelConfig, MambaSsmReadsSsmCfg) {
  ModelConfig config = parseOk(R"({"d_model": 64, "n_layer": 2,
      "vocab_size": 100, "ssm_cfg": {"d_state": 8, "d_conv": 3, "expand": 3,
      "dt_rank": 5, "bias": true, "conv_bias": false}})");
  EXPECT_EQ(config.stateSize, 8);
  EXPECT_EQ(config.convKernel, 3);
  EXPECT_EQ(config.intermediateSize, 192);
  EXPECT_EQ(config.dtRank, 5);
  EXPECT_EQ(config.vocabSize, 100);
  EXPECT_TRUE(config.useBias);
  EXPECT_FALSE(config.useConvBias);
}

TEST(ModelConfig, AutoDtRankAndDerivedInnerSize) {
  ModelConfig config = parseOk(R"({"hidden_size": 100, "num_hidden_layers": 1,
      "state_size": 4, "conv_kernel": 2, "expand": 2, "time_step_rank": "auto",
      "vocab_size": 10, "layer_norm_epsilon": 1e-6, "use_bias": true,
      "use_conv_bias": false})");
  EXPECT_EQ(config.dtRank, 7); // ceil(100 / 16)
  EXPECT_EQ(config.intermediateSize, 200);
  EXPECT_TRUE(config.useBias);
  EXPECT_FALSE(config.useConvBias);
}

TEST(ModelConfig, MemorySectionDefaultsAndRoundTrip) {
  ModelConfig config = parseOk(R"({"hidden_size": 64, "num_hidden_layers": 2,
      "state_size": 16, "conv_kernel": 4, "expand": 2, "time_step_rank": 4,
      "vocab_size": 256, "layer_norm_epsilon": 1e-05, "use_bias": false,
      "use_conv_bias": true, "memory": {"eviction": "fifo", "heads": 4}})");
  ASSERT_TRUE(config.memory.has_value());
  EXPECT_EQ(config.memory->poolSize, 50);
  EXPECT_EQ(config.memory->summaryDim, 64);
  EXPECT_DOUBLE_EQ(config.memory->noteThreshold, 0.5);
  EXPECT_DOUBLE_EQ(config.memory->readThreshold, 0.3);
  EXPECT_EQ(config.memory->crossLayerPeriod, 4);
  EXPECT_EQ(config.memory->crossLayerWindow, 4);
  EXPECT_EQ(config.memory->eviction, Eviction::Fifo);
  EXPECT_EQ(config.memory->heads, 4);
  EXPECT_EQ(canonical(parseOk(canonical(config))), canonical(config));
}

TEST(ModelConfig, CrossLayerSources) {
  ModelConfig config = parseOk(kHuggingFace130m);
  config.memory.emplace(); // p = 4, w = 4
  using Range = std::pair<int64_t, int64_t>;
  EXPECT_FALSE(config.hasCrossLayerAttention(0));
  EXPECT_FALSE(config.hasCrossLayerAttention(3));
  EXPECT_EQ(config.crossLayerSources(4), Range(0, 4));
  EXPECT_FALSE(config.hasCrossLayerAttention(5));
  EXPECT_EQ(config.crossLayerSources(8), Range(4, 8));
  config.memory->crossLayerPeriod = 2;
  config.memory->crossLayerWindow = 6;
  EXPECT_EQ(config.crossLayerSources(2), Range(0, 2));
  EXPECT_EQ(config.crossLayerSources(10), Range(4, 10));
  config.memory->crossLayerPeriod = 0;
  EXPECT_FALSE(config.hasCrossLayerAttention(4));
  config.memory->crossLayerPeriod = 4;
  config.memory->crossLayerWindow = 0;
  EXPECT_FALSE(config.hasCrossLayerAttention(4));
  config.memory.reset();
  EXPECT_FALSE(config.hasCrossLayerAttention(4));
}

struct ErrorCase {
  const char *json;
  const char *message;
};

class ModelConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ModelConfigErrors, NameTheKey) {
  std::string error = parseError(GetParam().json);
  EXPECT_NE(error.find(GetParam().message), std::string::npos)
      << "error was: " << error;
  EXPECT_EQ(error.rfind("config.json", 0), 0u) << "error was: " << error;
}

// A valid memmamba-tiny config followed by `extra` keys.
#define TINY(extra)                                                            \
  "{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"state_size\": 16, "       \
  "\"conv_kernel\": 4, \"expand\": 2, \"time_step_rank\": 4, "                 \
  "\"vocab_size\": 256, \"layer_norm_epsilon\": 1e-05, \"use_bias\": false, "  \
  "\"use_conv_bias\": true" extra "}"

INSTANTIATE_TEST_SUITE_P(
    Config, ModelConfigErrors,
    ::testing::Values(
        ErrorCase{"{\"hidden_size\": 64,", "config.json:1:"},
        ErrorCase{"[1, 2]", "expected a JSON object"},
        ErrorCase{R"({"num_hidden_layers": 2})",
                  "'hidden_size' (or 'd_model'): missing"},
        ErrorCase{TINY(", \"d_model\": 128"),
                  "'hidden_size': contradicts 'd_model' (64 vs 128)"},
        ErrorCase{TINY(", \"n_layer\": 3"),
                  "'num_hidden_layers': contradicts 'n_layer'"},
        ErrorCase{TINY(", \"intermediate_size\": 100"),
                  "'intermediate_size': 100 contradicts 'expand'"},
        ErrorCase{R"({"hidden_size": 64.5})",
                  "'hidden_size': expected an integer, got 64.5"},
        ErrorCase{R"({"hidden_size": 0})",
                  "'hidden_size': must be at least 1, got 0"},
        ErrorCase{R"({"hidden_size": "64"})",
                  "'hidden_size': expected an integer"},
        ErrorCase{R"({"hidden_size": 64, "num_hidden_layers": 2,
                     "conv_kernel": 4, "vocab_size": 10})",
                  "'state_size' (or 'd_state'): missing"},
        ErrorCase{R"({"hidden_size": 64, "num_hidden_layers": 2,
                     "state_size": 16, "conv_kernel": 4, "expand": 2,
                     "time_step_rank": 4, "vocab_size": 256,
                     "layer_norm_epsilon": 1e-05, "use_bias": 1})",
                  "'use_bias': expected true or false, got 1"},
        ErrorCase{R"({"hidden_size": 64, "num_hidden_layers": 2,
                     "state_size": 16, "conv_kernel": 4, "expand": 2,
                     "time_step_rank": "fast"})",
                  "'time_step_rank': expected an integer or \"auto\""},
        ErrorCase{R"({"hidden_size": 64, "num_hidden_layers": 2,
                     "state_size": 16, "conv_kernel": 4,
                     "time_step_rank": 4})",
                  "'intermediate_size' (or 'd_inner'): missing"},
        ErrorCase{TINY(", \"memory\": [1]"), "'memory': expected an object"},
        ErrorCase{TINY(", \"memory\": {\"pool\": 50}"),
                  "'memory.pool': unknown key"},
        ErrorCase{TINY(", \"memory\": {\"summary_dim\": 64, \"heads\": 3}"),
                  "'memory.heads': 3 does not divide memory.summary_dim (64)"},
        ErrorCase{TINY(", \"memory\": {\"eviction\": \"lru\"}"),
                  "'memory.eviction': expected \"priority\" or \"fifo\""},
        ErrorCase{TINY(", \"memory\": {\"pool_size\": 0}"),
                  "'memory.pool_size': must be at least 1"},
        ErrorCase{TINY(", \"memory\": {\"note_threshold\": \"high\"}"),
                  "'memory.note_threshold': expected a finite number"},
        ErrorCase{TINY(", \"model_type\": \"mamba2\""),
                  "'model_type': \"mamba2\" is not supported"},
        ErrorCase{R"({"d_model": 64, "n_layer": 2, "vocab_size": 10,
                     "ssm_cfg": {"layer": "Mamba2"}})",
                  "'ssm_cfg.layer': \"Mamba2\" is not supported"},
        ErrorCase{R"({"d_model": 64, "n_layer": 2, "vocab_size": 10,
                     "d_intermediate": 256})",
                  "'d_intermediate': MLP blocks"},
        ErrorCase{TINY(", \"rms_norm\": false"), "'rms_norm': only RMSNorm"},
        ErrorCase{R"({"hidden_size": 64, "num_hidden_layers": 2,
                     "state_size": 16, "conv_kernel": 4, "expand": 2,
                     "time_step_rank": 4, "vocab_size": 256,
                     "layer_norm_epsilon": -1})",
                  "'layer_norm_epsilon': must not be negative"}));

//===----------------------------------------------------------------------===//
// Bounds
//===----------------------------------------------------------------------===//

/// Keys to set in a config.
using Changes = std::initializer_list<llvm::json::Object::KV>;

/// A valid memmamba-tiny config (Hugging Face spelling) with `changes` set or,
/// where a change is null, removed; `memoryChanges` likewise in `memory`.
std::string tinyWith(Changes changes, Changes memoryChanges = {}) {
  llvm::json::Object memory{{"pool_size", 8},
                            {"summary_dim", 16},
                            {"cross_layer_period", 1},
                            {"cross_layer_window", 1},
                            {"heads", 2}};
  for (const auto &[key, value] : memoryChanges)
    memory[key] = value;
  llvm::json::Object root{
      {"model_type", "memmamba"},   {"hidden_size", 64},
      {"num_hidden_layers", 2},     {"state_size", 16},
      {"conv_kernel", 4},           {"expand", 2},
      {"time_step_rank", 4},        {"vocab_size", 256},
      {"layer_norm_epsilon", 1e-5}, {"use_bias", false},
      {"use_conv_bias", true},      {"memory", std::move(memory)}};
  for (const auto &[key, value] : changes) {
    if (value.kind() == llvm::json::Value::Null)
      root.erase(key);
    else
      root[key] = value;
  }
  std::string text;
  llvm::raw_string_ostream(text) << llvm::json::Value(std::move(root));
  return text;
}

/// Expects `json` to be refused with exactly `message`.
void expectError(const std::string &json, const std::string &message) {
  SCOPED_TRACE(json);
  EXPECT_EQ(parseError(json), message);
}

TEST(ModelConfigBounds, TinyIsWithinAllOfThem) {
  ModelConfig config = parseOk(tinyWith({}));
  EXPECT_FALSE(static_cast<bool>(config.checkSizes("tiny")));
  EXPECT_GT(config.numWeightElements(), 0);
  EXPECT_GT(config.stateBytesPerSequence(), 0);
}

TEST(ModelConfigBounds, EverySizeKeyNamesItsLimit) {
  struct Case {
    const char *key;
    int64_t limit;
  };
  // Each key at its limit parses (expand adjusted where the limit would break
  // another bound); one more, far more, 2^40 and 2^62 are refused.
  for (Case c :
       {Case{"hidden_size", kMaxHiddenSize},
        Case{"num_hidden_layers", kMaxLayers},
        Case{"state_size", kMaxStateSize}, Case{"conv_kernel", kMaxConvKernel},
        Case{"time_step_rank", kMaxDtRank},
        Case{"vocab_size", kMaxVocabSize}}) {
    SCOPED_TRACE(c.key);
    int64_t expand = llvm::StringRef(c.key) == "hidden_size" ? 1 : 2;
    parseOk(tinyWith({{c.key, c.limit}, {"expand", expand}}));
    for (int64_t value :
         {c.limit + 1, c.limit * 1000, int64_t(1) << 40, int64_t(1) << 62}) {
      expectError(tinyWith({{c.key, value}}),
                  "config.json: '" + std::string(c.key) + "' is " +
                      std::to_string(value) + ", the limit is " +
                      std::to_string(c.limit));
    }
  }
}

TEST(ModelConfigBounds, AtTheLimitsParses) {
  // (One layer: two would exceed the bound on all weights.)
  EXPECT_EQ(parseOk(tinyWith({{"hidden_size", kMaxHiddenSize},
                              {"expand", 4},
                              {"num_hidden_layers", 1},
                              {"vocab_size", 64}}))
                .intermediateSize,
            kMaxIntermediateSize);
  EXPECT_EQ(parseOk(tinyWith({{"num_hidden_layers", kMaxLayers},
                              {"state_size", kMaxStateSize},
                              {"conv_kernel", kMaxConvKernel}}))
                .numLayers,
            kMaxLayers);
  EXPECT_EQ(parseOk(tinyWith({{"vocab_size", kMaxVocabSize - 7},
                              {"pad_vocab_size_multiple", 8}}))
                .vocabSize,
            kMaxVocabSize);
  ModelConfig memory =
      parseOk(tinyWith({}, {{"pool_size", kMaxPoolSize},
                            {"summary_dim", kMaxSummaryDim},
                            {"heads", kMaxSummaryDim},
                            {"cross_layer_period", kMaxCrossLayerPeriod},
                            {"cross_layer_window", kMaxCrossLayerWindow}}));
  EXPECT_EQ(memory.memory->poolSize, kMaxPoolSize);
  EXPECT_EQ(memory.memory->heads, kMaxSummaryDim);
}

TEST(ModelConfigBounds, TheSpellingTheFileUsedIsNamed) {
  expectError(R"({"d_model": 64, "n_layer": 1000000, "vocab_size": 10})",
              "config.json: 'n_layer' is 1000000, the limit is 1024");
  expectError(R"({"d_model": 64, "n_layer": 2, "vocab_size": 10,
                  "ssm_cfg": {"d_state": 4096}})",
              "config.json: 'ssm_cfg.d_state' is 4096, the limit is 1024");
  expectError(R"({"d_model": 64, "n_layer": 2, "vocab_size": 10,
                  "d_inner": 1000000})",
              "config.json: 'd_inner' is 1000000, the limit is 262144");
  expectError(R"({"d_model": 64, "n_layer": 2, "vocab_size": 10,
                  "ssm_cfg": {"dt_rank": 100000}})",
              "config.json: 'ssm_cfg.dt_rank' is 100000, the limit is 65536");
  expectError(R"({"d_model": 64, "n_layer": 2, "vocab_size": 10,
                  "ssm_cfg": {"d_conv": 1000}})",
              "config.json: 'ssm_cfg.d_conv' is 1000, the limit is 64");
}

TEST(ModelConfigBounds, DerivedSizes) {
  // E = expand * D.
  expectError(tinyWith({{"expand", 5000}}),
              "config.json: 'expand' * hidden size is 5000 * 64 = 320000, the "
              "limit is 262144 (of 'intermediate_size')");
  expectError(tinyWith({{"expand", int64_t(1) << 62}}),
              "config.json: 'expand' is 4611686018427387904, the limit is "
              "262144");
  expectError(R"({"d_model": 1024, "n_layer": 2, "vocab_size": 10,
                  "ssm_cfg": {"expand": 1000}})",
              "config.json: 'ssm_cfg.expand' * hidden size is 1000 * 1024 = "
              "1024000, the limit is 262144 (of 'intermediate_size')");
  // V, padded.
  expectError(tinyWith({{"vocab_size", kMaxVocabSize - 1},
                        {"pad_vocab_size_multiple", 1000}}),
              "config.json: 'vocab_size' is 16777215, padded to a multiple of "
              "1000: 16778000, the limit is 16777216");
  expectError(
      tinyWith({{"vocab_size", kMaxVocabSize}, {"pad_vocab_size_multiple", 3}}),
      "config.json: 'vocab_size' is 16777216, padded to a multiple of "
      "3: 16777218, the limit is 16777216");
  for (int64_t multiple : {int64_t(65537), int64_t(1) << 40, int64_t(1) << 62})
    expectError(tinyWith({{"pad_vocab_size_multiple", multiple}}),
                "config.json: 'pad_vocab_size_multiple' is " +
                    std::to_string(multiple) + ", the limit is 65536");
}

TEST(ModelConfigBounds, MemoryKeys) {
  struct Case {
    const char *key;
    int64_t limit;
  };
  for (Case c :
       {Case{"pool_size", kMaxPoolSize}, Case{"summary_dim", kMaxSummaryDim},
        Case{"cross_layer_period", kMaxCrossLayerPeriod},
        Case{"cross_layer_window", kMaxCrossLayerWindow}})
    for (int64_t value :
         {c.limit + 1, int64_t(1000000000000), int64_t(1) << 62})
      expectError(tinyWith({}, {{c.key, value}}),
                  "config.json: 'memory." + std::string(c.key) + "' is " +
                      std::to_string(value) + ", the limit is " +
                      std::to_string(c.limit));
  expectError(tinyWith({}, {{"heads", 32}}),
              "config.json: 'memory.heads' is 32, the limit is "
              "'memory.summary_dim' (16)");
  expectError(tinyWith({}, {{"heads", int64_t(1) << 50}}),
              "config.json: 'memory.heads' is 1125899906842624, the limit is "
              "4096");
}

TEST(ModelConfigBounds, HugeAndOddNumbers) {
  // Integers beyond int64_t, doubles at and beyond 2^63 (converting those is
  // undefined behaviour in json::Value::getAsInteger), negative ones.
  expectError(tinyWith({{"hidden_size", uint64_t(1) << 63}}),
              "config.json: 'hidden_size' is 9223372036854775808, the limit "
              "is 65536");
  expectError(R"({"hidden_size": 18446744073709551615})",
              "config.json: 'hidden_size' is 18446744073709551615, the limit "
              "is 65536");
  EXPECT_NE(parseError(R"({"hidden_size": 9.223372036854775808e18})")
                .find("'hidden_size' is 9.22"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"hidden_size": 1e300})").find("the limit is 65536"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"hidden_size": -9.3e18})")
                .find("'hidden_size': must be at least 1, got -9.3"),
            std::string::npos);
  expectError(R"({"hidden_size": -9223372036854775808})",
              "config.json: 'hidden_size': must be at least 1, got "
              "-9223372036854775808");
  EXPECT_NE(parseError(R"({"hidden_size": 1e999})").find("expected an integer"),
            std::string::npos);
  // 64.0 is the integer 64.
  EXPECT_EQ(parseOk(tinyWith({{"hidden_size", 64.0}})).hiddenSize, 64);
}

TEST(ModelConfigBounds, NumbersMustBeFinite) {
  for (const char *key :
       {"layer_norm_epsilon", "rms_norm_eps", "norm_epsilon"}) {
    std::string json = tinyWith({{"layer_norm_epsilon", nullptr}});
    json.insert(1, "\"" + std::string(key) + "\": 1e999, ");
    EXPECT_NE(parseError(json).find("'" + std::string(key) +
                                    "': expected a finite number"),
              std::string::npos);
  }
  for (const char *key : {"note_threshold", "read_threshold"}) {
    std::string json = tinyWith({{"memory", nullptr}});
    json.insert(1, "\"memory\": {\"" + std::string(key) + "\": -1e400}, ");
    EXPECT_NE(parseError(json).find("'memory." + std::string(key) +
                                    "': expected a finite number"),
              std::string::npos);
  }
}

TEST(ModelConfigBounds, NegativeZeroReadsAsZero) {
  // Found by the fuzzer: -0.0 was written back as "-0", which reads as the
  // integer 0, so the canonical config did not read back as itself.
  ModelConfig config = parseOk(
      tinyWith({{"layer_norm_epsilon", -0.0}}, {{"note_threshold", -0.0}}));
  EXPECT_FALSE(std::signbit(config.layerNormEpsilon));
  EXPECT_FALSE(std::signbit(config.memory->noteThreshold));
  EXPECT_EQ(canonical(parseOk(canonical(config))), canonical(config));
}

TEST(ModelConfigBounds, TotalWeightsAreBounded) {
  // Every key within its bound, the weights beyond 2^36.
  std::string error = parseError(tinyWith({{"hidden_size", kMaxHiddenSize},
                                           {"expand", 4},
                                           {"vocab_size", kMaxVocabSize},
                                           {"num_hidden_layers", kMaxLayers}}));
  EXPECT_EQ(error.rfind("config.json: the model has ", 0), 0u) << error;
  EXPECT_NE(error.find("weights (65536 hidden, 1024 layers, vocabulary "
                       "16777216), the limit is 68719476736 (2^36"),
            std::string::npos)
      << error;
}

TEST(ModelConfigBounds, CheckSizesOfConfigsMadeInCode) {
  ModelConfig config = parseOk(tinyWith({}));
  auto errorFor = [](ModelConfig changed) {
    llvm::Error error = changed.checkSizes("manifest");
    return error ? llvm::toString(std::move(error)) : std::string();
  };
  ModelConfig bad = config;
  bad.numLayers = int64_t(1) << 40;
  EXPECT_EQ(
      errorFor(bad),
      "manifest: 'num_hidden_layers' is 1099511627776, the limit is 1024");
  bad = config;
  bad.vocabSize = 0;
  EXPECT_EQ(errorFor(bad), "manifest: 'vocab_size' must be at least 1, got 0");
  bad = config;
  bad.memory->poolSize = int64_t(1) << 62;
  EXPECT_EQ(errorFor(bad), "manifest: 'memory.pool_size' is "
                           "4611686018427387904, the limit is 4096");
  // The totals do not overflow: they report -1 instead.
  EXPECT_EQ(bad.stateBytesPerSequence(), -1);
  bad.memory.reset();
  bad.numLayers = int64_t(1) << 62;
  EXPECT_EQ(bad.stateBytesPerSequence(), -1);
  bad = config;
  bad.layerNormEpsilon = std::nan("");
  EXPECT_NE(errorFor(bad).find("'layer_norm_epsilon' must be a finite"),
            std::string::npos);
  bad = config;
  bad.memory->heads = 3;
  EXPECT_NE(errorFor(bad).find("does not divide"), std::string::npos);
}

TEST(ModelConfigBounds, StateAndWeightTotalsMatchTheWeightList) {
  ModelConfig config = parseOk(tinyWith({}));
  int64_t total = 0;
  for (const WeightSpec &spec : modelWeights(config)) {
    int64_t elements = 1;
    for (int64_t dim : spec.shape)
      elements *= dim;
    total += elements;
  }
  EXPECT_EQ(config.numWeightElements(), total);
  // The largest state the bounds allow still fits in int64_t.
  ModelConfig largest = parseOk(
      tinyWith({{"hidden_size", 1024},
                {"expand", 256},
                {"state_size", kMaxStateSize},
                {"conv_kernel", kMaxConvKernel},
                {"num_hidden_layers", 16},
                {"vocab_size", 1000}},
               {{"pool_size", kMaxPoolSize}, {"summary_dim", kMaxSummaryDim}}));
  EXPECT_GT(largest.stateBytesPerSequence(), int64_t(1) << 30);
}

//===----------------------------------------------------------------------===//
// Hostile text and files
//===----------------------------------------------------------------------===//

TEST(ModelConfigInput, DeepNestingIsRefusedWithoutRecursion) {
  for (size_t depth : {65, 1000, 100000}) {
    std::string arrays = std::string(depth, '[') + std::string(depth, ']');
    std::string error = parseError(arrays);
    EXPECT_EQ(error, "config.json:1:64: invalid JSON: nested deeper than 64 "
                     "levels");
    std::string objects;
    for (size_t i = 0; i < depth; ++i)
      objects += "{\"a\":";
    EXPECT_NE(parseError(objects).find("nested deeper than 64 levels"),
              std::string::npos);
  }
  // Brackets in strings do not nest.
  EXPECT_EQ(parseError("{\"name\": \"" + std::string(100000, '[') +
                       "\", \"hidden_size\": 0}"),
            "config.json: 'hidden_size': must be at least 1, got 0");
}

TEST(ModelConfigInput, ManyValuesAreRefusedBeforeParsing) {
  std::string json = "{\"list\": [";
  for (int i = 0; i < (1 << 20) + 5; ++i)
    json += "0,";
  json += "0]}";
  std::string error = parseError(json);
  EXPECT_EQ(error.rfind("config.json: too large: up to ", 0), 0u) << error;
  EXPECT_NE(error.find("the limit is 1048576"), std::string::npos) << error;
}

TEST(ModelConfigInput, DevicesAndOversizedFilesAreClearErrors) {
  auto start = std::chrono::steady_clock::now();
  llvm::Expected<ModelConfig> zero = loadModelConfig("/dev/zero");
  ASSERT_FALSE(static_cast<bool>(zero));
  EXPECT_EQ(llvm::toString(zero.takeError()),
            "/dev/zero: a config larger than 16 MiB (the limit)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  llvm::Expected<ModelConfig> empty = loadModelConfig("/dev/null");
  ASSERT_FALSE(static_cast<bool>(empty));
  EXPECT_NE(llvm::toString(empty.takeError()).find("/dev/null"),
            std::string::npos);

  // A regular file over the limit is refused without reading it.
  llvm::SmallString<128> big;
  int fd;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("mm-big", "json", fd, big));
  ASSERT_FALSE(llvm::sys::fs::resize_file(fd, kMaxConfigBytes + 1));
  ::close(fd);
  llvm::Expected<ModelConfig> tooBig = loadModelConfig(big);
  ASSERT_FALSE(static_cast<bool>(tooBig));
  EXPECT_EQ(llvm::toString(tooBig.takeError()),
            std::string(big) + ": a config larger than 16 MiB (the limit)");
  llvm::sys::fs::remove(big);
}

TEST(ModelConfig, LoadsAModelFolder) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("mm-config", dir));
  llvm::SmallString<128> file(dir);
  llvm::sys::path::append(file, "config.json");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    ASSERT_FALSE(ec);
    os << kHuggingFace130m;
  }
  llvm::Expected<ModelConfig> fromFolder = loadModelConfig(dir);
  ASSERT_TRUE(static_cast<bool>(fromFolder))
      << llvm::toString(fromFolder.takeError());
  EXPECT_EQ(fromFolder->hiddenSize, 768);
  llvm::sys::fs::remove(file);
  llvm::sys::fs::remove(dir);

  llvm::Expected<ModelConfig> missing = loadModelConfig(file);
  ASSERT_FALSE(static_cast<bool>(missing));
  std::string error = llvm::toString(missing.takeError());
  EXPECT_NE(error.find(std::string(file) + ": cannot read"), std::string::npos)
      << error;
}

} // namespace
