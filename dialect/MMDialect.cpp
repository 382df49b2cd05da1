//===- MMDialect.cpp - the mm dialect -------------------------------------===//

#include "dialect/MMDialect.h"

#include "common/StateLayout.h"
#include "common/WeightNames.h"
#include "dialect/KernelSizes.h"
#include "dialect/MMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mm;

#include "dialect/MMDialect.cpp.inc"

namespace {
/// Prints #mm.config as a module-level alias (#config = ...), so that the
/// config, repeated on every layer, is printed once.
struct MMOpAsmDialectInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;
  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (isa<ModelConfigAttr>(attr)) {
      os << "config";
      return AliasResult::FinalAlias;
    }
    if (isa<MemoryConfigAttr>(attr)) {
      os << "memory";
      return AliasResult::FinalAlias;
    }
    return AliasResult::NoAlias;
  }
};
} // namespace

void MMDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "dialect/MMOps.cpp.inc"
      >();
  addInterfaces<MMOpAsmDialectInterface>();
}

/// Checks an entry point's signature against its state layout: prefill takes
/// tokens [B, T] and the lengths [B] and returns logits [B, T, V];
/// prefill_last takes the same and returns logits [B, 1, V]; decode takes
/// tokens [B, 1] and returns logits [B, 1, V];
/// init_state takes the batch size; all of them take (except init_state) and
/// return the state fields in layout order, each with a leading B.
static LogicalResult verifyEntry(FunctionOpInterface func, EntryKind kind) {
  auto layoutRef =
      func->getAttrOfType<FlatSymbolRefAttr>(MMDialect::kStateLayoutAttrName);
  if (!layoutRef)
    return func->emitOpError()
           << "entry point needs a '" << MMDialect::kStateLayoutAttrName
           << "' symbol reference";
  auto layout =
      SymbolTable::lookupNearestSymbolFrom<StateLayoutOp>(func, layoutRef);
  if (!layout)
    return func->emitOpError()
           << "'" << MMDialect::kStateLayoutAttrName << "' names " << layoutRef
           << ", which is not an mm.state_layout";

  auto fields = layout.getFields().getAsRange<StateFieldAttr>();
  ArrayRef<Type> inputs = func.getArgumentTypes();
  ArrayRef<Type> results = func.getResultTypes();
  bool init = kind == EntryKind::init_state;
  size_t extra = init ? 0 : 1;
  size_t numFields = layout.getFields().size();
  size_t leading = getNumLeadingEntryArguments(kind);
  size_t numInputs = init ? 1 : numFields + leading;
  if (results.size() != numFields + extra || inputs.size() != numInputs)
    return func->emitOpError()
           << "entry point '" << stringifyEntryKind(kind) << "' of layout "
           << layoutRef << " (" << numFields << " fields) must take "
           << numInputs << " and return " << numFields + extra
           << " values, not " << inputs.size() << " and " << results.size();

  if (init) {
    if (!isa<IndexType>(inputs[0]))
      return func->emitOpError() << "init_state takes the batch size (index)";
  } else {
    int64_t time = kind == EntryKind::decode ? 1 : ShapedType::kDynamic;
    int64_t logitsTime = kind == EntryKind::prefill ? time : 1;
    auto tokens = dyn_cast<RankedTensorType>(inputs[0]);
    auto logits = dyn_cast<RankedTensorType>(results[0]);
    if (!tokens || tokens.getRank() != 2 ||
        !tokens.getElementType().isInteger(32) || tokens.getDimSize(1) != time)
      return func->emitOpError()
             << "'" << stringifyEntryKind(kind) << "' takes tokens as "
             << RankedTensorType::get({ShapedType::kDynamic, time},
                                      IntegerType::get(func.getContext(), 32))
             << ", not " << inputs[0];
    auto lengthsType = RankedTensorType::get(
        {ShapedType::kDynamic}, IntegerType::get(func.getContext(), 32));
    if (entryTakesLengths(kind) && inputs[1] != lengthsType)
      return func->emitOpError()
             << "'" << stringifyEntryKind(kind)
             << "' takes each sequence's length as " << lengthsType
             << " after the tokens, not " << inputs[1];
    if (!logits || logits.getRank() != 3 || !logits.getElementType().isF32() ||
        logits.getDimSize(1) != logitsTime)
      return func->emitOpError()
             << "'" << stringifyEntryKind(kind)
             << "' returns logits [B, T, V] f32 with T = "
             << (logitsTime == 1 ? "1" : "?") << ", not " << results[0];
  }

  for (auto [index, field] : llvm::enumerate(fields)) {
    SmallVector<int64_t> shape{ShapedType::kDynamic};
    llvm::append_range(shape, field.getType().getShape());
    auto expected =
        RankedTensorType::get(shape, field.getType().getElementType());
    if (!init && inputs[index + leading] != expected)
      return func->emitOpError()
             << "argument " << index + leading << " must be state field '"
             << field.getName() << "' of type " << expected << ", not "
             << inputs[index + leading];
    if (results[index + extra] != expected)
      return func->emitOpError()
             << "result " << index + extra << " must be state field '"
             << field.getName() << "' of type " << expected << ", not "
             << results[index + extra];
  }
  return success();
}

//===----------------------------------------------------------------------===//
// A module against its config
//===----------------------------------------------------------------------===//

namespace {

/// The first key on which two configs differ, as "hidden_size 32 (here) vs
/// 64 (the module's mm.config)"; empty when they agree.
std::string configDifference(const ModelConfig &here,
                             const ModelConfig &module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  auto differ = [&](StringRef key, auto a, auto b) {
    if (!text.empty() || a == b)
      return;
    os << key << " " << a << " here vs " << b << " in the module's mm.config";
  };
  differ("hidden_size", here.hiddenSize, module.hiddenSize);
  differ("num_layers", here.numLayers, module.numLayers);
  differ("state_size", here.stateSize, module.stateSize);
  differ("conv_kernel", here.convKernel, module.convKernel);
  differ("intermediate_size", here.intermediateSize, module.intermediateSize);
  differ("dt_rank", here.dtRank, module.dtRank);
  differ("vocab_size", here.vocabSize, module.vocabSize);
  differ("layer_norm_epsilon", here.layerNormEpsilon, module.layerNormEpsilon);
  differ("use_bias", here.useBias, module.useBias);
  differ("use_conv_bias", here.useConvBias, module.useConvBias);
  if (text.empty() && here.memory.has_value() != module.memory.has_value())
    os << (here.memory ? "a memory section here, none in the module's "
                         "mm.config"
                       : "no memory section here, one in the module's "
                         "mm.config");
  if (text.empty() && here.memory) {
    const MemoryConfig &a = *here.memory, &b = *module.memory;
    differ("pool_size", a.poolSize, b.poolSize);
    differ("summary_dim", a.summaryDim, b.summaryDim);
    differ("note_threshold", a.noteThreshold, b.noteThreshold);
    differ("read_threshold", a.readThreshold, b.readThreshold);
    differ("cross_layer_period", a.crossLayerPeriod, b.crossLayerPeriod);
    differ("cross_layer_window", a.crossLayerWindow, b.crossLayerWindow);
    differ("eviction", stringifyEviction(a.eviction),
           stringifyEviction(b.eviction));
    differ("heads", a.heads, b.heads);
  }
  return text;
}

/// What a state field of `kind` holds, for errors: its shape in config keys.
StringRef stateShapeKeys(StateKind kind) {
  switch (kind) {
  case StateKind::conv_window:
    return "[intermediate_size, conv_kernel - 1]";
  case StateKind::ssm_state:
    return "[intermediate_size, state_size]";
  case StateKind::previous_mixer:
    return "[hidden_size]";
  case StateKind::pool_slots:
    return "[pool_size, summary_dim]";
  case StateKind::pool_priorities:
  case StateKind::pool_positions:
    return "[pool_size]";
  case StateKind::pool_count:
  case StateKind::position:
    return "[]";
  }
  llvm_unreachable("unknown state kind");
}

/// Checks the fields of a state layout against the config: exactly the
/// fields of common/StateLayout.h (one per layer and kind, the memory kinds
/// only with memory, the position once, model-wide), named as it names
/// them, of the config's shapes, in its order (the artifact's state offsets
/// follow the order, and the runtime accepts only that one).
LogicalResult verifyStateLayout(Operation *layout, const ModelConfig &config) {
  auto fields = layout->getAttrOfType<ArrayAttr>("fields");
  if (!fields)
    return success(); // the operation's own verifier reports it
  std::vector<StateField> expected = stateLayout(config);
  llvm::StringMap<size_t> expectedIndex;
  for (auto [index, field] : llvm::enumerate(expected))
    expectedIndex[field.name] = index;
  llvm::StringSet<> seen;
  for (auto [index, attr] : llvm::enumerate(fields)) {
    auto field = dyn_cast<StateFieldAttr>(attr);
    if (!field)
      return success();
    StateKind kind = field.getKind();
    int64_t layer = field.getLayer();
    bool memoryKind =
        kind != StateKind::conv_window && kind != StateKind::ssm_state;
    if (memoryKind && !config.memory)
      return layout->emitOpError()
             << "state field '" << field.getName() << "' ("
             << stringifyStateKind(kind)
             << ") needs memory, but the module's mm.config has none";
    if (kind == StateKind::position) {
      if (layer != -1)
        return layout->emitOpError()
               << "state field '" << field.getName()
               << "' (position) is model-wide: its layer must be -1, not "
               << layer;
    } else if (layer < 0 || layer >= config.numLayers) {
      return layout->emitOpError()
             << "state field '" << field.getName() << "' is for layer " << layer
             << ", but the module's mm.config has " << config.numLayers
             << " layers (num_layers)";
    }
    std::string name = stateFieldName(stringifyStateKind(kind), layer);
    if (field.getName() != name)
      return layout->emitOpError()
             << "the " << stringifyStateKind(kind) << " field of layer "
             << layer << " must be named '" << name << "', not '"
             << field.getName() << "'";
    if (!seen.insert(name).second)
      return layout->emitOpError() << "has two fields '" << name << "'";
    const StateField &want = expected[expectedIndex.lookup(name)];
    auto type = RankedTensorType::get(
        want.shape, want.isFloat
                        ? Type(Float32Type::get(layout->getContext()))
                        : Type(IntegerType::get(layout->getContext(), 32)));
    if (field.getType() != type)
      return layout->emitOpError()
             << "state field '" << name << "' is " << field.getType()
             << ", but the module's mm.config makes it " << type << " ("
             << stateShapeKeys(kind) << ")";
  }
  for (const StateField &want : expected) {
    if (seen.contains(want.name))
      continue;
    InFlightDiagnostic diag = layout->emitOpError()
                              << "has no field '" << want.name << "'";
    if (want.kind == "conv_window" || want.kind == "ssm_state")
      diag << " (the module's mm.config has " << config.numLayers << " layers)";
    else
      diag << " (the module's mm.config has memory)";
    return diag;
  }
  for (auto [index, attr] : llvm::enumerate(fields))
    if (cast<StateFieldAttr>(attr).getName() != expected[index].name)
      return layout->emitOpError()
             << "field " << index << " is '"
             << cast<StateFieldAttr>(attr).getName() << "', but the state's "
             << "order puts '" << expected[index].name
             << "' there (per layer: conv_window, ssm_state, previous_mixer, "
                "pool_slots, pool_priorities, pool_positions, pool_count; "
                "then position)";
  return success();
}

/// Checks the operations of a module that carries `configAttr`: its state
/// layouts, its weights (names and shapes of common/WeightNames.h), the
/// vocabulary of its entry points' logits, and its mm.layer operations (the
/// same config, each layer of the config exactly once per function). Runs
/// before the operations' own verifiers, so it reads their attributes
/// defensively.
LogicalResult verifyModuleContents(Operation *module,
                                   ModelConfigAttr configAttr) {
  ModelConfig config = configAttr.getModelConfig();
  for (Region &region : module->getRegions())
    for (Block &block : region)
      for (Operation &op : block)
        if (isa<StateLayoutOp>(op) && failed(verifyStateLayout(&op, config)))
          return failure();

  llvm::StringMap<std::vector<int64_t>> weightShapes;
  for (WeightSpec &spec : modelWeights(config))
    weightShapes[spec.name] = std::move(spec.shape);
  // The mm.layer operations of each function, by index.
  llvm::MapVector<Operation *, llvm::DenseMap<int64_t, Operation *>> layers;
  Type reducedElement;
  WalkResult walk = module->walk([&](Operation *op) -> WalkResult {
    if (isa<WeightOp>(op)) {
      auto name = op->getAttrOfType<StringAttr>("name");
      auto type = op->getNumResults() == 1
                      ? dyn_cast<RankedTensorType>(op->getResult(0).getType())
                      : RankedTensorType();
      if (!name || !type)
        return WalkResult::advance();
      auto it = weightShapes.find(name.getValue());
      if (it == weightShapes.end())
        return op->emitOpError()
               << "weight '" << name.getValue()
               << "' is not a weight of the model the module's mm.config "
                  "describes";
      // f32, or for the weights of matrix products one reduced precision
      // for the whole module (mm-reduce-precision; the manifest records it).
      Type element = type.getElementType();
      bool reduced = element.isBF16() || element.isF16();
      auto expected = RankedTensorType::get(it->second, element);
      if (type != expected || !(element.isF32() || reduced))
        return op->emitOpError()
               << "weight '" << name.getValue() << "' is " << type
               << ", but the module's mm.config makes it "
               << RankedTensorType::get(it->second,
                                        Float32Type::get(op->getContext()));
      if (reduced && !isMatrixProductWeight(name.getValue()))
        return op->emitOpError()
               << "weight '" << name.getValue() << "' is " << type
               << ": only the weights of matrix products and the embedding "
                  "may be bf16 or f16";
      if (reduced && reducedElement && element != reducedElement)
        return op->emitOpError()
               << "weight '" << name.getValue() << "' is " << type
               << ", but another weight of the module is "
               << reducedElement << ": one reduced precision per module";
      if (reduced)
        reducedElement = element;
      return WalkResult::advance();
    }
    if (auto func = dyn_cast<FunctionOpInterface>(op)) {
      auto entry =
          func->getAttrOfType<EntryKindAttr>(MMDialect::kEntryAttrName);
      if (!entry || entry.getValue() == EntryKind::init_state ||
          func.getNumResults() == 0)
        return WalkResult::advance();
      auto logits = dyn_cast<RankedTensorType>(func.getResultTypes()[0]);
      if (logits && logits.getRank() == 3 &&
          logits.getDimSize(2) != config.vocabSize)
        return func->emitOpError()
               << "'" << stringifyEntryKind(entry.getValue())
               << "' returns logits " << logits
               << ", but the module's mm.config has vocab_size "
               << config.vocabSize;
      return WalkResult::advance();
    }
    if (!isa<LayerOp>(op))
      return WalkResult::advance();
    auto layerConfig = op->getAttrOfType<ModelConfigAttr>("config");
    auto index = op->getAttrOfType<IntegerAttr>("index");
    if (!layerConfig || !index)
      return WalkResult::advance();
    if (layerConfig != configAttr)
      return op->emitOpError()
             << "has a config other than the module's: "
             << configDifference(layerConfig.getModelConfig(), config);
    int64_t layer = index.getInt();
    if (layer < 0 || layer >= config.numLayers)
      return op->emitOpError()
             << "layer index " << layer << " is outside the "
             << config.numLayers << " layers of the module's mm.config";
    Operation *parent = op->getParentOp();
    auto [it, inserted] = layers[parent].try_emplace(layer, op);
    if (!inserted)
      return op->emitOpError() << "is a second layer " << layer << " here";
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  for (auto &[parent, indices] : layers)
    for (int64_t layer = 0; layer < config.numLayers; ++layer)
      if (!indices.count(layer))
        return parent->emitOpError()
               << "has no mm.layer " << layer
               << ", but the module's mm.config has " << config.numLayers
               << " layers (num_layers)";
  return success();
}

/// Checks the module's mm.fusion summary: a strategy, and kernel sizes
/// within their limits (dialect/KernelSizes.h).
LogicalResult verifyFusionSummary(Operation *op, Attribute attr) {
  auto fusion = dyn_cast<DictionaryAttr>(attr);
  if (!fusion || !fusion.getAs<StringAttr>("strategy"))
    return op->emitOpError() << "'" << MMDialect::kFusionAttrName
                             << "' must be a dictionary with a 'strategy'";
  for (NamedAttribute entry : fusion) {
    const KernelSize *size =
        lookupFusionSize(entry.getName().getValue(), /*moduleKey=*/true);
    if (!size)
      continue;
    auto value = dyn_cast<IntegerAttr>(entry.getValue());
    if (!value || !inRange(*size, value.getInt()))
      return op->emitOpError() << "'" << MMDialect::kFusionAttrName << "' "
                               << entry.getName().getValue() << " "
                               << (value ? rangeError(*size, value.getInt())
                                         : std::string("must be an integer"));
  }
  return success();
}

/// A kernel function (mm-outline-kernels): its #mm.fusion is its lowering
/// configuration, and its body holds what a fusion group may hold.
LogicalResult verifyKernelFunction(Operation *op, Attribute attr) {
  if (!isa<FusionAttr>(attr))
    return op->emitOpError() << "'" << MMDialect::kFusionAttrName
                             << "' of a kernel function must be an #mm.fusion";
  auto func = cast<FunctionOpInterface>(op);
  if (func.isExternal())
    return op->emitOpError() << "a kernel function must have a body";
  // Lowered (over buffers by mm-lower-to-loops or a test, then to LLVM), it
  // holds what its lowering built: only a kernel over tensors holds mm
  // operations.
  if (op->hasAttr(MMDialect::kLoweringAttrName) ||
      !llvm::all_of(func.getArgumentTypes(),
                    llvm::IsaPred<RankedTensorType, IndexType>))
    return success();
  for (Block &block : func.getFunctionBody())
    for (Operation &inner : block.without_terminator())
      if (failed(verifyFusable(&inner)))
        return failure();
  return success();
}

} // namespace

LogicalResult MMDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attr) {
  if (attr.getName() == kConfigAttrName) {
    auto config = dyn_cast<ModelConfigAttr>(attr.getValue());
    if (!config)
      return op->emitOpError()
             << "'" << kConfigAttrName << "' must be an #mm.config";
    return verifyModuleContents(op, config);
  }
  if (attr.getName() == kEntryAttrName) {
    auto kind = dyn_cast<EntryKindAttr>(attr.getValue());
    if (!kind)
      return op->emitOpError()
             << "'" << kEntryAttrName << "' must be an #mm.entry";
    auto func = dyn_cast<FunctionOpInterface>(op);
    if (!func)
      return op->emitOpError()
             << "'" << kEntryAttrName << "' is only valid on functions";
    return verifyEntry(func, kind.getValue());
  }
  if (attr.getName() == kManifestAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << kManifestAttrName << "' must be a JSON string";
    return success();
  }
  // The kernel objects mm-kernel-context (lowering/KernelContext.cpp) keeps
  // after it turns the gpu.binary into data, for the tools that print them.
  if (attr.getName() == "mm.kernel_binaries") {
    if (!isa<DictionaryAttr>(attr.getValue()))
      return op->emitOpError()
             << "'mm.kernel_binaries' must map binary names to objects";
    return success();
  }
  if (attr.getName() == kLinalgRoleAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << attr.getName().getValue() << "' must be a string";
    return success();
  }
  if (attr.getName() == kPrefetchBytesAttrName) {
    auto bytes = dyn_cast<IntegerAttr>(attr.getValue());
    if (!bytes || bytes.getInt() < 0 || !isa<LoopLikeOpInterface>(op))
      return op->emitOpError()
             << "'" << kPrefetchBytesAttrName
             << "' must be a byte count (0 or more) on a loop";
    return success();
  }
  if (attr.getName() == kKernelKindAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << kKernelKindAttrName << "' must be a kernel kind string";
    return success();
  }
  if (attr.getName() == kFusionAttrName) {
    if (isa<FunctionOpInterface>(op))
      return verifyKernelFunction(op, attr.getValue());
    return verifyFusionSummary(op, attr.getValue());
  }
  if (attr.getName() == kLoweringAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << kLoweringAttrName << "' must be a lowering name";
    return success();
  }
  if (attr.getName() == kTargetAttrName) {
    auto target = dyn_cast<StringAttr>(attr.getValue());
    if (!target || target.getValue().empty())
      return op->emitOpError()
             << "'" << kTargetAttrName << "' must be a target string";
    return success();
  }
  if (attr.getName() == kStateLayoutAttrName) {
    if (!isa<FlatSymbolRefAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << kStateLayoutAttrName << "' must be a symbol reference";
    return success();
  }
  return op->emitOpError() << "unknown mm attribute '"
                           << attr.getName().getValue() << "'";
}
