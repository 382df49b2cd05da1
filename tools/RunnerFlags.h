//===- RunnerFlags.h - how the tools open and run a model -------*- C++ -*-===//
//
// The flags shared by mm-run and mm-bench that say where compiled code runs
// and how a model is run (runtime/ModelRunner.h opens and lists the
// devices), and the guard every tool's main runs its work in.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_RUNNERFLAGS_H
#define MM_TOOLS_RUNNERFLAGS_H

#include "runtime/ModelRunner.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/WithColor.h"

#include <new>
#include <string>

namespace mm {

struct RunnerFlags {
  explicit RunnerFlags(llvm::cl::OptionCategory &category)
      : device("device",
               llvm::cl::desc("Where compiled code runs: cpu (default), "
                              "cuda:N or hip:N (an artifact compiled for "
                              "that GPU)"),
               llvm::cl::init("cpu"), llvm::cl::value_desc("cpu|cuda:N|hip:N"),
               llvm::cl::cat(category)),
        listDevices("list-devices", llvm::cl::desc("List the devices and exit"),
                    llvm::cl::cat(category)),
        prefillChunk(
            "prefill-chunk",
            llvm::cl::desc("Tokens per sequence per step of a prefill: long "
                           "prompts run in chunks of this many, so memory "
                           "stays bounded (default 512; 0: whole prompts)"),
            llvm::cl::init(PrefillOptions().chunkTokens),
            llvm::cl::value_desc("tokens"), llvm::cl::cat(category)),
        allowNonFiniteWeights(
            "allow-nonfinite-weights",
            llvm::cl::desc("Load weights holding NaN or infinite values "
                           "(refused by default; a run whose logits are not "
                           "finite still fails)"),
            llvm::cl::cat(category)) {}

  /// Copies the flags into `options`.
  void apply(RunnerOptions &options) const {
    options.device = device;
    options.chunkTokens = prefillChunk;
    options.allowNonFiniteWeights = allowNonFiniteWeights;
  }

  llvm::cl::opt<std::string> device;
  llvm::cl::opt<bool> listDevices;
  llvm::cl::opt<int64_t> prefillChunk;
  llvm::cl::opt<bool> allowNonFiniteWeights;
};

/// Runs a tool's work and prints its error as "TOOL: error: ...". Memory
/// that cannot be allocated is an error too, not an abort: call it after
/// llvm::InitLLVM, whose out-of-memory handler it replaces so that
/// allocations throw std::bad_alloc.
inline int runTool(const char *tool, llvm::function_ref<llvm::Error()> work) {
  std::set_new_handler(nullptr);
  llvm::Error error = llvm::Error::success();
  try {
    error = work();
  } catch (const std::bad_alloc &) {
    llvm::consumeError(std::move(error));
    error = llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "out of memory (a smaller prompt, batch or --prefill-chunk needs "
        "less)");
  }
  if (!error)
    return 0;
  llvm::WithColor::error(llvm::errs(), tool)
      << llvm::toString(std::move(error)) << "\n";
  return 1;
}

} // namespace mm

#endif // MM_TOOLS_RUNNERFLAGS_H
