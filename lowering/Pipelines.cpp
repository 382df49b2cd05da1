//===- Pipelines.cpp - pass pipelines shared by every tool ----------------===//

#include "lowering/Pipelines.h"

#include "lowering/LoweringPasses.h"
#include "passes/Passes.h"

#include "lowering/TargetInfo.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUCommon/GPUToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mm;

void mm::buildModelPipeline(OpPassManager &pm,
                            const ModelPipelineOptions &options) {
  pm.addPass(createDecomposeLayers());
  if (options.canonicalize) {
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
}

namespace {

/// The target the options name, `fallback` when they name none. A bad spec
/// also falls back: the pass pipeline cannot report errors itself, mm-compile
/// checks targets first, and a bad one fails in mm-lower-gpu-math.
TargetInfo targetOf(const CompilePipelineOptions &options,
                    llvm::StringRef fallback) {
  llvm::StringRef spec = options.target;
  llvm::Expected<TargetInfo> parsed =
      TargetInfo::parse(spec.empty() ? fallback : spec);
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return TargetInfo();
  }
  return *parsed;
}

/// A size option: 0 takes the target's default.
int64_t sizeOr(int64_t value, int64_t targetDefault) {
  return value == 0 ? targetDefault : value;
}

void addFusedPasses(OpPassManager &pm, const CompilePipelineOptions &options,
                    const TargetInfo &target) {
  buildModelPipeline(pm, ModelPipelineOptions());
  FuseKernelsOptions fusion;
  fusion.strategy = options.strategy;
  fusion.gemmRows = sizeOr(options.gemmRows, target.defaultGemmRows);
  fusion.gemmTokens = options.gemmTokens;
  fusion.gemmRowsAtOnce = options.gemmRowsAtOnce;
  fusion.scanChannels =
      sizeOr(options.scanChannels, target.defaultScanChannels);
  pm.addPass(createFuseKernels(fusion));
}

void addHostLoopsPasses(OpPassManager &pm,
                        const CompilePipelineOptions &options,
                        const TargetInfo &target) {
  addFusedPasses(pm, options, target);
  pm.addPass(createLowerToLoops());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createLoopInvariantCodeMotionPass());
}

} // namespace

void mm::buildFusedPipeline(OpPassManager &pm,
                            const CompilePipelineOptions &options) {
  addFusedPasses(pm, options, targetOf(options, "cpu"));
}

void mm::buildHostLoopsPipeline(OpPassManager &pm,
                                const CompilePipelineOptions &options) {
  addHostLoopsPasses(pm, options, targetOf(options, "cpu"));
}

void mm::buildHostPipeline(OpPassManager &pm,
                           const CompilePipelineOptions &options) {
  buildHostLoopsPipeline(pm, options);
  // Parallel loops become OpenMP work-sharing loops, whose bodies sit in
  // memref.alloca_scope: lower memrefs (and with them the scopes) while the
  // bodies are still single blocks, then the control flow.
  pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

namespace {

/// MLIR's ROCDL serialiser wants a ROCm tree: $ROCM/amdgcn/bitcode (the
/// device libraries, which our kernels never call: LowerGpuMath keeps them
/// library-free) and $ROCM/llvm/bin/ld.lld. A folder with an empty bitcode
/// directory and a link to LLVM's own ld.lld serves, made once per process.
std::string rocmToolkit() {
  static std::string path = [] {
    llvm::SmallString<128> root;
    if (llvm::sys::fs::createUniqueDirectory("mm-rocm", root))
      return std::string();
    llvm::SmallString<128> bitcode(root), bin(root), lld;
    llvm::sys::path::append(bitcode, "amdgcn", "bitcode");
    llvm::sys::path::append(bin, "llvm", "bin");
    llvm::sys::fs::create_directories(bitcode);
    llvm::sys::fs::create_directories(bin);
    llvm::sys::path::append(lld, MM_LLVM_TOOLS_DIR, "ld.lld");
    llvm::sys::path::append(bin, "ld.lld");
    llvm::sys::fs::create_link(lld, bin);
    return std::string(root);
  }();
  return path;
}

} // namespace

void mm::buildGpuPipeline(OpPassManager &pm,
                          const CompilePipelineOptions &options) {
  TargetInfo target = targetOf(options, "cuda:sm_90");
  bool cuda = target.kind == TargetKind::Cuda;

  addHostLoopsPasses(pm, options, target);
  OffloadToGpuOptions offload;
  offload.threadsPerBlock =
      sizeOr(options.threadsPerBlock, target.threadsPerBlock);
  pm.addPass(createOffloadToGpu(offload));
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  LowerGpuMathOptions math;
  // A bad spec is named in mm-lower-gpu-math's error.
  math.targetSpec =
      options.target.empty() ? target.spec() : std::string(options.target);
  pm.addNestedPass<gpu::GPUModuleOp>(createLowerGpuMath(math));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  if (cuda) {
    GpuNVVMAttachTargetOptions attach;
    attach.chip = target.chip;
    attach.features = target.features; // "": the chip's minimum PTX ISA
    attach.optLevel = 3;
    pm.addPass(createGpuNVVMAttachTarget(attach));
    ConvertGpuOpsToNVVMOpsOptions convert;
    convert.indexBitwidth = 64;
    pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps(convert));
    pm.addNestedPass<gpu::GPUModuleOp>(createConvertNVVMToLLVMPass());
  } else {
    GpuROCDLAttachTargetOptions attach;
    attach.chip = target.chip;
    attach.optLevel = 3;
    attach.abiVersion = "500"; // code object v5: ROCm 5.x and 6.x load it
    pm.addPass(createGpuROCDLAttachTarget(attach));
    ConvertGpuOpsToROCDLOpsOptions convert;
    convert.chipset = target.chip;
    convert.indexBitwidth = 64;
    pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToROCDLOps(convert));
  }
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());
  // The host code.
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  // The kernels, serialised into the module: PTX text (the driver compiles
  // it for the device it runs on) or an hsaco.
  GpuModuleToBinaryPassOptions binary;
  std::string format = options.kernelFormat;
  binary.compilationTarget =
      !format.empty() ? format : (cuda ? std::string("isa") : "bin");
  if (!cuda)
    binary.toolkitPath = rocmToolkit();
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createCanonicalizerPass());
}

void mm::registerLoweringInterfaces(DialectRegistry &registry) {
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  gpu::registerConvertGpuToLLVMInterface(registry);
  NVVM::registerConvertGpuToNVVMInterface(registry);
}

void mm::registerPipelines() {
  PassPipelineRegistration<ModelPipelineOptions>(
      "mm-model-pipeline",
      "Decompose mm.layer composites into primitive mm operations and "
      "canonicalize",
      buildModelPipeline);
  PassPipelineRegistration<CompilePipelineOptions>(
      "mm-fused-pipeline",
      "mm-model-pipeline, then one mm.fused group per kernel",
      buildFusedPipeline);
  PassPipelineRegistration<CompilePipelineOptions>(
      "mm-host-loops-pipeline",
      "mm-model-pipeline, then the entry points as loops over buffers with "
      "the artifact calling convention",
      buildHostLoopsPipeline);
  PassPipelineRegistration<CompilePipelineOptions>(
      "mm-gpu-pipeline",
      "The GPU lowering: kernels for the target's gpu.module (NVVM or "
      "ROCDL), serialised, and host code that launches them",
      buildGpuPipeline);
  PassPipelineRegistration<CompilePipelineOptions>(
      "mm-host-pipeline", "The host (CPU) lowering down to the LLVM dialect",
      buildHostPipeline);
}
