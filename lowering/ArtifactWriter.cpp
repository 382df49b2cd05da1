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
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

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
                                  const TargetInfo *device) {
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
      });
  if (!library)
    return library.takeError();
  std::string sealed = sealArtifact(*library);
  return writeFileSafely(path, [&](llvm::raw_ostream &os) {
    os << sealed;
    return llvm::Error::success();
  });
}

llvm::Expected<std::string> mm::compileHostLibrary(
    mlir::ModuleOp module, const HostTarget &target,
    llvm::function_ref<void(llvm::Module &)> addToModule) {
  llvm::LLVMContext context;
  auto translated = translate(module, context);
  if (!translated)
    return translated.takeError();
  std::unique_ptr<llvm::Module> llvmModule = std::move(*translated);
  if (addToModule)
    addToModule(*llvmModule);

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
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
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      llvm::Triple(target.triple), target.cpu, target.features, options,
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(llvm::Triple(target.triple));

  // LLVM's -O3 module pipeline.
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder builder(machine.get());
    builder.registerModuleAnalyses(mam);
    builder.registerCGSCCAnalyses(cgam);
    builder.registerFunctionAnalyses(fam);
    builder.registerLoopAnalyses(lam);
    builder.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager passes =
        builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    passes.run(*llvmModule, mam);
  }

  // Object code into a temporary file, then linked into the artifact.
  llvm::SmallString<128> object;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mm-artifact", "o", fd, object))
    return makeError("cannot create a temporary object file: " + ec.message());
  // Temporaries go on every exit, an interrupt (SIGINT, SIGTERM) included.
  llvm::FileRemover removeObject(object);
  llvm::sys::RemoveFileOnSignal(object);
  llvm::scope_exit forgetObject(
      [&] { llvm::sys::DontRemoveFileOnSignal(object); });
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return makeError("the target cannot emit object files");
    codegen.run(*llvmModule);
  }

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
      "-Bsymbolic", "-o", linked, object, "-L/usr/lib/x86_64-linux-gnu",
      "-L/lib/x86_64-linux-gnu",
      // Parallel loops run on LLVM's
      // OpenMP runtime (libomp-22-dev).
      "-L" MM_LLVM_LIBRARY_DIR, "-rpath", MM_LLVM_LIBRARY_DIR, "--as-needed",
      "-lomp", "-lm"};
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
