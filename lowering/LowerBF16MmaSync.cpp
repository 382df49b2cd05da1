//===- LowerBF16MmaSync.cpp - bf16 mma.sync straight to NVVM --------------===//
//
// Upstream's convert-nvgpu-to-nvvm cannot lower an nvgpu.mma.sync of bf16
// operands (MLIR 22: "failed to deduce operand PTX types": in NVVM, bf16
// pairs travel as i32 registers, indistinguishable from integers). This pass
// rewrites each such op into nvvm.mma.sync with its PTX types given: the
// operand fragments bitcast to i32 (two bf16 each, the lower index in the
// low half, as the PTX ISA lays out .bf16x2), the accumulators as four f32,
// and the result struct back into the vector<2x2xf32> nvgpu.mma.sync gives.
// Runs inside gpu.modules, before convert-nvgpu-to-nvvm; the simulator's
// host copies are taken before it and still see nvgpu.mma.sync.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mm {
#define GEN_PASS_DEF_LOWERBF16MMASYNC
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;

namespace {

/// The fragments of a vector<Rx2xbf16> operand as R i32 registers.
SmallVector<Value> packPairs(OpBuilder &b, Location loc, Value fragment) {
  auto type = cast<VectorType>(fragment.getType());
  SmallVector<Value> registers;
  for (int64_t row = 0; row < type.getDimSize(0); ++row) {
    Value pair = vector::ExtractOp::create(b, loc, fragment, row);
    Value word = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), pair);
    registers.push_back(vector::ExtractOp::create(b, loc, word, 0));
  }
  return registers;
}

class LowerBF16MmaSync
    : public mm::impl::LowerBF16MmaSyncBase<LowerBF16MmaSync> {
public:
  void runOnOperation() override {
    SmallVector<nvgpu::MmaSyncOp> ops;
    getOperation()->walk([&](nvgpu::MmaSyncOp op) {
      if (getElementTypeOrSelf(op.getMatrixA().getType()).isBF16())
        ops.push_back(op);
    });
    for (nvgpu::MmaSyncOp op : ops)
      if (failed(lower(op)))
        return signalPassFailure();
  }

private:
  LogicalResult lower(nvgpu::MmaSyncOp op) {
    auto cType = cast<VectorType>(op.getMatrixC().getType());
    if (op.getMmaShapeAsArray() != std::array<int64_t, 3>{16, 8, 16} ||
        cType != VectorType::get({2, 2}, Float32Type::get(op.getContext())))
      return op.emitOpError("bf16 mma.sync is lowered for m16n8k16 with f32 "
                            "accumulators only");
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Value> a = packPairs(b, loc, op.getMatrixA());
    SmallVector<Value> bRegisters = packPairs(b, loc, op.getMatrixB());
    SmallVector<Value> c;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        c.push_back(vector::ExtractOp::create(b, loc, op.getMatrixC(),
                                              ArrayRef<int64_t>{i, j}));
    Type f32 = b.getF32Type();
    auto resultType = LLVM::LLVMStructType::getLiteral(
        op.getContext(), SmallVector<Type>(4, f32));
    Value result = NVVM::MmaOp::create(
        b, loc, resultType, a, bRegisters, c, ArrayRef<int64_t>{16, 8, 16},
        std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16,
                                      NVVM::MMATypes::bf16},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> elements;
    for (int64_t i = 0; i < 4; ++i)
      elements.push_back(LLVM::ExtractValueOp::create(b, loc, result, i));
    Value d = vector::FromElementsOp::create(b, loc, cType, elements);
    op.getResult().replaceAllUsesWith(d);
    op.erase();
    return success();
  }
};

} // namespace
