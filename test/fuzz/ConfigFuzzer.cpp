//===- ConfigFuzzer.cpp - libFuzzer target for the config reader ----------===//
//
// Feeds arbitrary bytes to parseModelConfig. Every error must name the file;
// whatever parses must be within the limits of ModelConfig.h, have totals that
// fit, and read back the same from its canonical spelling. ASan and UBSan
// catch what the reader gets wrong (stack overflow on deep nesting, integer
// overflow in derived sizes, out-of-range conversions).
//
//===----------------------------------------------------------------------===//

#include "common/ModelConfig.h"

#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mm;

namespace {

std::string canonical(const ModelConfig &config) {
  std::string text;
  llvm::raw_string_ostream(text) << toJSON(config);
  return text;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<ModelConfig> config = parseModelConfig(text, "fuzz.json");
  if (!config) {
    std::string message = llvm::toString(config.takeError());
    if (message.rfind("fuzz.json", 0) != 0)
      __builtin_trap(); // every error names the file
    return 0;
  }

  // Within every bound, with totals that fit.
  if (llvm::Error error = config->checkSizes("fuzz.json")) {
    llvm::consumeError(std::move(error));
    __builtin_trap();
  }
  int64_t weights = config->numWeightElements();
  int64_t stateBytes = config->stateBytesPerSequence();
  if (weights <= 0 || weights > kMaxWeightElements || stateBytes <= 0)
    __builtin_trap();
  volatile int64_t sink = 0;
  for (int64_t layer = 0; layer < config->numLayers; ++layer) {
    auto [first, last] = config->crossLayerSources(layer);
    if (first < 0 || first > last || last > layer)
      __builtin_trap();
    sink = sink + (last - first);
  }

  // The canonical spelling reads back as the same config.
  std::string once = canonical(*config);
  llvm::Expected<ModelConfig> again = parseModelConfig(once, "canonical.json");
  if (!again) {
    llvm::consumeError(again.takeError());
    __builtin_trap();
  }
  if (canonical(*again) != once)
    __builtin_trap();
  return 0;
}
