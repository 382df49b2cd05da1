//===- CounterReport.h - simulator counters and a roofline estimate -*- C++ -*-===//
//
// What `mm-bench --device sim --counters` prints and writes: the counts the
// simulator kept for one run of a test (runtime/gpu/SimDevice.h), per
// kernel and summed per kernel kind, with the roofline time each would take
// on a named chip (tools/ChipPeaks.h). Every table and JSON object says it
// is an ESTIMATE from simulator counts: nothing here was measured on a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_MMBENCH_COUNTERREPORT_H
#define MM_TOOLS_MMBENCH_COUNTERREPORT_H

#include "runtime/gpu/SimDevice.h"
#include "tools/ChipPeaks.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <vector>

namespace mm {

/// The counts of one run of one test (ppP or tgN).
struct TestCounters {
  std::string test;
  /// Tokens the run processed (P prompt tokens, or N decode steps).
  unsigned tokens = 0;
  std::vector<gpu::SimKernelCounters> kernels;
};

/// The kernels of one kind: their counts summed, how many there are, and
/// the sum of their roofline times (kernels of one kind may be bound by
/// different ceilings, so the time of the sums would be less).
struct KindCounters {
  std::string kind;
  unsigned kernels = 0;
  gpu::SimKernelCounters sum;
  double seconds = 0;
};

/// The kernels of `counters` by kind, in the order each kind first appears
/// (a kernel without one is "other").
std::vector<KindCounters>
sumByKind(llvm::ArrayRef<gpu::SimKernelCounters> counters,
          const ChipPeaks &chip);

/// The header line, the table by kind and its total, and the estimated
/// rate, in markdown.
void printCounters(llvm::raw_ostream &os, const TestCounters &counters,
                   const ChipPeaks &chip);

/// The same as JSON: "estimate" (always true), "note", "chip", "kernels",
/// "kinds" and "total", each kernel and kind with its counts, arithmetic
/// intensity and roofline seconds.
llvm::json::Object countersToJson(const TestCounters &counters,
                                  const ChipPeaks &chip);

} // namespace mm

#endif // MM_TOOLS_MMBENCH_COUNTERREPORT_H
