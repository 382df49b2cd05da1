//===- NormKernels.h - RMSNorm and its residual as a GPU kernel -*- C++ -*-===//
//
// A norm kernel (an RMSNorm, or a fused residual and the RMSNorm of its
// result) on GPU targets as one kernel: a block per row (token), its
// threads along the row (coalesced), each summing the squares of its
// elements in f64; the partial sums meet in shared memory, where one thread
// adds them in order and takes the row's scale; then each thread scales its
// elements. One launch where the linalg schedule (schedules/gpu/norm.mlir)
// takes three (the residual, a thread per row summing, the scaling): in a
// decode step those are launch latency, in prefill the thread per row
// reads its row alone, uncoalesced.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_NORMKERNELS_H
#define MM_LOWERING_NORMKERNELS_H

#include "dialect/MMOps.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace mm {

/// The operations of a norm kernel function the kernel takes: an RMSNorm
/// of [B, T, D] with a static D, alone or normalising the residual before
/// it.
struct NormKernelOperations {
  ResidualOp residual; ///< null: the norm alone
  RMSNormOp norm;
};
std::optional<NormKernelOperations> normKernelOperations(mlir::func::FuncOp);

/// The values whose buffers the kernel takes, in order: the residual's
/// operands (x, the mixer, then each context with its gate, where present)
/// and its result, or the norm's input; then the norm's weight and result.
llvm::SmallVector<mlir::Value> normKernelValues(NormKernelOperations ops);

/// Adds the kernel `name` to `module`, taking buffers of the given types
/// for normKernelValues(ops). Grid (T, B); wholeWarpThreads(target)
/// threads (DeviceKernels.h).
llvm::Expected<mlir::gpu::GPUFuncOp>
buildNormKernel(mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                NormKernelOperations ops, mlir::TypeRange arguments,
                const TargetInfo &target);
/// Dynamic shared memory: the threads' partial sums and the row's scale.
int64_t normKernelSharedBytes(const TargetInfo &target);

} // namespace mm

#endif // MM_LOWERING_NORMKERNELS_H
