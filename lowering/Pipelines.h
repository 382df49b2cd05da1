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

/// `mm-host-loops-pipeline`: mm-model-pipeline, then the entry points as
/// loops over buffers with the artifact's calling convention (--emit=lowered).
struct HostPipelineOptions
    : public mlir::PassPipelineOptions<HostPipelineOptions> {
  Option<bool> toLLVM{*this, "to-llvm",
                      llvm::cl::desc("Continue down to the LLVM dialect"),
                      llvm::cl::init(true)};
};

void buildHostLoopsPipeline(mlir::OpPassManager &pm);
/// `mm-host-pipeline`: the host loops lowered to the LLVM dialect
/// (--emit=llvm), ready for translation and native code generation.
void buildHostPipeline(mlir::OpPassManager &pm,
                       const HostPipelineOptions &options);

/// Registers every pipeline with the pass registry.
void registerPipelines();

} // namespace mm

#endif // MM_LOWERING_PIPELINES_H
