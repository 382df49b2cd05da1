//===- mm-opt.cpp - mlir-opt for the mm dialect ---------------------------===//
//
// Registers only what the project uses: the mm dialect, the dialects the
// lowerings produce (host and GPU), and the passes and pipelines of passes/
// and lowering/ (plus canonicalize and cse).
//
//===----------------------------------------------------------------------===//

#include "dialect/MMDialect.h"
#include "lowering/LoweringPasses.h"
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/ROCDLDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "lowering/ArtifactWriter.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mm::registerMMPasses();
  mm::registerMMLoweringPasses();
  mm::registerPipelines();

  mlir::DialectRegistry registry;
  registry.insert<mm::MMDialect, mlir::arith::ArithDialect,
                  mlir::func::FuncDialect, mlir::math::MathDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect,
                  mlir::LLVM::LLVMDialect, mlir::cf::ControlFlowDialect,
                  mlir::gpu::GPUDialect, mlir::NVVM::NVVMDialect,
                  mlir::ROCDL::ROCDLDialect,
                  // What hand-written kernels for the simulator use
                  // (mm-simulator-kernels: matrix instructions, vectors).
                  mlir::nvgpu::NVGPUDialect, mlir::amdgpu::AMDGPUDialect,
                  mlir::vector::VectorDialect,
                  // Linalg kernels and their schedules (mm-apply-schedules).
                  mlir::linalg::LinalgDialect, mlir::affine::AffineDialect>();
  // The GPU pipeline serialises kernels: target attributes and translations.
  mm::registerArtifactTranslations(registry);
  mm::registerLoweringInterfaces(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "mm optimizer driver\n", registry));
}
