//===- NormKernels.cpp - RMSNorm and its residual as a GPU kernel ---------===//

#include "lowering/NormKernels.h"

#include "lowering/DeviceKernels.h"
#include "lowering/KernelBuilder.h"
#include "lowering/LoopEmitters.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mm;

std::optional<NormKernelOperations>
mm::normKernelOperations(func::FuncOp kernel) {
  SmallVector<Operation *> ops;
  for (Operation &op : kernel.front().without_terminator())
    ops.push_back(&op);
  NormKernelOperations result;
  if (ops.size() == 2) {
    result.residual = dyn_cast<ResidualOp>(ops[0]);
    result.norm = dyn_cast<RMSNormOp>(ops[1]);
    if (!result.residual || !result.norm ||
        result.norm.getInput() != result.residual.getResult())
      return std::nullopt;
  } else if (ops.size() == 1) {
    result.norm = dyn_cast<RMSNormOp>(ops[0]);
    if (!result.norm)
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  auto input = cast<RankedTensorType>(result.norm.getInput().getType());
  if (input.getRank() != 3 || ShapedType::isDynamic(input.getDimSize(2)))
    return std::nullopt;
  return result;
}

SmallVector<Value> mm::normKernelValues(NormKernelOperations ops) {
  SmallVector<Value> values;
  if (ResidualOp residual = ops.residual) {
    values = {residual.getInput(), residual.getMixer()};
    if (residual.getTokenContext())
      values.append({residual.getTokenContext(), residual.getTokenGate()});
    if (residual.getLayerContext())
      values.append({residual.getLayerContext(), residual.getLayerGate()});
    values.push_back(residual.getResult());
  } else {
    values.push_back(ops.norm.getInput());
  }
  RMSNormOp norm = ops.norm;
  values.append({norm.getWeight(), norm.getResult()});
  return values;
}

int64_t mm::normKernelSharedBytes(const TargetInfo &target) {
  return 8 * (wholeWarpThreads(target) + 1);
}

llvm::Expected<gpu::GPUFuncOp> mm::buildNormKernel(gpu::GPUModuleOp module,
                                                   llvm::StringRef name,
                                                   NormKernelOperations ops,
                                                   TypeRange arguments,
                                                   const TargetInfo &target) {
  SmallVector<Value> values = normKernelValues(ops);
  if (arguments.size() != values.size())
    return kernelError("a norm kernel with these operations takes " +
                       llvm::Twine(values.size()) + " buffers, got " +
                       llvm::Twine(arguments.size()));
  for (Type type : arguments) {
    auto memref = dyn_cast<MemRefType>(type);
    if (!memref || !memref.getElementType().isF32())
      return kernelError("norm kernel buffers must be f32 memrefs");
  }
  if (normKernelSharedBytes(target) > target.sharedMemoryBytes)
    return kernelError("the norm kernel's partial sums need more shared "
                       "memory than " +
                       target.spec() + " has");
  module.getContext()
      ->loadDialect<arith::ArithDialect, math::MathDialect,
                    memref::MemRefDialect, scf::SCFDialect>();
  int64_t threads = wholeWarpThreads(target);
  auto function = createDeviceKernel(module, name, arguments, threads);
  if (!function)
    return function.takeError();
  OpBuilder b(function->getContext());
  Location loc = function->getLoc();
  b.setInsertionPointToStart(&function->getBody().front());
  KernelBuilder kb(b, loc);
  DenseMap<Value, Value> buffers;
  for (auto [value, argument] : llvm::zip(values, function->getArguments()))
    buffers[value] = argument;
  auto buffer = [&](Value value) { return buffers.lookup(value); };
  Value row = buffer(ops.norm.getInput());
  Value weight = buffer(ops.norm.getWeight()),
        out = buffer(ops.norm.getResult());
  int64_t width =
      cast<RankedTensorType>(ops.norm.getInput().getType()).getDimSize(2);

  Value t = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value seq = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value isFirst = kb.cmpi(arith::CmpIPredicate::eq, thread, kb.index(0));
  Value bytes = dynamicSharedBytes(b, loc);
  Value partials = sharedView(b, loc, bytes, {threads}, b.getF64Type(), 0);
  Value scale = sharedView(b, loc, bytes, {1}, b.getF64Type(), 8 * threads);

  // The thread's elements (and the residual's, stored), their squares
  // summed in f64.
  std::function<Value(Value, Value, Value)> element;
  if (ops.residual)
    element = residualElement(ops.residual, kb, buffer);
  auto sumLoop = scf::ForOp::create(
      b, loc, thread, kb.index(width), kb.index(threads), ValueRange{kb.f64(0)},
      [&](OpBuilder &, Location, Value d, ValueRange acc) {
        Value v;
        if (element) {
          v = element(seq, t, d);
          kb.store(v, row, {seq, t, d});
        } else {
          v = kb.load(row, {seq, t, d});
        }
        Value wide = kb.extend(v);
        scf::YieldOp::create(b, loc, kb.add(acc[0], kb.mul(wide, wide)));
      });
  Value partial = sumLoop.getResult(0);
  kb.store(partial, partials, {thread});
  gpu::BarrierOp::create(b, loc);
  kb.ifThen(isFirst, [&] {
    Value squares = kb.sum(kb.index(0), kb.index(threads), kb.f64(0),
                           [&](Value k) { return kb.load(partials, {k}); });
    kb.store(rmsInverse(kb, ops.norm, squares, kb.index(width)), scale,
             {kb.index(0)});
  });
  gpu::BarrierOp::create(b, loc);
  Value inverse = kb.load(scale, {kb.index(0)});
  // Each thread scales the elements it produced (a residual it stored is
  // read back by the thread that wrote it).
  kb.loop(thread, kb.index(width), threads, [&](Value d) {
    kb.store(
        rmsScaled(kb, kb.load(row, {seq, t, d}), inverse, kb.load(weight, {d})),
        out, {seq, t, d});
  });
  gpu::ReturnOp::create(b, loc);
  return *function;
}
