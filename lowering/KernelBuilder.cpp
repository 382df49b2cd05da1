//===- KernelBuilder.cpp - terse construction of loop kernels -------------===//

#include "lowering/KernelBuilder.h"

using namespace mlir;
using namespace mm;

Value KernelBuilder::sequenceLength(Value lengths, Value batchIndex,
                                    Value time) {
  if (!lengths)
    return time;
  Value length = toIndex(load(lengths, {batchIndex}));
  return mini(maxi(length, index(0)), time);
}

Value KernelBuilder::sigmoid(Value x) {
  Value one = x.getType().isF64() ? f64(1.0) : f32(1.0);
  return div(one, add(one, exp(neg(x))));
}

Value KernelBuilder::softplus(Value x) {
  Value threshold = x.getType().isF64() ? f64(20.0) : f32(20.0);
  return select(fgt(x, threshold), x, log1p(exp(x)));
}

void KernelBuilder::loop(Value lower, Value upper, const Body &body) {
  scf::ForOp::create(b, loc, lower, upper, index(1), ValueRange(),
                     [&](OpBuilder &nested, Location, Value iv, ValueRange) {
                       body(iv);
                       scf::YieldOp::create(nested, loc);
                     });
}

void KernelBuilder::forEachElement(
    Value memref, const std::function<void(ValueRange)> &body) {
  int64_t rank = cast<MemRefType>(memref.getType()).getRank();
  SmallVector<Value> ivs;
  std::function<void(int64_t)> nest = [&](int64_t d) {
    if (d == rank) {
      body(ivs);
      return;
    }
    loop(index(0), dim(memref, d), [&](Value iv) {
      ivs.push_back(iv);
      nest(d + 1);
      ivs.pop_back();
    });
  };
  nest(0);
}

SmallVector<Value> KernelBuilder::loop(Value lower, Value upper,
                                       ValueRange initial,
                                       const CarriedBody &body) {
  auto forOp = scf::ForOp::create(
      b, loc, lower, upper, index(1), initial,
      [&](OpBuilder &nested, Location, Value iv, ValueRange carried) {
        scf::YieldOp::create(nested, loc, body(iv, carried));
      });
  return SmallVector<Value>(forOp.getResults());
}

Value KernelBuilder::sum(Value lower, Value upper, Value initial,
                         const std::function<Value(Value)> &term) {
  return loop(lower, upper, initial,
              [&](Value iv, ValueRange carried) -> SmallVector<Value> {
                return {add(carried[0], term(iv))};
              })[0];
}

void KernelBuilder::beginKernel() {
  assert(!kernelBlock && "a kernel is already being built");
  kernelBlock = b.getInsertionBlock();
  Block::iterator point = b.getInsertionPoint();
  kernelAnchor = point == kernelBlock->begin() ? nullptr : &*std::prev(point);
}

void KernelBuilder::endKernel() {
  assert(kernelBlock && "no kernel is being built");
  for (Value buffer : kernelScratch)
    dealloc(buffer);
  kernelScratch.clear();
  kernelBlock = nullptr;
  kernelAnchor = nullptr;
}

Value KernelBuilder::scratchBuffer(ArrayRef<int64_t> shape, Type element) {
  assert(kernelBlock && "scratch buffers belong to a kernel: beginKernel()");
  OpBuilder::InsertionGuard guard(b);
  if (kernelAnchor)
    b.setInsertionPointAfter(kernelAnchor);
  else
    b.setInsertionPointToStart(kernelBlock);
  auto buffer = memref::AllocOp::create(b, loc, MemRefType::get(shape, element),
                                        b.getI64IntegerAttr(kBufferAlignment));
  kernelAnchor = buffer;
  kernelScratch.push_back(buffer);
  return buffer;
}

Value KernelBuilder::stackBuffer(ArrayRef<int64_t> shape, Type element) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  return memref::AllocaOp::create(b, loc, MemRefType::get(shape, element));
}

void KernelBuilder::ifThenElse(Value condition,
                               const std::function<void()> &then,
                               const std::function<void()> &otherwise) {
  auto ifOp = scf::IfOp::create(b, loc, condition, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  then();
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  otherwise();
}

Value KernelBuilder::fastSum(Value lower, Value upper, Value initial,
                             const std::function<Value(Value)> &term) {
  auto fast = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  return loop(lower, upper, initial,
              [&](Value iv, ValueRange carried) -> SmallVector<Value> {
                Value value = term(iv);
                if (auto mul = value.getDefiningOp<arith::MulFOp>())
                  mul.setFastmath(fast);
                return {arith::AddFOp::create(b, loc, carried[0], value, fast)};
              })[0];
}

void KernelBuilder::loop(Value lower, Value upper, int64_t step,
                         const Body &body) {
  scf::ForOp::create(b, loc, lower, upper, index(step), ValueRange(),
                     [&](OpBuilder &nested, Location, Value iv, ValueRange) {
                       body(iv);
                       scf::YieldOp::create(nested, loc);
                     });
}

void KernelBuilder::parallelLoop(Value lower, Value upper, int64_t step,
                                 const Body &body) {
  scf::ParallelOp::create(
      b, loc, ValueRange{lower}, ValueRange{upper}, ValueRange{index(step)},
      [&](OpBuilder &, Location, ValueRange ivs) { body(ivs[0]); });
}

void KernelBuilder::ifThen(Value condition, const std::function<void()> &then) {
  auto ifOp = scf::IfOp::create(b, loc, condition, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  then();
}

SmallVector<Value>
KernelBuilder::ifElse(Value condition, TypeRange types,
                      const std::function<SmallVector<Value>()> &then,
                      const std::function<SmallVector<Value>()> &otherwise) {
  auto ifOp = scf::IfOp::create(b, loc, types, condition,
                                /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(b, loc, then());
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, otherwise());
  }
  return SmallVector<Value>(ifOp.getResults());
}
