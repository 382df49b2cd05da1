//===- WeightNamesTest.cpp - the tensors a config implies -----------------===//

#include "common/WeightNames.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace mm;

namespace {

ModelConfig tinyConfig() {
  ModelConfig config;
  config.hiddenSize = 64;
  config.numLayers = 2;
  config.stateSize = 16;
  config.convKernel = 4;
  config.intermediateSize = 128;
  config.dtRank = 4;
  config.vocabSize = 256;
  config.layerNormEpsilon = 1e-5;
  return config;
}

const WeightSpec *find(const std::vector<WeightSpec> &specs,
                       const std::string &name) {
  auto it = std::find_if(specs.begin(), specs.end(),
                         [&](const WeightSpec &s) { return s.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

TEST(WeightNames, MambaLayerMatchesTheCheckpointLayout) {
  ModelConfig config = tinyConfig();
  std::vector<WeightSpec> specs = modelWeights(config);
  // embedding + 10 per layer + norm_f + lm_head
  EXPECT_EQ(specs.size(), 1u + 2 * 10 + 2);
  const WeightSpec *inProj =
      find(specs, "backbone.layers.1.mixer.in_proj.weight");
  ASSERT_TRUE(inProj);
  EXPECT_EQ(inProj->shape, (std::vector<int64_t>{256, 64}));
  const WeightSpec *conv = find(specs, "backbone.layers.0.mixer.conv1d.weight");
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->shape, (std::vector<int64_t>{128, 1, 4}));
  const WeightSpec *xProj =
      find(specs, "backbone.layers.0.mixer.x_proj.weight");
  ASSERT_TRUE(xProj);
  EXPECT_EQ(xProj->shape, (std::vector<int64_t>{4 + 2 * 16, 128}));
  const WeightSpec *head = find(specs, "lm_head.weight");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->fallback, "backbone.embeddings.weight");
  EXPECT_FALSE(find(specs, "backbone.layers.0.mixer.in_proj.bias"));
}

TEST(WeightNames, BiasFlags) {
  ModelConfig config = tinyConfig();
  config.useBias = true;
  config.useConvBias = false;
  std::vector<WeightSpec> specs = layerWeights(config, 0);
  EXPECT_TRUE(find(specs, "backbone.layers.0.mixer.in_proj.bias"));
  EXPECT_TRUE(find(specs, "backbone.layers.0.mixer.out_proj.bias"));
  EXPECT_FALSE(find(specs, "backbone.layers.0.mixer.conv1d.bias"));
}

TEST(WeightNames, MemoryWeightsOnlyWhereTheConfigUsesThem) {
  ModelConfig config = tinyConfig();
  config.numLayers = 5;
  config.memory.emplace();
  config.memory->summaryDim = 16;
  config.memory->crossLayerPeriod = 4;
  std::vector<WeightSpec> layer0 = layerWeights(config, 0);
  std::vector<WeightSpec> layer4 = layerWeights(config, 4);
  EXPECT_EQ(layer0.size(), 10u + 10u);
  EXPECT_EQ(layer4.size(), 10u + 10u + 5u);
  EXPECT_FALSE(find(layer0, "backbone.layers.0.memory.layer_gate"));
  const WeightSpec *q =
      find(layer4, "backbone.layers.4.memory.layer_attn.q.weight");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{16, 64}));
  const WeightSpec *o =
      find(layer0, "backbone.layers.0.memory.token_attn.o.weight");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->shape, (std::vector<int64_t>{64, 16}));
}

TEST(WeightNamesTest, MatrixProductWeightsAreTheBackbonesProductsAndTheEmbedding) {
  for (const char *name :
       {"backbone.embeddings.weight", "lm_head.weight",
        "backbone.layers.0.mixer.in_proj.weight",
        "backbone.layers.12.mixer.x_proj.weight",
        "backbone.layers.3.mixer.dt_proj.weight",
        "backbone.layers.3.mixer.out_proj.weight"})
    EXPECT_TRUE(isMatrixProductWeight(name)) << name;
  for (const char *name :
       {"backbone.norm_f.weight", "backbone.layers.0.mixer.in_proj.bias",
        "backbone.layers.0.mixer.dt_proj.bias", "backbone.layers.0.mixer.A_log",
        "backbone.layers.0.mixer.conv1d.weight", "backbone.layers.0.mixer.D",
        "backbone.layers.0.norm.weight",
        "backbone.layers.0.memory.note_summary.weight",
        "backbone.layers.0.memory.token_attn.q.weight",
        "backbone.layers.x.mixer.in_proj.weight",
        "backbone.layers..mixer.in_proj.weight",
        "backbone.embedding.weight"})
    EXPECT_FALSE(isMatrixProductWeight(name)) << name;
}

} // namespace
