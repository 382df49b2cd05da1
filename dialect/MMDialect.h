//===- MMDialect.h - the mm dialect -----------------------------*- C++ -*-===//
//
// The `mm` dialect, its enums and attributes.
//
//===----------------------------------------------------------------------===//

#ifndef MM_DIALECT_MMDIALECT_H
#define MM_DIALECT_MMDIALECT_H

#include "common/ModelConfig.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/MMDialect.h.inc"
#include "dialect/MMEnums.h.inc"

namespace mm {
/// Parses a double parameter of an mm attribute (0.5, 1e-05, 3).
mlir::FailureOr<llvm::APFloat> parseF64Parameter(mlir::AsmParser &parser);
} // namespace mm

#define GET_ATTRDEF_CLASSES
#include "dialect/MMAttrs.h.inc"

namespace mm {
/// Converts between the dialect's eviction enum and the runtime config's.
EvictionPolicy toEvictionPolicy(Eviction eviction);
Eviction fromEvictionPolicy(EvictionPolicy policy);

/// Whether an entry point takes each sequence's length [B] after its tokens
/// (prefill and prefill_last: a batch right-padded to its longest sequence).
inline bool entryTakesLengths(EntryKind kind) {
  return kind == EntryKind::prefill || kind == EntryKind::prefill_last;
}

/// The arguments an entry point takes before its state fields: the prefills
/// the tokens [B, T] and the lengths [B], decode the tokens [B, 1],
/// init_state the batch size (and no state).
inline unsigned getNumLeadingEntryArguments(EntryKind kind) {
  return entryTakesLengths(kind) ? 2 : 1;
}
} // namespace mm

#endif // MM_DIALECT_MMDIALECT_H
