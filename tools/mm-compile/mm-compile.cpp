//===- mm-compile.cpp - the compiler driver -------------------------------===//
//
// mm-compile CONFIG [--target=cpu] [--emit=LEVEL] [-o FILE]
//
// --target=cpu compiles for the host CPU; cuda:sm_XX and hip:gfxNNN compile
// the same loop kernels as GPU kernels (NVVM, ROCDL) launched by host code.
//
// Reads a model config (config.json, Hugging Face or mamba_ssm spelling, or a
// model folder) and compiles it, stopping at the level --emit names, like
// toyc's -emit:
//   mm        the imported model-level IR (one mm.layer per layer)
//   mm-ops    after mm-model-pipeline: primitive mm operations
//   fused     after mm-fused-pipeline: a call of a kernel function per
//             fusion group, one function per distinct kernel
//   lowered   the entry points and kernel functions over buffers (artifact
//             ABI)
//   llvm      the LLVM dialect
//   llvm-ir   LLVM IR
//   isa       GPU targets: the kernels as PTX or GCN assembly
//   artifact  the compiled model: a shared library with its manifest
// Without --emit, -o FILE writes the artifact and stdout gets the mm IR.
// --fusion picks the fusion strategy; --gemm-* and --scan-channels size the
// kernels (the tuning knobs, recorded in the manifest); --kernel-sizes and
// --unfuse set them per kind, and --tuning applies what mm-tune measured.
// --host-cpu names the CPU the host code is for when the artifact runs on
// another machine (a GPU machine: bench/gpu_pack.sh).
//
//===----------------------------------------------------------------------===//

#include "common/Precision.h"
#include "dialect/KernelSizes.h"
#include "dialect/MMDialect.h"
#include "importer/ConfigImporter.h"
#include "lowering/ArtifactWriter.h"
#include "lowering/LoweringPasses.h"
#include "lowering/Pipelines.h"
#include "lowering/Schedules.h"
#include "lowering/TargetInfo.h"
#include "lowering/Tuning.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/TargetParser/X86TargetParser.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitLevel { MM, MMOps, Fused, Lowered, LLVM, LLVMIR, ISA, Artifact };

cl::OptionCategory category("mm-compile options");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<config.json or model folder>"),
                               cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));
cl::opt<EmitLevel> emitLevel(
    "emit", cl::desc("Where to stop"),
    cl::values(clEnumValN(EmitLevel::MM, "mm",
                          "the imported model-level IR (mm.layer composites)"),
               clEnumValN(EmitLevel::MMOps, "mm-ops",
                          "primitive mm operations (after mm-model-pipeline)"),
               clEnumValN(EmitLevel::Fused, "fused",
                          "one kernel function per distinct fusion group, "
                          "called by the entry points (after "
                          "mm-fused-pipeline)"),
               clEnumValN(EmitLevel::Lowered, "lowered",
                          "loops over buffers with the artifact's calling "
                          "convention"),
               clEnumValN(EmitLevel::LLVM, "llvm", "the LLVM dialect"),
               clEnumValN(EmitLevel::LLVMIR, "llvm-ir", "LLVM IR"),
               clEnumValN(EmitLevel::ISA, "isa",
                          "the GPU kernels as PTX or GCN assembly (GPU "
                          "targets)"),
               clEnumValN(EmitLevel::Artifact, "artifact",
                          "the compiled model (needs -o)")),
    cl::cat(category));
cl::opt<std::string>
    target("target",
           cl::desc("Target: cpu (the host CPU, default), cuda:sm_80, "
                    "cuda:sm_86, cuda:sm_89, cuda:sm_90, hip:gfx90a, "
                    "hip:gfx942"),
           cl::init("cpu"), cl::cat(category));
cl::opt<std::string> dumpKernels(
    "dump-kernels",
    cl::desc("GPU targets: also write each kernel module as compiled (PTX "
             "text or hsaco) to DIR/<kernel>.ptx|.hsaco"),
    cl::value_desc("DIR"), cl::cat(category));
cl::opt<std::string> hostCpu(
    "host-cpu",
    cl::desc("The CPU the artifact's host code is compiled for: native (this "
             "machine's, default) or an x86-64 CPU name such as x86-64-v3, "
             "for an artifact that runs on another machine (the runtime "
             "refuses one built for CPU features its machine lacks)"),
    cl::value_desc("native|cpu"), cl::init("native"), cl::cat(category));
cl::opt<int64_t> threadsPerBlock(
    "threads-per-block",
    cl::desc("Threads per block of the GPU kernels, to 1024 (default: the "
             "target's, 128)"),
    cl::init(128), cl::cat(category));

cl::opt<std::string> precision(
    "precision",
    cl::desc("The matrix products' weights and inputs: f32 (default), bf16 "
             "or f16, with f32 accumulation; the scan, the state, the norms "
             "and the memory block stay f32 (docs/precision.md)"),
    cl::value_desc("f32|bf16|f16"), cl::init("f32"), cl::cat(category));
cl::opt<bool> gemmKernels(
    "gemm-kernels",
    cl::desc("On GPU targets, linear and lm_head kernels as GEMM kernels "
             "(tensor cores for bf16 and f16 weights, a shared-memory-tiled "
             "SIMT kernel for f32; the default); --gemm-kernels=false keeps "
             "them on the loop emitters"),
    cl::init(true), cl::cat(category));
cl::opt<bool> scanKernels(
    "scan-kernels",
    cl::desc("On GPU targets, the selective scan as one block-level kernel "
             "per layer (chunks scanned in parallel by warp shuffles, B and "
             "C shared in shared memory, the gate fused; the default); "
             "--scan-kernels=false keeps it on the loop emitters"),
    cl::init(true), cl::cat(category));
cl::opt<bool> convKernels(
    "conv-kernels",
    cl::desc("On GPU targets, the causal conv as one kernel with a thread "
             "per channel and tile of 64 tokens sliding its window in "
             "registers (the default, unless --schedule=conv:...); "
             "--conv-kernels=false keeps it on the loop emitters"),
    cl::init(true), cl::cat(category));
cl::opt<bool> normKernels(
    "norm-kernels",
    cl::desc("On GPU targets, RMSNorm and the residual it normalises as one "
             "kernel, a block per row (the default, unless "
             "--schedule=norm:...); --norm-kernels=false keeps the norm "
             "schedule's three launches"),
    cl::init(true), cl::cat(category));
cl::opt<bool> memoryKernels(
    "memory-kernels",
    cl::desc("On GPU targets, the memory block and the cross-layer "
             "attention in their parallel form: scores a thread per token, "
             "summaries, queries and outputs as GEMMs, pool membership by "
             "one warp per sequence and pool, the attentions a warp per "
             "token (the default); --memory-kernels=false keeps them on the "
             "loop emitters"),
    cl::init(true), cl::cat(category));
cl::list<std::string> schedules(
    "schedule",
    cl::desc("The transform schedule of the CPU kernels of KIND (gemm, "
             "norm, elementwise, embed, conv) in FILE, replacing the default "
             "(lowering/schedules/cpu/KIND.mlir); KIND is then lowered "
             "through linalg; KIND:loops keeps the hand-written loops for "
             "KIND. Repeatable; recorded in the manifest "
             "(docs/schedules.md)"),
    cl::value_desc("KIND:FILE"), cl::cat(category));

// The fusion strategy and kernel sizes (mm-fuse-kernels' options).
cl::opt<std::string>
    fusion("fusion", cl::desc("Fusion strategy: fused (default) or unfused"),
           cl::init("fused"), cl::cat(category));
cl::opt<int64_t> gemmRows("gemm-rows",
                          cl::desc("Weight rows per block of outputs of a "
                                   "matrix product, to 4096 (default 64 on "
                                   "the CPU, 4 on GPUs)"),
                          cl::init(64), cl::cat(category));
cl::opt<int64_t>
    gemmTokens("gemm-tokens",
               cl::desc("Input rows per tile of a matrix product, to 256 "
                        "(default 4 on the CPU, 8 on GPUs)"),
               cl::init(8), cl::cat(category));
cl::opt<int64_t> gemmRowsAtOnce(
    "gemm-rows-at-once",
    cl::desc("Weight rows sharing each load of an input row, to 16 (default "
             "3 on the CPU, 4 on GPUs)"),
    cl::init(4), cl::cat(category));
cl::opt<int64_t>
    scanChannels("scan-channels",
                 cl::desc("Channels per task of the scan and the conv, to "
                          "1024 (default 16 on the CPU, 1 on GPUs)"),
                 cl::init(1), cl::cat(category));
cl::opt<int64_t> scanBlockChannels(
    "scan-block-channels",
    cl::desc("GPU targets: channels per block of the scan kernel, sharing "
             "each staged chunk of B and C, to 1024 (default 64)"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t> scanChunk(
    "scan-chunk",
    cl::desc("GPU targets: tokens per chunk of the scan kernel, a multiple "
             "of the warp width (32 NVIDIA, 64 AMD), to 2048 (default 4 per "
             "lane)"),
    cl::init(0), cl::cat(category));

cl::opt<std::string> tuningPath(
    "tuning",
    cl::desc("A tuning file mm-tune wrote: compile with the best choices it "
             "measured for each kernel kind (recorded in the manifest). A "
             "file for another model shape, target, device (CPU targets), "
             "compiler version or precision is ignored with a warning; a "
             "malformed one is an error (docs/tuning.md)"),
    cl::value_desc("FILE"), cl::cat(category));
cl::list<std::string> kernelSizes(
    "kernel-sizes",
    cl::desc("KIND.SIZE=VALUE,...: sizes of one kind's kernels only "
             "(gemm.tokens=2, conv.channels=8, scan.chunk=128), in place of "
             "the flags above for that kind"),
    cl::CommaSeparated, cl::value_desc("KIND.SIZE=VALUE"), cl::cat(category));
cl::list<std::string> unfuse(
    "unfuse",
    cl::desc("Kinds the fused strategy leaves unfused: scan, norm, memory"),
    cl::CommaSeparated, cl::value_desc("KIND"), cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "mm-compile") << message << "\n";
  return 1;
}

/// The host target --host-cpu names: this machine's CPU and every feature it
/// has, or a named x86-64 CPU with exactly the ISA features that CPU
/// implies (the names the runtime checks against its machine's features).
llvm::Expected<mm::HostTarget> hostTarget() {
  mm::HostTarget target = mm::HostTarget::detect();
  if (hostCpu == "native")
    return target;
  llvm::Triple triple(target.triple);
  if (!triple.isX86() || !triple.isArch64Bit())
    return llvm::createStringError(
        "--host-cpu=" + hostCpu + ": only x86-64 CPUs can be named (this "
        "machine is " + target.triple + "); use --host-cpu=native");
  if (llvm::X86::parseArchX86(hostCpu, /*Only64Bit=*/true) ==
      llvm::X86::CK_None) {
    llvm::SmallVector<llvm::StringRef> names;
    llvm::X86::fillValidCPUArchList(names, /*Only64Bit=*/true);
    return llvm::createStringError("--host-cpu=" + hostCpu +
                                   ": not an x86-64 CPU (native, or one of " +
                                   llvm::join(names, ", ") + ")");
  }
  llvm::SmallVector<llvm::StringRef> features;
  llvm::X86::getFeaturesForCPU(hostCpu, features, /*NeedPlus=*/false);
  // The manifest lists the features the runtime checks against its
  // machine's (CompiledModel::checkTarget): those host detection reports
  // at all. The others (x87, ...) every x86-64 CPU has, and no machine
  // would report them.
  llvm::StringMap<bool> detectable = llvm::sys::getHostCPUFeatures();
  llvm::SmallVector<std::string> listed;
  for (llvm::StringRef feature : features)
    if (detectable.contains(feature))
      listed.push_back(("+" + feature).str());
  llvm::sort(listed);
  target.cpu = hostCpu;
  target.features = llvm::join(listed, ",");
  return target;
}
/// Calls `body` with the name of each kernel binary of a compiled GPU module
/// and each of its objects: the gpu.binary ops, or after mm-kernel-context
/// turned them into data, the objects it kept on the module.
void forEachKernelObject(
    ModuleOp module,
    llvm::function_ref<void(llvm::StringRef, gpu::ObjectAttr)> body) {
  module.walk([&](gpu::BinaryOp binary) {
    for (auto object : binary.getObjects().getAsRange<gpu::ObjectAttr>())
      body(binary.getSymName(), object);
  });
  if (auto binaries =
          module->getAttrOfType<DictionaryAttr>(mm::kKernelBinariesAttrName))
    for (NamedAttribute binary : binaries)
      if (auto objects = dyn_cast<ArrayAttr>(binary.getValue()))
        for (auto object : objects.getAsRange<gpu::ObjectAttr>())
          body(binary.getName().getValue(), object);
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "memmamba-mlir compiler driver\n");

  // A size given must be within its limits (dialect/KernelSizes.h); 0 is
  // not a size (in the pipeline options it means the target's default).
  for (auto [flag, size] :
       {std::pair<cl::opt<int64_t> *, const mm::KernelSize &>{&gemmRows,
                                                              mm::kGemmRows},
        {&gemmTokens, mm::kGemmTokens},
        {&gemmRowsAtOnce, mm::kGemmRowsAtOnce},
        {&scanChannels, mm::kScanChannels},
        {&scanBlockChannels, mm::kScanBlockChannels},
        {&scanChunk, mm::kScanChunk},
        {&threadsPerBlock, mm::kThreadsPerBlock}})
    if (flag->getNumOccurrences() && !mm::inRange(size, flag->getValue()))
      return fail("--" + flag->ArgStr + " " +
                  mm::rangeError(size, flag->getValue()));

  if (!mm::parsePrecision(precision))
    return fail("--precision=" + precision + ": expected f32, bf16 or f16");

  DialectRegistry registry;
  registry.insert<mm::MMDialect, func::FuncDialect>();
  mm::registerArtifactTranslations(registry);
  mm::registerLoweringInterfaces(registry);
  MLIRContext context(registry);

  // --mlir-timing: the import, every pass and the artifact's stages.
  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();
  TimingScope importTiming = timing.nest("import the config");
  auto module = mm::importModelConfigFile(&context, inputPath);
  importTiming.stop();
  if (!module)
    return fail(llvm::toString(module.takeError()));
  if (failed(verify(**module)))
    return fail("the imported module does not verify (a bug: please report "
                "it with the config)");

  llvm::Expected<mm::TargetInfo> targetInfo = mm::TargetInfo::parse(target);
  if (!targetInfo)
    return fail(llvm::toString(targetInfo.takeError()));
  bool gpu = targetInfo->isGpu();
  if (emitLevel.getNumOccurrences() && emitLevel == EmitLevel::ISA && !gpu)
    return fail("--emit=isa prints GPU kernels: pass a GPU --target "
                "(cuda:sm_90, hip:gfx942, ...)");
  EmitLevel level =
      emitLevel.getNumOccurrences()
          ? emitLevel.getValue()
          : (outputPath == "-" ? EmitLevel::MM : EmitLevel::Artifact);
  if (level == EmitLevel::Artifact && outputPath == "-")
    return fail("an artifact is a binary file: pass -o FILE");

  // The scan kernel's sizes shape GPU kernels only.
  if (!gpu && (scanBlockChannels.getNumOccurrences() ||
               scanChunk.getNumOccurrences()))
    llvm::WithColor::warning(llvm::errs(), "mm-compile")
        << "--scan-block-channels and --scan-chunk size the GPU scan kernel; "
           "the CPU's scan takes --scan-channels\n";

  if (level != EmitLevel::MM) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    TimingScope pipelineTiming = timing.nest("pipeline");
    pm.enableTiming(pipelineTiming);
    mm::CompilePipelineOptions options;
    options.strategy = fusion;
    // Sizes not given stay 0: the pipeline takes the target's defaults.
    options.gemmRows = gemmRows.getNumOccurrences() ? gemmRows.getValue() : 0;
    options.gemmTokens =
        gemmTokens.getNumOccurrences() ? gemmTokens.getValue() : 0;
    options.gemmRowsAtOnce =
        gemmRowsAtOnce.getNumOccurrences() ? gemmRowsAtOnce.getValue() : 0;
    options.scanChannels =
        scanChannels.getNumOccurrences() ? scanChannels.getValue() : 0;
    options.target = targetInfo->spec();
    options.precision = precision;
    options.gemmKernels = gemmKernels;
    options.scanKernels = scanKernels;
    options.convKernels = convKernels;
    options.normKernels = normKernels;
    options.memoryKernels = memoryKernels;
    options.scanBlockChannels = scanBlockChannels;
    options.scanChunk = scanChunk;
    options.schedules = schedules;
    options.threadsPerBlock =
        threadsPerBlock.getNumOccurrences() ? threadsPerBlock.getValue() : 0;
    if (level == EmitLevel::ISA)
      options.kernelFormat = "isa";
    if (!tuningPath.empty()) {
      // The device of a GPU target is rarely the compiling machine's: only
      // a CPU file's device is checked (the manifest names the device the
      // file was tuned on either way).
      auto config = (**module)->getAttrOfType<mm::ModelConfigAttr>(
          mm::MMDialect::kConfigAttrName);
      mm::TuningKey wanted =
          mm::tuningKeyFor(config.getModelConfig(), *targetInfo, precision,
                           gpu ? "" : mm::describeHostDevice());
      llvm::Expected<std::vector<std::string>> mismatches = mm::applyTuningFile(
          tuningPath, wanted, /*checkDevice=*/!gpu, *targetInfo, options);
      if (!mismatches)
        return fail(llvm::toString(mismatches.takeError()));
      if (!mismatches->empty())
        llvm::WithColor::warning(llvm::errs(), "mm-compile")
            << "ignoring the tuning file " << tuningPath
            << ", which is for another compilation: "
            << llvm::join(*mismatches, "; ") << "\n";
    }
    // After the file's: a size given for a kind wins over the file's.
    for (const std::string &size : kernelSizes)
      options.kernelSizes.push_back(size);
    for (const std::string &kind : unfuse)
      options.unfuse.push_back(kind);
    llvm::Error built = llvm::Error::success();
    if (level == EmitLevel::MMOps) {
      mm::ModelPipelineOptions model;
      model.precision = precision;
      mm::buildModelPipeline(pm, model);
    } else if (level == EmitLevel::Fused)
      built = mm::buildFusedPipeline(pm, options);
    else if (level == EmitLevel::Lowered)
      built = mm::buildHostLoopsPipeline(pm, options);
    else if (gpu)
      built = mm::buildGpuPipeline(pm, options);
    else
      built = mm::buildHostPipeline(pm, options);
    if (built)
      return fail(llvm::toString(std::move(built)));
    if (failed(pm.run(**module)))
      return fail("compilation failed");
  }

  if (!dumpKernels.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpKernels))
      return fail("cannot create " + dumpKernels + ": " + ec.message());
    std::string error;
    forEachKernelObject(**module, [&](StringRef binary,
                                      gpu::ObjectAttr object) {
      bool text = object.getFormat() == gpu::CompilationTarget::Assembly;
      bool nvidia = isa<NVVM::NVVMTargetAttr>(object.getTarget());
      std::string path =
          (dumpKernels + "/" + binary +
           (text ? (nvidia ? ".ptx" : ".s") : (nvidia ? ".cubin" : ".hsaco")))
              .str();
      std::error_code ec;
      llvm::raw_fd_ostream file(path, ec);
      if (ec) {
        error = path + ": " + ec.message();
        return;
      }
      file << object.getObject().getValue();
    });
    if (!error.empty())
      return fail("cannot write " + error);
  }

  if (level == EmitLevel::Artifact) {
    llvm::Expected<mm::HostTarget> host = hostTarget();
    if (!host)
      return fail(llvm::toString(host.takeError()));
    TimingScope artifactTiming = timing.nest("write the artifact");
    if (llvm::Error err =
            mm::writeHostArtifact(**module, *host, outputPath,
                                  gpu ? &*targetInfo : nullptr, &artifactTiming))
      return fail(llvm::toString(std::move(err)));
    return 0;
  }
  std::string error;
  auto output = openOutputFile(outputPath, &error);
  if (!output)
    return fail(error);
  if (level == EmitLevel::ISA) {
    // Each kernel module's assembly, as the serialiser produced it.
    forEachKernelObject(**module, [&](StringRef binary,
                                      gpu::ObjectAttr object) {
      output->os() << "// gpu.binary @" << binary << " for "
                   << object.getTarget() << "\n"
                   << object.getObject().getValue() << "\n";
    });
  } else if (level == EmitLevel::LLVMIR) {
    auto text = mm::translateToLLVMIR(**module);
    if (!text)
      return fail(llvm::toString(text.takeError()));
    output->os() << *text;
  } else {
    (*module)->print(output->os());
    output->os() << "\n";
  }
  output->keep();
  return 0;
}
