//===- ChipPeaks.cpp - data-sheet peaks of the chips we estimate for ------===//
//
// The numbers and their sources: docs/roofline.md. Change both together.
//
//===----------------------------------------------------------------------===//

#include "tools/ChipPeaks.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

using namespace mm;

static constexpr double kTera = 1e12;

static const ChipPeaks kChips[] = {
    // NVIDIA H100 Tensor Core GPU data sheet, SXM column: 3.35 TB/s,
    // FP32 67 TFLOPS, BF16 Tensor Core 1,979 TFLOPS with sparsity (989.4
    // dense).
    {"h100", "NVIDIA H100 SXM5 80GB", 3.35 * kTera, 67 * kTera,
     989.4 * kTera},
    // NVIDIA H200 Tensor Core GPU data sheet, SXM column: 4.8 TB/s; the same
    // GH100 compute as the H100 SXM.
    {"h200", "NVIDIA H200 SXM 141GB", 4.8 * kTera, 67 * kTera, 989.4 * kTera},
    // AMD Instinct MI300X data sheet: 5.3 TB/s, peak FP32 vector 163.4
    // TFLOPs, peak BF16 (dense) 1307.4 TFLOPs.
    {"mi300x", "AMD Instinct MI300X 192GB", 5.3 * kTera, 163.4 * kTera,
     1307.4 * kTera},
};

llvm::ArrayRef<ChipPeaks> mm::getChipPeaks() { return kChips; }

const ChipPeaks *mm::findChipPeaks(llvm::StringRef name) {
  for (const ChipPeaks &chip : kChips)
    if (name == chip.name)
      return &chip;
  return nullptr;
}

std::string mm::listChipNames() {
  return llvm::join(llvm::map_range(kChips,
                                    [](const ChipPeaks &chip) {
                                      return llvm::StringRef(chip.name);
                                    }),
                    ", ");
}

double mm::rooflineSeconds(const ChipPeaks &chip, double bytes,
                           double flops) {
  return std::max(bytes / chip.memoryBytesPerSecond,
                  flops / chip.fp32FlopsPerSecond);
}

bool mm::isMemoryBound(const ChipPeaks &chip, double bytes, double flops) {
  return bytes / chip.memoryBytesPerSecond >=
         flops / chip.fp32FlopsPerSecond;
}
