//===- DeviceKernels.h - what every hand-written GPU kernel builds -*- C++
//-*-===//
//
// The pieces the kernel generators (GemmKernels, ScanKernels, ConvKernels)
// share: the kernel function itself, and views of the block's dynamic shared
// memory.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_DEVICEKERNELS_H
#define MM_LOWERING_DEVICEKERNELS_H

#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/Error.h"

#include <algorithm>

namespace mm {

/// An error of a kernel generator (a size or an operand it cannot take).
inline llvm::Error kernelError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The target's block size in whole warps (at least one): the block of the
/// kernels that spread one row or one sequence over all their threads (the
/// norm kernel, the memory and cross-layer decode steps).
inline int64_t wholeWarpThreads(const TargetInfo &target) {
  int64_t warp = target.subgroupWidth;
  return std::max<int64_t>(1, target.threadsPerBlock / warp) * warp;
}

/// Adds to the end of `module` an empty kernel `name` taking `arguments`,
/// launched with `threads` threads per block (its known block size), or an
/// error if `module` already has the name.
llvm::Expected<mlir::gpu::GPUFuncOp>
createDeviceKernel(mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                   mlir::TypeRange arguments, int64_t threads);

/// The block's dynamic shared memory, as bytes.
mlir::Value dynamicSharedBytes(mlir::OpBuilder &b, mlir::Location loc);

/// A view of `shape` x `element` at byte `offset` of `bytes` (from
/// dynamicSharedBytes).
mlir::Value sharedView(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value bytes, llvm::ArrayRef<int64_t> shape,
                       mlir::Type element, int64_t offset);

} // namespace mm

#endif // MM_LOWERING_DEVICEKERNELS_H
