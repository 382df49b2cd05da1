//===- KernelLaunch.h - building and launching GPU kernels -----*- C++ -*-===//
//
// What the GPU kernel lowerings (KernelLowering.cpp, MemoryKernelLowering.cpp)
// share to put kernels into the artifact's gpu.module and launch them from
// the lowered host function.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_KERNELLAUNCH_H
#define MM_LOWERING_KERNELLAUNCH_H

#include "lowering/GemmKernels.h"
#include "lowering/KernelBuilder.h"
#include "lowering/KernelLowering.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mm {

/// The gpu.module every GPU kernel of the artifact goes to, made on first
/// use.
mlir::gpu::GPUModuleOp kernelModule(mlir::ModuleOp module, mlir::OpBuilder &b,
                                    mlir::Location loc);

/// Launches `function` with `threads` threads per block and `sharedBytes`
/// of dynamic shared memory.
void launchKernel(KernelBuilder &kb, mlir::gpu::GPUFuncOp function,
                  mlir::gpu::KernelDim3 grid, int64_t threads,
                  int64_t sharedBytes, mlir::ValueRange arguments);

/// Whether the GEMM kernel of `spec` exists on `target` for activations of
/// type `activations` ([B, T, K]).
bool gemmFits(const GemmKernelSpec &spec, mlir::MemRefType activations,
              const TargetInfo &target);

/// Launches `gemm` for c [B, T, N] = a [B, T, K] w [N, K]^T over the
/// B x T rows (none when there are no rows).
void launchGemm(KernelBuilder &kb, GemmKernel gemm, mlir::Value a,
                mlir::Value w, mlir::Value c);

/// Builds the GEMM kernel of `spec` into `kernels` and launches it (errors
/// are reported on `op`).
mlir::LogicalResult launchGemm(KernelBuilder &kb,
                               mlir::gpu::GPUModuleOp kernels,
                               const GemmKernelSpec &spec, mlir::Value a,
                               mlir::Value w, mlir::Value c,
                               const TargetInfo &target, mlir::Operation *op);

/// The memory block and the cross-layer attention in their parallel form
/// on GPU targets (MemoryKernelLowering.cpp).
const KernelLowering &gpuMemoryKernelLowering();
const KernelLowering &gpuCrossLayerKernelLowering();

} // namespace mm

#endif // MM_LOWERING_KERNELLAUNCH_H
