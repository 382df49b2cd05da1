//===- Pipelines.cpp - pass pipelines shared by every tool ----------------===//

#include "lowering/Pipelines.h"

#include "common/Precision.h"
#include "dialect/KernelSizes.h"
#include "lowering/LoweringPasses.h"
#include "lowering/Schedules.h"
#include "lowering/TargetInfo.h"
#include "passes/Passes.h"

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
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
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
  if (llvm::StringRef(options.precision) != "f32") {
    ReducePrecisionOptions reduce;
    reduce.precision = options.precision;
    pm.addPass(createReducePrecision(reduce));
  }
}

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The targets a pipeline compiles for.
enum class TargetNeed { Any, Cpu, Gpu };

/// Checks the options of pipeline `pipeline` and returns the target they
/// name (`fallback` when they name none). The errors are mm-compile's: the
/// target's from TargetInfo::parse, the sizes' with the limits of
/// dialect/KernelSizes.h.
llvm::Expected<TargetInfo> checkOptions(const CompilePipelineOptions &options,
                                        llvm::StringRef pipeline,
                                        llvm::StringRef fallback,
                                        TargetNeed need) {
  llvm::StringRef spec = options.target;
  llvm::Expected<TargetInfo> target =
      TargetInfo::parse(spec.empty() ? fallback : spec);
  if (!target)
    return target.takeError();
  if (need == TargetNeed::Gpu && !target->isGpu())
    return makeError(pipeline + " compiles for a GPU: pass a GPU target " +
                     "(supported: " + TargetInfo::supportedList() + "), not '" +
                     target->spec() + "'");
  if (need == TargetNeed::Cpu && target->isGpu())
    return makeError(pipeline + " compiles for the CPU (target cpu); " +
                     "target '" + target->spec() + "' needs mm-gpu-pipeline");
  llvm::StringRef strategy = options.strategy;
  if (strategy != "fused" && strategy != "unfused")
    return makeError("unknown fusion strategy '" + strategy +
                     "' (expected fused or unfused)");
  // Sizes that may be 0 take the target's default.
  for (auto [size, value, zeroIsDefault] :
       {std::tuple<const KernelSize &, int64_t, bool>{kGemmRows,
                                                      options.gemmRows, true},
        {kGemmTokens, options.gemmTokens, true},
        {kGemmRowsAtOnce, options.gemmRowsAtOnce, true},
        {kScanChannels, options.scanChannels, true},
        {kScanBlockChannels, options.scanBlockChannels, true},
        {kScanChunk, options.scanChunk, true},
        {kThreadsPerBlock, options.threadsPerBlock, true}})
    if (!(zeroIsDefault && value == 0) && !inRange(size, value))
      return makeError(size.option + " " + rangeError(size, value));
  if (!parsePrecision(options.precision))
    return makeError("unknown precision '" + options.precision +
                     "' (expected f32, bf16 or f16)");
  llvm::StringRef format = options.kernelFormat;
  if (!format.empty() && format != "isa" && format != "bin")
    return makeError("kernel-format must be isa or bin, not '" + format + "'");
  if (llvm::Expected<std::vector<UserSchedule>> schedules =
          parseUserSchedules(options.schedules);
      !schedules)
    return schedules.takeError();
  return target;
}

/// A size option: 0 takes the target's default.
int64_t sizeOr(int64_t value, int64_t targetDefault) {
  return value == 0 ? targetDefault : value;
}

void addFusedPasses(OpPassManager &pm, const CompilePipelineOptions &options,
                    const TargetInfo &target) {
  ModelPipelineOptions model;
  model.precision = options.precision;
  buildModelPipeline(pm, model);
  FuseKernelsOptions fusion;
  fusion.strategy = options.strategy;
  fusion.gemmRows = sizeOr(options.gemmRows, target.defaultGemmRows);
  fusion.gemmTokens = sizeOr(options.gemmTokens, target.defaultGemmTokens);
  fusion.gemmRowsAtOnce =
      sizeOr(options.gemmRowsAtOnce, target.defaultGemmRowsAtOnce);
  fusion.scanChannels =
      sizeOr(options.scanChannels, target.defaultScanChannels);
  fusion.scanBlockChannels = options.scanBlockChannels;
  fusion.scanChunk = options.scanChunk;
  // The GPU scan kernel's step form computes its delta (ScanKernels.h).
  fusion.scanStepDelta = target.isGpu() && options.scanKernels;
  fusion.kernelSizes.assign(options.kernelSizes.begin(),
                            options.kernelSizes.end());
  fusion.unfuse.assign(options.unfuse.begin(), options.unfuse.end());
  fusion.tuning = options.tuning;
  pm.addPass(createFuseKernels(fusion));
  OutlineKernelsOptions outline;
  outline.targetSpec = target.spec();
  pm.addPass(createOutlineKernels(outline));
}

void addHostLoopsPasses(OpPassManager &pm,
                        const CompilePipelineOptions &options,
                        const TargetInfo &target) {
  addFusedPasses(pm, options, target);
  SmallVector<std::string> schedules(options.schedules.begin(),
                                     options.schedules.end());
  LowerToLoopsOptions lowering;
  lowering.gemmKernels = options.gemmKernels;
  lowering.scanKernels = options.scanKernels;
  lowering.convKernels = options.convKernels;
  lowering.normKernels = options.normKernels;
  lowering.memoryKernels = options.memoryKernels;
  lowering.scheduleFiles = schedules;
  pm.addPass(createLowerToLoops(lowering));
  // The linalg kernels tiled and vectorised by their schedules.
  ApplySchedulesOptions apply;
  apply.targetSpec = target.spec();
  apply.scheduleFiles = schedules;
  pm.addPass(createApplySchedules(apply));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createLoopInvariantCodeMotionPass());
}

} // namespace

llvm::Error mm::buildFusedPipeline(OpPassManager &pm,
                                   const CompilePipelineOptions &options) {
  llvm::Expected<TargetInfo> target =
      checkOptions(options, "mm-fused-pipeline", "cpu", TargetNeed::Any);
  if (!target)
    return target.takeError();
  addFusedPasses(pm, options, *target);
  return llvm::Error::success();
}

llvm::Error mm::buildHostLoopsPipeline(OpPassManager &pm,
                                       const CompilePipelineOptions &options) {
  llvm::Expected<TargetInfo> target =
      checkOptions(options, "mm-host-loops-pipeline", "cpu", TargetNeed::Any);
  if (!target)
    return target.takeError();
  addHostLoopsPasses(pm, options, *target);
  return llvm::Error::success();
}

llvm::Error mm::buildHostPipeline(OpPassManager &pm,
                                  const CompilePipelineOptions &options) {
  llvm::Expected<TargetInfo> target =
      checkOptions(options, "mm-host-pipeline", "cpu", TargetNeed::Cpu);
  if (!target)
    return target.takeError();
  addHostLoopsPasses(pm, options, *target);
  addHostToLLVMPasses(pm);
  return llvm::Error::success();
}

/// What scheduled linalg kernels leave (mm-apply-schedules), on the CPU and
/// on GPUs: thread tiles as scf.forall (parallel loops: OpenMP loops or GPU
/// launches next), operations a schedule did not vectorise, vector
/// operations beyond what LLVM takes. No-ops for the loop kernels.
static void addScheduleLeftoverPasses(OpPassManager &pm) {
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(createConvertVectorToSCFPass());
}

void mm::addHostToLLVMPasses(OpPassManager &pm) {
  // Prefetches in the loops the schedules mark (decode's weight streams),
  // while the reads are still vector loads of buffers.
  pm.addPass(createPrefetchStreams());
  // bf16 roundings as integer operations: no libcall on CPUs without
  // AVX512-BF16 (a reduced-precision artifact, docs/precision.md).
  pm.addPass(createExpandHostBF16());
  // exp and log1p as vectorisable arithmetic instead of libm calls.
  pm.addPass(createExpandHostMath());
  addScheduleLeftoverPasses(pm);
  // Parallel loops become OpenMP work-sharing loops, whose bodies sit in
  // memref.alloca_scope: lower memrefs (and with them the scopes) while the
  // bodies are still single blocks, then the control flow.
  pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // Horizontal sums as trees, not one add after another: the schedules'
  // final sums of partial-sum vectors (a matrix-vector product's 32 lanes)
  // are reassociations of a sum the GEMM already reassociates.
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createUBToLLVMConversionPass());
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

/// The host side of a GPU module to the LLVM dialect: the entry points that
/// launch kernels (gpu-to-llvm) and the kernels' host copies, with their
/// table for the simulator.
static void addHostCodeToLLVMPasses(OpPassManager &pm) {
  // The kernels' host copies run on the host CPU (mm-expand-host-bf16).
  pm.addPass(createExpandHostBF16());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createSimulatorKernelTable());
}

/// The kernels of the gpu.modules, from the form the simulator copies
/// (scf, memref, vector, nvgpu / amdgpu) to the NVVM or ROCDL dialect. The
/// scf, strided-metadata and affine lowerings also apply to host code.
static void addDeviceLoweringPasses(OpPassManager &pm,
                                    const TargetInfo &target) {
  bool cuda = target.kind == TargetKind::Cuda;
  LowerGpuMathOptions math;
  math.targetSpec = target.spec();
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
    // Tensor-core kernels (GemmKernels.h): mma.sync (bf16 by our own
    // lowering), ldmatrix, cp.async.
    pm.addNestedPass<gpu::GPUModuleOp>(createLowerBF16MmaSync());
    pm.addNestedPass<gpu::GPUModuleOp>(createConvertNVGPUToNVVMPass());
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
    // Tensor-core kernels (GemmKernels.h): mfma.
    ConvertAMDGPUToROCDLPassOptions matrix;
    matrix.chipset = target.chip;
    pm.addNestedPass<gpu::GPUModuleOp>(createConvertAMDGPUToROCDLPass(matrix));
    ConvertGpuOpsToROCDLOpsOptions convert;
    convert.chipset = target.chip;
    convert.indexBitwidth = 64;
    pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToROCDLOps(convert));
  }
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());
}

/// The kernels, serialised into the module: PTX text (the driver compiles
/// it for the device it runs on) or an hsaco, unless kernel-format says
/// otherwise.
static void addKernelSerialisationPass(OpPassManager &pm,
                                       const CompilePipelineOptions &options,
                                       const TargetInfo &target) {
  bool cuda = target.kind == TargetKind::Cuda;
  GpuModuleToBinaryPassOptions binary;
  std::string format = options.kernelFormat;
  binary.compilationTarget =
      !format.empty() ? format : (cuda ? std::string("isa") : "bin");
  if (!cuda)
    binary.toolkitPath = rocmToolkit();
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

llvm::Error mm::buildSimulatorPipeline(OpPassManager &pm,
                                       const CompilePipelineOptions &options) {
  llvm::Expected<TargetInfo> checked = checkOptions(
      options, "mm-simulator-pipeline", "cuda:sm_90", TargetNeed::Gpu);
  if (!checked)
    return checked.takeError();
  SimulatorKernelsOptions simulator;
  simulator.targetSpec = checked->spec();
  simulator.dropDeviceCode = true;
  pm.addPass(createSimulatorKernels(simulator));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  addHostCodeToLLVMPasses(pm);
  pm.addPass(createCanonicalizerPass());
  return llvm::Error::success();
}

llvm::Error mm::buildGpuPipeline(OpPassManager &pm,
                                 const CompilePipelineOptions &options) {
  llvm::Expected<TargetInfo> checked =
      checkOptions(options, "mm-gpu-pipeline", "cuda:sm_90", TargetNeed::Gpu);
  if (!checked)
    return checked.takeError();
  const TargetInfo &target = *checked;

  addHostLoopsPasses(pm, options, target);
  // The thread tiles become the parallel loops mm-offload-to-gpu launches
  // (a thread per iteration).
  addScheduleLeftoverPasses(pm);
  OffloadToGpuOptions offload;
  offload.threadsPerBlock =
      sizeOr(options.threadsPerBlock, target.threadsPerBlock);
  pm.addPass(createOffloadToGpu(offload));
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // The host copies of the kernels for the simulator device, taken before
  // anything vendor-specific happens to them.
  SimulatorKernelsOptions simulator;
  simulator.targetSpec = target.spec();
  pm.addPass(createSimulatorKernels(simulator));
  addDeviceLoweringPasses(pm, target);
  // The host code (and the kernels' host copies).
  addHostCodeToLLVMPasses(pm);
  // The kernels, serialised into the module: PTX text (the driver compiles
  // it for the device it runs on) or an hsaco.
  addKernelSerialisationPass(pm, options, target);
  // The runtime loads the kernels per device and hands the entry points a
  // context; launches go on its stream without synchronising.
  pm.addPass(createKernelContext());
  pm.addPass(createCanonicalizerPass());
  return llvm::Error::success();
}

llvm::Error mm::buildGpuKernelsPipeline(OpPassManager &pm,
                                        const CompilePipelineOptions &options) {
  llvm::Expected<TargetInfo> target = checkOptions(
      options, "mm-gpu-kernels-pipeline", "cuda:sm_90", TargetNeed::Gpu);
  if (!target)
    return target.takeError();
  addDeviceLoweringPasses(pm, *target);
  addKernelSerialisationPass(pm, options, *target);
  return llvm::Error::success();
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
  // Vector operations inside kernels (GemmKernels.h).
  vector::registerConvertVectorToLLVMInterface(registry);
}

namespace {

/// Registers a pipeline whose builder checks its options: a bad option is an
/// error of the pipeline's parse (mm-opt reports it and stops), with the
/// builder's message.
void registerCheckedPipeline(
    llvm::StringRef name, llvm::StringRef description,
    llvm::Error (*build)(OpPassManager &, const CompilePipelineOptions &)) {
  registerPassPipeline(
      name, description,
      [build](
          OpPassManager &pm, llvm::StringRef text,
          llvm::function_ref<LogicalResult(const llvm::Twine &)> errorHandler)
          -> LogicalResult {
        CompilePipelineOptions options;
        if (failed(options.parseFromString(text)))
          return failure();
        if (llvm::Error error = build(pm, options))
          return errorHandler(llvm::toString(std::move(error)));
        return success();
      },
      [](llvm::function_ref<void(const mlir::detail::PassOptions &)>
             optHandler) { optHandler(CompilePipelineOptions()); });
}

} // namespace

void mm::registerPipelines() {
  PassPipelineRegistration<ModelPipelineOptions>(
      "mm-model-pipeline",
      "Decompose mm.layer composites into primitive mm operations and "
      "canonicalize",
      buildModelPipeline);
  registerCheckedPipeline(
      "mm-fused-pipeline",
      "mm-model-pipeline, then one mm.fused group per kernel, outlined into "
      "a kernel function per distinct group",
      buildFusedPipeline);
  registerCheckedPipeline(
      "mm-host-loops-pipeline",
      "mm-model-pipeline, then the entry points as loops over buffers with "
      "the artifact calling convention",
      buildHostLoopsPipeline);
  registerCheckedPipeline(
      "mm-gpu-pipeline",
      "The GPU lowering: kernels for the target's gpu.module (NVVM or "
      "ROCDL), serialised, and host code that launches them",
      buildGpuPipeline);
  registerCheckedPipeline(
      "mm-gpu-kernels-pipeline",
      "The tail of mm-gpu-pipeline alone: a module's gpu.modules of kernels "
      "(no host code) lowered for the target and serialised",
      buildGpuKernelsPipeline);
  registerCheckedPipeline(
      "mm-simulator-pipeline",
      "The host copies of a module's GPU kernels alone, down to the LLVM "
      "dialect (mm-sim-kernel runs them on the simulator)",
      buildSimulatorPipeline);
  PassPipelineRegistration<>(
      "mm-host-kernels-pipeline",
      "Kernel functions over buffers (loops, or linalg after "
      "mm-apply-schedules) down to the LLVM dialect: the last steps of "
      "mm-host-pipeline",
      [](OpPassManager &pm) { addHostToLLVMPasses(pm); });
  registerCheckedPipeline("mm-host-pipeline",
                          "The host (CPU) lowering down to the LLVM dialect",
                          buildHostPipeline);
}
