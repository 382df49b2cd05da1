//===- SafetensorsFuzzer.cpp - libFuzzer target for the reader ------------===//
//
// Feeds arbitrary bytes to SafetensorsFile::parse. Whatever parses must hand
// out every tensor in bounds and convert the float ones; conversions of F16
// and BF16 must round-trip. ASan and UBSan catch what the reader gets wrong.
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"

#include "llvm/Support/Endian.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

using namespace mm;

namespace {

/// Checks that every 16-bit value of a tensor converts back to its bits.
void checkRoundTrip(const TensorInfo &info, llvm::ArrayRef<uint8_t> raw,
                    llvm::ArrayRef<float> values) {
  if (info.dtype != DType::F16 && info.dtype != DType::BF16)
    return;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i]))
      continue;
    uint16_t bits = llvm::support::endian::read16le(raw.data() + 2 * i);
    uint16_t back = info.dtype == DType::F16 ? floatToHalf(values[i])
                                             : floatToBfloat16(values[i]);
    if (back != bits)
      __builtin_trap();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // No copy: ASan sees reads one byte past the input.
  std::unique_ptr<llvm::MemoryBuffer> buffer = llvm::MemoryBuffer::getMemBuffer(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "fuzz.safetensors", /*RequiresNullTerminator=*/false);
  llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::parse(std::move(buffer), "fuzz.safetensors");
  if (!file) {
    std::string message = llvm::toString(file.takeError());
    if (message.rfind("fuzz.safetensors: ", 0) != 0)
      __builtin_trap(); // every error names the file
    return 0;
  }

  volatile float sink = 0;
  for (const TensorInfo &info : (*file)->tensors()) {
    if ((*file)->find(info.name) != &info)
      __builtin_trap();
    llvm::ArrayRef<uint8_t> raw = (*file)->bytes(info);
    if (raw.size() != info.end - info.begin)
      __builtin_trap();
    for (uint8_t byte : raw)
      sink = sink + byte;
    llvm::Expected<std::vector<float>> values = (*file)->toFloat32(info);
    if (!values) {
      llvm::consumeError(values.takeError());
      continue;
    }
    if (int64_t(values->size()) != info.numElements())
      __builtin_trap();
    for (float value : *values)
      sink = sink + value;
    checkRoundTrip(info, raw, *values);
  }
  for (const auto &[key, value] : (*file)->metadata())
    sink = sink + float(key.size() + value.size());
  return 0;
}
