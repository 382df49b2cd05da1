//===- LowerGpuMath.cpp - math in GPU kernels without a device library ----===//
//
// The loop kernels use math.exp (f32 and f64), math.log1p and math.sqrt.
// The GPU conversions would turn them into libdevice (__nv_*) or ocml
// (__ocml_*) calls, libraries Debian does not ship for every chip and the
// artifact would have to link. Here they become the target's own
// instructions (ex2.approx / v_exp_f32 and lg2.approx / v_log_f32, through
// TargetInfo's intrinsic names) or, for f64 exp, a range reduction and a
// polynomial exact to f64 rounding, so the device code needs no library.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include <cmath>

namespace mm {
#define GEN_PASS_DEF_LOWERGPUMATH
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

class MathRewriter {
public:
  MathRewriter(OpBuilder &b, Location loc, const TargetInfo &target)
      : b(b), loc(loc), target(target) {}

  Value constant(Type type, double value) {
    return arith::ConstantOp::create(b, loc, type,
                                     b.getFloatAttr(type, value));
  }
  Value intrinsic(StringRef name, Value x) {
    return LLVM::CallIntrinsicOp::create(b, loc, x.getType(),
                                         b.getStringAttr(name), ValueRange{x})
        .getResult(0);
  }

  /// 2^(x log2 e) on the exp2 instruction (f32).
  Value exp32(Value x) {
    return intrinsic(target.exp2Intrinsic(),
                     arith::MulFOp::create(b, loc, x,
                                           constant(x.getType(), M_LOG2E)));
  }

  /// exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 (ln 2 split in
  /// two for an exact product), exp(r) by its Taylor series to r^13
  /// (|r| <= ln2/2: the remainder is below f64 rounding).
  Value exp64(Value x) {
    Type f64 = x.getType(), i64 = b.getI64Type();
    // Beyond these exp overflows or underflows f64 anyway.
    x = arith::MaximumFOp::create(b, loc, x, constant(f64, -708.0));
    x = arith::MinimumFOp::create(b, loc, x, constant(f64, 709.0));
    // k = round(x log2 e), half away from zero, in arith only (math.round
    // would become a library call).
    Value t = arith::MulFOp::create(b, loc, x, constant(f64, M_LOG2E));
    Value half = arith::SelectOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, t,
                              constant(f64, 0.0)),
        constant(f64, 0.5), constant(f64, -0.5));
    Value k = arith::SIToFPOp::create(
        b, loc, f64,
        arith::FPToSIOp::create(b, loc, i64,
                                arith::AddFOp::create(b, loc, t, half)));
    Value r = arith::SubFOp::create(
        b, loc, x,
        arith::MulFOp::create(b, loc, k, constant(f64, 6.93147180369123816490e-01)));
    r = arith::SubFOp::create(
        b, loc, r,
        arith::MulFOp::create(b, loc, k, constant(f64, 1.90821492927058770002e-10)));
    Value sum = constant(f64, 1.0);
    for (int n = 13; n >= 1; --n) {
      // Horner: sum = 1 + r/n * sum, from the highest term down.
      sum = arith::AddFOp::create(
          b, loc, constant(f64, 1.0),
          arith::MulFOp::create(
              b, loc, arith::DivFOp::create(b, loc, r, constant(f64, n)), sum));
    }
    // 2^k from the exponent bits.
    Value bits = arith::ShLIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, arith::FPToSIOp::create(b, loc, i64, k),
                              arith::ConstantIntOp::create(b, loc, i64, 1023)),
        arith::ConstantIntOp::create(b, loc, i64, 52));
    Value scale = arith::BitcastOp::create(b, loc, f64, bits);
    return arith::MulFOp::create(b, loc, sum, scale);
  }

  /// log1p(x) = log(u) x / (u - 1), u = 1 + x; x when u rounds to 1.
  Value log1p32(Value x) {
    Type type = x.getType();
    Value u = arith::AddFOp::create(b, loc, x, constant(type, 1.0));
    Value denominator = arith::SubFOp::create(b, loc, u, constant(type, 1.0));
    Value log = arith::MulFOp::create(
        b, loc, intrinsic(target.log2Intrinsic(), u), constant(type, M_LN2));
    Value compensated = arith::DivFOp::create(
        b, loc, arith::MulFOp::create(b, loc, log, x), denominator);
    Value tiny = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                       denominator, constant(type, 0.0));
    return arith::SelectOp::create(b, loc, tiny, x, compensated);
  }

private:
  OpBuilder &b;
  Location loc;
  const TargetInfo &target;
};

struct LowerGpuMathPass
    : public mm::impl::LowerGpuMathBase<LowerGpuMathPass> {
  using LowerGpuMathBase::LowerGpuMathBase;

  void runOnOperation() override {
    auto target = TargetInfo::parse(targetSpec);
    if (!target || !target->isGpu()) {
      getOperation().emitError()
          << "mm-lower-gpu-math needs a GPU target, got '" << targetSpec
          << "'"
          << (target ? "" : ": " + llvm::toString(target.takeError()));
      return signalPassFailure();
    }
    bool failedRewrite = false;
    getOperation().walk([&](Operation *op) {
      if (!isa<math::ExpOp, math::Log1pOp, math::SqrtOp>(op))
        return;
      OpBuilder b(op);
      MathRewriter rewriter(b, op->getLoc(), *target);
      Value x = op->getOperand(0);
      Type type = x.getType();
      Value result;
      if (isa<math::SqrtOp>(op))
        result = rewriter.intrinsic(type.isF64() ? "llvm.sqrt.f64"
                                                 : "llvm.sqrt.f32",
                                    x);
      else if (isa<math::ExpOp>(op) && type.isF32())
        result = rewriter.exp32(x);
      else if (isa<math::ExpOp>(op) && type.isF64())
        result = rewriter.exp64(x);
      else if (isa<math::Log1pOp>(op) && type.isF32())
        result = rewriter.log1p32(x);
      if (!result) {
        op->emitOpError() << "on " << type
                          << " has no library-free GPU lowering";
        failedRewrite = true;
        return;
      }
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    });
    if (failedRewrite)
      signalPassFailure();
  }
};

} // namespace
