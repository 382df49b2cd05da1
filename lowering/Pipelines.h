//===- Pipelines.h - pass pipelines shared by every tool --------*- C++ -*-===//
//
// Each pipeline is an options struct plus a build function, registered once
// so that `mm-opt --pass-pipeline=...` reproduces exactly what mm-compile
// runs.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_PIPELINES_H
#define MM_LOWERING_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "llvm/Support/Error.h"

namespace mm {

/// `mm-model-pipeline`: from the imported module (mm.layer composites) to the
/// primitive model-level IR that fusion starts from.
struct ModelPipelineOptions
    : public mlir::PassPipelineOptions<ModelPipelineOptions> {
  Option<bool> canonicalize{
      *this, "canonicalize",
      llvm::cl::desc("Fold away the parts of the memory path that the config "
                     "disables, and clean up"),
      llvm::cl::init(true)};
  Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("The matrix products' weights and inputs: f32 "
                     "(default), bf16 or f16, accumulating in f32 "
                     "(mm-reduce-precision)"),
      llvm::cl::init("f32")};
};

void buildModelPipeline(mlir::OpPassManager &pm,
                        const ModelPipelineOptions &options);

/// The fusion strategy and kernel sizes (mm-fuse-kernels' options) and the
/// target, shared by every pipeline from `mm-fused-pipeline` down. Sizes left
/// at 0 take the target's defaults (TargetInfo), so `mm-opt
/// --mm-host-pipeline` builds what `mm-compile` builds.
struct CompilePipelineOptions
    : public mlir::PassPipelineOptions<CompilePipelineOptions> {
  Option<std::string> strategy{
      *this, "strategy",
      llvm::cl::desc("Fusion strategy: fused (default) or unfused"),
      llvm::cl::init("fused")};
  Option<int64_t> gemmRows{
      *this, "gemm-rows",
      llvm::cl::desc("Weight rows per block of outputs of a matrix product, "
                     "to 4096 (0: the target's, 64 on the CPU, 4 on GPUs)"),
      llvm::cl::init(0)};
  Option<int64_t> gemmTokens{
      *this, "gemm-tokens",
      llvm::cl::desc("Input rows per tile of a matrix product, to 256 (0: "
                     "the target's, 4 on the CPU, 8 on GPUs)"),
      llvm::cl::init(0)};
  Option<int64_t> gemmRowsAtOnce{
      *this, "gemm-rows-at-once",
      llvm::cl::desc("Weight rows that share each load of an input row, to "
                     "16 (0: the target's, 3 on the CPU, 4 on GPUs)"),
      llvm::cl::init(0)};
  Option<int64_t> scanChannels{
      *this, "scan-channels",
      llvm::cl::desc("Channels per task of the selective scan and the conv, "
                     "to 1024 (0: the target's, 16 on the CPU, 1 on GPUs)"),
      llvm::cl::init(0)};
  Option<int64_t> scanBlockChannels{
      *this, "scan-block-channels",
      llvm::cl::desc("Channels per block of the GPU scan kernel, to 1024 (0: "
                     "the kernel's default)"),
      llvm::cl::init(0)};
  Option<int64_t> scanChunk{
      *this, "scan-chunk",
      llvm::cl::desc("Tokens per chunk of the GPU scan kernel, a multiple of "
                     "the warp width, to 2048 (0: the kernel's default)"),
      llvm::cl::init(0)};
  Option<std::string> target{
      *this, "target",
      llvm::cl::desc("Target (cpu, cuda:sm_90, hip:gfx942, ...; default: cpu, "
                     "and cuda:sm_90 for mm-gpu-pipeline)"),
      llvm::cl::init("")};
  Option<int64_t> threadsPerBlock{
      *this, "threads-per-block",
      llvm::cl::desc("Threads per block of the GPU kernels, to 1024 (0: the "
                     "target's)"),
      llvm::cl::init(0)};
  Option<bool> gemmKernels{
      *this, "gemm-kernels",
      llvm::cl::desc("On GPU targets, linear and lm_head kernels as GEMM "
                     "kernels (lowering/GemmKernels.h; the default), else "
                     "the loop emitters"),
      llvm::cl::init(true)};
  Option<bool> scanKernels{
      *this, "scan-kernels",
      llvm::cl::desc("On GPU targets, the selective scan as the block-level "
                     "scan kernel (lowering/ScanKernels.h; the default), "
                     "else the loop emitters"),
      llvm::cl::init(true)};
  Option<bool> convKernels{
      *this, "conv-kernels",
      llvm::cl::desc("On GPU targets, the causal conv as the conv kernel "
                     "(lowering/ConvKernels.h; the default), else the loop "
                     "emitters or the user's conv schedule"),
      llvm::cl::init(true)};
  Option<bool> normKernels{
      *this, "norm-kernels",
      llvm::cl::desc("On GPU targets, RMSNorm (with the residual it "
                     "normalises) as the norm kernel, a block per row "
                     "(lowering/NormKernels.h; the default), else the norm "
                     "schedule or the user's"),
      llvm::cl::init(true)};
  Option<bool> memoryKernels{
      *this, "memory-kernels",
      llvm::cl::desc("On GPU targets, the memory block and the cross-layer "
                     "attention in their parallel form "
                     "(lowering/MemoryKernels.h; the default), else the "
                     "loop emitters"),
      llvm::cl::init(true)};
  Option<std::string> kernelFormat{
      *this, "kernel-format",
      llvm::cl::desc("What mm-gpu-pipeline embeds: isa (PTX or GCN "
                     "assembly text) or bin (hsaco; needed to run on AMD)"),
      llvm::cl::init("")};
  Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("The matrix products' weights and inputs: f32 "
                     "(default), bf16 or f16, accumulating in f32 "
                     "(mm-reduce-precision)"),
      llvm::cl::init("f32")};
  ListOption<std::string> kernelSizes{
      *this, "kernel-sizes",
      llvm::cl::desc("KIND.SIZE=VALUE: a size of one kind's kernels "
                     "(gemm.tokens=2, conv.channels=8, ...), in place of the "
                     "options above for that kind (mm-fuse-kernels)")};
  ListOption<std::string> unfuse{
      *this, "unfuse",
      llvm::cl::desc("Kinds the fused strategy leaves unfused: scan, norm, "
                     "memory (mm-fuse-kernels)")};
  Option<std::string> tuning{
      *this, "tuning",
      llvm::cl::desc("Where kernel-sizes, unfuse and the schedules come "
                     "from (a tuning file), recorded in the manifest"),
      llvm::cl::init("")};
  ListOption<std::string> schedules{
      *this, "schedule",
      llvm::cl::desc("KIND:FILE: the transform schedule of the kernels "
                     "of KIND (gemm, norm, elementwise, embed, conv), "
                     "replacing the target's default "
                     "(lowering/schedules/{cpu,gpu}/KIND.mlir); KIND is then "
                     "lowered through linalg; KIND:loops keeps the "
                     "hand-written loops (docs/schedules.md)")};
};

// The builders below check their options first and add nothing to `pm`
// when one is bad; the error is the one mm-compile gives: an unknown target
// or chip (TargetInfo::parse), a target the pipeline does not compile for, an
// unknown strategy, precision or kernel format, a kernel size outside its limits
// (dialect/KernelSizes.h), a schedule of an unknown kind. The registered
// pipelines report it as an error of the pipeline, so mm-opt stops with it
// too.

/// `mm-fused-pipeline`: mm-model-pipeline, then the fusion groups
/// (--emit=fused). Any target (its default sizes).
llvm::Error buildFusedPipeline(mlir::OpPassManager &pm,
                               const CompilePipelineOptions &options);
/// `mm-host-loops-pipeline`: mm-fused-pipeline, then the entry points as
/// loops over buffers with the artifact's calling convention
/// (--emit=lowered). Any target (its default sizes).
llvm::Error buildHostLoopsPipeline(mlir::OpPassManager &pm,
                                   const CompilePipelineOptions &options);
/// `mm-host-pipeline`: the host loops lowered to the LLVM dialect
/// (--emit=llvm), ready for translation and native code generation. The CPU
/// target only.
llvm::Error buildHostPipeline(mlir::OpPassManager &pm,
                              const CompilePipelineOptions &options);

/// The last steps of `mm-host-pipeline`: host kernels over buffers (loop
/// nests, or linalg kernels after mm-apply-schedules) to the LLVM dialect,
/// parallel loops through OpenMP; registered alone as
/// `mm-host-kernels-pipeline`.
void addHostToLLVMPasses(mlir::OpPassManager &pm);

/// `mm-gpu-pipeline`: the host loops as GPU launches (mm-offload-to-gpu),
/// outlined into one gpu.module of kernels for the target (NVVM or ROCDL),
/// serialised into the module (gpu.binary: PTX for NVIDIA, hsaco for AMD
/// unless kernel-format says otherwise), and the host code lowered to the
/// LLVM dialect calling the mgpu* runtime. GPU targets only.
llvm::Error buildGpuPipeline(mlir::OpPassManager &pm,
                             const CompilePipelineOptions &options);

/// `mm-gpu-kernels-pipeline`: mm-gpu-pipeline's tail alone, for modules
/// that hold only gpu.modules of kernels (GEMM kernels from
/// mm-test-gemm-kernels, say): the kernels lowered to NVVM or ROCDL and
/// serialised as mm-gpu-pipeline serialises them. GPU targets only.
llvm::Error buildGpuKernelsPipeline(mlir::OpPassManager &pm,
                                    const CompilePipelineOptions &options);

/// Registers the dialect interfaces the lowerings need: the
/// ConvertToLLVM patterns convert-gpu-to-nvvm/-rocdl and gpu-to-llvm
/// collect from each dialect in a module (without them, the control flow
/// and arithmetic inside kernels are left half converted).
/// The host copies of the GPU kernels of a module (a gpu.module and no
/// entry points), alone, down to the LLVM dialect: what mm-sim-kernel runs
/// on the simulator device.
llvm::Error buildSimulatorPipeline(mlir::OpPassManager &pm,
                                   const CompilePipelineOptions &options);

void registerLoweringInterfaces(mlir::DialectRegistry &registry);

/// Registers every pipeline with the pass registry.
void registerPipelines();

} // namespace mm

#endif // MM_LOWERING_PIPELINES_H
