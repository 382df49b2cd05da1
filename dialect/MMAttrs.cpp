//===- MMAttrs.cpp - mm attributes and enums ------------------------------===//

#include "dialect/MMDialect.h"

#include "dialect/KernelSizes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mm;

#include "dialect/MMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MMAttrs.cpp.inc"

void MMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MMAttrs.cpp.inc"
      >();
}

FailureOr<llvm::APFloat> mm::parseF64Parameter(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return llvm::APFloat(value);
}

EvictionPolicy mm::toEvictionPolicy(Eviction eviction) {
  return eviction == Eviction::Priority ? EvictionPolicy::priority
                                        : EvictionPolicy::fifo;
}

Eviction mm::fromEvictionPolicy(EvictionPolicy policy) {
  return policy == EvictionPolicy::priority ? Eviction::Priority
                                            : Eviction::Fifo;
}

LogicalResult
MemoryConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         int64_t poolSize, int64_t summaryDim,
                         llvm::APFloat noteThreshold,
                         llvm::APFloat readThreshold, int64_t period,
                         int64_t window, EvictionPolicy, int64_t heads) {
  if (poolSize < 1)
    return emitError() << "pool_size must be at least 1, got " << poolSize;
  if (summaryDim < 1)
    return emitError() << "summary_dim must be at least 1, got " << summaryDim;
  if (heads < 1 || summaryDim % heads != 0)
    return emitError() << "heads (" << heads
                       << ") must be positive and divide summary_dim ("
                       << summaryDim << ")";
  if (period < 0 || window < 0)
    return emitError() << "cross_layer_period and cross_layer_window must not "
                          "be negative";
  std::tuple<const char *, int64_t, int64_t> sizes[] = {
      {"pool_size", poolSize, kMaxPoolSize},
      {"summary_dim", summaryDim, kMaxSummaryDim},
      {"cross_layer_period", period, kMaxCrossLayerPeriod},
      {"cross_layer_window", window, kMaxCrossLayerWindow}};
  for (auto [name, size, limit] : sizes)
    if (size > limit)
      return emitError() << name << " is " << size << ", the limit is "
                         << limit;
  if (!noteThreshold.isFinite() || !readThreshold.isFinite())
    return emitError() << "thresholds must be finite";
  return success();
}

LogicalResult ModelConfigAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, int64_t hiddenSize,
    int64_t numLayers, int64_t stateSize, int64_t convKernel,
    int64_t intermediateSize, int64_t dtRank, int64_t vocabSize,
    llvm::APFloat epsilon, BoolAttr, BoolAttr, MemoryConfigAttr memory) {
  // The limits of config.json (common/ModelConfig.h) hold for a config
  // given in MLIR too: the compiler sizes buffers and unrolls loops by them.
  std::tuple<const char *, int64_t, int64_t> sizes[] = {
      {"hidden_size", hiddenSize, kMaxHiddenSize},
      {"num_layers", numLayers, kMaxLayers},
      {"state_size", stateSize, kMaxStateSize},
      {"conv_kernel", convKernel, kMaxConvKernel},
      {"intermediate_size", intermediateSize, kMaxIntermediateSize},
      {"dt_rank", dtRank, kMaxDtRank},
      {"vocab_size", vocabSize, kMaxVocabSize}};
  for (auto [name, size, limit] : sizes) {
    if (size < 1)
      return emitError() << name << " must be at least 1, got " << size;
    if (size > limit)
      return emitError() << name << " is " << size << ", the limit is "
                         << limit;
  }
  if (!epsilon.isFinite() || epsilon.isNegative())
    return emitError() << "layer_norm_epsilon must be finite and not negative";
  // What the sizes add up to (all the weights) is bounded too.
  ModelConfig config;
  config.hiddenSize = hiddenSize;
  config.numLayers = numLayers;
  config.stateSize = stateSize;
  config.convKernel = convKernel;
  config.intermediateSize = intermediateSize;
  config.dtRank = dtRank;
  config.vocabSize = vocabSize;
  if (memory) {
    MemoryConfig &m = config.memory.emplace();
    m.poolSize = memory.getPoolSize();
    m.summaryDim = memory.getSummaryDim();
    m.crossLayerPeriod = memory.getCrossLayerPeriod();
    m.crossLayerWindow = memory.getCrossLayerWindow();
    m.heads = memory.getHeads();
  }
  if (llvm::Error error = config.checkSizes("#mm.config"))
    return emitError() << llvm::toString(std::move(error));
  return success();
}

ModelConfig ModelConfigAttr::getModelConfig() const {
  ModelConfig config;
  config.hiddenSize = getHiddenSize();
  config.numLayers = getNumLayers();
  config.stateSize = getStateSize();
  config.convKernel = getConvKernel();
  config.intermediateSize = getIntermediateSize();
  config.dtRank = getDtRank();
  config.vocabSize = getVocabSize();
  config.layerNormEpsilon = getLayerNormEpsilon().convertToDouble();
  config.useBias = getUseBias().getValue();
  config.useConvBias = getUseConvBias().getValue();
  if (MemoryConfigAttr memory = getMemory()) {
    MemoryConfig &m = config.memory.emplace();
    m.poolSize = memory.getPoolSize();
    m.summaryDim = memory.getSummaryDim();
    m.noteThreshold = memory.getNoteThreshold().convertToDouble();
    m.readThreshold = memory.getReadThreshold().convertToDouble();
    m.crossLayerPeriod = memory.getCrossLayerPeriod();
    m.crossLayerWindow = memory.getCrossLayerWindow();
    m.eviction = fromEvictionPolicy(memory.getEviction());
    m.heads = memory.getHeads();
  }
  return config;
}

ModelConfigAttr ModelConfigAttr::get(MLIRContext *context,
                                     const ModelConfig &config) {
  MemoryConfigAttr memory;
  if (const auto &m = config.memory)
    memory = MemoryConfigAttr::get(
        context, m->poolSize, m->summaryDim, llvm::APFloat(m->noteThreshold),
        llvm::APFloat(m->readThreshold), m->crossLayerPeriod,
        m->crossLayerWindow, toEvictionPolicy(m->eviction), m->heads);
  Builder builder(context);
  return ModelConfigAttr::get(
      context, config.hiddenSize, config.numLayers, config.stateSize,
      config.convKernel, config.intermediateSize, config.dtRank,
      config.vocabSize, llvm::APFloat(config.layerNormEpsilon),
      builder.getBoolAttr(config.useBias),
      builder.getBoolAttr(config.useConvBias), memory);
}

ArrayRef<StringRef> FusionAttr::paramNames(FusionKind kind) {
  static const StringRef gemm[] = {
      "rows",    "tokens",  "rows_at_once", "block_m",  "block_n", "block_k",
      "warps_m", "warps_n", "thread_m",     "thread_n", "stages"};
  static const StringRef scan[] = {"channels", "block_channels", "chunk"};
  static const StringRef channels[] = {"channels"};
  switch (kind) {
  case FusionKind::gemm:
    return gemm;
  case FusionKind::scan:
    return scan;
  case FusionKind::conv:
    return channels;
  default:
    return {};
  }
}

LogicalResult FusionAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 FusionKind kind, DictionaryAttr params) {
  ArrayRef<StringRef> accepted = paramNames(kind);
  for (NamedAttribute param : params) {
    if (!llvm::is_contained(accepted, param.getName().getValue())) {
      InFlightDiagnostic diag = emitError();
      diag << "a " << stringifyFusionKind(kind) << " group has no parameter '"
           << param.getName().getValue() << "'";
      if (accepted.empty())
        diag << " (it takes none)";
      else
        diag << " (it takes " << llvm::join(accepted, ", ") << ")";
      return diag;
    }
    auto value = dyn_cast<IntegerAttr>(param.getValue());
    if (!value)
      return emitError() << "fusion parameter '" << param.getName().getValue()
                         << "' must be an integer";
    // Every key a kind accepts is a kernel size.
    const KernelSize *size = lookupFusionSize(param.getName().getValue());
    if (size && !inRange(*size, value.getInt()))
      return emitError() << "fusion parameter '" << param.getName().getValue()
                         << "' " << rangeError(*size, value.getInt());
  }
  return success();
}

int64_t FusionAttr::getParam(StringRef name, int64_t fallback) const {
  if (auto value = getParams().getAs<IntegerAttr>(name))
    return value.getInt();
  return fallback;
}
