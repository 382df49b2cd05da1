//===- RunnerFlags.h - how the tools open and run a model -------*- C++ -*-===//
//
// The flags shared by mm-run and mm-bench that say where compiled code runs
// and how a model is run (runtime/ModelRunner.h opens and lists the
// devices).
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_RUNNERFLAGS_H
#define MM_TOOLS_RUNNERFLAGS_H

#include "runtime/ModelRunner.h"
#include "tools/ToolMain.h"

#include "llvm/Support/CommandLine.h"

#include <string>

namespace mm {

struct RunnerFlags {
  /// Registers the flags in `category`; `modifiers` go to every flag too
  /// (mm-eval registers them in its subcommands with llvm::cl::sub).
  template <typename... Modifiers>
  explicit RunnerFlags(llvm::cl::OptionCategory &category,
                       const Modifiers &...modifiers)
      : device("device",
               llvm::cl::desc("Where compiled code runs: cpu (default), "
                              "cuda:N or hip:N (an artifact compiled for "
                              "that GPU), or sim (any GPU artifact, on the "
                              "GPU simulator)"),
               llvm::cl::init("cpu"),
               llvm::cl::value_desc("cpu|sim|cuda:N|hip:N"),
               llvm::cl::cat(category), modifiers...),
        listDevices("list-devices", llvm::cl::desc("List the devices and exit"),
                    llvm::cl::cat(category), modifiers...),
        prefillChunk(
            "prefill-chunk",
            llvm::cl::desc("Tokens per sequence per step of a prefill: long "
                           "prompts run in chunks of this many, so memory "
                           "stays bounded (default 512; 0: whole prompts)"),
            llvm::cl::init(PrefillOptions().chunkTokens),
            llvm::cl::value_desc("tokens"), llvm::cl::cat(category),
            modifiers...),
        allowNonFiniteWeights(
            "allow-nonfinite-weights",
            llvm::cl::desc("Load weights holding NaN or infinite values "
                           "(refused by default; a run whose logits are not "
                           "finite still fails)"),
            llvm::cl::cat(category), modifiers...),
        precision(
            "precision",
            llvm::cl::desc("The matrix products' precision: f32, bf16 or f16 "
                           "(f32 accumulation). The reference executor "
                           "computes in it, on the same rounded weights as "
                           "an artifact compiled with mm-compile --precision "
                           "(default f32); an artifact runs in its own, and "
                           "another is an error"),
            llvm::cl::values(
                clEnumValN(Precision::F32, "f32", "f32 throughout"),
                clEnumValN(Precision::BF16, "bf16", "bf16 weights and inputs"),
                clEnumValN(Precision::F16, "f16", "f16 weights and inputs")),
            llvm::cl::init(Precision::F32), llvm::cl::cat(category),
            modifiers...),
        decodeGraphs(
            "decode-graphs",
            llvm::cl::desc("On a GPU, capture each state's first decode step "
                           "as a graph and replay it for the steps after "
                           "(default true; false launches every kernel of "
                           "every step from the host)"),
            llvm::cl::init(true), llvm::cl::cat(category), modifiers...) {}

  /// Copies the flags into `options`.
  void apply(RunnerOptions &options) const {
    options.device = device;
    options.chunkTokens = prefillChunk;
    options.allowNonFiniteWeights = allowNonFiniteWeights;
    if (precision.getNumOccurrences())
      options.precision = precision.getValue();
    options.decodeGraphs = decodeGraphs;
  }

  llvm::cl::opt<std::string> device;
  llvm::cl::opt<bool> listDevices;
  llvm::cl::opt<int64_t> prefillChunk;
  llvm::cl::opt<bool> allowNonFiniteWeights;
  llvm::cl::opt<Precision> precision;
  llvm::cl::opt<bool> decodeGraphs;
};

} // namespace mm

#endif // MM_TOOLS_RUNNERFLAGS_H
