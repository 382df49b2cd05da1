//===- KernelBuilder.h - terse construction of loop kernels -----*- C++ -*-===//
//
// A thin layer over OpBuilder for the kernel emitters: constants, arithmetic,
// loads and stores, counted loops with or without loop-carried values. It keeps
// the emitters close to the formulas of spec/MEMMAMBA.md.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_KERNELBUILDER_H
#define MM_LOWERING_KERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <functional>

namespace mm {

/// The alignment, in bytes, of every buffer the kernels allocate: a cache
/// line, so that vector loads never straddle two and the speed of a kernel
/// does not depend on where malloc happened to put its buffers (memmamba-24l's
/// prefill varied by 10% between heap layouts with malloc's 16 bytes).
constexpr int64_t kBufferAlignment = 64;

class KernelBuilder {
public:
  /// Builds at `builder`'s insertion point, which must be in the entry block
  /// of the function being built (scratch buffers are allocated there).
  KernelBuilder(mlir::OpBuilder &builder, mlir::Location loc)
      : b(builder), loc(loc), entry(builder.getInsertionBlock()) {}

  mlir::OpBuilder &builder() { return b; }
  mlir::Location location() const { return loc; }

  /// Gives the operations built during its lifetime `where`, the location of
  /// the mm operation they compute (so diagnostics, the simulator's check
  /// sites and debug info point at the model, not at the emitter).
  class LocationScope {
  public:
    LocationScope(KernelBuilder &kb, mlir::Location where)
        : kb(kb), saved(kb.loc) {
      kb.loc = where;
    }
    ~LocationScope() { kb.loc = saved; }
    LocationScope(const LocationScope &) = delete;
    LocationScope &operator=(const LocationScope &) = delete;

  private:
    KernelBuilder &kb;
    mlir::Location saved;
  };

  // Constants.
  mlir::Value index(int64_t value) {
    return mlir::arith::ConstantIndexOp::create(b, loc, value);
  }
  mlir::Value f32(double value) {
    return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  }
  mlir::Value f64(double value) {
    return mlir::arith::ConstantOp::create(b, loc, b.getF64FloatAttr(value));
  }
  mlir::Value i32(int32_t value) {
    return mlir::arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(value));
  }

  // Float arithmetic (f32 or f64 alike).
  mlir::Value add(mlir::Value x, mlir::Value y) {
    return mlir::arith::AddFOp::create(b, loc, x, y);
  }
  mlir::Value sub(mlir::Value x, mlir::Value y) {
    return mlir::arith::SubFOp::create(b, loc, x, y);
  }
  mlir::Value mul(mlir::Value x, mlir::Value y) {
    return mlir::arith::MulFOp::create(b, loc, x, y);
  }
  mlir::Value div(mlir::Value x, mlir::Value y) {
    return mlir::arith::DivFOp::create(b, loc, x, y);
  }
  mlir::Value neg(mlir::Value x) {
    return mlir::arith::NegFOp::create(b, loc, x);
  }
  mlir::Value maxf(mlir::Value x, mlir::Value y) {
    return mlir::arith::MaximumFOp::create(b, loc, x, y);
  }
  mlir::Value exp(mlir::Value x) {
    return mlir::math::ExpOp::create(b, loc, x);
  }
  mlir::Value log1p(mlir::Value x) {
    return mlir::math::Log1pOp::create(b, loc, x);
  }
  mlir::Value sqrt(mlir::Value x) {
    return mlir::math::SqrtOp::create(b, loc, x);
  }
  mlir::Value extend(mlir::Value x) { // f32 -> f64
    return mlir::arith::ExtFOp::create(b, loc, b.getF64Type(), x);
  }
  mlir::Value truncate(mlir::Value x) { // f64 -> f32
    return mlir::arith::TruncFOp::create(b, loc, b.getF32Type(), x);
  }
  /// A weight element as f32: bf16 and f16 widen exactly; f32 is itself.
  mlir::Value widen(mlir::Value x) {
    return x.getType().isF32()
               ? x
               : mlir::arith::ExtFOp::create(b, loc, b.getF32Type(), x);
  }
  /// f32 `x` rounded (to nearest even) to `element` and widened back: the
  /// input a matrix product with weights of type `element` multiplies (a
  /// reduced precision, common/Precision.h). f32 leaves x as it is.
  mlir::Value roundTo(mlir::Type element, mlir::Value x) {
    if (element.isF32())
      return x;
    return widen(mlir::arith::TruncFOp::create(b, loc, element, x));
  }
  /// 1 / (1 + exp(-x)), in x's type.
  mlir::Value sigmoid(mlir::Value x);
  /// x * sigmoid(x).
  mlir::Value silu(mlir::Value x) { return mul(x, sigmoid(x)); }
  /// PyTorch's softplus: x above 20, log1p(exp(x)) below.
  mlir::Value softplus(mlir::Value x);
  /// Float comparisons (ordered).
  mlir::Value fgt(mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpFOp::create(b, loc, mlir::arith::CmpFPredicate::OGT,
                                       x, y);
  }
  mlir::Value flt(mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpFOp::create(b, loc, mlir::arith::CmpFPredicate::OLT,
                                       x, y);
  }
  mlir::Value feq(mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpFOp::create(b, loc, mlir::arith::CmpFPredicate::OEQ,
                                       x, y);
  }

  // Integer and index arithmetic.
  mlir::Value addi(mlir::Value x, mlir::Value y) {
    return mlir::arith::AddIOp::create(b, loc, x, y);
  }
  mlir::Value subi(mlir::Value x, mlir::Value y) {
    return mlir::arith::SubIOp::create(b, loc, x, y);
  }
  mlir::Value muli(mlir::Value x, mlir::Value y) {
    return mlir::arith::MulIOp::create(b, loc, x, y);
  }
  mlir::Value cmpi(mlir::arith::CmpIPredicate predicate, mlir::Value x,
                   mlir::Value y) {
    return mlir::arith::CmpIOp::create(b, loc, predicate, x, y);
  }
  mlir::Value andi(mlir::Value x, mlir::Value y) {
    return mlir::arith::AndIOp::create(b, loc, x, y);
  }
  mlir::Value ori(mlir::Value x, mlir::Value y) {
    return mlir::arith::OrIOp::create(b, loc, x, y);
  }
  mlir::Value select(mlir::Value condition, mlir::Value x, mlir::Value y) {
    return mlir::arith::SelectOp::create(b, loc, condition, x, y);
  }
  mlir::Value toIndex(mlir::Value x) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
  }
  mlir::Value toI32(mlir::Value x) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getI32Type(), x);
  }
  mlir::Value toF32(mlir::Value x) { // signed integer -> f32
    return mlir::arith::SIToFPOp::create(b, loc, b.getF32Type(), x);
  }

  // Memory.
  mlir::Value load(mlir::Value memref, mlir::ValueRange indices) {
    return mlir::memref::LoadOp::create(b, loc, memref, indices);
  }
  void store(mlir::Value value, mlir::Value memref, mlir::ValueRange indices) {
    mlir::memref::StoreOp::create(b, loc, value, memref, indices);
  }
  mlir::Value dim(mlir::Value memref, int64_t index) {
    return mlir::memref::DimOp::create(b, loc, memref, index);
  }
  /// The indices of element `linear` of `memref` numbered row-major (the
  /// last dimension fastest: neighbouring threads, neighbouring elements).
  llvm::SmallVector<mlir::Value> delinearize(mlir::Value linear,
                                             mlir::Value memref) {
    int64_t rank = mlir::cast<mlir::MemRefType>(memref.getType()).getRank();
    llvm::SmallVector<mlir::Value> indices(rank);
    for (int64_t d = rank - 1; d > 0; --d) {
      mlir::Value size = dim(memref, d);
      indices[d] = mlir::arith::RemUIOp::create(b, loc, linear, size);
      linear = mlir::arith::DivUIOp::create(b, loc, linear, size);
    }
    indices[0] = linear;
    return indices;
  }
  /// Starts a kernel (an operation or a fusion group) at the insertion
  /// point: scratchBuffer() allocates there, outside the kernel's loops.
  void beginKernel();
  /// Ends the kernel begun last: frees its scratch buffers at the insertion
  /// point (after its loops).
  void endKernel();
  /// A scratch buffer of static shape for the kernel being built, on the
  /// heap: allocated once where the kernel starts (not per iteration of its
  /// loops) and freed where it ends; each use initialises what it reads. Its
  /// size may come from the config (a pool of 4096 notes of 64 values has
  /// 1 MiB of keys), which the stack of the caller's thread need not hold: a
  /// JVM's threads have 1 MiB.
  mlir::Value scratchBuffer(llvm::ArrayRef<int64_t> shape, mlir::Type element);
  /// A scratch buffer on the stack, for a few values whose number is fixed
  /// (never a size from the config or the input). It is allocated once, at
  /// the start of the enclosing function (an alloca inside a loop would grow
  /// the stack every iteration); each use initialises what it reads.
  mlir::Value stackBuffer(llvm::ArrayRef<int64_t> shape, mlir::Type element);
  mlir::Value alloc(llvm::ArrayRef<int64_t> shape, mlir::Type element,
                    mlir::ValueRange dynamicSizes) {
    return mlir::memref::AllocOp::create(
        b, loc, mlir::MemRefType::get(shape, element), dynamicSizes,
        b.getI64IntegerAttr(kBufferAlignment));
  }
  void dealloc(mlir::Value memref) {
    mlir::memref::DeallocOp::create(b, loc, memref);
  }

  // Control flow.
  using Body = std::function<void(mlir::Value)>;
  /// for (iv = lower; iv < upper; ++iv) body(iv)
  void loop(mlir::Value lower, mlir::Value upper, const Body &body);
  /// A loop nest over every element of `memref` (row-major, in order):
  /// body(indices) per element.
  void forEachElement(mlir::Value memref,
                      const std::function<void(mlir::ValueRange)> &body);
  void loop(int64_t lower, mlir::Value upper, const Body &body) {
    loop(index(lower), upper, body);
  }
  /// A loop carrying values: body(iv, carried) returns the next values.
  using CarriedBody = std::function<llvm::SmallVector<mlir::Value>(
      mlir::Value, mlir::ValueRange)>;
  llvm::SmallVector<mlir::Value> loop(mlir::Value lower, mlir::Value upper,
                                      mlir::ValueRange initial,
                                      const CarriedBody &body);
  /// initial + the sum over [lower, upper) of term(iv), in initial's type.
  mlir::Value sum(mlir::Value lower, mlir::Value upper, mlir::Value initial,
                  const std::function<mlir::Value(mlir::Value)> &term);
  /// The same, but the additions may be reassociated and fused with the
  /// multiplications of `term` (fastmath reassoc, contract), which lets LLVM
  /// vectorise the reduction: for the matrix products, where f32 rounding
  /// differences of that order are within the backends' tolerance.
  mlir::Value fastSum(mlir::Value lower, mlir::Value upper, mlir::Value initial,
                      const std::function<mlir::Value(mlir::Value)> &term);
  /// Integer minimum (for the last, partial tile of a loop).
  mlir::Value mini(mlir::Value x, mlir::Value y) {
    return mlir::arith::MinSIOp::create(b, loc, x, y);
  }
  mlir::Value maxi(mlir::Value x, mlir::Value y) {
    return mlir::arith::MaxSIOp::create(b, loc, x, y);
  }
  /// The steps of sequence `batchIndex` in a chunk of `time` steps (index):
  /// lengths[batchIndex] of an i32 buffer [B] (a batch right-padded to its
  /// longest sequence), clamped to [0, time]; `time` without `lengths`.
  mlir::Value sequenceLength(mlir::Value lengths, mlir::Value batchIndex,
                             mlir::Value time);
  /// for (iv = lower; iv < upper; iv += step) body(iv)
  void loop(mlir::Value lower, mlir::Value upper, int64_t step,
            const Body &body);
  /// The same, with iterations that may run in parallel on the target's
  /// threads (scf.parallel). The body must not use stackBuffer() or
  /// scratchBuffer(), whose buffers are shared by every iteration.
  void parallelLoop(mlir::Value lower, mlir::Value upper, int64_t step,
                    const Body &body);
  /// if (condition) then();
  void ifThen(mlir::Value condition, const std::function<void()> &then);
  /// if (condition) then(); else otherwise();
  void ifThenElse(mlir::Value condition, const std::function<void()> &then,
                  const std::function<void()> &otherwise);
  /// condition ? then() : otherwise(), both producing values of `types`.
  llvm::SmallVector<mlir::Value>
  ifElse(mlir::Value condition, mlir::TypeRange types,
         const std::function<llvm::SmallVector<mlir::Value>()> &then,
         const std::function<llvm::SmallVector<mlir::Value>()> &otherwise);

private:
  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Block *entry;
  /// The kernel being built: its block, the operation its scratch buffers
  /// go after (null: the block's start), and those buffers.
  mlir::Block *kernelBlock = nullptr;
  mlir::Operation *kernelAnchor = nullptr;
  llvm::SmallVector<mlir::Value> kernelScratch;
};

} // namespace mm

#endif // MM_LOWERING_KERNELBUILDER_H
