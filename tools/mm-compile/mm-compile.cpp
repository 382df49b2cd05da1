//===- mm-compile.cpp - the compiler driver -------------------------------===//
//
// mm-compile CONFIG [--emit=LEVEL] [-o FILE]
//
// Reads a model config (config.json, Hugging Face or mamba_ssm spelling, or a
// model folder) and compiles it, stopping at the level --emit names, like
// toyc's -emit:
//   mm      the imported model-level IR (one mm.layer per layer)
//   mm-ops  after mm-model-pipeline: primitive mm operations
//
//===----------------------------------------------------------------------===//

#include "dialect/MMDialect.h"
#include "importer/ConfigImporter.h"
#include "lowering/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitLevel { MM, MMOps };

cl::OptionCategory category("mm-compile options");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<config.json or model folder>"),
                               cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));
cl::opt<EmitLevel> emitLevel(
    "emit", cl::desc("Where to stop"), cl::init(EmitLevel::MM),
    cl::values(clEnumValN(EmitLevel::MM, "mm",
                          "the imported model-level IR (mm.layer composites)"),
               clEnumValN(EmitLevel::MMOps, "mm-ops",
                          "primitive mm operations (after "
                          "mm-model-pipeline)")),
    cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "mm-compile") << message << "\n";
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "memmamba-mlir compiler driver\n");

  DialectRegistry registry;
  registry.insert<mm::MMDialect, func::FuncDialect>();
  MLIRContext context(registry);

  auto module = mm::importModelConfigFile(&context, inputPath);
  if (!module)
    return fail(llvm::toString(module.takeError()));
  if (failed(verify(**module)))
    return fail("the imported module does not verify (a bug: please report "
                "it with the config)");

  if (emitLevel == EmitLevel::MMOps) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    mm::buildModelPipeline(pm, mm::ModelPipelineOptions());
    if (failed(pm.run(**module)))
      return fail("mm-model-pipeline failed");
  }

  std::string error;
  auto output = openOutputFile(outputPath, &error);
  if (!output)
    return fail(error);
  (*module)->print(output->os());
  output->os() << "\n";
  output->keep();
  return 0;
}
