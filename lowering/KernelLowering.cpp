//===- KernelLowering.cpp - the lowering of each kernel kind and target ---===//

#include "lowering/KernelLowering.h"

#include "lowering/GemmKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mm;

namespace {

/// Every kind, every target: the loop emitters (LoopEmitters.h). On the CPU
/// they are the kernels; on a GPU mm-offload-to-gpu launches their parallel
/// loops one thread per iteration and their sequential nests on one thread.
class LoopKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "loops"; }
  bool accepts(func::FuncOp, FunctionType, const TargetInfo &) const override {
    return true;
  }
  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate, const TargetInfo &) const override {
    auto strategy =
        kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
    return emitFusedLoops(strategy, kernel.front(), kb, buffer, allocate);
  }
};

/// The one operation of a gemm kernel that a GEMM kernel computes: a linear
/// without bias or an lm_head, on f32 activations [B, T, K].
Operation *gemmOperation(func::FuncOp kernel) {
  Block &body = kernel.front();
  if (!llvm::hasSingleElement(body.without_terminator()))
    return nullptr;
  Operation *op = &body.front();
  if (auto linear = dyn_cast<LinearOp>(op))
    return linear.getBias() ? nullptr : op;
  return isa<LMHeadOp>(op) ? op : nullptr;
}

/// The GEMM kernel's specification for `op` (f32 operands: the precision of
/// today's weights; the tensor-core strategies take 16-bit ones).
GemmKernelSpec gemmSpec(Operation *op, StringRef name) {
  auto weight = cast<RankedTensorType>(op->getOperand(1).getType());
  GemmKernelSpec spec;
  spec.name = name.str();
  spec.n = weight.getDimSize(0);
  spec.k = weight.getDimSize(1);
  spec.aType = spec.wType = weight.getElementType();
  return spec;
}

/// linear and lm_head on a GPU: one launch of a GEMM kernel
/// (GemmKernels.h) over the B x T rows of the activations, instead of the
/// loop emitters' one thread per output row.
class GpuGemmKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "gemm"; }

  bool accepts(func::FuncOp kernel, FunctionType lowered,
               const TargetInfo &target) const override {
    if (!target.isGpu())
      return false;
    Operation *op = gemmOperation(kernel);
    if (!op)
      return false;
    llvm::Expected<GemmConfig> config =
        resolveGemmConfig(gemmSpec(op, "gemm"), target);
    if (!config) {
      llvm::consumeError(config.takeError());
      return false;
    }
    // The kernel reads rows of 16-byte chunks where K allows it: the rows
    // of the activations (their stride) must keep that alignment. Weights
    // are aligned by the manifest, buffers by their allocation.
    auto activations = dyn_cast<MemRefType>(lowered.getInput(2));
    if (!activations || activations.getRank() != 3)
      return false;
    auto [strides, offset] = activations.getStridesAndOffset();
    (void)offset;
    if (ShapedType::isDynamic(strides[1]) || strides[2] != 1)
      return false;
    return config->k % 4 != 0 || strides[1] % 4 == 0;
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator, const TargetInfo &target) const override {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    Operation *op = gemmOperation(kernel);
    auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    auto module = lowered->getParentOfType<ModuleOp>();

    // The kernel, in the module every kernel of the artifact goes to.
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
    if (!kernels) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToEnd(module.getBody());
      kernels = gpu::GPUModuleOp::create(b, loc, kKernelModuleName);
      module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                      b.getUnitAttr());
    }
    llvm::Expected<GemmKernel> gemm = buildGemmKernel(
        kernels, gemmSpec(op, (lowered.getSymName() + "_0").str()), target);
    if (!gemm)
      return op->emitOpError() << llvm::toString(gemm.takeError());
    const GemmConfig &config = gemm->config;

    // [B, T, K] activations and [B, T, N] outputs as rows.
    SmallVector<ReassociationIndices> rows{{0, 1}, {2}};
    ArrayRef<Type> types = gemm->function.getArgumentTypes();
    auto asRows = [&](Value buffer, Type type) -> Value {
      Value collapsed = memref::CollapseShapeOp::create(b, loc, buffer, rows);
      return collapsed.getType() == type
                 ? collapsed
                 : memref::CastOp::create(b, loc, type, collapsed);
    };
    Value a = asRows(buffer(op->getOperand(0)), types[0]);
    Value w = buffer(op->getOperand(1));
    if (w.getType() != types[1])
      w = memref::CastOp::create(b, loc, types[1], w);
    Value c = asRows(buffer(op->getResult(0)), types[2]);

    Value m = kb.dim(a, 0);
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, m,
                                      kb.index(0));
    kb.ifThen(any, [&] {
      Value one = kb.index(1);
      Value columns =
          kb.index((config.n + config.tiles.blockN - 1) / config.tiles.blockN);
      Value blocks = arith::CeilDivUIOp::create(b, loc, m,
                                                kb.index(config.tiles.blockM));
      Value shared =
          config.sharedBytes
              ? Value(arith::ConstantOp::create(
                    b, loc, b.getI32IntegerAttr(config.sharedBytes)))
              : Value();
      gpu::LaunchFuncOp::create(
          b, loc, gemm->function, gpu::KernelDim3{columns, blocks, one},
          gpu::KernelDim3{kb.index(config.threadsPerBlock), one, one}, shared,
          ValueRange{a, w, c});
    });
    return success();
  }
};

} // namespace

const KernelLowering &mm::selectKernelLowering(func::FuncOp kernel,
                                               FunctionType lowered,
                                               const TargetInfo &target) {
  static const GpuGemmKernelLowering gemm;
  static const LoopKernelLowering loops;
  auto strategy = kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
  if (strategy.getKind() == FusionKind::gemm &&
      gemm.accepts(kernel, lowered, target))
    return gemm;
  return loops;
}
