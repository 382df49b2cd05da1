//===- StateLayout.cpp - the per-sequence state of a config ---------------===//

#include "common/StateLayout.h"

using namespace mm;

std::string mm::stateFieldName(llvm::StringRef kind, int64_t layer) {
  return layer < 0 ? kind.str()
                   : "layers." + std::to_string(layer) + "." + kind.str();
}

std::vector<StateField> mm::stateLayout(const ModelConfig &config) {
  std::vector<StateField> fields;
  int64_t offset = 0;
  auto add = [&](const char *kind, int64_t layer, std::vector<int64_t> shape,
                 bool isFloat) {
    StateField field;
    field.name = stateFieldName(kind, layer);
    field.kind = kind;
    field.layer = layer;
    field.isFloat = isFloat;
    field.elements = 1;
    for (int64_t dim : shape)
      field.elements *= dim;
    field.shape = std::move(shape);
    field.offset = offset;
    offset += 4 * field.elements;
    fields.push_back(std::move(field));
  };
  const int64_t e = config.intermediateSize;
  for (int64_t layer = 0; layer < config.numLayers; ++layer) {
    add("conv_window", layer, {e, config.convKernel - 1}, true);
    add("ssm_state", layer, {e, config.stateSize}, true);
    if (const std::optional<MemoryConfig> &memory = config.memory) {
      const int64_t m = memory->poolSize;
      add("previous_mixer", layer, {config.hiddenSize}, true);
      add("pool_slots", layer, {m, memory->summaryDim}, true);
      add("pool_priorities", layer, {m}, true);
      add("pool_positions", layer, {m}, false);
      add("pool_count", layer, {}, false);
    }
  }
  if (config.memory)
    add("position", -1, {}, false);
  return fields;
}
