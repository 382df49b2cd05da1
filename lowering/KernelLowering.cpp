//===- KernelLowering.cpp - the lowering of each kernel kind and target ---===//

#include "lowering/KernelLowering.h"

#include "dialect/KernelSizes.h"
#include "lowering/GemmKernels.h"
#include "lowering/LinalgEmitters.h"

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

/// Regular kernels as linalg operations (LinalgEmitters.h), which
/// mm-apply-schedules then tiles and vectorises by the schedule of their
/// kind; chosen for the kinds with a schedule for the target (Schedules.h).
/// The operations of a group run back to back, each a pass over its rows.
class LinalgKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return kLinalgLoweringName; }

  bool accepts(func::FuncOp kernel, FunctionType,
               const TargetInfo &) const override {
    return llvm::all_of(kernel.front().without_terminator(),
                        [](Operation &op) { return hasLinalgForm(&op); });
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate, const TargetInfo &) const override {
    for (Operation &op : kernel.front().without_terminator()) {
      for (Value result : op.getResults())
        if (!buffer(result) && !allocate(result))
          return failure();
      KernelBuilder::LocationScope where(kb, op.getLoc());
      if (failed(emitLinalg(&op, kb.builder(), buffer)))
        return failure();
    }
    return success();
  }
};

/// The one operation of a gemm kernel that a GEMM kernel computes: a linear
/// without bias or an lm_head, whose activations and weight are arguments of
/// the kernel.
Operation *gemmOperation(func::FuncOp kernel) {
  Block &body = kernel.front();
  if (!llvm::hasSingleElement(body.without_terminator()))
    return nullptr;
  Operation *op = &body.front();
  if (auto linear = dyn_cast<LinearOp>(op); linear && linear.getBias())
    return nullptr;
  if (!isa<LinearOp, LMHeadOp>(op))
    return nullptr;
  for (Value operand : op->getOperands().take_front(2))
    if (!isa<BlockArgument>(operand))
      return nullptr;
  return op;
}

/// The buffer types of the activations [B, T, K] and the weight [N, K] of
/// `op` in the lowered function's type (batch, time, then the buffers of
/// the kernel's arguments), or null where they are not memrefs of that rank.
std::pair<MemRefType, MemRefType> gemmBuffers(Operation *op,
                                              FunctionType lowered) {
  auto bufferOf = [&](Value operand, int64_t rank) -> MemRefType {
    unsigned input = cast<BlockArgument>(operand).getArgNumber() + 2;
    if (input >= lowered.getNumInputs())
      return nullptr;
    auto type = dyn_cast<MemRefType>(lowered.getInput(input));
    return type && type.getRank() == rank ? type : nullptr;
  };
  return {bufferOf(op->getOperand(0), 3), bufferOf(op->getOperand(1), 2)};
}

/// The GEMM kernel's specification for `op`: its operands' element types as
/// lowered (f32 weights take the SIMT kernel, bf16 or f16 ones the target's
/// tensor cores with f32 sums), the tiles its #mm.fusion names (the
/// strategy's defaults for the others), and, for one token per sequence
/// (a decode step), tiles of few rows.
GemmKernelSpec gemmSpec(func::FuncOp kernel, MemRefType activations,
                        MemRefType weight, StringRef name) {
  GemmKernelSpec spec;
  spec.name = name.str();
  spec.n = weight.getDimSize(0);
  spec.k = weight.getDimSize(1);
  spec.aType = activations.getElementType();
  spec.wType = weight.getElementType();
  spec.fewRows = activations.getDimSize(1) == 1;
  auto strategy = kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
  GemmTiles &tiles = spec.tiles;
  for (auto [size, value] :
       {std::pair<const KernelSize &, int64_t &>{kGemmBlockM, tiles.blockM},
        {kGemmBlockN, tiles.blockN},
        {kGemmBlockK, tiles.blockK},
        {kGemmWarpsM, tiles.warpsM},
        {kGemmWarpsN, tiles.warpsN},
        {kGemmThreadM, tiles.threadM},
        {kGemmThreadN, tiles.threadN},
        {kGemmStages, tiles.stages}})
    value = strategy.getParam(size.key, 0);
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
    auto [activations, weight] = gemmBuffers(op, lowered);
    if (!activations || !weight || !weight.hasStaticShape())
      return false;
    llvm::Expected<GemmConfig> config = resolveGemmConfig(
        gemmSpec(kernel, activations, weight, "gemm"), target);
    if (!config) {
      llvm::consumeError(config.takeError());
      return false;
    }
    // Where K allows it the kernel reads rows of A in 16-byte chunks (wide
    // loads, cp.async), which fault on unaligned addresses: the rows of the
    // activations (their stride) must keep that alignment. Weights are
    // aligned by the manifest, buffers by their allocation.
    auto [strides, offset] = activations.getStridesAndOffset();
    (void)offset;
    if (ShapedType::isDynamic(strides[1]) || strides[2] != 1)
      return false;
    int64_t chunk = 16 / ((activations.getElementTypeBitWidth() + 7) / 8);
    return config->k % chunk != 0 || strides[1] % chunk == 0;
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator, const TargetInfo &target) const override {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    Operation *op = gemmOperation(kernel);
    auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    auto module = lowered->getParentOfType<ModuleOp>();
    auto [activations, weight] = gemmBuffers(op, lowered.getFunctionType());

    // The kernel, in the module every kernel of the artifact goes to.
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
    if (!kernels) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToEnd(module.getBody());
      kernels = gpu::GPUModuleOp::create(b, loc, kKernelModuleName);
      module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                      b.getUnitAttr());
    }
    llvm::Expected<GemmKernel> gemm =
        buildGemmKernel(kernels,
                        gemmSpec(kernel, activations, weight,
                                 (lowered.getSymName() + "_0").str()),
                        target);
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
      Value blocks =
          arith::CeilDivUIOp::create(b, loc, m, kb.index(config.tiles.blockM));
      Value shared = config.sharedBytes
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

const KernelLowering &
mm::selectKernelLowering(func::FuncOp kernel, FunctionType lowered,
                         const TargetInfo &target,
                         const KernelLoweringOptions &options) {
  static const GpuGemmKernelLowering gemm;
  static const LinalgKernelLowering linalg;
  static const LoopKernelLowering loops;
  auto strategy = kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
  if (options.gemmKernels && strategy.getKind() == FusionKind::gemm &&
      gemm.accepts(kernel, lowered, target))
    return gemm;
  if (hasSchedule(target.kindName(), stringifyFusionKind(strategy.getKind()),
                  options.userSchedules) &&
      linalg.accepts(kernel, lowered, target))
    return linalg;
  return loops;
}
