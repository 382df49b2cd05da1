//===- LoweringPasses.h - lowering passes -----------------------*- C++ -*-===//

#ifndef MM_LOWERING_LOWERINGPASSES_H
#define MM_LOWERING_LOWERINGPASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"

namespace mm {

#define GEN_PASS_DECL
#include "lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowering/Passes.h.inc"

/// The module attribute where mm-kernel-context leaves the objects of the
/// gpu.binary it turned into data: a dictionary from the binary's name to
/// its array of #gpu.object.
inline constexpr llvm::StringLiteral kKernelBinariesAttrName =
    "mm.kernel_binaries";

/// Applies `patterns` greedily to the host code of `module`: every
/// top-level operation but the gpu.modules (whose kernels keep what their
/// target has). Defined in ExpandHostBF16.cpp; the mm-expand-host-* passes
/// share it.
mlir::LogicalResult
applyPatternsToHostCode(mlir::ModuleOp module,
                        const mlir::FrozenRewritePatternSet &patterns);

} // namespace mm

#endif // MM_LOWERING_LOWERINGPASSES_H
