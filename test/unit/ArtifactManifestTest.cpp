//===- ArtifactManifestTest.cpp - the manifest schema, both ways ----------===//
//
// The compiler writes manifests with ManifestContents::toJSON and the
// runtime reads them with parseArtifactManifest (common/ArtifactManifest.h):
// what one writes for a config, the other accepts, with the same numbers,
// and a manifest that disagrees with its config in one field is refused.
//
//===----------------------------------------------------------------------===//

#include "common/ArtifactManifest.h"
#include "common/WeightNames.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace mm;

namespace {

/// examples/memmamba-tiny.json, and the same backbone without memory.
constexpr const char *kTinyConfig = R"({
  "model_type": "memmamba", "hidden_size": 64, "num_hidden_layers": 2,
  "state_size": 16, "conv_kernel": 4, "expand": 2, "time_step_rank": 4,
  "vocab_size": 256, "layer_norm_epsilon": 1e-05, "use_bias": false,
  "use_conv_bias": true,
  "memory": {"pool_size": 8, "summary_dim": 16, "cross_layer_period": 1,
             "cross_layer_window": 1, "heads": 2}})";
constexpr const char *kMambaConfig = R"({
  "model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 3,
  "state_size": 16, "conv_kernel": 4, "expand": 2, "time_step_rank": 4,
  "vocab_size": 256, "layer_norm_epsilon": 1e-05, "use_bias": false,
  "use_conv_bias": true})";

/// The manifest a compiler writes for `config`: its weights in checkpoint
/// order, each 64-byte aligned as lowering/Manifest.cpp lays them out, and
/// its state layout.
/// With a reduced `precision` the matrix products' weights and the
/// embedding are stored in it, in half as many words.
ManifestContents contentsFor(const ModelConfig &config,
                             Precision precision = Precision::F32) {
  ManifestContents contents;
  contents.compilerVersion = "test";
  contents.config = toJSON(config);
  contents.precision = precision;
  for (const WeightSpec &spec : modelWeights(config)) {
    Precision dtype =
        isMatrixProductWeight(spec.name) ? precision : Precision::F32;
    contents.weights.push_back({spec.name, /*fallback=*/"", spec.shape,
                                contents.weightFloats, dtype});
    int64_t count = 1;
    for (int64_t dim : spec.shape)
      count *= dim;
    contents.weightFloats += (weightWords(count, dtype) + 15) / 16 * 16;
  }
  for (const StateField &field : stateLayout(config))
    contents.state.push_back(toManifestStateField(field));
  contents.stateBytesPerSequence = config.stateBytesPerSequence();
  return contents;
}

std::string text(const llvm::json::Value &value) {
  std::string result;
  llvm::raw_string_ostream(result) << value;
  return result;
}

struct NamedConfig {
  const char *name;
  const char *json;
};

class ArtifactManifestTest : public ::testing::TestWithParam<NamedConfig> {
protected:
  ModelConfig config() {
    llvm::Expected<ModelConfig> parsed =
        parseModelConfig(GetParam().json, "config.json");
    if (!parsed) {
      ADD_FAILURE() << llvm::toString(parsed.takeError());
      return {};
    }
    return *parsed;
  }
};

TEST_P(ArtifactManifestTest, WhatTheCompilerWritesTheRuntimeReads) {
  ModelConfig modelConfig = config();
  ManifestContents contents = contentsFor(modelConfig);
  llvm::json::Value json = contents.toJSON();
  json.getAsObject()->insert({"target", llvm::json::Object{{"kind", "cpu"}}});
  llvm::Expected<ArtifactManifest> manifest =
      parseArtifactManifest(text(json), "test (manifest)");
  ASSERT_TRUE(bool(manifest)) << llvm::toString(manifest.takeError());

  EXPECT_EQ(manifest->object.getInteger("abi_version"), kArtifactAbiVersion);
  EXPECT_EQ(manifest->object.getString("compiler_version"), "test");
  EXPECT_EQ(manifest->kind, "cpu");
  EXPECT_EQ(manifest->config.numLayers, modelConfig.numLayers);
  EXPECT_EQ(manifest->config.memory.has_value(),
            modelConfig.memory.has_value());
  EXPECT_EQ(manifest->weightFloats, contents.weightFloats);
  ASSERT_EQ(manifest->weights.size(), contents.weights.size());
  for (size_t i = 0; i < contents.weights.size(); ++i) {
    EXPECT_EQ(manifest->weights[i].name, contents.weights[i].name);
    EXPECT_EQ(manifest->weights[i].offset, contents.weights[i].offset);
  }
  EXPECT_EQ(manifest->stateBytes, modelConfig.stateBytesPerSequence());
  ASSERT_EQ(manifest->fields.size(), contents.state.size());
  for (size_t i = 0; i < contents.state.size(); ++i) {
    ManifestStateField field = toManifestStateField(manifest->fields[i]);
    EXPECT_EQ(field.name, contents.state[i].name);
    EXPECT_EQ(field.dtype, contents.state[i].dtype);
    EXPECT_EQ(field.offset, contents.state[i].offset);
    EXPECT_EQ(contents.findField(field.name), &contents.state[i]);
  }
  EXPECT_EQ(contents.findWeight(weight::kEmbedding), &contents.weights[0]);
  EXPECT_EQ(contents.findWeight("no.such.weight"), nullptr);
}

TEST_P(ArtifactManifestTest, OneFieldOffItsConfigIsRefused) {
  ModelConfig modelConfig = config();
  // The last field (the position, or the last layer's SSM state) as i32
  // where its config says f32, or the other way round.
  ManifestContents contents = contentsFor(modelConfig);
  ManifestStateField &last = contents.state.back();
  last.dtype = last.dtype == "f32" ? "i32" : "f32";
  llvm::Expected<ArtifactManifest> manifest =
      parseArtifactManifest(text(contents.toJSON()), "test (manifest)");
  ASSERT_FALSE(bool(manifest));
  EXPECT_EQ(llvm::toString(manifest.takeError()),
            "corrupt manifest: state field " +
                std::to_string(contents.state.size() - 1) + " is not " +
                last.name + " as its config lays it out");

  // A weight left out.
  contents = contentsFor(modelConfig);
  std::string dropped = contents.weights.back().name;
  contents.weights.pop_back();
  manifest = parseArtifactManifest(text(contents.toJSON()), "test (manifest)");
  ASSERT_FALSE(bool(manifest));
  EXPECT_EQ(llvm::toString(manifest.takeError()),
            "corrupt manifest: weight '" + dropped +
                "' of its config is missing from its weight list");
}

TEST_P(ArtifactManifestTest, AnotherAbiVersionIsRefused) {
  llvm::json::Value json = contentsFor(config()).toJSON();
  (*json.getAsObject())["abi_version"] = kArtifactAbiVersion + 1;
  llvm::Expected<ArtifactManifest> manifest =
      parseArtifactManifest(text(json), "test (manifest)");
  ASSERT_FALSE(bool(manifest));
  EXPECT_EQ(llvm::toString(manifest.takeError()),
            "artifact ABI version " + std::to_string(kArtifactAbiVersion + 1) +
                ", this runtime runs version " +
                std::to_string(kArtifactAbiVersion) +
                " (recompile it with this version's mm-compile)");
}

TEST_P(ArtifactManifestTest, AReducedPrecisionRoundTrips) {
  for (Precision precision : {Precision::BF16, Precision::F16}) {
    ManifestContents contents = contentsFor(config(), precision);
    llvm::Expected<ArtifactManifest> manifest =
        parseArtifactManifest(text(contents.toJSON()), "test (manifest)");
    ASSERT_TRUE(bool(manifest)) << llvm::toString(manifest.takeError());
    EXPECT_EQ(manifest->precision, precision);
    EXPECT_EQ(manifest->weightFloats, contents.weightFloats);
    // Half as many words as in f32 for the reduced weights.
    EXPECT_LT(contents.weightFloats, contentsFor(config()).weightFloats);
    ASSERT_EQ(manifest->weights.size(), contents.weights.size());
    for (size_t i = 0; i < contents.weights.size(); ++i) {
      EXPECT_EQ(manifest->weights[i].offset, contents.weights[i].offset);
      EXPECT_EQ(manifest->weights[i].dtype, contents.weights[i].dtype);
    }
    EXPECT_EQ(manifest->weights[0].dtype, precision); // the embedding
  }
}

TEST_P(ArtifactManifestTest, AWeightOfAnotherPrecisionIsRefused) {
  // A bf16 weight in an f32 artifact, and an unknown precision.
  ManifestContents contents = contentsFor(config());
  contents.weights[0].dtype = Precision::BF16;
  llvm::Expected<ArtifactManifest> manifest =
      parseArtifactManifest(text(contents.toJSON()), "test (manifest)");
  ASSERT_FALSE(bool(manifest));
  EXPECT_EQ(llvm::toString(manifest.takeError()),
            std::string("corrupt manifest: weight '") + weight::kEmbedding +
                "' has dtype 'bf16' in an artifact of precision f32");

  llvm::json::Value json = contentsFor(config()).toJSON();
  (*json.getAsObject())["precision"] = "fp8";
  manifest = parseArtifactManifest(text(json), "test (manifest)");
  ASSERT_FALSE(bool(manifest));
  EXPECT_EQ(llvm::toString(manifest.takeError()),
            "corrupt manifest: precision 'fp8' (this runtime runs f32, bf16 "
            "and f16)");
}

INSTANTIATE_TEST_SUITE_P(Configs, ArtifactManifestTest,
                         ::testing::Values(NamedConfig{"MemMambaTiny",
                                                       kTinyConfig},
                                           NamedConfig{"Mamba", kMambaConfig}),
                         [](const ::testing::TestParamInfo<NamedConfig> &info) {
                           return std::string(info.param.name);
                         });

} // namespace
