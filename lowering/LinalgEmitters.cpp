//===- LinalgEmitters.cpp - regular mm operations as linalg ---------------===//
//
// Each operation becomes one or two linalg.generic operations whose bodies
// repeat the formulas of LoopEmitters (the same operations in the same
// precision), so that the two lowerings agree up to the order of the sums.
// The operations carry a role (MMDialect::kLinalgRoleAttrName) for the schedules.
//
// The causal conv reads the state window ([B, E, K-1]) before the chunk
// ([B, T, E]). It is split where that matters: the first min(T, K-1)
// outputs read a small concatenation of the window (transposed to
// [B, K-1, E]) and the chunk's first inputs; the rest read the chunk alone,
// in place. Both are linalg.depthwise_conv_1d_nwc_wc, the layout upstream's
// conv vectoriser takes, so no pass over the whole chunk copies it.
//
//===----------------------------------------------------------------------===//

#include "lowering/LinalgEmitters.h"
#include "lowering/LoopEmitters.h"

#include "dialect/MMDialect.h"
#include "dialect/MMOps.h"

#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/TransformOps/BufferizationTransformOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Transform/LoopExtension/LoopExtension.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/Transforms/SubsetOpInterfaceImpl.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mm;

namespace {

using BodyFn = function_ref<Value(KernelBuilder &, ValueRange)>;

/// Builds a linalg.generic over `loops` dimensions on buffers or, when
/// `output` is a tensor, on tensors (returning the new value), tagged with
/// `role`; `body` computes the value of the (single) output from the block
/// arguments (inputs, then the output's current value).
linalg::GenericOp generic(OpBuilder &builder, Location loc, StringRef role,
                          ValueRange inputs, Value output,
                          ArrayRef<AffineMap> maps,
                          ArrayRef<utils::IteratorType> iterators,
                          BodyFn body) {
  SmallVector<Type, 1> results;
  if (isa<RankedTensorType>(output.getType()))
    results.push_back(output.getType());
  auto op = linalg::GenericOp::create(
      builder, loc, results, inputs, ValueRange{output}, maps, iterators,
      [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
        KernelBuilder kb(nested, bodyLoc);
        linalg::YieldOp::create(nested, bodyLoc, body(kb, args));
      });
  op->setAttr(MMDialect::kLinalgRoleAttrName, builder.getStringAttr(role));
  return op;
}

/// Maps of `loops` dimensions: each list of dimension positions one map.
SmallVector<AffineMap> maps(MLIRContext *context, unsigned loops,
                            ArrayRef<SmallVector<unsigned>> operands) {
  SmallVector<AffineMap> result;
  for (const SmallVector<unsigned> &dims : operands) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, context));
    result.push_back(AffineMap::get(loops, 0, exprs, context));
  }
  return result;
}

constexpr auto kParallel = utils::IteratorType::parallel;
constexpr auto kReduction = utils::IteratorType::reduction;

/// The tensor of a buffer for the operations on tensors: `restrict` (no
/// other tensor reads or writes it in the kernel), `writable` for the output
/// the operations update in place.
Value toTensor(OpBuilder &builder, Location loc, Value buffer,
               bool writable = false) {
  auto type = cast<MemRefType>(buffer.getType());
  return bufferization::ToTensorOp::create(
      builder, loc,
      Type(RankedTensorType::get(type.getShape(), type.getElementType())),
      buffer, /*restrict=*/true, writable);
}

/// `output`, a [B, T, N] tensor, set to `bias` ([N]) in every row, or to
/// zero without one: the operation that starts a sum, tagged `role`.
Value initialise(OpBuilder &builder, Location loc, StringRef role, Value bias,
                 Value output) {
  if (bias)
    return generic(builder, loc, role, {bias}, output,
                   maps(builder.getContext(), 3, {{2}, {0, 1, 2}}),
                   {kParallel, kParallel, kParallel},
                   [](KernelBuilder &, ValueRange args) { return args[0]; })
        .getResult(0);
  Value zero =
      arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(0.0));
  auto fill = linalg::FillOp::create(builder, loc, zero, output);
  fill->setAttr(MMDialect::kLinalgRoleAttrName, builder.getStringAttr(role));
  return fill.getResult(0);
}

/// out[b, t, n] = sum_k x[b, t, k] w[n, k] (+ bias[n]): the output starts as
/// the bias (or zero), then one contraction over (b, t, n, k) adds the
/// products in f32 with reassociation allowed, as emitLinearRows does (and
/// as it does, with bf16 or f16 weights x is rounded to their type: here
/// once, into an f32 buffer, before the contraction, whose tiles would
/// otherwise round each input vector again for every tile of rows; f32
/// rather than 16-bit, so that the tiles widen only the weights. The
/// products are the same).
/// On tensors, not on the buffers: the gemm schedule splits the reduction
/// (tile_reduction_using_for), which needs tensors, and bufferises; the
/// result is materialised into the output buffer.
///
/// A K of at most kOuterProductMaxK over more than one token (dt_proj's
/// 48) takes the outer-product form instead: the weight transposed once per
/// call into an f32 [K, N] buffer (K x N elements, 1/T of the products),
/// and the contraction's loops ordered (b, t, k, n), so that a vector runs
/// along N: each output accumulates x[b, t, k] * wT[k, n..] over k with no
/// horizontal sums at the end, which with so few steps of K would cost more
/// than the products (the gemm schedule tells the forms apart by the
/// position of the reduction).
constexpr int64_t kOuterProductMaxK = 64;

LogicalResult emitMatmul(Operation *op, OpBuilder &builder, Value x, Value w,
                         Value bias, Value out) {
  auto xType = cast<MemRefType>(x.getType());
  if (xType.getRank() != 3)
    return op->emitOpError() << "the linalg lowering expects [B, T, K]";
  Location loc = op->getLoc();
  MLIRContext *context = builder.getContext();
  auto wType = cast<MemRefType>(w.getType());
  Type weightType = wType.getElementType();
  const int64_t inputs = wType.getDimSize(1);
  const bool outerProducts = !ShapedType::isDynamic(inputs) &&
                             inputs <= kOuterProductMaxK &&
                             xType.getDimSize(1) != 1;
  Value transposedBuffer, transposed;
  if (outerProducts) {
    KernelBuilder kb(builder, loc);
    const int64_t outputs = wType.getDimSize(0);
    SmallVector<Value> dynamicSizes;
    // Rows an odd number of 64-byte lines apart: a register tile reads 64
    // bytes of each of the K rows, which at N = 1536 (96 lines) all fell
    // into 2 of the L1 cache's 64 sets and evicted each other.
    int64_t stride = outputs;
    if (ShapedType::isDynamic(outputs))
      dynamicSizes.push_back(kb.dim(w, 0));
    else
      stride = 16 * (llvm::divideCeil(outputs, 16) | 1);
    transposedBuffer =
        kb.alloc({inputs, stride}, builder.getF32Type(), dynamicSizes);
    transposed = transposedBuffer;
    if (stride != outputs)
      transposed = memref::SubViewOp::create(
          builder, loc, transposedBuffer, ArrayRef<int64_t>{0, 0},
          ArrayRef<int64_t>{inputs, outputs}, ArrayRef<int64_t>{1, 1});
    generic(
        builder, loc, "weight_transpose", {w}, transposed,
        maps(context, 2, {{1, 0}, {0, 1}}), {kParallel, kParallel},
        [](KernelBuilder &kb, ValueRange args) { return kb.widen(args[0]); });
  }
  Value rounded;
  if (!weightType.isF32()) {
    KernelBuilder kb(builder, loc);
    ArrayRef<int64_t> shape = cast<MemRefType>(x.getType()).getShape();
    SmallVector<Value> dynamicSizes;
    for (auto [d, size] : llvm::enumerate(shape))
      if (ShapedType::isDynamic(size))
        dynamicSizes.push_back(kb.dim(x, d));
    rounded = kb.alloc(shape, builder.getF32Type(), dynamicSizes);
    generic(builder, loc, "round_input", {x}, rounded,
            maps(context, 3, {{0, 1, 2}, {0, 1, 2}}),
            {kParallel, kParallel, kParallel},
            [&](KernelBuilder &kb, ValueRange args) {
              return kb.roundTo(weightType, args[0]);
            });
  }
  Value xTensor = toTensor(builder, loc, rounded ? rounded : x);
  Value wTensor = toTensor(builder, loc, transposed ? transposed : w);
  Value outTensor = toTensor(builder, loc, out, /*writable=*/true);
  Value init = initialise(builder, loc, "bias",
                          bias ? toTensor(builder, loc, bias) : Value(),
                          outTensor);
  auto fast = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  // Loops (b, t, n, k), or (b, t, k, n) in the outer-product form.
  SmallVector<AffineMap> productMaps =
      outerProducts ? maps(context, 4, {{0, 1, 2}, {2, 3}, {0, 1, 3}})
                    : maps(context, 4, {{0, 1, 3}, {2, 3}, {0, 1, 2}});
  SmallVector<utils::IteratorType> productLoops =
      outerProducts ? SmallVector<utils::IteratorType>{kParallel, kParallel,
                                                       kReduction, kParallel}
                    : SmallVector<utils::IteratorType>{kParallel, kParallel,
                                                       kParallel, kReduction};
  Value product =
      generic(builder, loc, "matmul", {xTensor, wTensor}, init, productMaps,
              productLoops,
              [&](KernelBuilder &kb, ValueRange args) -> Value {
                OpBuilder &b = kb.builder();
                // One statement each: the IR's order must not depend on the
                // compiler's order of evaluating arguments.
                Value input = args[0];
                Value weight = kb.widen(args[1]);
                Value product = arith::MulFOp::create(b, kb.location(), input,
                                                      weight, fast);
                return arith::AddFOp::create(b, kb.location(), args[2], product,
                                             fast);
              })
          .getResult(0);
  bufferization::MaterializeInDestinationOp::create(
      builder, loc, TypeRange(), product, out, /*restrict=*/true,
      /*writable=*/true);
  for (Value scratch : {rounded, transposedBuffer})
    if (scratch)
      memref::DeallocOp::create(builder, loc, scratch);
  return success();
}

LogicalResult emit(LinearOp op, OpBuilder &builder, BufferMap buffer) {
  return emitMatmul(op, builder, buffer(op.getInput()),
                    buffer(op.getWeight()),
                    op.getBias() ? buffer(op.getBias()) : Value(),
                    buffer(op.getResult()));
}

LogicalResult emit(LMHeadOp op, OpBuilder &builder, BufferMap buffer) {
  return emitMatmul(op, builder, buffer(op.getInput()),
                    buffer(op.getWeight()), Value(), buffer(op.getResult()));
}

/// RMSNorm in two operations, in f64 as emitNormRows: the sum of squares per
/// row into a [B, T] scratch, then x / sqrt(sum / D + eps) * w.
LogicalResult emit(RMSNormOp op, OpBuilder &builder, BufferMap buffer) {
  Value x = buffer(op.getInput()), w = buffer(op.getWeight()),
        out = buffer(op.getResult());
  if (cast<MemRefType>(x.getType()).getRank() != 3)
    return op.emitOpError() << "the linalg lowering expects [B, T, D]";
  Location loc = op.getLoc();
  MLIRContext *context = builder.getContext();
  KernelBuilder kb(builder, loc);
  Value width = kb.dim(x, 2);
  // [B, T] as static as x's (a decode step's T = 1): tiles of the sums and
  // of x then have the same loop bounds (a schedule may fuse their loops).
  ArrayRef<int64_t> shape = cast<MemRefType>(x.getType()).getShape();
  auto sumsType =
      MemRefType::get({shape[0], shape[1]}, builder.getF64Type());
  SmallVector<Value> dynamicSizes;
  for (int64_t d : {0, 1})
    if (ShapedType::isDynamic(shape[d]))
      dynamicSizes.push_back(kb.dim(x, d));
  Value sums = memref::AllocOp::create(
      builder, loc, sumsType, dynamicSizes,
      builder.getI64IntegerAttr(kBufferAlignment));
  linalg::FillOp::create(builder, loc, kb.f64(0), sums)
      ->setAttr(MMDialect::kLinalgRoleAttrName, builder.getStringAttr("norm_init"));
  generic(builder, loc, "norm_sum", {x}, sums,
          maps(context, 3, {{0, 1, 2}, {0, 1}}),
          {kParallel, kParallel, kReduction},
          [](KernelBuilder &kb, ValueRange args) {
            Value v = kb.extend(args[0]);
            return kb.add(args[1], kb.mul(v, v));
          });
  // D as emitNormRows converts it (through i32 and f32).
  Value widthF = kb.extend(kb.toF32(kb.toI32(width)));
  Value epsilon = kb.f64(op.getEpsilon().convertToDouble());
  generic(builder, loc, "norm_scale", {x, sums, w}, out,
          maps(context, 3, {{0, 1, 2}, {0, 1}, {2}, {0, 1, 2}}),
          {kParallel, kParallel, kParallel},
          [&](KernelBuilder &kb, ValueRange args) {
            Value inverse = kb.div(
                kb.f64(1.0), kb.sqrt(kb.add(kb.div(args[1], widthF), epsilon)));
            return kb.truncate(kb.mul(kb.mul(kb.extend(args[0]), inverse),
                                      kb.extend(args[2])));
          });
  memref::DeallocOp::create(builder, loc, sums);
  return success();
}

/// y * silu(z), elementwise over [B, T, E].
LogicalResult emit(GateOp op, OpBuilder &builder, BufferMap buffer) {
  Value out = buffer(op.getResult());
  unsigned rank = cast<MemRefType>(out.getType()).getRank();
  SmallVector<unsigned> all = llvm::to_vector(llvm::seq<unsigned>(0, rank));
  generic(builder, op.getLoc(), "elementwise",
          {buffer(op.getInput()), buffer(op.getGate())}, out,
          maps(builder.getContext(), rank, {all, all, all}),
          SmallVector<utils::IteratorType>(rank, kParallel),
          [](KernelBuilder &kb, ValueRange args) {
            return kb.mul(args[0], kb.silu(args[1]));
          });
  return success();
}

/// x + mixer + sigmoid(g_tok) c_tok + sigmoid(g_lay) c_lay over [B, T, D],
/// the terms in residualElement's order.
LogicalResult emit(ResidualOp op, OpBuilder &builder, BufferMap buffer) {
  Value out = buffer(op.getResult());
  if (cast<MemRefType>(out.getType()).getRank() != 3)
    return op.emitOpError() << "the linalg lowering expects [B, T, D]";
  SmallVector<Value> inputs = {buffer(op.getInput()), buffer(op.getMixer())};
  SmallVector<SmallVector<unsigned>> operandDims = {{0, 1, 2}, {0, 1, 2}};
  for (auto [context, gate] :
       {std::pair(op.getTokenContext(), op.getTokenGate()),
        std::pair(op.getLayerContext(), op.getLayerGate())}) {
    if (!context)
      continue;
    inputs.append({buffer(context), buffer(gate)});
    operandDims.append({{0, 1, 2}, {2}});
  }
  operandDims.push_back({0, 1, 2});
  generic(builder, op.getLoc(), "elementwise", inputs, out,
          maps(builder.getContext(), 3, operandDims),
          {kParallel, kParallel, kParallel},
          [](KernelBuilder &kb, ValueRange args) {
            Value sum = kb.add(args[0], args[1]);
            // (context, gate) pairs follow x and the mixer; the output's
            // current value is last.
            for (size_t i = 2; i + 2 < args.size(); i += 2)
              sum = kb.add(sum, kb.mul(kb.sigmoid(args[i + 1]), args[i]));
            return sum;
          });
  return success();
}

/// The causal conv on tensors (see the file comment). With m = min(T, K-1):
///   head = concat(window^T, x[:, :m])    [B, K-1+m, E]  -> out[:, :m]
///   x                                     [B, T, E]      -> out[:, m:]
///   new window = concat(window^T, x[:, T-m:])[:, m:m+K-1]^T
/// Each output part starts as the bias (or zero), takes the taps in order
/// (emit(CausalConv1dOp) of LoopEmitters adds them in the same order) and
/// ends in a generic that applies SiLU (the identity without `silu`), so
/// that every part has the same three roles for the schedule: "conv_bias",
/// "conv", "conv_act"; the transposes of the window and the filter are
/// "conv_window" and "conv_filter". window and window_out may be the same
/// memory (the kernel's caller writes the state in place): the window is
/// read once, into a transposed copy, before anything is written.
LogicalResult emit(CausalConv1dOp op, OpBuilder &builder, BufferMap buffer) {
  Value x = buffer(op.getInput()), w = buffer(op.getWeight()),
        window = buffer(op.getWindow()), out = buffer(op.getResult()),
        windowOut = buffer(op.getWindowOut());
  auto xType = cast<MemRefType>(x.getType());
  auto wType = cast<MemRefType>(w.getType());
  if (xType.getRank() != 3 || ShapedType::isDynamic(xType.getDimSize(2)) ||
      !wType.hasStaticShape() || wType.getDimSize(2) < 2)
    return op.emitOpError() << "the linalg lowering expects [B, T, E] with a "
                               "static E and a static kernel width of 2 or "
                               "more";
  Location loc = op.getLoc();
  MLIRContext *context = builder.getContext();
  KernelBuilder kb(builder, loc);
  Type f32 = builder.getF32Type();
  int64_t channels = xType.getDimSize(2), width = wType.getDimSize(2);
  Value batch = kb.dim(x, 0), time = kb.dim(x, 1);
  auto tag = [&](Operation *tagged, StringRef role) {
    tagged->setAttr(MMDialect::kLinalgRoleAttrName,
                    builder.getStringAttr(role));
    return tagged;
  };
  // Rows [row, row + rows) of a [B, *, E] tensor: its offsets and sizes.
  OpFoldResult zero = builder.getIndexAttr(0);
  SmallVector<OpFoldResult> unitStrides(3, builder.getIndexAttr(1));
  auto offsets = [&](OpFoldResult row) {
    return SmallVector<OpFoldResult>{zero, row, zero};
  };
  auto sizes = [&](OpFoldResult rows) {
    return SmallVector<OpFoldResult>{batch, rows,
                                     builder.getIndexAttr(channels)};
  };
  auto slice = [&](Value source, OpFoldResult row, OpFoldResult rows) {
    return tensor::ExtractSliceOp::create(builder, loc, source, offsets(row),
                                          sizes(rows), unitStrides);
  };

  // The filter as [K, E], the window as [B, K-1, E].
  Value weight = tensor::CollapseShapeOp::create(
      builder, loc, toTensor(builder, loc, w),
      SmallVector<ReassociationIndices>{{0, 1}, {2}});
  Value filterInit =
      tensor::EmptyOp::create(builder, loc, {width, channels}, f32);
  Value filter =
      tag(linalg::TransposeOp::create(builder, loc, weight, filterInit, {1, 0}),
          "conv_filter")
          ->getResult(0);
  Value windowInit = tensor::EmptyOp::create(
      builder, loc, {ShapedType::kDynamic, width - 1, channels}, f32,
      ValueRange{batch});
  Value windowRows = tag(linalg::TransposeOp::create(
                             builder, loc, toTensor(builder, loc, window),
                             windowInit, {0, 2, 1}),
                         "conv_window")
                         ->getResult(0);

  Value xTensor = toTensor(builder, loc, x);
  Value outTensor = toTensor(builder, loc, out, /*writable=*/true);
  Value head = kb.mini(time, kb.index(width - 1));
  auto unit = DenseIntElementsAttr::get(
      RankedTensorType::get({1}, builder.getI64Type()), ArrayRef<int64_t>{1});
  // One tensor of each buffer: to_tensor restrict promises no other.
  Value bias =
      op.getBias() ? toTensor(builder, loc, buffer(op.getBias())) : Value();
  // out[:, row : row + rows] = act(bias + conv(input, filter)).
  auto convolve = [&](Value input, OpFoldResult row, OpFoldResult rows,
                      Value outSoFar) {
    Value part = slice(outSoFar, row, rows);
    Value init = initialise(builder, loc, "conv_bias", bias, part);
    Value sums =
        tag(linalg::DepthwiseConv1DNwcWcOp::create(
                builder, loc, TypeRange{part.getType()},
                ValueRange{input, filter}, ValueRange{init}, unit, unit),
            "conv")
            ->getResult(0);
    bool silu = op.getSilu();
    Value activated = generic(builder, loc, "conv_act", {}, sums,
                              maps(context, 3, {{0, 1, 2}}),
                              {kParallel, kParallel, kParallel},
                              [&](KernelBuilder &kb, ValueRange args) {
                                return silu ? kb.silu(args[0]) : args[0];
                              })
                          .getResult(0);
    return tensor::InsertSliceOp::create(builder, loc, activated, outSoFar,
                                         offsets(row), sizes(rows), unitStrides)
        .getResult();
  };
  Value headInput = tensor::ConcatOp::create(
      builder, loc, /*dim=*/1,
      ValueRange{windowRows, slice(xTensor, zero, head)});
  Value result = convolve(headInput, zero, head, outTensor);
  // Past the head the inputs are the chunk's: x read in place (the conv
  // reads rows t .. t+K-1 of it for output row t + K-1).
  result = convolve(xTensor, head, kb.subi(time, head), result);
  bufferization::MaterializeInDestinationOp::create(
      builder, loc, TypeRange(), result, out, /*restrict=*/true,
      /*writable=*/true);

  // The new window: the last K-1 inputs of window + chunk. In a batch of
  // sequences of different lengths each ends at its own: one parallel loop
  // over (sequence, channel), one launch on a GPU, each iteration the loop
  // emitter's (the window rows above were read before it writes the window,
  // which may be the same buffer).
  if (op.getLengths()) {
    Value lengths = buffer(op.getLengths());
    Value rows = kb.muli(batch, kb.index(channels));
    kb.parallelLoop(kb.index(0), rows, 1, [&](Value i) {
      Value b = arith::DivUIOp::create(builder, loc, i, kb.index(channels));
      Value e = arith::RemUIOp::create(builder, loc, i, kb.index(channels));
      emitConvWindowOut(kb, x, window, lengths, windowOut, width, b, e);
    });
    return success();
  }
  Value tail = tensor::ConcatOp::create(
      builder, loc, /*dim=*/1,
      ValueRange{windowRows, slice(xTensor, kb.subi(time, head), head)});
  Value newRows = slice(tail, head, builder.getIndexAttr(width - 1));
  Value newWindow =
      tag(linalg::TransposeOp::create(
              builder, loc, newRows,
              toTensor(builder, loc, windowOut, /*writable=*/true), {0, 2, 1}),
          "conv_window")
          ->getResult(0);
  bufferization::MaterializeInDestinationOp::create(
      builder, loc, TypeRange(), newWindow, windowOut, /*restrict=*/true,
      /*writable=*/true);
  return success();
}

/// out[b, t, d] = table[tokens[b, t], d]: a generic over the output whose
/// body loads the table row (a gather; the schedule tiles it, the vectoriser
/// leaves it).
LogicalResult emit(EmbedOp op, OpBuilder &builder, BufferMap buffer) {
  Value tokens = buffer(op.getTokens()), table = buffer(op.getTable());
  generic(builder, op.getLoc(), "gather", {tokens}, buffer(op.getResult()),
          maps(builder.getContext(), 3, {{0, 1}, {0, 1, 2}}),
          {kParallel, kParallel, kParallel},
          [&](KernelBuilder &kb, ValueRange args) {
            Value d = linalg::IndexOp::create(kb.builder(), kb.location(), 2);
            return kb.widen(kb.load(table, {kb.toIndex(args[0]), d}));
          });
  return success();
}

} // namespace

bool mm::hasLinalgForm(Operation *op) {
  // A conv of width 1 has no window to concatenate: the loop emitter's.
  if (auto conv = dyn_cast<CausalConv1dOp>(op)) {
    auto weight = cast<RankedTensorType>(conv.getWeight().getType());
    return weight.hasStaticShape() && weight.getDimSize(2) >= 2;
  }
  return isa<LinearOp, LMHeadOp, RMSNormOp, GateOp, ResidualOp, EmbedOp>(op);
}

void mm::registerLinalgBufferization(DialectRegistry &registry) {
  registry.insert<bufferization::BufferizationDialect, tensor::TensorDialect>();
  bufferization::registerTransformDialectExtension(registry);
  transform::registerLoopExtension(registry);
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerSubsetOpInterfaceExternalModels(registry);
  tensor::registerSubsetOpInterfaceExternalModels(registry);
  vector::registerSubsetOpInterfaceExternalModels(registry);
  tensor::registerValueBoundsOpInterfaceExternalModels(registry);
}

LogicalResult mm::emitLinalg(Operation *op, OpBuilder &builder,
                             BufferMap buffer) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<LinearOp, LMHeadOp, RMSNormOp, GateOp, ResidualOp, EmbedOp,
            CausalConv1dOp>(
          [&](auto typed) { return emit(typed, builder, buffer); })
      .Default([](Operation *other) {
        return other->emitOpError()
               << "has no linalg form (lowering/LinalgEmitters.cpp)";
      });
}
