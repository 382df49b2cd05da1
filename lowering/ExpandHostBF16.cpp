//===- ExpandHostBF16.cpp - bf16 conversions of host code as integers -----===//
//
// A reduced-precision artifact (docs/precision.md) rounds matrix products'
// inputs to bf16 with arith.truncf. On the host, LLVM turns that into a call
// of __truncsfbf2 unless the CPU has AVX512-BF16, and an artifact is a
// shared library that nothing links such helpers into: it would not load on
// most machines. Upstream's bf16 expansion computes the same bits with
// integer operations, which every CPU has.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mm {
#define GEN_PASS_DEF_EXPANDHOSTBF16
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;

namespace {

struct ExpandHostBF16Pass
    : public mm::impl::ExpandHostBF16Base<ExpandHostBF16Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(mm::applyPatternsToHostCode(
            getOperation(), FrozenRewritePatternSet(std::move(patterns)))))
      signalPassFailure();
  }
};

} // namespace

LogicalResult
mm::applyPatternsToHostCode(ModuleOp module,
                            const FrozenRewritePatternSet &patterns) {
  for (Operation &op : module.getBody()->getOperations())
    if (!isa<gpu::GPUModuleOp>(op) &&
        failed(applyPatternsGreedily(&op, patterns)))
      return failure();
  return success();
}
