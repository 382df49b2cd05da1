//===- mm-eval.cpp - evaluate a model: passkey, perplexity, fidelity ------===//
//
// mm-eval passkey MODEL [--vocab V] --lengths 1k,10k --depths 0,0.5,1
//        [--trials N] [--seed S | --key K] [--json F] [--heatmap F.svg]
// mm-eval perplexity MODEL --tokens @ids.txt | --text FILE
//        --protocol window|streaming|both --contexts 1000,2000 [--json F]
// mm-eval fidelity MODEL ...
//
// MODEL is a config.json, a model folder or an artifact of mm-compile, with
// --weights (or the folder's), --device and --prefill-chunk as for mm-run.
// docs/eval.md describes each subcommand.
//
//===----------------------------------------------------------------------===//

#include "tools/ToolMain.h"
#include "tools/mm-eval/EvalCommands.h"
#include "tools/mm-eval/EvalModel.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

#include <string>
#include <vector>

using namespace mm;
using namespace mm::eval;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Every subcommand exists by now: the options they share can name them.
  ModelOptions &modelOptions = getModelOptions();
  // The top level lists the subcommands, not LLVM's own options.
  llvm::cl::HideUnrelatedOptions(modelOptions.category);
  // "--tokens @ids.txt": the file goes to the token reader, not to llvm::cl
  // (which expands '@' arguments as response files).
  std::vector<std::string> joined = joinFileArguments(argc, argv, {"tokens"});
  std::vector<const char *> args;
  for (const std::string &arg : joined)
    args.push_back(arg.c_str());
  llvm::cl::ParseCommandLineOptions(
      static_cast<int>(args.size()), args.data(),
      "evaluate a MemMamba model: passkey retrieval, perplexity by context "
      "length, memory fidelity\n");
  if (modelOptions.runnerFlags.listDevices) {
    printDevices(llvm::outs());
    return 0;
  }
  if (passkeyCommand)
    return runTool("mm-eval", runPasskey);
  if (perplexityCommand)
    return runTool("mm-eval", runPerplexity);
  if (fidelityCommand)
    return runTool("mm-eval", runFidelity);
  return runTool("mm-eval", [] {
    return makeEvalError("no subcommand: mm-eval passkey | perplexity | "
                         "fidelity MODEL ... (mm-eval --help)");
  });
}
