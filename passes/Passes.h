//===- Passes.h - transformations on mm -------------------------*- C++ -*-===//

#ifndef MM_PASSES_PASSES_H
#define MM_PASSES_PASSES_H

#include "dialect/MMOps.h"

#include "mlir/Pass/Pass.h"

namespace mm {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mm

#endif // MM_PASSES_PASSES_H
