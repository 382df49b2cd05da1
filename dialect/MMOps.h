//===- MMOps.h - mm operations ----------------------------------*- C++ -*-===//

#ifndef MM_DIALECT_MMOPS_H
#define MM_DIALECT_MMOPS_H

#include "dialect/MMDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/MMOps.h.inc"

namespace mm {
/// Whether `op` may be part of a fusion group or kernel function: an mm
/// operation other than the bindings and views that stay outside (weights,
/// splits) and the composites; emits the error otherwise.
mlir::LogicalResult verifyFusable(mlir::Operation *op);
} // namespace mm

#endif // MM_DIALECT_MMOPS_H
