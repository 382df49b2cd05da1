//===- ModelConfigTest.cpp - config.json parsing --------------------------===//

#include "runtime/ModelConfig.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

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
