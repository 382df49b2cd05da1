//===- Pipelines.cpp - pass pipelines shared by every tool ----------------===//

#include "lowering/Pipelines.h"

#include "passes/Passes.h"

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

void mm::registerPipelines() {
  PassPipelineRegistration<ModelPipelineOptions>(
      "mm-model-pipeline",
      "Decompose mm.layer composites into primitive mm operations and "
      "canonicalize",
      buildModelPipeline);
}
