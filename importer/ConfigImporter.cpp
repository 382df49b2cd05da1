//===- ConfigImporter.cpp - config.json to an mm module -------------------===//
//
// The module a config imports to:
//
//   module @name attributes {mm.config = #config} {
//     mm.state_layout @state [...]
//     func.func @init_state(%batch: index) -> (state...)
//     func.func @prefill(%tokens: tensor<?x?xi32>, %lengths: tensor<?xi32>,
//                        state...) -> (tensor<?x?xVxf32>, state...)
//     func.func @decode(%tokens: tensor<?x1xi32>, state...)
//         -> (tensor<?x1xVxf32>, state...)
//     func.func @prefill_last(%tokens: tensor<?x?xi32>,
//                             %lengths: tensor<?xi32>, state...)
//         -> (tensor<?x1xVxf32>, state...)
//   }
//
// Prefill and decode share one body builder: decode is the T = 1 case.
// Prefill takes each sequence's length: a batch of sequences of different
// lengths runs in one call, right-padded to the longest (its state ops stop
// each sequence at its length; nothing reads the padding's results).
// prefill_last is prefill for a caller that wants the logits of each
// sequence's last token only (generation, passkey retrieval, benchmarks):
// the language-model head, a third of a prefill's arithmetic at mamba-130m's
// shape, runs on one row per sequence (mm.take_last of the normalised
// stream) instead of all T.
//
//===----------------------------------------------------------------------===//

#include "importer/ConfigImporter.h"

#include "common/StateLayout.h"
#include "common/WeightNames.h"
#include "dialect/MMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mm;

namespace {

/// Where each field of a layer sits in the state layout (-1: absent).
struct LayerFields {
  int64_t convWindow = -1, ssmState = -1, previousMixer = -1, poolSlots = -1,
          poolPriorities = -1, poolPositions = -1, poolCount = -1;
};

/// The state layout of a config, in the order entry points pass it: for each
/// layer its conv window and SSM state (and with memory its previous mixer
/// output and pool), then (with memory) the token position.
struct StateLayout {
  SmallVector<StateFieldAttr> fields;
  SmallVector<LayerFields> layers;
  int64_t position = -1;
};

StateLayout buildStateLayout(MLIRContext *context, const ModelConfig &config) {
  StateLayout layout;
  layout.layers.resize(config.numLayers);
  Type f32 = Float32Type::get(context);
  Type i32 = IntegerType::get(context, 32);
  // The fields and their order are the runtime's (common/StateLayout.h).
  for (const StateField &field : stateLayout(config)) {
    StateKind kind = *symbolizeStateKind(field.kind);
    auto index = static_cast<int64_t>(layout.fields.size());
    layout.fields.push_back(StateFieldAttr::get(
        context, field.name, kind, field.layer,
        RankedTensorType::get(field.shape, field.isFloat ? f32 : i32)));
    if (kind == StateKind::position) {
      layout.position = index;
      continue;
    }
    LayerFields &fields = layout.layers[field.layer];
    switch (kind) {
    case StateKind::conv_window:
      fields.convWindow = index;
      break;
    case StateKind::ssm_state:
      fields.ssmState = index;
      break;
    case StateKind::previous_mixer:
      fields.previousMixer = index;
      break;
    case StateKind::pool_slots:
      fields.poolSlots = index;
      break;
    case StateKind::pool_priorities:
      fields.poolPriorities = index;
      break;
    case StateKind::pool_positions:
      fields.poolPositions = index;
      break;
    case StateKind::pool_count:
      fields.poolCount = index;
      break;
    case StateKind::position:
      break;
    }
  }
  return layout;
}

/// The type an entry point passes a field as: [B, per-sequence shape...].
RankedTensorType batchedType(StateFieldAttr field) {
  SmallVector<int64_t> shape{ShapedType::kDynamic};
  llvm::append_range(shape, field.getType().getShape());
  return RankedTensorType::get(shape, field.getType().getElementType());
}

class ModuleBuilder {
public:
  ModuleBuilder(MLIRContext *context, const ModelConfig &config,
                ModuleOp module)
      : context(context), config(config), module(module),
        builder(module.getBodyRegion()),
        configAttr(ModelConfigAttr::get(context, config)),
        layout(buildStateLayout(context, config)),
        loc(NameLoc::get(StringAttr::get(context, "config"))) {}

  void build() {
    module->setAttr(MMDialect::kConfigAttrName, configAttr);
    builder.setInsertionPointToEnd(module.getBody());
    SmallVector<Attribute> fields(layout.fields.begin(), layout.fields.end());
    StateLayoutOp::create(builder, loc, kLayoutName,
                          builder.getArrayAttr(fields));
    buildInitState();
    buildForward(EntryKind::prefill, ShapedType::kDynamic);
    buildForward(EntryKind::decode, 1);
    buildForward(EntryKind::prefill_last, ShapedType::kDynamic);
  }

private:
  static constexpr StringLiteral kLayoutName = "state";

  SmallVector<Type> stateTypes() const {
    SmallVector<Type> types;
    for (StateFieldAttr field : layout.fields)
      types.push_back(batchedType(field));
    return types;
  }

  func::FuncOp createEntry(EntryKind kind, ArrayRef<Type> inputs,
                           ArrayRef<Type> results) {
    OpBuilder::InsertionGuard guard(builder);
    auto func = func::FuncOp::create(builder, loc, stringifyEntryKind(kind),
                                     builder.getFunctionType(inputs, results));
    func->setAttr(MMDialect::kEntryAttrName, EntryKindAttr::get(context, kind));
    func->setAttr(MMDialect::kStateLayoutAttrName,
                  FlatSymbolRefAttr::get(context, kLayoutName));
    func.addEntryBlock();
    return func;
  }

  void buildInitState() {
    SmallVector<Type> results = stateTypes();
    func::FuncOp func =
        createEntry(EntryKind::init_state, {builder.getIndexType()}, results);
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(&func.front());
    Value batch = func.getArgument(0);
    SmallVector<Value> values;
    for (auto [field, type] : llvm::zip(layout.fields, results))
      values.push_back(
          InitStateOp::create(builder, loc, type, field.getKind(), batch));
    func::ReturnOp::create(builder, loc, values);
  }

  Value weight(StringRef name, ArrayRef<int64_t> shape,
               StringRef fallback = {}) {
    auto type = RankedTensorType::get(shape, builder.getF32Type());
    return WeightOp::create(builder, loc, type, builder.getStringAttr(name),
                            fallback.empty() ? StringAttr()
                                             : builder.getStringAttr(fallback));
  }

  /// prefill and prefill_last (time = ?) or decode (time = 1).
  void buildForward(EntryKind kind, int64_t time) {
    const int64_t batch = ShapedType::kDynamic;
    Type i32 = builder.getI32Type(), f32 = builder.getF32Type();
    const bool ragged = entryTakesLengths(kind);
    const bool lastOnly = kind == EntryKind::prefill_last;
    SmallVector<Type> inputs{RankedTensorType::get({batch, time}, i32)};
    if (ragged)
      inputs.push_back(RankedTensorType::get({batch}, i32));
    SmallVector<Type> results{RankedTensorType::get(
        {batch, lastOnly ? 1 : time, config.vocabSize}, f32)};
    SmallVector<Type> state = stateTypes();
    inputs.append(state);
    results.append(state);
    func::FuncOp func = createEntry(kind, inputs, results);
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(&func.front());

    Value tokens = func.getArgument(0);
    Value lengths = ragged ? func.getArgument(1) : Value();
    const int64_t firstField = ragged ? 2 : 1;
    auto stateIn = [&](int64_t field) {
      return func.getArgument(field + firstField);
    };
    SmallVector<Value> stateOut(state.size());

    auto activation =
        RankedTensorType::get({batch, time, config.hiddenSize}, f32);
    Value table =
        weight(weight::kEmbedding, {config.vocabSize, config.hiddenSize});
    Value x = EmbedOp::create(builder, loc, activation, tokens, table);

    // The chunk notes of every layer so far: the sources of cross-layer
    // attention on the layers above.
    SmallVector<Value> noteScores, noteSummaries;
    Value position = layout.position >= 0 ? stateIn(layout.position) : Value();
    for (int64_t l = 0; l < config.numLayers; ++l) {
      const LayerFields &fields = layout.layers[l];
      auto [first, last] = config.crossLayerSources(l);
      SmallVector<Value> srcScores, srcSummaries, srcSlots, srcPriorities,
          srcPositions, srcCounts;
      for (int64_t j = first; j < last; ++j) {
        const LayerFields &source = layout.layers[j];
        srcScores.push_back(noteScores[j]);
        srcSummaries.push_back(noteSummaries[j]);
        srcSlots.push_back(stateIn(source.poolSlots));
        srcPriorities.push_back(stateIn(source.poolPriorities));
        srcPositions.push_back(stateIn(source.poolPositions));
        srcCounts.push_back(stateIn(source.poolCount));
      }
      auto optionalIn = [&](int64_t field) {
        return field >= 0 ? stateIn(field) : Value();
      };
      SmallVector<Type> resultTypes{activation, state[fields.convWindow],
                                    state[fields.ssmState]};
      if (config.memory)
        resultTypes.append(
            {state[fields.previousMixer], state[fields.poolSlots],
             state[fields.poolPriorities], state[fields.poolPositions],
             state[fields.poolCount], RankedTensorType::get({batch, time}, f32),
             RankedTensorType::get({batch, time, config.memory->summaryDim},
                                   f32)});
      auto layer = LayerOp::create(
          builder, loc, resultTypes, builder.getI64IntegerAttr(l), configAttr,
          x, lengths, stateIn(fields.convWindow), stateIn(fields.ssmState),
          optionalIn(fields.previousMixer), optionalIn(fields.poolSlots),
          optionalIn(fields.poolPriorities), optionalIn(fields.poolPositions),
          optionalIn(fields.poolCount), position, srcScores, srcSummaries,
          srcSlots, srcPriorities, srcPositions, srcCounts);
      x = layer.getOutput();
      stateOut[fields.convWindow] = layer.getConvWindowOut();
      stateOut[fields.ssmState] = layer.getSsmStateOut();
      if (config.memory) {
        stateOut[fields.previousMixer] = layer.getPreviousMixerOut();
        stateOut[fields.poolSlots] = layer.getPoolSlotsOut();
        stateOut[fields.poolPriorities] = layer.getPoolPrioritiesOut();
        stateOut[fields.poolPositions] = layer.getPoolPositionsOut();
        stateOut[fields.poolCount] = layer.getPoolCountOut();
        noteScores.push_back(layer.getNoteScores());
        noteSummaries.push_back(layer.getNoteSummaries());
      }
    }

    Value normF = weight(weight::kNormF, {config.hiddenSize});
    Value normed =
        RMSNormOp::create(builder, loc, x, normF,
                          builder.getF64FloatAttr(config.layerNormEpsilon));
    // The norm over every row keeps prefill's norm kernel (fused with the
    // last layer's residual); only the head's input narrows.
    if (lastOnly)
      normed = TakeLastOp::create(
          builder, loc,
          RankedTensorType::get({batch, 1, config.hiddenSize}, f32), normed,
          lengths, Value());
    Value head = weight(weight::kLmHead, {config.vocabSize, config.hiddenSize},
                        weight::kEmbedding);
    Value logits = LMHeadOp::create(builder, loc, results[0], normed, head);
    if (position)
      stateOut[layout.position] =
          AdvancePositionOp::create(builder, loc, position, tokens, lengths);

    SmallVector<Value> returned{logits};
    returned.append(stateOut);
    func::ReturnOp::create(builder, loc, returned);
  }

  MLIRContext *context;
  const ModelConfig &config;
  ModuleOp module;
  OpBuilder builder;
  ModelConfigAttr configAttr;
  StateLayout layout;
  Location loc;
};

/// A symbol name from a file name: "memmamba-24l.json" -> "memmamba_24l".
std::string moduleNameFor(StringRef path) {
  SmallString<128> file(path);
  if (llvm::sys::path::filename(file) == "config.json")
    llvm::sys::path::remove_filename(file);
  std::string name = llvm::sys::path::stem(file).str();
  for (char &c : name)
    if (!llvm::isAlnum(c) && c != '_')
      c = '_';
  return name;
}

} // namespace

OwningOpRef<ModuleOp> mm::importModelConfig(MLIRContext *context,
                                            const ModelConfig &config,
                                            StringRef name) {
  context->loadDialect<MMDialect, func::FuncDialect>();
  Location loc = NameLoc::get(StringAttr::get(context, "config"));
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(loc, name.empty() ? std::optional<StringRef>()
                                         : std::optional<StringRef>(name));
  ModuleBuilder(context, config, *module).build();
  return module;
}

llvm::Expected<OwningOpRef<ModuleOp>>
mm::importModelConfigFile(MLIRContext *context, StringRef path) {
  llvm::Expected<ModelConfig> config = loadModelConfig(path);
  if (!config)
    return config.takeError();
  return importModelConfig(context, *config, moduleNameFor(path));
}
