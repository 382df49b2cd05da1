//===- DecomposeLayers.cpp - expand mm.layer into primitive ops -----------===//
//
// The expansion follows spec/MEMMAMBA.md section 2 "Per token t, layer l, in
// this order": the Mamba mixer, then (a) the cross-token read of the pool as
// it stood before the token, (b) the note write, (c) cross-layer attention,
// (d) the fused residual. Read-before-write holds per token because
// mm.pool_attention reads the input pool updated only with earlier tokens.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "common/WeightNames.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringMap.h"

namespace mm {
#define GEN_PASS_DEF_DECOMPOSELAYERS
#include "passes/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// Builds the primitive operations of one layer in front of it.
class LayerExpander {
public:
  LayerExpander(LayerOp layer, RewriterBase &rewriter)
      : layer(layer), rewriter(rewriter), loc(layer.getLoc()),
        config(layer.getConfig().getModelConfig()), index(layer.getIndex()) {
    for (WeightSpec &spec : layerWeights(config, index))
      shapes[spec.name] = std::move(spec.shape);
    auto input = cast<RankedTensorType>(layer.getInput().getType());
    batch = input.getDimSize(0);
    time = input.getDimSize(1);
  }

  /// Replaces the layer; returns the number of weights it referenced.
  unsigned expand();

private:
  /// The layer's checkpoint tensor with suffix `suffix`; its shape comes from
  /// the same table the runtime validates checkpoints with.
  Value weight(const char *suffix) {
    std::string name = layerWeightName(index, suffix);
    auto it = shapes.find(name);
    assert(it != shapes.end() && "weight not implied by the config");
    ++numWeights;
    return WeightOp::create(
        rewriter, loc, RankedTensorType::get(it->second, rewriter.getF32Type()),
        rewriter.getStringAttr(name), StringAttr());
  }

  /// An activation of shape [B, T, inner...].
  RankedTensorType activation(ArrayRef<int64_t> inner) {
    SmallVector<int64_t> shape{batch, time};
    shape.append(inner.begin(), inner.end());
    return RankedTensorType::get(shape, rewriter.getF32Type());
  }

  Value linear(Value input, const char *weightName, int64_t outputs,
               const char *biasName = nullptr) {
    Value matrix = weight(weightName);
    Value bias = biasName ? weight(biasName) : Value();
    return LinearOp::create(rewriter, loc, activation({outputs}), input, matrix,
                            bias);
  }

  FloatAttr f64(double value) { return rewriter.getF64FloatAttr(value); }

  LayerOp layer;
  RewriterBase &rewriter;
  Location loc;
  ModelConfig config;
  int64_t index;
  int64_t batch, time;
  llvm::StringMap<std::vector<int64_t>> shapes;
  unsigned numWeights = 0;
};

unsigned LayerExpander::expand() {
  using namespace weight;
  const int64_t d = config.hiddenSize, e = config.intermediateSize,
                n = config.stateSize, r = config.dtRank;
  rewriter.setInsertionPoint(layer);

  // Mixer (spec section 1).
  Value x = layer.getInput();
  // Weights are created one statement at a time so that the IR's order does
  // not depend on the compiler's order of evaluating arguments.
  Value normWeight = weight(kNorm);
  Value u = RMSNormOp::create(rewriter, loc, x, normWeight,
                              f64(config.layerNormEpsilon));
  Value xz = linear(u, kInProj, 2 * e, config.useBias ? kInProjBias : nullptr);
  auto xiZ = SplitOp::create(rewriter, loc,
                             TypeRange{activation({e}), activation({e})}, xz,
                             rewriter.getDenseI64ArrayAttr({e, e}));
  Value xi = xiZ.getResult(0), z = xiZ.getResult(1);
  Value convWeight = weight(kConv);
  Value convBias = config.useConvBias ? weight(kConvBias) : Value();
  auto conv = CausalConv1dOp::create(
      rewriter, loc, activation({e}), layer.getConvWindow().getType(), xi,
      convWeight, convBias, layer.getConvWindow(), layer.getLengths(),
      /*silu=*/true);
  Value xc = conv.getResult();
  Value dbc = linear(xc, kXProj, r + 2 * n);
  auto dtBC = SplitOp::create(
      rewriter, loc,
      TypeRange{activation({r}), activation({n}), activation({n})}, dbc,
      rewriter.getDenseI64ArrayAttr({r, n, n}));
  Value dt = linear(dtBC.getResult(0), kDtProj, e);
  Value aLog = weight(kALog);
  Value skip = weight(kD);
  Value dtBias = weight(kDtProjBias);
  auto scan = SelectiveScanOp::create(
      rewriter, loc, activation({e}), layer.getSsmState().getType(), xc, dt,
      aLog, dtBC.getResult(1), dtBC.getResult(2), skip, dtBias,
      layer.getSsmState(), layer.getLengths(), /*delta_softplus=*/true);
  Value gated =
      GateOp::create(rewriter, loc, activation({e}), scan.getResult(), z);
  Value m = linear(gated, kOutProj, d, config.useBias ? kOutProjBias : nullptr);

  if (!config.memory) {
    Value out = ResidualOp::create(rewriter, loc, activation({d}), x, m,
                                   Value(), Value(), Value(), Value());
    rewriter.replaceOp(
        layer, ValueRange{out, conv.getWindowOut(), scan.getFinalState()});
    return numWeights;
  }

  const MemoryConfig &memory = *config.memory;
  const int64_t s = memory.summaryDim;
  auto eviction = EvictionPolicyAttr::get(rewriter.getContext(),
                                          toEvictionPolicy(memory.eviction));
  auto heads = rewriter.getI64IntegerAttr(memory.heads);
  auto scoreType = RankedTensorType::get({batch, time}, rewriter.getF32Type());

  // (a) The read trigger looks at the previous token's mixer output; the
  // cross-token attention reads the pool as it stood before each token.
  Value readWeight = weight(kReadScore);
  Value readBias = weight(kReadScoreBias);
  Value trigger =
      ReadTriggerOp::create(rewriter, loc, scoreType, m,
                            layer.getPreviousMixer(), readWeight, readBias);
  Value noteWeight = weight(kNoteScore);
  Value noteBias = weight(kNoteScoreBias);
  Value summaryWeight = weight(kNoteSummary);
  auto note = NoteOp::create(rewriter, loc, scoreType, activation({s}), u,
                             noteWeight, noteBias, summaryWeight);
  Value tokenQ = weight(kTokenAttnQ);
  Value tokenK = weight(kTokenAttnK);
  Value tokenV = weight(kTokenAttnV);
  Value tokenO = weight(kTokenAttnO);
  Value tokenContext = PoolAttentionOp::create(
      rewriter, loc, activation({d}), u, trigger, note.getScore(),
      note.getSummary(), layer.getPoolSlots(), layer.getPoolPriorities(),
      layer.getPoolPositions(), layer.getPoolCount(), tokenQ, tokenK, tokenV,
      tokenO, f64(memory.noteThreshold), f64(memory.readThreshold), eviction,
      heads);

  // (b) The note block writes the chunk's noted tokens into the pool.
  auto update = PoolUpdateOp::create(
      rewriter, loc,
      TypeRange{
          layer.getPoolSlots().getType(), layer.getPoolPriorities().getType(),
          layer.getPoolPositions().getType(), layer.getPoolCount().getType()},
      note.getScore(), note.getSummary(), layer.getPoolSlots(),
      layer.getPoolPriorities(), layer.getPoolPositions(), layer.getPoolCount(),
      layer.getPosition(), layer.getLengths(), f64(memory.noteThreshold),
      eviction);

  // (c) Cross-layer attention over the pools of the layers below.
  Value layerContext, layerGate;
  if (!layer.getSourceScores().empty()) {
    Value layerQ = weight(kLayerAttnQ);
    Value layerK = weight(kLayerAttnK);
    Value layerV = weight(kLayerAttnV);
    Value layerO = weight(kLayerAttnO);
    layerContext = CrossLayerAttentionOp::create(
        rewriter, loc, activation({d}), u, layer.getSourceScores(),
        layer.getSourceSummaries(), layer.getSourceSlots(),
        layer.getSourcePriorities(), layer.getSourcePositions(),
        layer.getSourceCounts(), layerQ, layerK, layerV, layerO,
        f64(memory.noteThreshold), eviction, heads);
    layerGate = weight(kLayerGate);
  }

  // (d) Fusion.
  Value tokenGate = weight(kTokenGate);
  Value out =
      ResidualOp::create(rewriter, loc, activation({d}), x, m, tokenContext,
                         tokenGate, layerContext, layerGate);
  // Of a right-padded batch, each sequence's last token before its padding.
  Value lengths = layer.getLengths();
  Value lastMixer =
      TakeLastOp::create(rewriter, loc, layer.getPreviousMixer().getType(), m,
                         lengths, lengths ? layer.getPreviousMixer() : Value());
  rewriter.replaceOp(layer,
                     ValueRange{out, conv.getWindowOut(), scan.getFinalState(),
                                lastMixer, update.getSlotsOut(),
                                update.getPrioritiesOut(),
                                update.getPositionsOut(), update.getCountOut(),
                                note.getScore(), note.getSummary()});
  return numWeights;
}

struct DecomposeLayersPass
    : public mm::impl::DecomposeLayersBase<DecomposeLayersPass> {
  void runOnOperation() override {
    SmallVector<LayerOp> layers;
    getOperation()->walk([&](LayerOp layer) { layers.push_back(layer); });
    IRRewriter rewriter(&getContext());
    for (LayerOp layer : layers) {
      numWeights += LayerExpander(layer, rewriter).expand();
      ++numLayers;
    }
  }
};

} // namespace
