//===- mm-init-weights.cpp - random weights for a config ------------------===//
//
// mm-init-weights CONFIG -o FILE [--seed N] [--dtype f32|bf16|f16]
//                 [--untied-lm-head]
//
// Writes a safetensors checkpoint with every tensor CONFIG implies,
// initialised as Mamba initialises a new model (runtime/WeightInit.h).
//
//===----------------------------------------------------------------------===//

#include "common/ModelConfig.h"
#include "common/WeightNames.h"
#include "runtime/HostMemory.h"
#include "runtime/Safetensors.h"
#include "runtime/WeightInit.h"
#include "tools/ToolMain.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"

namespace cl = llvm::cl;
using namespace mm;

namespace {
cl::OptionCategory category("mm-init-weights options");
cl::opt<std::string> configPath(cl::Positional, cl::Required,
                                cl::desc("<config.json or model folder>"),
                                cl::cat(category));
cl::opt<std::string> outputPath("o", cl::Required,
                                cl::desc("Output .safetensors file"),
                                cl::value_desc("file"), cl::cat(category));
cl::opt<uint64_t> seed("seed", cl::desc("Random seed (default 0)"), cl::init(0),
                       cl::cat(category));
cl::opt<DType> dtype("dtype", cl::desc("Stored element type"),
                     cl::values(clEnumValN(DType::F32, "f32", "float32"),
                                clEnumValN(DType::BF16, "bf16", "bfloat16"),
                                clEnumValN(DType::F16, "f16", "float16")),
                     cl::init(DType::F32), cl::cat(category));
cl::opt<bool> untied("untied-lm-head",
                     cl::desc("Write lm_head.weight instead of tying it to "
                              "the embedding"),
                     cl::init(false), cl::cat(category));
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "random MemMamba weights with Mamba's "
                              "initialisation\n");
  return runTool("mm-init-weights", []() -> llvm::Error {
    auto config = loadModelConfig(configPath);
    if (!config)
      return config.takeError();
    // The values are made in f32, then written: a config whose weights do
    // not fit is an error before any of them is made.
    if (llvm::Error err = checkFitsInMemory(
            4 * config->numWeightElements(),
            "the weights of " + configPath + " (" +
                llvm::Twine(config->numWeightElements()) + " values)"))
      return err;
    WeightInitOptions options;
    options.seed = seed;
    options.untiedLmHead = untied;
    llvm::StringMap<ModelWeights::Tensor> tensors =
        initializeWeights(*config, options);

    // Checkpoint order: the order modelWeights() lists the tensors in.
    std::vector<TensorToWrite> toWrite;
    for (const WeightSpec &spec : modelWeights(*config)) {
      auto it = tensors.find(spec.name);
      if (it == tensors.end())
        continue;
      toWrite.push_back(
          {spec.name, dtype, it->second.shape, it->second.values});
    }
    std::map<std::string, std::string> metadata{
        {"format", "pt"},
        {"generator", "mm-init-weights"},
        {"seed", std::to_string(seed)}};
    return writeSafetensors(outputPath, toWrite, metadata);
  });
}
