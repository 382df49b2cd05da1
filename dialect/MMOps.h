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

#endif // MM_DIALECT_MMOPS_H
