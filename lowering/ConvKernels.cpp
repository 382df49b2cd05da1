//===- ConvKernels.cpp - the causal depthwise conv as a GPU kernel --------===//

#include "lowering/ConvKernels.h"

#include "lowering/DeviceKernels.h"
#include "lowering/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/Twine.h"

using namespace mlir;
using namespace mm;

namespace {

/// The default tokens per thread: the K - 1 inputs re-read at a tile's
/// start cost under 5% for K = 4, and a 2048-token prompt still has 32
/// tiles per channel to spread over the GPU.
constexpr int64_t kDefaultTileTokens = 64;

} // namespace

llvm::Expected<ConvConfig> mm::resolveConvConfig(const ConvKernelSpec &spec,
                                                 const TargetInfo &target) {
  if (!target.isGpu())
    return kernelError("conv kernels are built for GPU targets, not '" +
                     target.spec() + "'");
  if (spec.channels <= 0 || spec.taps <= 0 || spec.taps > kConvKernelMaxTaps)
    return kernelError("conv kernel sizes must be static, channels positive and "
                     "taps in [1, " +
                     llvm::Twine(kConvKernelMaxTaps) + "]: channels = " +
                     llvm::Twine(spec.channels) +
                     ", taps = " + llvm::Twine(spec.taps));
  ConvConfig config;
  config.channels = spec.channels;
  config.taps = spec.taps;
  config.bias = spec.bias;
  config.silu = spec.silu;
  config.lengths = spec.lengths;
  config.tileTokens =
      std::max(spec.tileTokens ? spec.tileTokens : kDefaultTileTokens,
               spec.taps - 1);
  config.threadsPerBlock = target.threadsPerBlock;
  return config;
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildConvKernel(gpu::GPUModuleOp module, const ConvKernelSpec &spec,
                    TypeRange arguments, const TargetInfo &target) {
  llvm::Expected<ConvConfig> resolved = resolveConvConfig(spec, target);
  if (!resolved)
    return resolved.takeError();
  const ConvConfig &config = *resolved;
  size_t expected = 5 + spec.bias + spec.lengths;
  if (arguments.size() != expected)
    return kernelError("a conv kernel with these operands takes " +
                     llvm::Twine(expected) + " buffers, got " +
                     llvm::Twine(arguments.size()));
  const size_t lengthsArgument = spec.lengths ? 3 + spec.bias : expected;
  for (auto [index, type] : llvm::enumerate(arguments)) {
    auto memref = dyn_cast<MemRefType>(type);
    bool isLengths = index == lengthsArgument;
    if (!memref || (isLengths ? !memref.getElementType().isInteger(32)
                              : !memref.getElementType().isF32()))
      return kernelError("conv kernel buffers must be f32 memrefs (the "
                         "lengths i32)");
  }
  MLIRContext *context = module.getContext();
  context->loadDialect<arith::ArithDialect, math::MathDialect,
                       memref::MemRefDialect, scf::SCFDialect>();
  llvm::Expected<gpu::GPUFuncOp> created = createDeviceKernel(
      module, spec.name, arguments, config.threadsPerBlock);
  if (!created)
    return created.takeError();
  gpu::GPUFuncOp function = *created;
  OpBuilder b(context);
  Location loc = module.getLoc();
  b.setInsertionPointToStart(&function.getBody().front());
  KernelBuilder kb(b, loc);
  unsigned next = 0;
  auto argument = [&] { return function.getArgument(next++); };
  Value x = argument(), w = argument();
  Value bias = config.bias ? argument() : Value();
  Value window = argument();
  Value lengths = config.lengths ? argument() : Value();
  Value out = argument(), windowOut = argument();
  int64_t k = config.taps;
  Type f32 = b.getF32Type();

  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value e = kb.addi(
      kb.muli(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
              kb.index(config.threadsPerBlock)),
      thread);
  Value tile = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value seq = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value time = kb.dim(x, 1);
  Value t0 = kb.muli(tile, kb.index(config.tileTokens));
  Value t1 = kb.mini(kb.addi(t0, kb.index(config.tileTokens)), time);
  auto less = [&](Value a, Value c) {
    return kb.cmpi(arith::CmpIPredicate::slt, a, c);
  };
  // The input at extended position p (the window below K-1, else x at
  // p - (K-1)).
  auto inputAt = [&](Value p) {
    return kb
        .ifElse(
            less(p, kb.index(k - 1)), {f32},
            [&] { return SmallVector<Value>{kb.load(window, {seq, e, p})}; },
            [&] {
              return SmallVector<Value>{
                  kb.load(x, {seq, kb.subi(p, kb.index(k - 1)), e})};
            })
        .front();
  };

  // (With no tokens the grid has one tile, which only copies the window.)
  kb.ifThen(less(e, kb.index(config.channels)), [&] {
    SmallVector<Value> taps;
    for (int64_t j = 0; j < k; ++j)
      taps.push_back(kb.load(w, {e, kb.index(0), kb.index(j)}));
    Value b0 = bias ? kb.load(bias, {e}) : Value();
    // The K-1 inputs before the tile's first token: extended positions
    // t0 .. t0 + K - 2.
    SmallVector<Value> before;
    for (int64_t j = 0; j + 1 < k; ++j)
      before.push_back(inputAt(kb.addi(t0, kb.index(j))));
    kb.loop(t0, t1, before, [&](Value t, ValueRange previous) {
      Value current = kb.load(x, {seq, t, e});
      // The taps in order, as the loop emitter and the reference add them.
      Value acc = b0 ? b0 : kb.f32(0);
      for (int64_t j = 0; j + 1 < k; ++j)
        acc = kb.add(acc, kb.mul(taps[j], previous[j]));
      acc = kb.add(acc, kb.mul(taps[k - 1], current));
      kb.store(config.silu ? kb.silu(acc) : acc, out, {seq, t, e});
      SmallVector<Value> shifted(previous.drop_front());
      shifted.push_back(current);
      return shifted;
    });
    // The new window, by the first tile (the only reader of the old one):
    // entry j is extended position length + j >= j, never an entry already
    // written (the sequence's length, before its padding in a right-padded
    // batch).
    kb.ifThen(kb.cmpi(arith::CmpIPredicate::eq, tile, kb.index(0)), [&] {
      Value length = kb.sequenceLength(lengths, seq, time);
      for (int64_t j = 0; j + 1 < k; ++j)
        kb.store(inputAt(kb.addi(length, kb.index(j))), windowOut,
                 {seq, e, kb.index(j)});
    });
  });
  gpu::ReturnOp::create(b, loc);
  return function;
}
