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
};

void buildModelPipeline(mlir::OpPassManager &pm,
                        const ModelPipelineOptions &options);

/// Registers every pipeline with the pass registry.
void registerPipelines();

} // namespace mm

#endif // MM_LOWERING_PIPELINES_H
