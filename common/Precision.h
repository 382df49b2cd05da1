//===- Precision.h - the element type of GEMM weights and inputs -*- C++ -*-===//
//
// The precision an artifact is compiled for (mm-compile --precision): f32, or
// a reduced precision in which the matrix products' weights are stored in
// bf16 or f16 (in the artifact's weight buffer, on the host and on the
// device) and their activation inputs are rounded to that type, products
// accumulating in f32. Everything else (the conv, A_log, D, the norms, the
// scan, the recurrent state, the whole memory block and its decisions) stays
// f32 (spec section 3, invariant 5; docs/precision.md). The compiler, the
// manifest and the runtime's loaders and reference executor spell it here.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_PRECISION_H
#define MM_COMMON_PRECISION_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace mm {

enum class Precision { F32, BF16, F16 };

/// "f32", "bf16" or "f16": the spelling of mm-compile, the manifest and the
/// weights' "dtype" in it.
inline llvm::StringRef stringifyPrecision(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return "f32";
  case Precision::BF16:
    return "bf16";
  case Precision::F16:
    return "f16";
  }
  return "f32";
}

inline std::optional<Precision> parsePrecision(llvm::StringRef text) {
  if (text == "f32")
    return Precision::F32;
  if (text == "bf16")
    return Precision::BF16;
  if (text == "f16")
    return Precision::F16;
  return std::nullopt;
}

/// Bytes per element of a weight stored in `precision`.
inline int64_t precisionBytes(Precision precision) {
  return precision == Precision::F32 ? 4 : 2;
}

} // namespace mm

#endif // MM_COMMON_PRECISION_H
