//===- ExpandHostMath.cpp - exp and log1p of host code as polynomials
//------===//
//
// LLVM lowers math.exp and math.log1p on the host to calls of libm's expf
// and log1pf, one element at a time: a loop that calls them is never
// vectorised, and the call dominates (the scan's exp(dt A) per state, the
// SiLU of the gate and the conv, softplus: 15% of a mamba-130m prefill in
// expf alone). Upstream's polynomial approximations compute them with
// arithmetic (a range reduction and a polynomial, within a few ulp of libm),
// which the vectorisers and the schedules' vectors carry as they do any
// other arithmetic. GPU modules keep their own lowering (mm-lower-gpu-math).
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mm {
#define GEN_PASS_DEF_EXPANDHOSTMATH
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;

namespace {

struct ExpandHostMathPass
    : public mm::impl::ExpandHostMathBase<ExpandHostMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // log1p's approximation is written with log, which is approximated in
    // turn. Only f32 operations are rewritten (f64 ones keep libm).
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return name == "math.exp" || name == "math.log1p" || name == "math.log";
    });
    if (failed(mm::applyPatternsToHostCode(
            getOperation(), FrozenRewritePatternSet(std::move(patterns)))))
      signalPassFailure();
  }
};

} // namespace
