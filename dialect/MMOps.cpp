//===- MMOps.cpp - mm operations: verifiers and folds ---------------------===//
//
// Every verifier checks the shape relations of spec/MEMMAMBA.md with one
// helper, ShapeChecker: each operand's dimensions are named with the spec's
// letters, and a letter bound by one operand must agree everywhere else.
//
//===----------------------------------------------------------------------===//

#include "dialect/MMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mm;

#define GET_OP_CLASSES
#include "dialect/MMOps.cpp.inc"

namespace {

/// Checks tensor shapes against dimension patterns such as {"B", "T", "E"}.
/// A letter takes the first static size it meets; later sizes must agree.
/// Dynamic sizes agree with anything. Numbers ("1") are literal sizes.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// Binds `letter` to `size` (from the config or a derived relation such as
  /// K - 1), described as `origin` in errors. Dynamic sizes bind nothing.
  void define(StringRef letter, int64_t size, const Twine &origin) {
    if (!ShapedType::isDynamic(size))
      known.try_emplace(letter, size, origin.str());
  }

  std::optional<int64_t> get(StringRef letter) const {
    auto it = known.find(letter);
    if (it == known.end())
      return std::nullopt;
    return it->second.first;
  }

  /// One operand or result and the shape it must have.
  struct Expected {
    StringRef name;
    Value value; ///< null for an absent optional operand: not checked
    ArrayRef<StringRef> pattern;
  };

  /// Checks each value in order; stops at the first mismatch.
  LogicalResult check(std::initializer_list<Expected> expected) {
    for (const Expected &e : expected)
      if (e.value && failed(check(e.name, e.value, e.pattern)))
        return failure();
    return success();
  }

  /// Checks `value`'s type, named `name`, against `pattern`.
  LogicalResult check(StringRef name, Value value,
                      ArrayRef<StringRef> pattern) {
    return check(name, value.getType(), pattern);
  }

  LogicalResult check(StringRef name, Type type, ArrayRef<StringRef> pattern) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    std::string expected = "[" + llvm::join(pattern, ", ") + "]";
    if (!tensor || tensor.getRank() != static_cast<int64_t>(pattern.size()))
      return op->emitOpError() << "'" << name << "' must have shape "
                               << expected << ", got " << type;
    for (auto [dim, letter] : llvm::enumerate(pattern)) {
      int64_t size = tensor.getDimSize(dim);
      if (ShapedType::isDynamic(size))
        continue;
      int64_t literal;
      if (!letter.getAsInteger(10, literal)) {
        if (size != literal)
          return op->emitOpError()
                 << "'" << name << "' dimension " << dim << " must be "
                 << literal << " (shape " << expected << "), got " << type;
        continue;
      }
      auto it = known.find(letter);
      if (it == known.end()) {
        known.try_emplace(letter, size, ("'" + name + "'").str());
        continue;
      }
      if (it->second.first != size)
        return op->emitOpError()
               << "'" << name << "' dimension " << dim << " (" << letter
               << " in " << expected << ") is " << size << ", but " << letter
               << " = " << it->second.first << " from " << it->second.second;
    }
    return success();
  }

private:
  Operation *op;
  llvm::StringMap<std::pair<int64_t, std::string>> known;
};

/// The size of the last dimension, or dynamic.
int64_t lastDim(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getRank() == 0 ? ShapedType::kDynamic
                             : type.getDimSize(type.getRank() - 1);
}

/// Letters for the leading dimensions of `value` ("d0", "d1", ...) followed by
/// `last`: the pattern of a tensor [..., last].
SmallVector<std::string> leadingPattern(Value value, StringRef last) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<std::string> letters;
  for (int64_t dim = 0; dim + 1 < type.getRank(); ++dim)
    letters.push_back("d" + std::to_string(dim));
  letters.push_back(last.str());
  return letters;
}

SmallVector<StringRef> refs(ArrayRef<std::string> strings) {
  return SmallVector<StringRef>(strings.begin(), strings.end());
}

LogicalResult verifyHeads(Operation *op, ShapeChecker &shapes, int64_t heads) {
  if (heads < 1)
    return op->emitOpError() << "heads must be at least 1, got " << heads;
  if (auto summary = shapes.get("S"); summary && *summary % heads != 0)
    return op->emitOpError()
           << "heads (" << heads
           << ") must divide the summary size S = " << *summary;
  return success();
}

/// The four tensors of a pool, and the checks they share.
LogicalResult checkPool(ShapeChecker &shapes, Value slots, Value priorities,
                        Value positions, Value count, StringRef prefix = "") {
  std::string p = prefix.str();
  return shapes.check({{p + "slots", slots, {"B", "M", "S"}},
                       {p + "priorities", priorities, {"B", "M"}},
                       {p + "positions", positions, {"B", "M"}},
                       {p + "count", count, {"B"}}});
}

LogicalResult checkAttentionWeights(ShapeChecker &shapes, Value query,
                                    Value key, Value value, Value output) {
  return shapes.check({{"query_weight", query, {"S", "D"}},
                       {"key_weight", key, {"S", "S"}},
                       {"value_weight", value, {"S", "S"}},
                       {"output_weight", output, {"D", "S"}}});
}

} // namespace

//===----------------------------------------------------------------------===//
// Weights and model structure
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError() << "weight name must not be empty";
  if (auto fallback = getFallback(); fallback && fallback->empty())
    return emitOpError() << "fallback name must not be empty";
  if (!getType().hasStaticShape())
    return emitOpError() << "weight '" << getName()
                         << "' must have a static shape, got " << getType();
  return success();
}

/// The rank and element type of each state kind, per sequence.
static std::pair<int64_t, bool> stateKindRankAndIsFloat(StateKind kind) {
  switch (kind) {
  case StateKind::conv_window:
  case StateKind::ssm_state:
  case StateKind::pool_slots:
    return {2, true};
  case StateKind::previous_mixer:
  case StateKind::pool_priorities:
    return {1, true};
  case StateKind::pool_positions:
    return {1, false};
  case StateKind::pool_count:
  case StateKind::position:
    return {0, false};
  }
  llvm_unreachable("unknown state kind");
}

/// Checks a state field's per-sequence type against its kind.
static LogicalResult checkStateType(Operation *op, StateKind kind,
                                    RankedTensorType type, int64_t batchDims,
                                    StringRef what) {
  auto [rank, isFloat] = stateKindRankAndIsFloat(kind);
  Type element = type.getElementType();
  if (type.getRank() != rank + batchDims ||
      (isFloat ? !element.isF32() : !element.isInteger(32)))
    return op->emitOpError()
           << what << " of kind '" << stringifyStateKind(kind)
           << "' must be a rank-" << rank + batchDims << " tensor of "
           << (isFloat ? "f32" : "i32") << ", got " << type;
  return success();
}

LogicalResult StateLayoutOp::verify() {
  llvm::StringSet<> names;
  for (Attribute attr : getFields()) {
    auto field = cast<StateFieldAttr>(attr);
    if (field.getName().empty())
      return emitOpError() << "state field names must not be empty";
    if (!names.insert(field.getName()).second)
      return emitOpError() << "duplicate state field '" << field.getName()
                           << "'";
    if (field.getLayer() < -1)
      return emitOpError() << "state field '" << field.getName()
                           << "' has layer " << field.getLayer()
                           << " (expected -1 or a layer index)";
    if (!field.getType().hasStaticShape())
      return emitOpError() << "state field '" << field.getName()
                           << "' must have a static shape";
    if (failed(checkStateType(*this, field.getKind(), field.getType(),
                              /*batchDims=*/0,
                              ("state field '" + field.getName() + "'").str())))
      return failure();
  }
  return success();
}

LogicalResult InitStateOp::verify() {
  return checkStateType(*this, getKind(), getType(), /*batchDims=*/1, "result");
}

LogicalResult AdvancePositionOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check({{"position", getPosition(), {"B"}},
                       {"tokens", getTokens(), {"B", "T"}},
                       {"lengths", getLengths(), {"B"}},
                       {"result", getResult(), {"B"}}});
}

//===----------------------------------------------------------------------===//
// Backbone
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check({{"tokens", getTokens(), {"B", "T"}},
                       {"table", getTable(), {"V", "D"}},
                       {"result", getResult(), {"B", "T", "D"}}});
}

LogicalResult RMSNormOp::verify() {
  if (getInput().getType().getRank() < 1)
    return emitOpError() << "'input' must have at least one dimension";
  ShapeChecker shapes(*this);
  shapes.define("D", lastDim(getInput()), "'input'");
  if (failed(shapes.check("weight", getWeight(), {"D"})))
    return failure();
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError() << "epsilon must not be negative";
  return success();
}

LogicalResult LinearOp::verify() {
  if (getInput().getType().getRank() < 1)
    return emitOpError() << "'input' must have at least one dimension";
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput(),
                          refs(leadingPattern(getInput(), "K")))) ||
      failed(shapes.check("weight", getWeight(), {"N", "K"})) ||
      (getBias() && failed(shapes.check("bias", getBias(), {"N"}))) ||
      failed(shapes.check("result", getResult(),
                          refs(leadingPattern(getInput(), "N")))))
    return failure();
  return success();
}

LogicalResult SplitOp::verify() {
  ArrayRef<int64_t> sizes = getSizes();
  if (sizes.size() != getResults().size())
    return emitOpError() << "has " << sizes.size() << " sizes but "
                         << getResults().size() << " results";
  if (getInput().getType().getRank() < 1)
    return emitOpError() << "'input' must have at least one dimension";
  int64_t total = 0;
  for (int64_t size : sizes) {
    if (size < 1)
      return emitOpError() << "split sizes must be positive, got " << size;
    total += size;
  }
  int64_t last = lastDim(getInput());
  if (!ShapedType::isDynamic(last) && last != total)
    return emitOpError() << "split sizes add up to " << total
                         << " but the last dimension of 'input' is " << last;
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput(),
                          refs(leadingPattern(getInput(), "X")))))
    return failure();
  for (auto [index, result] : llvm::enumerate(getResults())) {
    std::string letter = "P" + std::to_string(index);
    shapes.define(letter, sizes[index], "the split sizes");
    if (failed(shapes.check("result #" + std::to_string(index), result,
                            refs(leadingPattern(getInput(), letter)))))
      return failure();
  }
  return success();
}

LogicalResult CausalConv1dOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput(), {"B", "T", "E"})) ||
      failed(shapes.check("weight", getWeight(), {"E", "1", "K"})))
    return failure();
  if (auto kernel = shapes.get("K")) {
    if (*kernel < 1)
      return emitOpError() << "conv kernel width K must be at least 1";
    shapes.define("K-1", *kernel - 1,
                  "the kernel width K = " + std::to_string(*kernel) +
                      " of 'weight'");
  }
  return shapes.check({{"bias", getBias(), {"E"}},
                       {"window", getWindow(), {"B", "E", "K-1"}},
                       {"lengths", getLengths(), {"B"}},
                       {"result", getResult(), {"B", "T", "E"}},
                       {"window_out", getWindowOut(), {"B", "E", "K-1"}}});
}

LogicalResult SelectiveScanOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check({{"u", getU(), {"B", "T", "E"}},
                       {"delta", getDelta(), {"B", "T", "E"}},
                       {"A_log", getALog(), {"E", "N"}},
                       {"B", getB(), {"B", "T", "N"}},
                       {"C", getC(), {"B", "T", "N"}},
                       {"D", getD(), {"E"}},
                       {"delta_bias", getDeltaBias(), {"E"}},
                       {"initial_state", getInitialState(), {"B", "E", "N"}},
                       {"lengths", getLengths(), {"B"}},
                       {"result", getResult(), {"B", "T", "E"}},
                       {"final_state", getFinalState(), {"B", "E", "N"}}});
}

LogicalResult GateOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check("input", getInput(), {"B", "T", "E"});
}

LogicalResult ResidualOp::verify() {
  if (!getTokenContext() != !getTokenGate() ||
      !getLayerContext() != !getLayerGate())
    return emitOpError() << "each memory context needs its gate";
  ShapeChecker shapes(*this);
  return shapes.check({{"input", getInput(), {"B", "T", "D"}},
                       {"mixer", getMixer(), {"B", "T", "D"}},
                       {"result", getResult(), {"B", "T", "D"}},
                       {"token_context", getTokenContext(), {"B", "T", "D"}},
                       {"token_gate", getTokenGate(), {"D"}},
                       {"layer_context", getLayerContext(), {"B", "T", "D"}},
                       {"layer_gate", getLayerGate(), {"D"}}});
}

LogicalResult TakeLastOp::verify() {
  if (getPrevious() && !getLengths())
    return emitOpError() << "'previous' (the result of a sequence with no "
                            "tokens in the chunk) needs 'lengths'";
  // [B, X], or [B, 1, X]: the last steps as one-step sequences.
  static constexpr StringRef kRows[] = {"B", "X"}, kSteps[] = {"B", "1", "X"};
  ArrayRef<StringRef> last =
      cast<RankedTensorType>(getResult().getType()).getRank() == 3
          ? ArrayRef<StringRef>(kSteps)
          : ArrayRef<StringRef>(kRows);
  ShapeChecker shapes(*this);
  return shapes.check({{"input", getInput(), {"B", "T", "X"}},
                       {"lengths", getLengths(), {"B"}},
                       {"previous", getPrevious(), last},
                       {"result", getResult(), last}});
}

LogicalResult LMHeadOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check({{"input", getInput(), {"B", "T", "D"}},
                       {"weight", getWeight(), {"V", "D"}},
                       {"result", getResult(), {"B", "T", "V"}}});
}

//===----------------------------------------------------------------------===//
// Memory path
//===----------------------------------------------------------------------===//

LogicalResult NoteOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check({{"input", getInput(), {"B", "T", "D"}},
                       {"score_weight", getScoreWeight(), {"1", "D"}},
                       {"score_bias", getScoreBias(), {"1"}},
                       {"summary_weight", getSummaryWeight(), {"S", "D"}},
                       {"score", getScore(), {"B", "T"}},
                       {"summary", getSummary(), {"B", "T", "S"}}});
}

LogicalResult ReadTriggerOp::verify() {
  ShapeChecker shapes(*this);
  return shapes.check({{"mixer", getMixer(), {"B", "T", "D"}},
                       {"previous", getPrevious(), {"B", "D"}},
                       {"weight", getWeight(), {"1", "D"}},
                       {"bias", getBias(), {"1"}},
                       {"result", getResult(), {"B", "T"}}});
}

LogicalResult PoolUpdateOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("score", getScore(), {"B", "T"})) ||
      failed(shapes.check("summary", getSummary(), {"B", "T", "S"})) ||
      failed(checkPool(shapes, getSlots(), getPriorities(), getPositions(),
                       getCount())) ||
      failed(shapes.check("position", getPosition(), {"B"})) ||
      failed(shapes.check({{"lengths", getLengths(), {"B"}}})) ||
      failed(checkPool(shapes, getSlotsOut(), getPrioritiesOut(),
                       getPositionsOut(), getCountOut(), "result ")))
    return failure();
  return success();
}

/// Nothing can be noted when the threshold is at least 1 (a sigmoid never
/// exceeds 1, and the comparison is strict): the pool passes through.
LogicalResult PoolUpdateOp::fold(FoldAdaptor,
                                 SmallVectorImpl<OpFoldResult> &results) {
  if (getNoteThreshold().convertToDouble() < 1.0)
    return failure();
  for (Value operand :
       {getSlots(), getPriorities(), getPositions(), getCount()})
    results.push_back(operand);
  return success();
}

LogicalResult PoolAttentionOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput(), {"B", "T", "D"})) ||
      failed(shapes.check("trigger", getTrigger(), {"B", "T"})) ||
      failed(shapes.check("score", getScore(), {"B", "T"})) ||
      failed(shapes.check("summary", getSummary(), {"B", "T", "S"})) ||
      failed(checkPool(shapes, getSlots(), getPriorities(), getPositions(),
                       getCount())) ||
      failed(checkAttentionWeights(shapes, getQueryWeight(), getKeyWeight(),
                                   getValueWeight(), getOutputWeight())) ||
      failed(shapes.check("result", getResult(), {"B", "T", "D"})))
    return failure();
  return verifyHeads(*this, shapes, getHeads());
}

LogicalResult CrossLayerAttentionOp::verify() {
  size_t sources = getScores().size();
  if (sources == 0)
    return emitOpError() << "needs at least one source layer";
  if (getSummaries().size() != sources || getSlots().size() != sources ||
      getPriorities().size() != sources || getPositions().size() != sources ||
      getCounts().size() != sources)
    return emitOpError() << "every source needs scores, summaries, slots, "
                            "priorities, positions and counts ("
                         << sources << " scores given)";
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput(), {"B", "T", "D"})))
    return failure();
  for (size_t j = 0; j < sources; ++j) {
    std::string prefix = "source " + std::to_string(j) + " ";
    if (failed(shapes.check(prefix + "score", getScores()[j], {"B", "T"})) ||
        failed(shapes.check(prefix + "summary", getSummaries()[j],
                            {"B", "T", "S"})) ||
        failed(checkPool(shapes, getSlots()[j], getPriorities()[j],
                         getPositions()[j], getCounts()[j], prefix)))
      return failure();
  }
  if (failed(checkAttentionWeights(shapes, getQueryWeight(), getKeyWeight(),
                                   getValueWeight(), getOutputWeight())) ||
      failed(shapes.check("result", getResult(), {"B", "T", "D"})))
    return failure();
  return verifyHeads(*this, shapes, getHeads());
}

//===----------------------------------------------------------------------===//
// Composite
//===----------------------------------------------------------------------===//

LogicalResult LayerOp::verify() {
  ModelConfig config = getConfig().getModelConfig();
  int64_t index = getIndex();
  if (index < 0 || index >= config.numLayers)
    return emitOpError() << "layer index " << index << " is outside the "
                         << config.numLayers << " layers of the config";

  ShapeChecker shapes(*this);
  shapes.define("D", config.hiddenSize, "the config (hidden_size)");
  shapes.define("E", config.intermediateSize, "the config (intermediate_size)");
  shapes.define("N", config.stateSize, "the config (state_size)");
  shapes.define("K-1", config.convKernel - 1, "the config (conv_kernel - 1)");
  if (failed(shapes.check(
          {{"input", getInput(), {"B", "T", "D"}},
           {"lengths", getLengths(), {"B"}},
           {"conv_window", getConvWindow(), {"B", "E", "K-1"}},
           {"ssm_state", getSsmState(), {"B", "E", "N"}},
           {"output", getOutput(), {"B", "T", "D"}},
           {"conv_window_out", getConvWindowOut(), {"B", "E", "K-1"}},
           {"ssm_state_out", getSsmStateOut(), {"B", "E", "N"}}})))
    return failure();

  unsigned numResults = config.memory ? kNumMemoryResults : kNumMambaResults;
  if (getNumResults() != numResults)
    return emitOpError() << "has " << getNumResults() << " results, but a "
                         << (config.memory ? "layer with memory"
                                           : "Mamba layer")
                         << " returns " << numResults;
  if (static_cast<bool>(getPreviousMixer()) != config.memory.has_value())
    return emitOpError() << (config.memory ? "a config with memory needs"
                                           : "a config without memory takes "
                                             "no")
                         << " memory state operands";
  auto [first, last] = config.crossLayerSources(index);
  if (getSourceScores().size() != static_cast<size_t>(last - first))
    return emitOpError() << "layer " << index << " reads " << last - first
                         << " source pools by the config, but "
                         << getSourceScores().size() << " are given";
  if (!config.memory)
    return success();

  // With memory, every optional group is present (the assembly format ties
  // them together; built ops are checked here).
  if (!getPoolSlots() || !getPoolPriorities() || !getPoolPositions() ||
      !getPoolCount() || !getPosition())
    return emitOpError() << "a config with memory needs every pool operand "
                            "and the position";
  shapes.define("M", config.memory->poolSize, "the config (pool_size)");
  shapes.define("S", config.memory->summaryDim, "the config (summary_dim)");
  if (failed(shapes.check("previous_mixer", getPreviousMixer(), {"B", "D"})) ||
      failed(checkPool(shapes, getPoolSlots(), getPoolPriorities(),
                       getPoolPositions(), getPoolCount(), "pool_")) ||
      failed(shapes.check("position", getPosition(), {"B"})) ||
      failed(shapes.check("previous_mixer_out", getPreviousMixerOut(),
                          {"B", "D"})) ||
      failed(checkPool(shapes, getPoolSlotsOut(), getPoolPrioritiesOut(),
                       getPoolPositionsOut(), getPoolCountOut(),
                       "pool_out_")) ||
      failed(shapes.check("note_scores", getNoteScores(), {"B", "T"})) ||
      failed(
          shapes.check("note_summaries", getNoteSummaries(), {"B", "T", "S"})))
    return failure();
  size_t sources = getSourceScores().size();
  if (getSourceSummaries().size() != sources ||
      getSourceSlots().size() != sources ||
      getSourcePriorities().size() != sources ||
      getSourcePositions().size() != sources ||
      getSourceCounts().size() != sources)
    return emitOpError() << "every source needs scores, summaries, slots, "
                            "priorities, positions and counts";
  for (size_t j = 0; j < sources; ++j) {
    std::string prefix = "source " + std::to_string(j) + " ";
    if (failed(
            shapes.check(prefix + "score", getSourceScores()[j], {"B", "T"})) ||
        failed(shapes.check(prefix + "summary", getSourceSummaries()[j],
                            {"B", "T", "S"})) ||
        failed(checkPool(shapes, getSourceSlots()[j], getSourcePriorities()[j],
                         getSourcePositions()[j], getSourceCounts()[j],
                         prefix)))
      return failure();
  }
  return success();
}

LogicalResult FusedOp::verify() {
  Block &body = getBodyBlock();
  if (body.getArgumentTypes() != getInputs().getTypes())
    return emitOpError() << "body arguments " << body.getArgumentTypes()
                         << " do not match the inputs "
                         << getInputs().getTypes();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "body must end in mm.yield";
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError() << "yields " << yield.getValues().getTypes()
                         << " but its results are " << getResultTypes();
  for (Operation &op : body.without_terminator())
    if (failed(verifyFusable(&op)))
      return failure();
  return success();
}

LogicalResult mm::verifyFusable(Operation *op) {
  if (!isa<MMDialect>(op->getDialect()) ||
      isa<WeightOp, SplitOp, LayerOp, FusedOp, StateLayoutOp>(op))
    return op->emitOpError()
           << "cannot be part of a fusion group (groups hold the mm "
              "operations of one kernel; weights and splits stay outside)";
  return success();
}

//===----------------------------------------------------------------------===//
// Canonicalization
//===----------------------------------------------------------------------===//

namespace {
/// Drops a cross-token contribution whose attention can never read: its
/// trigger never exceeds a read threshold of 1 or more. The attention then
/// has no user and is erased as dead code.
struct DropNeverReadTokenContext : public OpRewritePattern<ResidualOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ResidualOp op,
                                PatternRewriter &rewriter) const override {
    auto attention = op.getTokenContext()
                         ? op.getTokenContext().getDefiningOp<PoolAttentionOp>()
                         : PoolAttentionOp();
    if (!attention || !attention.neverReads())
      return failure();
    rewriter.replaceOpWithNewOp<ResidualOp>(
        op, op.getType(), op.getInput(), op.getMixer(), Value(), Value(),
        op.getLayerContext(), op.getLayerGate());
    return success();
  }
};
} // namespace

void ResidualOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                             MLIRContext *context) {
  results.add<DropNeverReadTokenContext>(context);
}
