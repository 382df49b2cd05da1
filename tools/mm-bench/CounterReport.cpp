//===- CounterReport.cpp - simulator counters and a roofline estimate -----===//
//
// The estimate per kernel is max(global bytes / peak bandwidth, FLOPs / peak
// FP32 rate), computed on the kernel's counts over the run; kinds and the
// total sum those times (docs/roofline.md says what that leaves out).
//
//===----------------------------------------------------------------------===//

#include "tools/mm-bench/CounterReport.h"

#include "llvm/Support/Format.h"

using namespace mm;
using gpu::SimKernelCounters;

static double globalBytes(const SimKernelCounters &kernel) {
  return double(kernel.globalLoadBytes) + double(kernel.globalStoreBytes);
}

static double estimateSeconds(const SimKernelCounters &kernel,
                              const ChipPeaks &chip) {
  return rooflineSeconds(chip, globalBytes(kernel), double(kernel.flops));
}

/// FLOP per byte of device memory; 0 for a kernel that moves nothing.
static double intensity(double flops, double bytes) {
  return bytes > 0 ? flops / bytes : 0;
}

static void add(SimKernelCounters &sum, const SimKernelCounters &kernel) {
  sum.launches += kernel.launches;
  sum.threads += kernel.threads;
  sum.globalLoadBytes += kernel.globalLoadBytes;
  sum.globalStoreBytes += kernel.globalStoreBytes;
  sum.sharedLoadBytes += kernel.sharedLoadBytes;
  sum.sharedStoreBytes += kernel.sharedStoreBytes;
  sum.barriers += kernel.barriers;
  sum.shuffles += kernel.shuffles;
  sum.atomics += kernel.atomics;
  sum.flops += kernel.flops;
}

std::vector<KindCounters>
mm::sumByKind(llvm::ArrayRef<SimKernelCounters> counters,
              const ChipPeaks &chip) {
  std::vector<KindCounters> kinds;
  for (const SimKernelCounters &kernel : counters) {
    std::string kind = kernel.kind.empty() ? "other" : kernel.kind;
    auto it = llvm::find_if(
        kinds, [&](const KindCounters &sum) { return sum.kind == kind; });
    if (it == kinds.end()) {
      kinds.emplace_back();
      kinds.back().kind = kind;
      it = kinds.end() - 1;
    }
    add(it->sum, kernel);
    ++it->kernels;
    it->seconds += estimateSeconds(kernel, chip);
  }
  return kinds;
}

static std::string headline(const TestCounters &counters,
                            const ChipPeaks &chip) {
  return llvm::formatv("ESTIMATE, not a measurement: roofline times for {0} "
                       "({1:f2} TB/s, {2:f1} TFLOP/s FP32, data sheet) from "
                       "the simulator's counts of one {3} run",
                       chip.description, chip.memoryBytesPerSecond / 1e12,
                       chip.fp32FlopsPerSecond / 1e12, counters.test)
      .str();
}

void mm::printCounters(llvm::raw_ostream &os, const TestCounters &counters,
                       const ChipPeaks &chip) {
  os << "\n" << headline(counters, chip) << "\n\n";
  os << "| kind | kernels | launches | threads | global GB read | global GB "
        "written | shared MB | barriers | GFLOP | FLOP/B | est. ms ("
     << chip.name << ") |\n"
     << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: | ---: |\n";
  auto row = [&](llvm::StringRef kind, unsigned kernels,
                 const SimKernelCounters &sum, double seconds) {
    os << llvm::format(
        "| %s | %u | %llu | %llu | %.6f | %.6f | %.3f | %llu | %.6f | %.2f | "
        "%.6f |\n",
        kind.str().c_str(), kernels, (unsigned long long)sum.launches,
        (unsigned long long)sum.threads, sum.globalLoadBytes / 1e9,
        sum.globalStoreBytes / 1e9,
        (sum.sharedLoadBytes + sum.sharedStoreBytes) / 1e6,
        (unsigned long long)sum.barriers, sum.flops / 1e9,
        intensity(double(sum.flops), globalBytes(sum)), seconds * 1e3);
  };
  SimKernelCounters total;
  double seconds = 0;
  for (const KindCounters &kind : sumByKind(counters.kernels, chip)) {
    row(kind.kind, kind.kernels, kind.sum, kind.seconds);
    add(total, kind.sum);
    seconds += kind.seconds;
  }
  row("total", counters.kernels.size(), total, seconds);
  if (seconds > 0 && counters.tokens > 0)
    os << llvm::format("\nEstimated %s on %s at the roofline: %.1f tokens/s "
                       "(%.6f ms; %llu launches, their overhead not "
                       "included). An estimate, not a measurement.\n",
                       counters.test.c_str(), chip.name,
                       counters.tokens / seconds, seconds * 1e3,
                       (unsigned long long)total.launches);
}

static llvm::json::Object countsToJson(const SimKernelCounters &counters,
                                       double seconds, const ChipPeaks &chip) {
  double bytes = globalBytes(counters);
  double flops = double(counters.flops);
  return llvm::json::Object{
      {"launches", counters.launches},
      {"threads", counters.threads},
      {"global_load_bytes", counters.globalLoadBytes},
      {"global_store_bytes", counters.globalStoreBytes},
      {"shared_load_bytes", counters.sharedLoadBytes},
      {"shared_store_bytes", counters.sharedStoreBytes},
      {"barriers", counters.barriers},
      {"shuffles", counters.shuffles},
      {"atomics", counters.atomics},
      {"flops", counters.flops},
      {"arithmetic_intensity", intensity(flops, bytes)},
      {"estimate_seconds", seconds},
      {"bound", isMemoryBound(chip, bytes, flops) ? "memory" : "compute"}};
}

llvm::json::Object mm::countersToJson(const TestCounters &counters,
                                      const ChipPeaks &chip) {
  llvm::json::Array kernels;
  for (const SimKernelCounters &kernel : counters.kernels) {
    llvm::json::Object object =
        countsToJson(kernel, estimateSeconds(kernel, chip), chip);
    object["name"] = kernel.name;
    object["kind"] = kernel.kind;
    object["grid"] = llvm::json::Array{kernel.lastGrid.x, kernel.lastGrid.y,
                                       kernel.lastGrid.z};
    object["block"] = llvm::json::Array{kernel.lastBlock.x, kernel.lastBlock.y,
                                        kernel.lastBlock.z};
    kernels.push_back(std::move(object));
  }
  llvm::json::Array kinds;
  SimKernelCounters total;
  double seconds = 0;
  for (const KindCounters &kind : sumByKind(counters.kernels, chip)) {
    llvm::json::Object object = countsToJson(kind.sum, kind.seconds, chip);
    object["kind"] = kind.kind;
    object["kernels"] = int64_t(kind.kernels);
    kinds.push_back(std::move(object));
    add(total, kind.sum);
    seconds += kind.seconds;
  }
  llvm::json::Object totalObject = countsToJson(total, seconds, chip);
  totalObject["kernels"] = int64_t(counters.kernels.size());
  if (seconds > 0)
    totalObject["estimate_tokens_per_second"] = counters.tokens / seconds;
  return llvm::json::Object{
      {"estimate", true},
      {"note", headline(counters, chip)},
      {"test", counters.test},
      {"tokens", counters.tokens},
      {"chip",
       llvm::json::Object{
           {"name", chip.name},
           {"description", chip.description},
           {"memory_bytes_per_second", chip.memoryBytesPerSecond},
           {"fp32_flops_per_second", chip.fp32FlopsPerSecond},
           {"bf16_tensor_flops_per_second", chip.bf16TensorFlopsPerSecond}}},
      {"kernels", std::move(kernels)},
      {"kinds", std::move(kinds)},
      {"total", std::move(totalObject)}};
}
