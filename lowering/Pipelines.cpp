//===- Pipelines.cpp - pass pipelines shared by every tool ----------------===//

#include "lowering/Pipelines.h"

#include "lowering/LoweringPasses.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mm::buildModelPipeline(OpPassManager &pm,
                            const ModelPipelineOptions &options) {
  pm.addPass(createDecomposeLayers());
  if (options.canonicalize) {
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
}

void mm::buildFusedPipeline(OpPassManager &pm,
                            const FusionPipelineOptions &options) {
  buildModelPipeline(pm, ModelPipelineOptions());
  FuseKernelsOptions fusion;
  fusion.strategy = options.strategy;
  fusion.gemmRows = options.gemmRows;
  fusion.gemmTokens = options.gemmTokens;
  fusion.gemmRowsAtOnce = options.gemmRowsAtOnce;
  fusion.scanChannels = options.scanChannels;
  pm.addPass(createFuseKernels(fusion));
}

void mm::buildHostLoopsPipeline(OpPassManager &pm,
                                const FusionPipelineOptions &options) {
  buildFusedPipeline(pm, options);
  pm.addPass(createLowerToLoops());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createLoopInvariantCodeMotionPass());
}

void mm::buildHostPipeline(OpPassManager &pm,
                           const FusionPipelineOptions &options) {
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

void mm::registerPipelines() {
  PassPipelineRegistration<ModelPipelineOptions>(
      "mm-model-pipeline",
      "Decompose mm.layer composites into primitive mm operations and "
      "canonicalize",
      buildModelPipeline);
  PassPipelineRegistration<FusionPipelineOptions>(
      "mm-fused-pipeline",
      "mm-model-pipeline, then one mm.fused group per kernel",
      buildFusedPipeline);
  PassPipelineRegistration<FusionPipelineOptions>(
      "mm-host-loops-pipeline",
      "mm-model-pipeline, then the entry points as loops over buffers with "
      "the artifact calling convention",
      buildHostLoopsPipeline);
  PassPipelineRegistration<FusionPipelineOptions>(
      "mm-host-pipeline", "The host (CPU) lowering down to the LLVM dialect",
      buildHostPipeline);
}
