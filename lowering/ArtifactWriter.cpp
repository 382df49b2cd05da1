//===- ArtifactWriter.cpp - compiled models as shared libraries -----------===//

#include "lowering/ArtifactWriter.h"

#include "common/ArtifactSeal.h"
#include "common/OutputFile.h"
#include "dialect/MMDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVM/ROCDL/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/ROCDL/ROCDLToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/SplitModule.h"

using namespace mm;

namespace {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}
} // namespace

HostTarget HostTarget::detect() {
  HostTarget target;
  target.triple = llvm::sys::getProcessTriple();
  target.cpu = llvm::sys::getHostCPUName().str();
  std::vector<std::string> features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.push_back((feature.second ? "+" : "-") + feature.first().str());
  llvm::sort(features);
  target.features = llvm::join(features, ",");
  return target;
}

void mm::registerArtifactTranslations(mlir::DialectRegistry &registry) {
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  // GPU artifacts: the kernels (NVVM, ROCDL) and the host's gpu.binary
  // loader and launches.
  mlir::registerGPUDialectTranslation(registry);
  mlir::registerNVVMDialectTranslation(registry);
  mlir::registerROCDLDialectTranslation(registry);
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  mlir::ROCDL::registerROCDLTargetInterfaceExternalModels(registry);
}

/// The LLVM IR of an LLVM-dialect module.
static llvm::Expected<std::unique_ptr<llvm::Module>>
translate(mlir::ModuleOp module, llvm::LLVMContext &context) {
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "mm");
  if (!llvmModule)
    return makeError("translation to LLVM IR failed");
  return llvmModule;
}

llvm::Expected<std::string> mm::translateToLLVMIR(mlir::ModuleOp module) {
  llvm::LLVMContext context;
  auto llvmModule = translate(module, context);
  if (!llvmModule)
    return llvmModule.takeError();
  std::string text;
  llvm::raw_string_ostream os(text);
  (*llvmModule)->print(os, nullptr);
  return text;
}

llvm::Error mm::writeHostArtifact(mlir::ModuleOp module,
                                  const HostTarget &target,
                                  llvm::StringRef path,
                                  const TargetInfo *device,
                                  mlir::TimingScope *timing) {
  auto manifestAttr =
      module->getAttrOfType<mlir::StringAttr>(MMDialect::kManifestAttrName);
  if (!manifestAttr)
    return makeError("the module has no manifest (run mm-host-pipeline)");
  llvm::Expected<llvm::json::Value> manifest =
      llvm::json::parse(manifestAttr.getValue());
  if (!manifest)
    return manifest.takeError();
  llvm::json::Object targetObject{{"kind", "cpu"},
                                  {"triple", target.triple},
                                  {"cpu", target.cpu},
                                  {"features", target.features}};
  if (device) {
    // The host code still runs on this CPU; the kernels on the device.
    targetObject["kind"] = device->kindName();
    targetObject["chip"] = device->chip;
    targetObject["device_triple"] = device->triple;
    targetObject["kernels"] =
        device->kind == TargetKind::Cuda ? "ptx" : "hsaco";
  }
  manifest->getAsObject()->insert({"target", std::move(targetObject)});

  std::string json;
  llvm::raw_string_ostream(json) << *manifest;
  llvm::Expected<std::string> library =
      compileHostLibrary(module, target, [&](llvm::Module &llvmModule) {
        // The manifest, as a C string the runtime finds with dlsym.
        llvm::Constant *text =
            llvm::ConstantDataArray::getString(llvmModule.getContext(), json);
        new llvm::GlobalVariable(llvmModule, text->getType(),
                                 /*isConstant=*/true,
                                 llvm::GlobalValue::ExternalLinkage, text,
                                 "mm_manifest");
      },
      timing);
  if (!library)
    return library.takeError();
  std::string sealed = sealArtifact(*library);
  return writeFileSafely(path, [&](llvm::raw_ostream &os) {
    os << sealed;
    return llvm::Error::success();
  });
}

/// The host library is compiled in this many parts, in parallel (one thread
/// per core, at most this many). The number is fixed, not the machine's core
/// count, so that an artifact's bytes do not depend on where it was built.
static constexpr unsigned kCodegenParts = 4;

/// A target machine for `target` (LLVM -O3 code generation, PIC).
static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
makeTargetMachine(const HostTarget &target) {
  std::string error;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(target.triple), error);
  if (!llvmTarget)
    return makeError("no LLVM target for " + target.triple + ": " + error);
  llvm::TargetOptions options;
  // Constructors (a GPU artifact's kernel module load) in .init_array,
  // which the dynamic loader runs: LLVM's default, .ctors, is run only by
  // the C runtime's start files, which a library linked by ld.lld alone
  // does not have, so the constructors would silently never run.
  options.UseInitArray = true;
  return std::unique_ptr<llvm::TargetMachine>(llvmTarget->createTargetMachine(
      llvm::Triple(target.triple), target.cpu, target.features, options,
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
}

/// One part of the host library, given as bitcode (each part is compiled in
/// its own LLVMContext, on its own thread): LLVM's -O3 module pipeline, then
/// object code.
static llvm::Expected<llvm::SmallString<0>>
compilePart(llvm::StringRef bitcode, const HostTarget &target) {
  llvm::LLVMContext context;
  llvm::Expected<std::unique_ptr<llvm::Module>> parsed =
      llvm::parseBitcodeFile(llvm::MemoryBufferRef(bitcode, "part"), context);
  if (!parsed)
    return parsed.takeError();
  llvm::Module &module = **parsed;
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      makeTargetMachine(target);
  if (!machine)
    return machine.takeError();
  module.setDataLayout((*machine)->createDataLayout());
  module.setTargetTriple(llvm::Triple(target.triple));
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder builder(machine->get());
    builder.registerModuleAnalyses(mam);
    builder.registerCGSCCAnalyses(cgam);
    builder.registerFunctionAnalyses(fam);
    builder.registerLoopAnalyses(lam);
    builder.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager passes =
        builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    passes.run(module, mam);
  }
  llvm::SmallString<0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(codegen, os, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return makeError("the target cannot emit object files");
  codegen.run(module);
  return object;
}

llvm::Expected<std::string> mm::compileHostLibrary(
    mlir::ModuleOp module, const HostTarget &target,
    llvm::function_ref<void(llvm::Module &)> addToModule,
    mlir::TimingScope *timing) {
  mlir::TimingScope noTiming;
  mlir::TimingScope &parent = timing ? *timing : noTiming;
  mlir::TimingScope stage = parent.nest("translate to LLVM IR");
  llvm::LLVMContext context;
  auto translated = translate(module, context);
  if (!translated)
    return translated.takeError();
  std::unique_ptr<llvm::Module> llvmModule = std::move(*translated);
  if (addToModule)
    addToModule(*llvmModule);

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // Checks the target before any work is split.
  if (llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine =
          makeTargetMachine(target);
      !machine)
    return machine.takeError();

  // The entry points of a deep model are large straight-line functions and
  // the simulator's copy of the kernels is as large again: split into parts
  // (internal functions stay with their callers), each optimised and
  // compiled on its own core.
  stage = parent.nest("split into parts");
  std::vector<std::string> parts;
  llvm::SplitModule(
      *llvmModule, kCodegenParts,
      [&](std::unique_ptr<llvm::Module> part) {
        if (llvm::none_of(part->functions(), [](const llvm::Function &f) {
              return !f.isDeclaration();
            }) &&
            llvm::none_of(part->globals(), [](const llvm::GlobalVariable &g) {
              return !g.isDeclaration();
            }))
          return;
        std::string bitcode;
        llvm::raw_string_ostream os(bitcode);
        llvm::WriteBitcodeToFile(*part, os);
        parts.push_back(std::move(bitcode));
      },
      /*PreserveLocals=*/true);
  llvmModule.reset();

  stage = parent.nest("LLVM -O3 and code generation (parallel parts)");
  std::vector<llvm::Expected<llvm::SmallString<0>>> objects;
  for (size_t index = 0; index < parts.size(); ++index)
    objects.emplace_back(llvm::SmallString<0>());
  {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(kCodegenParts));
    for (size_t index = 0; index < parts.size(); ++index)
      pool.async(
          [&, index] { objects[index] = compilePart(parts[index], target); });
    pool.wait();
  }

  // Object code into temporary files, then linked into the artifact.
  // Temporaries go on every exit, an interrupt (SIGINT, SIGTERM) included.
  std::vector<llvm::SmallString<128>> objectPaths(objects.size());
  std::vector<std::unique_ptr<llvm::FileRemover>> removers;
  llvm::scope_exit forgetObjects([&] {
    for (const llvm::SmallString<128> &path : objectPaths)
      if (!path.empty())
        llvm::sys::DontRemoveFileOnSignal(path);
  });
  llvm::Error failed = llvm::Error::success();
  for (llvm::Expected<llvm::SmallString<0>> &object : objects)
    if (!object)
      failed = llvm::joinErrors(std::move(failed), object.takeError());
  if (failed)
    return std::move(failed);
  for (size_t index = 0; index < objects.size(); ++index) {
    int fd;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "mm-artifact", "o", fd, objectPaths[index]))
      return makeError("cannot create a temporary object file: " +
                       ec.message());
    removers.push_back(std::make_unique<llvm::FileRemover>(objectPaths[index]));
    llvm::sys::RemoveFileOnSignal(objectPaths[index]);
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << *objects[index];
  }

  stage = parent.nest("link (ld.lld)");
  llvm::ErrorOr<std::string> linker =
      llvm::sys::findProgramByName("ld.lld", {MM_LLVM_TOOLS_DIR});
  if (!linker)
    linker = llvm::sys::findProgramByName("ld.lld-22");
  if (!linker)
    return makeError("ld.lld not found (install lld-22)");
  // Linked into a temporary file, then sealed (common/ArtifactSeal.h: the
  // checksum of the code and manifest the runtime verifies before loading)
  // and written to `path`, which is never left half-written.
  llvm::SmallString<128> linked;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mm-artifact", "so", linked))
    return makeError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover removeLinked(linked);
  llvm::sys::RemoveFileOnSignal(linked);
  llvm::scope_exit forgetLinked(
      [&] { llvm::sys::DontRemoveFileOnSignal(linked); });
  llvm::SmallVector<llvm::StringRef> args{
      *linker, "-shared", "--no-undefined-version",
      // Calls between the artifact's own functions bind inside it: a
      // process that also defines mm_prefill (the runtime's C ABI) must not
      // interpose on the compiled entry points.
      "-Bsymbolic", "-o", linked, "-L/usr/lib/x86_64-linux-gnu",
      "-L/lib/x86_64-linux-gnu",
      // Parallel loops run on LLVM's
      // OpenMP runtime (libomp-22-dev).
      "-L" MM_LLVM_LIBRARY_DIR, "-rpath", MM_LLVM_LIBRARY_DIR, "--as-needed",
      "-lomp", "-lm"};
  for (const llvm::SmallString<128> &path : objectPaths)
    args.push_back(path);
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0,
                                         &message);
  if (status != 0)
    return makeError(llvm::Twine("linking failed") +
                     (message.empty() ? "" : ": " + message));
  auto library = llvm::MemoryBuffer::getFile(linked, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
  if (!library)
    return makeError("cannot read the linked library: " +
                     library.getError().message());
  return (*library)->getBuffer().str();
}
