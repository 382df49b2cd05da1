//===- KernelLowering.cpp - the lowering of each kernel kind and target ---===//

#include "lowering/KernelLowering.h"

#include "dialect/KernelSizes.h"
#include "lowering/ConvKernels.h"
#include "lowering/DeviceKernels.h"
#include "lowering/GemmKernels.h"
#include "lowering/KernelLaunch.h"
#include "lowering/LinalgEmitters.h"
#include "lowering/NormKernels.h"
#include "lowering/ScanKernels.h"

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
                     Allocator allocate,
                     const TargetInfo &target) const override {
    auto strategy =
        kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
    return emitFusedLoops(strategy, kernel.front(), kb, buffer, allocate,
                          target);
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

/// Launches `function` over `buffers` with the grid `grid` gives (called
/// where the batch is known), when the batch (the first buffer's first
/// size) is not empty: a grid cannot be empty.
void launchPerBatch(KernelBuilder &kb, gpu::GPUFuncOp function,
                    ValueRange buffers, int64_t threads, int64_t sharedBytes,
                    llvm::function_ref<gpu::KernelDim3(Value)> grid) {
  OpBuilder &b = kb.builder();
  Location loc = kb.location();
  Value sequences = kb.dim(buffers.front(), 0);
  Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                    sequences, kb.index(0));
  kb.ifThen(any, [&] {
    launchKernel(kb, function, grid(sequences), threads, sharedBytes, buffers);
  });
}

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
    return gemmFits(gemmSpec(kernel, activations, weight, "gemm"), activations,
                    target);
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator, const TargetInfo &target) const override {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    Operation *op = gemmOperation(kernel);
    auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    auto module = lowered->getParentOfType<ModuleOp>();
    auto [activations, weight] = gemmBuffers(op, lowered.getFunctionType());

    return launchGemm(kb, kernelModule(module, b, loc),
                      gemmSpec(kernel, activations, weight,
                               (lowered.getSymName() + "_0").str()),
                      buffer(op->getOperand(0)), buffer(op->getOperand(1)),
                      buffer(op->getResult(0)), target, op);
  }
};

/// The operations of a scan kernel: the scan, the gate it feeds and the
/// linear computing its delta (a decode step's, scan-step-delta), the last
/// two where fused.
struct ScanOperations {
  LinearOp delta;
  SelectiveScanOp scan;
  GateOp gate;
};

/// The operations of a scan kernel (a null scan where the kernel is not one
/// scan with its static sizes and f32 values, its gate and delta's linear
/// optional).
ScanOperations scanOperations(func::FuncOp kernel) {
  SmallVector<Operation *> ops;
  for (Operation &op : kernel.front().without_terminator())
    ops.push_back(&op);
  ScanOperations found;
  ArrayRef<Operation *> rest = ops;
  if (!rest.empty() && (found.delta = dyn_cast<LinearOp>(rest.front())))
    rest = rest.drop_front();
  if (rest.empty() || rest.size() > 2)
    return {};
  found.scan = dyn_cast<SelectiveScanOp>(rest[0]);
  found.gate = rest.size() == 2 ? dyn_cast<GateOp>(rest[1]) : GateOp();
  if (!found.scan ||
      (rest.size() == 2 &&
       (!found.gate || found.gate.getInput() != found.scan.getResult())))
    return {};
  auto u = cast<RankedTensorType>(found.scan.getU().getType());
  auto aLog = cast<RankedTensorType>(found.scan.getALog().getType());
  if (ShapedType::isDynamic(u.getDimSize(2)) ||
      ShapedType::isDynamic(aLog.getDimSize(1)))
    return {};
  for (Value operand : rest.back()->getOperands())
    if (!getElementTypeOrSelf(operand.getType()).isF32())
      return {};
  for (Value operand : found.scan->getOperands())
    if (operand != found.scan.getLengths() &&
        !getElementTypeOrSelf(operand.getType()).isF32())
      return {};
  // A step (one token) of a right-padded batch: the loop emitters'.
  if (u.getDimSize(1) == 1 && found.scan.getLengths())
    return {};
  if (LinearOp linear = found.delta) {
    // In the step form only, without bias, its weight's shape static.
    auto weight = cast<RankedTensorType>(linear.getWeight().getType());
    if (linear.getResult() != found.scan.getDelta() || linear.getBias() ||
        u.getDimSize(1) != 1 || !weight.hasStaticShape() ||
        !getElementTypeOrSelf(linear.getInput().getType()).isF32())
      return {};
  }
  return found;
}

/// The selective scan on a GPU: one launch of the block-level scan kernel
/// (ScanKernels.h), its gate fused, instead of the loop emitters' thread
/// per channel running through time.
class GpuScanKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "scan"; }

  bool accepts(func::FuncOp kernel, FunctionType,
               const TargetInfo &target) const override {
    if (!target.isGpu() || !scanOperations(kernel).scan)
      return false;
    ScanKernelSpec sizes = spec(kernel, "scan");
    llvm::Expected<ScanConfig> config = resolveScanConfig(sizes, target);
    if (!config) {
      llvm::consumeError(config.takeError());
      // Sizes the user chose that do not fit are an error (emit() reports
      // it), not a quiet fallback; defaults that do not fit (states beyond
      // the shared memory) leave the scan to the loop emitters.
      return sizes.blockChannels || sizes.chunk;
    }
    return true;
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate,
                     const TargetInfo &target) const override {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    auto [delta, scan, gate] = scanOperations(kernel);
    auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    auto bufferOrNew = [&](Value value) {
      Value existing = buffer(value);
      return existing ? existing : allocate(value);
    };
    SmallVector<Value> buffers;
    // A fused delta: the kernel reads the linear's input and weight instead.
    Value operands[] = {scan.getU(),
                        delta ? delta.getInput() : scan.getDelta(),
                        delta ? delta.getWeight() : Value(),
                        scan.getALog(),
                        scan.getB(),
                        scan.getC(),
                        scan.getD(),
                        scan.getDeltaBias(),
                        scan.getInitialState(),
                        scan.getLengths(),
                        gate ? gate.getGate() : Value()};
    for (Value operand : operands)
      if (operand)
        buffers.push_back(buffer(operand));
    buffers.push_back(bufferOrNew(scan.getFinalState()));
    buffers.push_back(bufferOrNew(gate ? gate.getResult() : scan.getResult()));
    if (llvm::is_contained(buffers, Value()))
      return scan.emitOpError() << "has an operand without a buffer";

    auto kernels = kernelModule(lowered->getParentOfType<ModuleOp>(), b, loc);
    ScanKernelSpec scanSpec = spec(kernel, (lowered.getSymName() + "_0").str());
    llvm::Expected<gpu::GPUFuncOp> function = buildScanKernel(
        kernels, scanSpec, ValueRange(buffers).getTypes(), target);
    if (!function)
      return scan.emitOpError() << llvm::toString(function.takeError());
    ScanConfig config = cantFail(resolveScanConfig(scanSpec, target));

    launchPerBatch(kb, *function, buffers, config.threadsPerBlock,
                   config.sharedBytes, [&](Value sequences) {
                     Value groups = arith::CeilDivUIOp::create(
                         b, loc, sequences, kb.index(config.sequencesPerBlock));
                     return gpu::KernelDim3{kb.index(scanBlocks(config)),
                                            groups, kb.index(1)};
                   });
    return success();
  }

private:
  /// The kernel's operands and its #mm.fusion's sizes (zero: the default).
  static ScanKernelSpec spec(func::FuncOp kernel, std::string name) {
    auto [delta, scan, gate] = scanOperations(kernel);
    auto strategy =
        kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
    ScanKernelSpec spec;
    spec.name = std::move(name);
    spec.channels = cast<RankedTensorType>(scan.getU().getType()).getDimSize(2);
    spec.states =
        cast<RankedTensorType>(scan.getALog().getType()).getDimSize(1);
    spec.deltaProjection = bool(delta);
    if (delta)
      spec.rank =
          cast<RankedTensorType>(delta.getWeight().getType()).getDimSize(1);
    spec.deltaBias = bool(scan.getDeltaBias());
    spec.deltaSoftplus = scan.getDeltaSoftplus();
    spec.initialState = bool(scan.getInitialState());
    spec.lengths = bool(scan.getLengths());
    spec.gate = bool(gate);
    spec.step =
        cast<RankedTensorType>(scan.getU().getType()).getDimSize(1) == 1;
    spec.blockChannels = strategy.getParam(kScanBlockChannels.key, 0);
    spec.chunk = strategy.getParam(kScanChunk.key, 0);
    return spec;
  }
};

/// The conv of a conv kernel, or null where the kernel is not one causal
/// conv with static channels and taps (few enough for registers) and f32
/// values.
CausalConv1dOp convOperation(func::FuncOp kernel) {
  Block &body = kernel.front();
  if (!llvm::hasSingleElement(body.without_terminator()))
    return {};
  auto conv = dyn_cast<CausalConv1dOp>(body.front());
  if (!conv)
    return {};
  auto x = cast<RankedTensorType>(conv.getInput().getType());
  auto w = cast<RankedTensorType>(conv.getWeight().getType());
  if (ShapedType::isDynamic(x.getDimSize(2)) ||
      ShapedType::isDynamic(w.getDimSize(2)) ||
      w.getDimSize(2) > kConvKernelMaxTaps)
    return {};
  for (Value value :
       llvm::concat<Value>(conv->getOperands(), conv->getResults()))
    if (value != conv.getLengths() &&
        !getElementTypeOrSelf(value.getType()).isF32())
      return {};
  return conv;
}

/// The causal conv on a GPU: one launch of the conv kernel (ConvKernels.h),
/// a thread per channel and tile of tokens, instead of the loop emitters'
/// thread per channel re-reading K inputs and taps per output.
class GpuConvKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "conv"; }

  bool accepts(func::FuncOp kernel, FunctionType,
               const TargetInfo &target) const override {
    return target.isGpu() && convOperation(kernel);
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate,
                     const TargetInfo &target) const override {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    CausalConv1dOp conv = convOperation(kernel);
    auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    auto bufferOrNew = [&](Value value) {
      Value existing = buffer(value);
      return existing ? existing : allocate(value);
    };
    SmallVector<Value> buffers = {buffer(conv.getInput()),
                                  buffer(conv.getWeight())};
    if (conv.getBias())
      buffers.push_back(buffer(conv.getBias()));
    buffers.push_back(buffer(conv.getWindow()));
    if (conv.getLengths())
      buffers.push_back(buffer(conv.getLengths()));
    buffers.push_back(bufferOrNew(conv.getResult()));
    buffers.push_back(bufferOrNew(conv.getWindowOut()));
    if (llvm::is_contained(buffers, Value()))
      return conv.emitOpError() << "has an operand without a buffer";

    ConvKernelSpec spec;
    spec.name = (lowered.getSymName() + "_0").str();
    spec.channels =
        cast<RankedTensorType>(conv.getInput().getType()).getDimSize(2);
    spec.taps =
        cast<RankedTensorType>(conv.getWeight().getType()).getDimSize(2);
    spec.bias = bool(conv.getBias());
    spec.silu = conv.getSilu();
    spec.lengths = bool(conv.getLengths());
    auto kernels = kernelModule(lowered->getParentOfType<ModuleOp>(), b, loc);
    llvm::Expected<gpu::GPUFuncOp> function =
        buildConvKernel(kernels, spec, ValueRange(buffers).getTypes(), target);
    if (!function)
      return conv.emitOpError() << llvm::toString(function.takeError());
    ConvConfig config = cantFail(resolveConvConfig(spec, target));

    int64_t blocks =
        (config.channels + config.threadsPerBlock - 1) / config.threadsPerBlock;
    launchPerBatch(
        kb, *function, buffers, config.threadsPerBlock, 0,
        [&](Value sequences) {
          Value tiles = arith::MaxUIOp::create(
              b, loc, kb.index(1),
              arith::CeilDivUIOp::create(b, loc, kb.dim(buffers.front(), 1),
                                         kb.index(config.tileTokens)));
          return gpu::KernelDim3{kb.index(blocks), tiles, sequences};
        });
    return success();
  }
};

/// RMSNorm, with the residual it normalises, on a GPU: one launch of the
/// norm kernel (NormKernels.h), a block per row, instead of the norm
/// schedule's three.
class GpuNormKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "norm"; }

  bool accepts(func::FuncOp kernel, FunctionType,
               const TargetInfo &target) const override {
    return target.isGpu() && normKernelOperations(kernel) &&
           normKernelSharedBytes(target) <= target.sharedMemoryBytes;
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate,
                     const TargetInfo &target) const override {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    NormKernelOperations ops = *normKernelOperations(kernel);
    auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    SmallVector<Value> buffers;
    for (Value value : normKernelValues(ops)) {
      Value existing = buffer(value);
      buffers.push_back(existing ? existing : allocate(value));
    }
    if (llvm::is_contained(buffers, Value()))
      return ops.norm.emitOpError() << "has an operand without a buffer";
    auto kernels = kernelModule(lowered->getParentOfType<ModuleOp>(), b, loc);
    llvm::Expected<gpu::GPUFuncOp> function =
        buildNormKernel(kernels, (lowered.getSymName() + "_0").str(), ops,
                        ValueRange(buffers).getTypes(), target);
    if (!function)
      return ops.norm.emitOpError() << llvm::toString(function.takeError());
    Value out = buffers.back();
    Value rows = kb.dim(out, 1);
    Value any = kb.andi(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                              kb.dim(out, 0), kb.index(0)),
                        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                              rows, kb.index(0)));
    kb.ifThen(any, [&] {
      launchKernel(kb, *function, {rows, kb.dim(out, 0), kb.index(1)},
                   wholeWarpThreads(target), normKernelSharedBytes(target),
                   buffers);
    });
    return success();
  }
};

/// A state kernel (take_last, advance_position, init_state) on a GPU: a
/// thread per element of its result (the loop emitters' nest would be one
/// launch of one thread: 768 serial copies per sequence for a take_last of
/// mamba-130m's width, a whole pool per sequence for an init_state).
class GpuStateKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "state"; }

  bool accepts(func::FuncOp kernel, FunctionType,
               const TargetInfo &target) const override {
    return target.isGpu() && stateOperation(kernel);
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate, const TargetInfo &) const override {
    Operation *op = stateOperation(kernel);
    Value out = buffer(op->getResult(0));
    if (!out)
      out = allocate(op->getResult(0));
    Value elements = kb.index(1);
    for (int64_t d = 0, rank = cast<MemRefType>(out.getType()).getRank();
         d < rank; ++d)
      elements = kb.muli(elements, kb.dim(out, d));
    // Element i, the last dimension fastest (neighbouring threads write
    // neighbouring elements). An element is read, if at all, by the thread
    // that writes it: a position advanced in place is safe.
    kb.parallelLoop(kb.index(0), elements, 1, [&](Value i) {
      SmallVector<Value> indices = kb.delinearize(i, out);
      kb.store(stateElement(op, kb, buffer, indices), out, indices);
    });
    return success();
  }

private:
  /// The kernel's one operation, if it is a state operation with
  /// independent elements.
  static Operation *stateOperation(func::FuncOp kernel) {
    auto ops = kernel.front().without_terminator();
    if (!llvm::hasSingleElement(ops) || !isElementwiseState(&*ops.begin()))
      return nullptr;
    return &*ops.begin();
  }
};

} // namespace

/// The gpu.module every GPU kernel of the artifact goes to, made on first
/// use.
gpu::GPUModuleOp mm::kernelModule(ModuleOp module, OpBuilder &b, Location loc) {
  auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
  if (!kernels) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    kernels = gpu::GPUModuleOp::create(b, loc, kKernelModuleName);
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
  }
  return kernels;
}

/// Launches `function` with `threads` threads per block and `sharedBytes`
/// of dynamic shared memory.
void mm::launchKernel(KernelBuilder &kb, gpu::GPUFuncOp function,
                      gpu::KernelDim3 grid, int64_t threads,
                      int64_t sharedBytes, ValueRange arguments) {
  OpBuilder &b = kb.builder();
  Location loc = kb.location();
  Value one = kb.index(1);
  Value shared = sharedBytes ? Value(arith::ConstantOp::create(
                                   b, loc, b.getI32IntegerAttr(sharedBytes)))
                             : Value();
  gpu::LaunchFuncOp::create(b, loc, function, grid,
                            gpu::KernelDim3{kb.index(threads), one, one},
                            shared, arguments);
}

/// Whether the GEMM kernel of `spec` exists on `target` for activations of
/// type `activations` ([B, T, K]).
bool mm::gemmFits(const GemmKernelSpec &spec, MemRefType activations,
                  const TargetInfo &target) {
  llvm::Expected<GemmConfig> config = resolveGemmConfig(spec, target);
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

/// Launches `gemm` for c [B, T, N] = a [B, T, K] w [N, K]^T over the
/// B x T rows (none when there are no rows).
void mm::launchGemm(KernelBuilder &kb, GemmKernel gemm, Value a, Value w,
                    Value c) {
  OpBuilder &b = kb.builder();
  Location loc = kb.location();
  const GemmConfig &config = gemm.config;

  // [B, T, K] activations and [B, T, N] outputs as rows.
  SmallVector<ReassociationIndices> rows{{0, 1}, {2}};
  ArrayRef<Type> types = gemm.function.getArgumentTypes();
  auto castTo = [&](Value buffer, Type type) -> Value {
    return buffer.getType() == type
               ? buffer
               : memref::CastOp::create(b, loc, type, buffer);
  };
  auto asRows = [&](Value buffer, Type type) {
    return castTo(memref::CollapseShapeOp::create(b, loc, buffer, rows), type);
  };
  a = asRows(a, types[0]);
  w = castTo(w, types[1]);
  c = asRows(c, types[2]);

  Value m = kb.dim(a, 0);
  Value any =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, m, kb.index(0));
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
        b, loc, gemm.function, gpu::KernelDim3{columns, blocks, one},
        gpu::KernelDim3{kb.index(config.threadsPerBlock), one, one}, shared,
        ValueRange{a, w, c});
  });
}

/// Builds the GEMM kernel of `spec` into `kernels` and launches it (errors
/// are reported on `op`).
LogicalResult mm::launchGemm(KernelBuilder &kb, gpu::GPUModuleOp kernels,
                             const GemmKernelSpec &spec, Value a, Value w,
                             Value c, const TargetInfo &target, Operation *op) {
  llvm::Expected<GemmKernel> gemm = buildGemmKernel(kernels, spec, target);
  if (!gemm)
    return op->emitOpError() << llvm::toString(gemm.takeError());
  launchGemm(kb, *gemm, a, w, c);
  return success();
}

const KernelLowering &
mm::selectKernelLowering(func::FuncOp kernel, FunctionType lowered,
                         const TargetInfo &target,
                         const KernelLoweringOptions &options) {
  static const GpuGemmKernelLowering gemm;
  static const GpuScanKernelLowering scan;
  static const GpuConvKernelLowering conv;
  static const GpuNormKernelLowering norm;
  static const GpuStateKernelLowering state;
  const KernelLowering &memory = gpuMemoryKernelLowering();
  const KernelLowering &crossLayer = gpuCrossLayerKernelLowering();
  static const LinalgKernelLowering linalg;
  static const LoopKernelLowering loops;
  auto strategy = kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
  if (options.gemmKernels && strategy.getKind() == FusionKind::gemm &&
      gemm.accepts(kernel, lowered, target))
    return gemm;
  if (options.scanKernels && strategy.getKind() == FusionKind::scan &&
      scan.accepts(kernel, lowered, target))
    return scan;
  // A kind the user schedules (or keeps on loops) goes their way.
  auto userSchedules = [&](FusionKind kind) {
    return llvm::any_of(options.userSchedules, [&](const UserSchedule &s) {
      return s.kind == stringifyFusionKind(kind);
    });
  };
  bool userConv = userSchedules(FusionKind::conv);
  if (options.convKernels && !userConv &&
      strategy.getKind() == FusionKind::conv &&
      conv.accepts(kernel, lowered, target))
    return conv;
  bool userNorm = userSchedules(FusionKind::norm);
  if (options.normKernels && !userNorm &&
      strategy.getKind() == FusionKind::norm &&
      norm.accepts(kernel, lowered, target))
    return norm;
  if (options.memoryKernels && strategy.getKind() == FusionKind::memory &&
      memory.accepts(kernel, lowered, target))
    return memory;
  if (options.memoryKernels && strategy.getKind() == FusionKind::cross_layer &&
      crossLayer.accepts(kernel, lowered, target))
    return crossLayer;
  if (strategy.getKind() == FusionKind::state &&
      state.accepts(kernel, lowered, target))
    return state;
  if (hasSchedule(target.kindName(), stringifyFusionKind(strategy.getKind()),
                  options.userSchedules) &&
      linalg.accepts(kernel, lowered, target))
    return linalg;
  return loops;
}
