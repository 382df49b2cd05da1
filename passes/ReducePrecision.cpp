//===- ReducePrecision.cpp - matrix product weights in bf16 or f16 --------===//
//
// The weight's element type is the one fact every later step reads: the
// manifest's dtype of the tensor (what the runtime converts it to), the
// buffer type kernels take, and how a matrix product treats its input
// (rounded to the weight's type, f32 accumulation). So this pass only
// changes types; nothing else in the IR says what the precision is.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "common/Precision.h"

namespace mm {
#define GEN_PASS_DEF_REDUCEPRECISION
#include "passes/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// Whether `use` reads its value as the weight of a matrix product or the
/// table of an embedding.
bool isMatrixProductOperand(OpOperand &use) {
  Operation *user = use.getOwner();
  if (auto linear = dyn_cast<LinearOp>(user))
    return use.getOperandNumber() ==
           linear.getWeightMutable().getOperandNumber();
  if (auto head = dyn_cast<LMHeadOp>(user))
    return use.getOperandNumber() == head.getWeightMutable().getOperandNumber();
  if (auto embed = dyn_cast<EmbedOp>(user))
    return use.getOperandNumber() == embed.getTableMutable().getOperandNumber();
  return false;
}

struct ReducePrecisionPass
    : public mm::impl::ReducePrecisionBase<ReducePrecisionPass> {
  using ReducePrecisionBase::ReducePrecisionBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<Precision> parsed = parsePrecision(precision);
    if (!parsed) {
      module.emitError() << "mm-reduce-precision: unknown precision '"
                         << precision << "' (expected f32, bf16 or f16)";
      return signalPassFailure();
    }
    if (*parsed == Precision::F32)
      return;
    // Fusion groups and kernel functions take weights as arguments whose
    // types this pass would have to follow through every call.
    WalkResult grouped = module.walk([](FusedOp group) {
      group.emitOpError() << "is a fusion group: run mm-reduce-precision "
                             "before mm-fuse-kernels";
      return WalkResult::interrupt();
    });
    if (grouped.wasInterrupted())
      return signalPassFailure();

    Builder b(&getContext());
    Type element = *parsed == Precision::BF16 ? Type(b.getBF16Type())
                                              : Type(b.getF16Type());
    module.walk([&](WeightOp weight) {
      Value result = weight.getResult();
      if (result.use_empty() || !weight.getType().getElementType().isF32())
        return;
      unsigned products = llvm::count_if(result.getUses(),
                                         isMatrixProductOperand);
      if (products == 0)
        return;
      if (products != static_cast<unsigned>(
                          std::distance(result.use_begin(), result.use_end()))) {
        ++numKeptF32;
        return;
      }
      result.setType(weight.getType().clone(element));
      ++numReduced;
    });
  }
};

} // namespace
