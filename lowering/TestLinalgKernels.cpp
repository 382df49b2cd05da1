//===- TestLinalgKernels.cpp - mm operations as kernels over buffers ------===//
//
// A test vehicle until fusion groups are outlined into kernel functions:
// each mm operation of a function on tensors becomes a kernel function over
// the memrefs of its operands and results, filled by the linalg emitters or
// the loop emitters, in the kernel contract the schedules expect.
//
//===----------------------------------------------------------------------===//

#include "dialect/MMDialect.h"
#include "dialect/MMOps.h"
#include "lowering/LinalgEmitters.h"
#include "lowering/LoopEmitters.h"
#include "lowering/LoweringPasses.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

namespace mm {
#define GEN_PASS_DEF_TESTLINALGKERNELS
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// The buffer type of a tensor: a fully static tensor is a weight, a view
/// into the weight buffer at a dynamic offset; the rest are activations.
MemRefType bufferType(RankedTensorType type) {
  if (!type.hasStaticShape())
    return MemRefType::get(type.getShape(), type.getElementType());
  SmallVector<int64_t> strides(type.getRank(), 1);
  for (int64_t d = type.getRank() - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * type.getDimSize(d + 1);
  return MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic,
                             strides));
}

/// The kernel kind of a lone regular operation.
FailureOr<FusionKind> kindOf(Operation *op) {
  if (isa<LinearOp, LMHeadOp>(op))
    return FusionKind::gemm;
  if (isa<RMSNormOp>(op))
    return FusionKind::norm;
  if (isa<GateOp, ResidualOp>(op))
    return FusionKind::elementwise;
  if (isa<EmbedOp>(op))
    return FusionKind::embed;
  if (isa<CausalConv1dOp>(op))
    return FusionKind::conv;
  return failure();
}

struct TestLinalgKernelsPass
    : public mm::impl::TestLinalgKernelsBase<TestLinalgKernelsPass> {
  using TestLinalgKernelsBase::TestLinalgKernelsBase;

  void getDependentDialects(DialectRegistry &registry) const override {
    TestLinalgKernelsBase::getDependentDialects(registry);
    // The GEMM's tensors (bufferization.to_tensor and friends).
    registerLinalgBufferization(registry);
  }

  /// Builds the kernel of `op` before `function`.
  LogicalResult outline(Operation *op, func::FuncOp function,
                        StringRef name) {
    FailureOr<FusionKind> kind = kindOf(op);
    if (failed(kind))
      return op->emitOpError()
             << "is not a regular operation (linear, lm_head, rms_norm, gate, "
                "residual, embed, causal_conv1d)";
    MLIRContext *context = &getContext();
    OpBuilder builder(function);
    Type index = builder.getIndexType();
    SmallVector<Type> argTypes = {index, index};
    SmallVector<Value> tensors(op->getOperands());
    llvm::append_range(tensors, op->getResults());
    for (Value tensor : tensors) {
      auto type = dyn_cast<RankedTensorType>(tensor.getType());
      if (!type)
        return op->emitOpError() << "has an operand that is not a tensor";
      argTypes.push_back(bufferType(type));
    }
    auto kernel = func::FuncOp::create(
        builder, op->getLoc(), name, builder.getFunctionType(argTypes, {}));
    kernel->setAttr(MMDialect::kFusionAttrName,
                    FusionAttr::get(context, *kind,
                                    DictionaryAttr::get(context, {})));
    if (cInterface)
      kernel->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
    Block *body = kernel.addEntryBlock();
    builder.setInsertionPointToStart(body);
    auto buffer = [&](Value tensor) -> Value {
      auto *found = llvm::find(tensors, tensor);
      return body->getArgument(2 + (found - tensors.begin()));
    };
    LogicalResult emitted = failure();
    if (emitter == "linalg") {
      emitted = emitLinalg(op, builder, buffer);
    } else if (emitter == "loops") {
      // The test kernels are host kernels (their schedules are the CPU's).
      KernelBuilder kb(builder, op->getLoc());
      emitted =
          emitLoops(op, kb, buffer, llvm::cantFail(TargetInfo::parse("cpu")));
    } else {
      return emitError(op->getLoc())
             << "emitter must be linalg or loops, got '" << emitter << "'";
    }
    func::ReturnOp::create(builder, op->getLoc());
    return emitted;
  }

  void runOnOperation() override {
    auto functions = llvm::to_vector(getOperation().getOps<func::FuncOp>());
    for (func::FuncOp function : functions) {
      if (function.isDeclaration() ||
          function->hasAttr(MMDialect::kFusionAttrName))
        continue;
      int64_t count = 0;
      auto walked = function.walk([&](Operation *op) {
        if (op->getDialect() != getContext().getLoadedDialect<MMDialect>())
          return WalkResult::advance();
        std::string name = function.getSymName().str();
        if (count++ > 0)
          name += "_" + std::to_string(count - 1);
        return failed(outline(op, function, name)) ? WalkResult::interrupt()
                                                   : WalkResult::advance();
      });
      if (walked.wasInterrupted())
        return signalPassFailure();
      function.erase();
    }
  }
};

} // namespace
