//===- MMDialect.cpp - the mm dialect -------------------------------------===//

#include "dialect/MMDialect.h"
#include "dialect/MMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

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
/// tokens [B, T] and returns logits [B, T, V]; decode the same with T = 1;
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
  if (results.size() != numFields + extra ||
      inputs.size() != (init ? 1 : numFields + 1))
    return func->emitOpError()
           << "entry point '" << stringifyEntryKind(kind) << "' of layout "
           << layoutRef << " (" << numFields << " fields) must take "
           << (init ? 1 : numFields + 1) << " and return " << numFields + extra
           << " values, not " << inputs.size() << " and " << results.size();

  if (init) {
    if (!isa<IndexType>(inputs[0]))
      return func->emitOpError() << "init_state takes the batch size (index)";
  } else {
    int64_t time = kind == EntryKind::decode ? 1 : ShapedType::kDynamic;
    auto tokens = dyn_cast<RankedTensorType>(inputs[0]);
    auto logits = dyn_cast<RankedTensorType>(results[0]);
    if (!tokens || tokens.getRank() != 2 ||
        !tokens.getElementType().isInteger(32) || tokens.getDimSize(1) != time)
      return func->emitOpError()
             << "'" << stringifyEntryKind(kind) << "' takes tokens as "
             << RankedTensorType::get({ShapedType::kDynamic, time},
                                      IntegerType::get(func.getContext(), 32))
             << ", not " << inputs[0];
    if (!logits || logits.getRank() != 3 || !logits.getElementType().isF32() ||
        logits.getDimSize(1) != time)
      return func->emitOpError()
             << "'" << stringifyEntryKind(kind)
             << "' returns logits [B, T, V] f32 with T = "
             << (time == 1 ? "1" : "?") << ", not " << results[0];
  }

  for (auto [index, field] : llvm::enumerate(fields)) {
    SmallVector<int64_t> shape{ShapedType::kDynamic};
    llvm::append_range(shape, field.getType().getShape());
    auto expected =
        RankedTensorType::get(shape, field.getType().getElementType());
    if (!init && inputs[index + 1] != expected)
      return func->emitOpError()
             << "argument " << index + 1 << " must be state field '"
             << field.getName() << "' of type " << expected << ", not "
             << inputs[index + 1];
    if (results[index + extra] != expected)
      return func->emitOpError()
             << "result " << index + extra << " must be state field '"
             << field.getName() << "' of type " << expected << ", not "
             << results[index + extra];
  }
  return success();
}

LogicalResult MMDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attr) {
  if (attr.getName() == kConfigAttrName) {
    if (!isa<ModelConfigAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << kConfigAttrName << "' must be an #mm.config";
    return success();
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
  if (attr.getName() == kKernelKindAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << kKernelKindAttrName << "' must be a kernel kind string";
    return success();
  }
  if (attr.getName() == kFusionAttrName) {
    auto fusion = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!fusion || !fusion.getAs<StringAttr>("strategy"))
      return op->emitOpError() << "'" << kFusionAttrName
                               << "' must be a dictionary with a 'strategy'";
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
