//===- LowerGpuMath.cpp - math in GPU kernels without a device library ----===//
//
// The kernels use math.exp (f32 and f64), math.exp2 (f32, the scan
// kernel), math.log1p and math.sqrt.
// The GPU conversions would turn them into libdevice (__nv_*) or ocml
// (__ocml_*) calls, libraries Debian does not ship for every chip and the
// artifact would have to link. Here they become the target's own
// instructions (ex2.approx / v_exp_f32 and lg2.approx / v_log_f32, through
// TargetInfo's intrinsic names) or, for f64 exp, a range reduction and a
// polynomial within a few ulp, so the device code needs no library.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
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
    return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
  }
  Value intrinsic(StringRef name, Value x) {
    return LLVM::CallIntrinsicOp::create(b, loc, x.getType(),
                                         b.getStringAttr(name), ValueRange{x})
        .getResult(0);
  }

  /// 2^(x log2 e) on the exp2 instruction (f32).
  Value exp32(Value x) {
    return intrinsic(
        target.exp2Intrinsic(),
        arith::MulFOp::create(b, loc, x, constant(x.getType(), M_LOG2E)));
  }

  /// exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 (ln 2 split in
  /// two for an exact product), exp(r) by its Taylor series to r^13
  /// (|r| <= ln2/2: the truncation is below f64 rounding; the result is
  /// within a few ulp). NaN stays NaN; beyond the f64 range, inf and 0.
  Value exp64(Value x) {
    Type f64 = x.getType(), i64 = b.getI64Type();
    Value clamped = arith::MaximumFOp::create(b, loc, x, constant(f64, -708.0));
    clamped = arith::MinimumFOp::create(b, loc, clamped, constant(f64, 709.0));
    // k = round(x log2 e), half away from zero, in arith only (math.round
    // would become a library call).
    Value t = arith::MulFOp::create(b, loc, clamped, constant(f64, M_LOG2E));
    Value half = arith::SelectOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, t,
                              constant(f64, 0.0)),
        constant(f64, 0.5), constant(f64, -0.5));
    Value kInt = arith::FPToSIOp::create(
        b, loc, i64, arith::AddFOp::create(b, loc, t, half));
    Value k = arith::SIToFPOp::create(b, loc, f64, kInt);
    Value r = arith::SubFOp::create(
        b, loc, clamped,
        arith::MulFOp::create(b, loc, k,
                              constant(f64, 6.93147180369123816490e-01)));
    r = arith::SubFOp::create(
        b, loc, r,
        arith::MulFOp::create(b, loc, k,
                              constant(f64, 1.90821492927058770002e-10)));
    // Horner: sum = 1 + r/n * sum, from the highest term down.
    Value sum = constant(f64, 1.0);
    for (int n = 13; n >= 1; --n)
      sum = arith::AddFOp::create(
          b, loc, constant(f64, 1.0),
          arith::MulFOp::create(
              b, loc, arith::MulFOp::create(b, loc, r, constant(f64, 1.0 / n)),
              sum));
    // 2^k from the exponent bits.
    Value bits = arith::ShLIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, kInt,
                              arith::ConstantIntOp::create(b, loc, i64, 1023)),
        arith::ConstantIntOp::create(b, loc, i64, 52));
    Value result = arith::MulFOp::create(
        b, loc, sum, arith::BitcastOp::create(b, loc, f64, bits));
    auto above = [&](double limit) {
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                   constant(f64, limit));
    };
    auto below = [&](double limit) {
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                   constant(f64, limit));
    };
    result = arith::SelectOp::create(b, loc, above(709.78),
                                     constant(f64, INFINITY), result);
    result = arith::SelectOp::create(b, loc, below(-745.2), constant(f64, 0.0),
                                     result);
    Value isNaN =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
    return arith::SelectOp::create(b, loc, isNaN, x, result);
  }

  /// log1p(x): near 0 its series, x (1 - x (1/2 - x (1/3 - ...))) to x^7
  /// (|x| < 1/16: below f32 rounding); elsewhere log2(1 + x) ln 2 on the
  /// log2 instruction, whose error is absolute near 1 and so would swamp
  /// small results.
  Value log1p32(Value x) {
    Type type = x.getType();
    Value series = constant(type, 1.0 / 7.0);
    for (int n = 6; n >= 1; --n)
      series = arith::SubFOp::create(b, loc, constant(type, 1.0 / n),
                                     arith::MulFOp::create(b, loc, x, series));
    series = arith::MulFOp::create(b, loc, x, series);
    Value u = arith::AddFOp::create(b, loc, x, constant(type, 1.0));
    Value log = arith::MulFOp::create(
        b, loc, intrinsic(target.log2Intrinsic(), u), constant(type, M_LN2));
    Value small = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OLT,
        // |x| in arith: math.absf would become a library call too.
        arith::MaximumFOp::create(b, loc, x, arith::NegFOp::create(b, loc, x)),
        constant(type, 1.0 / 16));
    return arith::SelectOp::create(b, loc, small, series, log);
  }

  /// The scalar rewrite of `op` (exp, exp2, log1p or sqrt) applied to `x`, or a
  /// null value for a type it has none for.
  Value rewrite(Operation *op, Value x) {
    Type type = x.getType();
    if (isa<math::SqrtOp>(op) && (type.isF32() || type.isF64()))
      return intrinsic(type.isF64() ? "llvm.sqrt.f64" : "llvm.sqrt.f32", x);
    if (isa<math::ExpOp>(op) && type.isF32())
      return exp32(x);
    if (isa<math::Exp2Op>(op) && type.isF32())
      return intrinsic(target.exp2Intrinsic(), x);
    if (isa<math::ExpOp>(op) && type.isF64())
      return exp64(x);
    if (isa<math::Log1pOp>(op) && type.isF32())
      return log1p32(x);
    return Value();
  }

private:
  OpBuilder &b;
  Location loc;
  const TargetInfo &target;
};

struct LowerGpuMathPass : public mm::impl::LowerGpuMathBase<LowerGpuMathPass> {
  using LowerGpuMathBase::LowerGpuMathBase;

  void runOnOperation() override {
    auto target = TargetInfo::parse(targetSpec);
    if (!target || !target->isGpu()) {
      getOperation().emitError()
          << "mm-lower-gpu-math needs a GPU target, got '" << targetSpec << "'"
          << (target ? "" : ": " + llvm::toString(target.takeError()));
      return signalPassFailure();
    }
    bool failedRewrite = false;
    getOperation().walk([&](Operation *op) {
      if (!isa<math::ExpOp, math::Exp2Op, math::Log1pOp, math::SqrtOp>(op))
        return;
      OpBuilder b(op);
      MathRewriter rewriter(b, op->getLoc(), *target);
      Value x = op->getOperand(0);
      Type type = x.getType();
      Value result;
      auto vector = dyn_cast<VectorType>(type);
      if (!vector) {
        result = rewriter.rewrite(op, x);
      } else if (!vector.isScalable()) {
        // A tile of a scheduled kernel: element by element (the
        // instructions are scalar), in row-major order.
        result = ub::PoisonOp::create(b, op->getLoc(), vector);
        ArrayRef<int64_t> shape = vector.getShape();
        SmallVector<int64_t> position(shape.size(), 0);
        for (int64_t i = 0; i < vector.getNumElements() && result; ++i) {
          for (int64_t d = shape.size(), rest = i; d-- > 0; rest /= shape[d])
            position[d] = rest % shape[d];
          Value element = rewriter.rewrite(
              op, vector::ExtractOp::create(b, op->getLoc(), x, position));
          result = element ? vector::InsertOp::create(b, op->getLoc(),
                                                      element, result, position)
                                 .getResult()
                           : Value();
        }
      }
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
