//===- ChipPeaks.h - data-sheet peaks of the chips we estimate for -*- C++ -*-===//
//
// Peak memory bandwidth and arithmetic rates of the GPUs that mm-bench's
// roofline estimate (--counters --chip) names, as their vendors' data sheets
// give them (docs/roofline.md cites each). They are ceilings no kernel
// reaches, so a time computed from them is an estimate of the fastest
// possible run, never a measurement. MLIR-free, no LLVM beyond ADT.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_CHIPPEAKS_H
#define MM_TOOLS_CHIPPEAKS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mm {

struct ChipPeaks {
  /// What --chip takes: "h100", "h200", "mi300x".
  const char *name;
  /// The part the numbers are for ("NVIDIA H100 SXM5 80GB").
  const char *description;
  /// Peak device-memory (HBM) bandwidth, bytes per second.
  double memoryBytesPerSecond;
  /// Peak FP32 rate of the plain (non-tensor, vector) units, FLOP per
  /// second, an FMA counting 2: what today's SIMT kernels can use.
  double fp32FlopsPerSecond;
  /// Peak dense FP16/BF16 rate of the matrix units (tensor cores, matrix
  /// cores), without sparsity: for kernels that use them.
  double bf16TensorFlopsPerSecond;
};

/// Every chip the estimate knows, in a fixed order.
llvm::ArrayRef<ChipPeaks> getChipPeaks();

/// The chip `name` names (lower case), or null.
const ChipPeaks *findChipPeaks(llvm::StringRef name);

/// "h100, h200, mi300x", for error messages and help.
std::string listChipNames();

/// The roofline time of work that moves `bytes` through device memory and
/// does `flops` floating-point operations on the plain FP32 units: the
/// larger of bytes / bandwidth and flops / rate. A lower bound, for an
/// estimate.
double rooflineSeconds(const ChipPeaks &chip, double bytes, double flops);

/// Whether that time is set by memory (true) or arithmetic (false).
bool isMemoryBound(const ChipPeaks &chip, double bytes, double flops);

} // namespace mm

#endif // MM_TOOLS_CHIPPEAKS_H
