//===- ModelWeightsTest.cpp - binding checkpoints to configs --------------===//

#include "RuntimeTestUtil.h"

#include "common/WeightNames.h"
#include "runtime/Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mm;
using namespace mm::testing;

namespace {

class ModelWeightsTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("mm-weights", dir));
    config = memmambaTiny();
    WeightInitOptions options;
    options.seed = 42;
    tensors = initializeWeights(config, options);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(llvm::StringRef name) const {
    llvm::SmallString<128> result(dir);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }

  /// Writes `tensors` (in checkpoint order, then any extra) as `dtype`.
  std::string write(llvm::StringRef name, DType dtype = DType::F32) {
    std::vector<TensorToWrite> toWrite;
    for (const auto &entry : tensors)
      toWrite.push_back({entry.first().str(), dtype, entry.second.shape,
                         entry.second.values});
    std::string file = path(name);
    if (llvm::Error err = writeSafetensors(file, toWrite)) {
      ADD_FAILURE() << llvm::toString(std::move(err));
    }
    return file;
  }

  std::string loadError(const std::string &file) {
    auto weights = ModelWeights::load(config, file);
    if (weights) {
      ADD_FAILURE() << "loaded, but should not have";
      return "";
    }
    return llvm::toString(weights.takeError());
  }

  llvm::SmallString<128> dir;
  ModelConfig config;
  llvm::StringMap<ModelWeights::Tensor> tensors;
};

TEST_F(ModelWeightsTest, LoadsACheckpointAndTiesTheHead) {
  auto weights = ModelWeights::load(config, write("model.safetensors"));
  ASSERT_TRUE(static_cast<bool>(weights))
      << llvm::toString(weights.takeError());
  EXPECT_TRUE(weights->tiedLmHead());
  EXPECT_EQ(weights->get(weight::kLmHead), weights->get(weight::kEmbedding));
  std::string name = layerWeightName(1, weight::kXProj);
  EXPECT_EQ(weights->get(name), tensors[name].values);
}

TEST_F(ModelWeightsTest, ReportsEveryProblemByName) {
  std::string missing = layerWeightName(1, weight::kXProj);
  std::string misShaped = layerWeightName(0, weight::kD);
  tensors.erase(missing);
  tensors[misShaped].shape = {2, 64};
  tensors["backbone.layers.0.mixer.extra"] = {{2}, {1.0f, 2.0f}};
  std::string error = loadError(write("bad.safetensors"));
  EXPECT_NE(error.find("bad.safetensors: 3 problems with the weights"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("missing tensor '" + missing + "' [36, 128]"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("tensor '" + misShaped +
                       "' has shape [2, 64], expected [128]"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("unexpected tensor 'backbone.layers.0.mixer.extra'"),
            std::string::npos)
      << error;
}

TEST_F(ModelWeightsTest, RejectsDTypesThatAreNotFloats) {
  // One I32 tensor among valid ones, written by hand.
  std::string header = R"({"backbone.norm_f.weight":{"dtype":"I32",)"
                       R"("shape":[64],"data_offsets":[0,256]}})";
  std::string file = path("int.safetensors");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    ASSERT_FALSE(ec);
    uint64_t size = header.size();
    os.write(reinterpret_cast<const char *>(&size), 8);
    os << header << std::string(256, '\0');
  }
  // Checked against a config whose only other tensors are absent: the dtype
  // problem is listed with them.
  std::string error = loadError(file);
  EXPECT_NE(error.find("tensor 'backbone.norm_f.weight' has dtype I32 "
                       "(expected F32, F16 or BF16)"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("missing tensor 'backbone.embeddings.weight'"),
            std::string::npos)
      << error;
}

TEST_F(ModelWeightsTest, AcceptsTheMambaSsmEmbeddingName) {
  tensors[weight::kEmbeddingMambaSsm] = tensors[weight::kEmbedding];
  tensors.erase(weight::kEmbedding);
  auto weights = ModelWeights::load(config, write("ssm.safetensors"));
  ASSERT_TRUE(static_cast<bool>(weights))
      << llvm::toString(weights.takeError());
  EXPECT_EQ(weights->get(weight::kEmbedding),
            tensors[weight::kEmbeddingMambaSsm].values);
  // Both names at once are ambiguous.
  tensors[weight::kEmbedding] = tensors[weight::kEmbeddingMambaSsm];
  EXPECT_NE(loadError(write("both.safetensors"))
                .find("both 'backbone.embeddings.weight' and "
                      "'backbone.embedding.weight' are present"),
            std::string::npos);
}

TEST_F(ModelWeightsTest, UntiedHeadIsUsed) {
  WeightInitOptions options;
  options.seed = 42;
  options.untiedLmHead = true;
  tensors = initializeWeights(config, options);
  auto weights = ModelWeights::load(config, write("untied.safetensors"));
  ASSERT_TRUE(static_cast<bool>(weights))
      << llvm::toString(weights.takeError());
  EXPECT_FALSE(weights->tiedLmHead());
  EXPECT_EQ(weights->get(weight::kLmHead), tensors[weight::kLmHead].values);
  EXPECT_NE(weights->get(weight::kLmHead), weights->get(weight::kEmbedding));
}

TEST_F(ModelWeightsTest, LoadsAHuggingFaceFolder) {
  write("model.safetensors", DType::BF16);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path("config.json"), ec);
    ASSERT_FALSE(ec);
    os << toJSON(config);
  }
  auto weights = ModelWeights::loadFolder(dir);
  ASSERT_TRUE(static_cast<bool>(weights))
      << llvm::toString(weights.takeError());
  // Stored as bf16, read back exactly as the rounded values.
  std::string name = layerWeightName(0, weight::kInProj);
  const std::vector<float> &loaded = weights->get(name);
  const std::vector<float> &original = tensors[name].values;
  ASSERT_EQ(loaded.size(), original.size());
  for (size_t i = 0; i < loaded.size(); ++i)
    ASSERT_EQ(loaded[i], bfloat16ToFloat(floatToBfloat16(original[i])));
}

TEST_F(ModelWeightsTest, InMemoryTensorsAreCheckedToo) {
  tensors[layerWeightName(0, weight::kNorm)].values.pop_back();
  auto weights = ModelWeights::fromTensors(config, tensors, "memory");
  ASSERT_FALSE(static_cast<bool>(weights));
  EXPECT_NE(llvm::toString(weights.takeError())
                .find("memory: tensor 'backbone.layers.0.norm.weight' has "
                      "shape [64] but 63 values"),
            std::string::npos);
}

} // namespace
