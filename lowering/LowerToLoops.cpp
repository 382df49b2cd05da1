//===- LowerToLoops.cpp - mm entry points to loops over buffers -----------===//
//
// Buffer assignment for the straight-line entry functions of an mm module,
// then one loop kernel per operation (LoopEmitters). The functions have no
// control flow at this level, so a single walk in program order decides
// every buffer: ABI buffers (weights, state, tokens, logits) where a value
// lives there anyway, subviews for mm.split, fresh allocations otherwise,
// freed after their last use.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "dialect/MMOps.h"
#include "lowering/LoopEmitters.h"
#include "lowering/Manifest.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

namespace mm {
#define GEN_PASS_DEF_LOWERTOLOOPS
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

MemRefType bufferType(Type tensor) {
  auto type = cast<RankedTensorType>(tensor);
  return MemRefType::get(type.getShape(), type.getElementType());
}

class EntryLowering {
public:
  EntryLowering(func::FuncOp func, EntryKind kind, const Manifest &manifest,
                unsigned &numKernels, unsigned &numInPlace)
      : func(func), kind(kind), manifest(manifest), numKernels(numKernels),
        numInPlace(numInPlace) {}

  LogicalResult lower();

private:
  bool isInit() const { return kind == EntryKind::init_state; }
  /// The state field whose old value is argument `arg` (-1 for tokens).
  int64_t fieldOfArgument(BlockArgument arg) const {
    return isInit() ? -1 : static_cast<int64_t>(arg.getArgNumber()) - 1;
  }
  LogicalResult assignResult(OpBuilder &b, KernelBuilder &kb, Operation *op,
                             Value result);
  bool writableInPlace(Operation *op, Value result, Value old) const;
  LogicalResult checkBufferable(Operation *op, Value value) const;
  Value allocateBuffer(OpBuilder &b, KernelBuilder &kb, Value value);
  LogicalResult lowerGroup(OpBuilder &b, KernelBuilder &kb, FusedOp group);
  void computeLastUsers();
  void freeAfter(OpBuilder &b, Operation *op);

  func::FuncOp func;
  EntryKind kind;
  const Manifest &manifest;
  unsigned &numKernels, &numInPlace;

  Value batch, time;
  SmallVector<Value> stateViews;
  DenseMap<Value, Value> buffers;
  /// Where a returned value must end up: logits or a state field view.
  DenseMap<Value, std::pair<Value, int64_t>> destinations;
  /// Buffers this function allocated, by the tensor value they hold, in
  /// allocation order (so that the frees, and the artifact, are the same
  /// from one compile to the next).
  llvm::MapVector<Value, Value> allocated;
  /// The last operation that reads a value (through split aliases too).
  DenseMap<Value, Operation *> lastUser;
};

void EntryLowering::computeLastUsers() {
  Block &body = func.front();
  for (Operation &op : body)
    for (Value operand : op.getOperands())
      lastUser[operand] = &op; // program order: the last write wins
  // A split's results alias its input: the input lives as long as they do.
  for (Operation &op : llvm::reverse(body))
    if (auto split = dyn_cast<SplitOp>(op))
      for (Value result : split.getResults())
        if (Operation *user = lastUser.lookup(result))
          if (lastUser[split.getInput()]->isBeforeInBlock(user))
            lastUser[split.getInput()] = user;
}

LogicalResult EntryLowering::assignResult(OpBuilder &b, KernelBuilder &kb,
                                          Operation *op, Value result) {
  auto [destination, field] = destinations.lookup(result);
  if (destination && field >= 0) {
    // Writing a state field in place is safe only if nothing after this
    // operation still reads the field's old value.
    Value old = isInit() ? Value() : func.getArgument(field + 1);
    bool safe = !old || writableInPlace(op, result, old);
    if (!safe)
      destination = Value();
    else if (old)
      ++numInPlace;
  }
  if (destination) {
    buffers[result] = destination;
    return success();
  }
  if (failed(checkBufferable(op, result)))
    return failure();
  Value buffer = allocateBuffer(b, kb, result);
  buffers[result] = buffer;
  allocated[result] = buffer;
  return success();
}

/// Only the batch and time dimensions of a value may be dynamic: they are
/// the only sizes an entry point learns at run time.
LogicalResult EntryLowering::checkBufferable(Operation *op, Value value) const {
  auto type = bufferType(value.getType());
  for (int64_t dim = 0; dim < type.getRank(); ++dim)
    if (type.isDynamicDim(dim) && (dim > 1 || (dim == 1 && !time)))
      return op->emitOpError()
             << "the host lowering supports dynamic batch and time "
                "dimensions only, got "
             << value.getType();
  return success();
}

/// A fresh heap buffer for `value`, aligned to a cache line
/// (kBufferAlignment).
Value EntryLowering::allocateBuffer(OpBuilder &b, KernelBuilder &kb,
                                    Value value) {
  auto type = bufferType(value.getType());
  SmallVector<Value> sizes;
  for (int64_t dim = 0; dim < type.getRank(); ++dim)
    if (type.isDynamicDim(dim))
      sizes.push_back(dim == 0 ? batch : time);
  return memref::AllocOp::create(b, kb.location(), type, sizes,
                                 b.getI64IntegerAttr(kBufferAlignment));
}

/// Whether `op` may write `result` over the buffer of `old`: nothing after
/// it reads `old`, and inside a fusion group nothing after the operation
/// that computes the result reads the group's copy of `old`.
bool EntryLowering::writableInPlace(Operation *op, Value result,
                                    Value old) const {
  auto before = [](Operation *writer) {
    return [writer](Operation *user) {
      return user == writer || user->isBeforeInBlock(writer);
    };
  };
  if (!llvm::all_of(old.getUsers(), before(op)))
    return false;
  auto group = dyn_cast<FusedOp>(op);
  if (!group)
    return true;
  Block &body = group.getBodyBlock();
  Value inner = body.getTerminator()->getOperand(
      cast<OpResult>(result).getResultNumber());
  Operation *writer = inner.getDefiningOp();
  if (!writer)
    return false;
  for (auto [input, argument] :
       llvm::zip(group.getInputs(), body.getArguments()))
    if (input == old && !llvm::all_of(argument.getUsers(), before(writer)))
      return false;
  return true;
}

LogicalResult EntryLowering::lowerGroup(OpBuilder &b, KernelBuilder &kb,
                                        FusedOp group) {
  Block &body = group.getBodyBlock();
  for (auto [input, argument] :
       llvm::zip(group.getInputs(), body.getArguments()))
    buffers[argument] = buffers.lookup(input);
  for (auto [result, inner] :
       llvm::zip(group.getResults(), body.getTerminator()->getOperands())) {
    if (failed(assignResult(b, kb, group, result)))
      return failure();
    Value assigned = buffers.lookup(result); // before [] may grow the map
    buffers[inner] = assigned;
  }
  // Values that live only inside the group: allocated as the kernel needs
  // them, freed after it.
  for (Operation &op : body.without_terminator())
    for (Value result : op.getResults())
      if (failed(checkBufferable(&op, result)))
        return failure();
  SmallVector<Value> local;
  auto allocate = [&](Value value) -> Value {
    Value buffer = allocateBuffer(b, kb, value);
    buffers[value] = buffer;
    local.push_back(buffer);
    return buffer;
  };
  if (failed(emitFusedLoops(
          group, kb, [&](Value v) { return buffers.lookup(v); }, allocate)))
    return failure();
  for (Value buffer : local)
    memref::DeallocOp::create(b, kb.location(), buffer);
  return success();
}

void EntryLowering::freeAfter(OpBuilder &b, Operation *op) {
  allocated.remove_if([&](const std::pair<Value, Value> &entry) {
    Operation *last = lastUser.lookup(entry.first);
    if (last && last != op)
      return false;
    memref::DeallocOp::create(b, op->getLoc(), entry.second);
    return true;
  });
}

LogicalResult EntryLowering::lower() {
  MLIRContext *context = func.getContext();
  OpBuilder b(func);
  Location loc = func.getLoc();
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  auto weightsType = MemRefType::get({ShapedType::kDynamic}, f32);
  auto stateType = MemRefType::get({ShapedType::kDynamic}, i8);

  SmallVector<Type> inputs;
  if (isInit())
    inputs = {stateType, b.getIndexType()};
  else
    inputs = {weightsType, stateType, bufferType(func.getArgumentTypes()[0]),
              bufferType(func.getResultTypes()[0])};
  auto lowered =
      func::FuncOp::create(b, loc, ("mm_" + stringifyEntryKind(kind)).str(),
                           b.getFunctionType(inputs, {}));
  lowered->setAttr("llvm.emit_c_interface", UnitAttr::get(context));
  Block *entry = lowered.addEntryBlock();
  b.setInsertionPointToStart(entry);
  KernelBuilder kb(b, loc);

  Value weights, state, tokens, logits;
  if (isInit()) {
    state = entry->getArgument(0);
    batch = entry->getArgument(1);
  } else {
    weights = entry->getArgument(0);
    state = entry->getArgument(1);
    tokens = entry->getArgument(2);
    logits = entry->getArgument(3);
    batch = kb.dim(tokens, 0);
    time = kb.dim(tokens, 1);
    buffers[func.getArgument(0)] = tokens;
  }

  // The state: field f of B sequences at byte B * offset(f).
  for (auto [index, field] : llvm::enumerate(manifest.state)) {
    SmallVector<int64_t> shape{ShapedType::kDynamic};
    llvm::append_range(shape, field.shape);
    auto type = MemRefType::get(
        shape, field.dtype == "f32" ? f32 : Type(b.getI32Type()));
    Value shift = kb.muli(batch, kb.index(field.offset));
    Value view =
        memref::ViewOp::create(b, loc, type, state, shift, ValueRange{batch});
    stateViews.push_back(view);
    if (!isInit())
      buffers[func.getArgument(index + 1)] = view;
  }

  // Returned values go straight to their ABI buffer where possible.
  auto returnOp = cast<func::ReturnOp>(func.front().getTerminator());
  unsigned firstField = isInit() ? 0 : 1;
  for (auto [position, value] : llvm::enumerate(returnOp.getOperands())) {
    if (isa<BlockArgument>(value) || destinations.count(value))
      continue;
    if (position < firstField)
      destinations[value] = {logits, -1};
    else
      destinations[value] = {stateViews[position - firstField],
                             static_cast<int64_t>(position - firstField)};
  }

  computeLastUsers();
  auto lookup = [&](Value v) { return buffers.lookup(v); };
  for (Operation &op : func.front().without_terminator()) {
    if (auto weight = dyn_cast<WeightOp>(op)) {
      const ManifestWeight *entry = manifest.findWeight(weight.getName());
      ArrayRef<int64_t> shape = weight.getType().getShape();
      SmallVector<int64_t> strides(shape.size(), 1);
      for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
        strides[d] = strides[d + 1] * shape[d + 1];
      auto type = MemRefType::get(
          shape, f32, StridedLayoutAttr::get(context, entry->offset, strides));
      buffers[weight.getResult()] = memref::ReinterpretCastOp::create(
          b, loc, type, weights, entry->offset, shape, strides);
      continue;
    }
    if (auto split = dyn_cast<SplitOp>(op)) {
      Value input = buffers.lookup(split.getInput());
      auto inputType = cast<MemRefType>(input.getType());
      int64_t rank = inputType.getRank(), offset = 0;
      for (auto [result, size] :
           llvm::zip(split.getResults(), split.getSizes())) {
        SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
            strides(rank, b.getIndexAttr(1));
        for (int64_t d = 0; d + 1 < rank; ++d)
          sizes.push_back(
              inputType.isDynamicDim(d)
                  ? OpFoldResult(kb.dim(input, d))
                  : OpFoldResult(b.getIndexAttr(inputType.getDimSize(d))));
        offsets.back() = b.getIndexAttr(offset);
        sizes.push_back(b.getIndexAttr(size));
        buffers[result] =
            memref::SubViewOp::create(b, loc, input, offsets, sizes, strides);
        offset += size;
      }
      continue;
    }
    // Each operation or group is one kernel: its scratch buffers live
    // from its start to its end.
    kb.beginKernel();
    if (auto group = dyn_cast<FusedOp>(op)) {
      Operation *previous = entry->empty() ? nullptr : &entry->back();
      if (failed(lowerGroup(b, kb, group)))
        return failure();
      // The group's first loop nest carries its kind: it marks where the
      // group's kernel starts, and GPU kernels are named after it
      // (mm_prefill_scan_3), so profiles and tests can find them.
      auto kindName =
          StringAttr::get(context, stringifyFusionKind(group.getKind()));
      for (Operation *emitted = previous ? previous->getNextNode()
                                         : &entry->front();
           emitted; emitted = emitted->getNextNode())
        if (emitted->getNumRegions()) {
          emitted->setAttr(MMDialect::kKernelKindAttrName, kindName);
          break;
        }
    } else {
      for (Value result : op.getResults())
        if (failed(assignResult(b, kb, &op, result)))
          return failure();
      if (failed(emitLoops(&op, kb, lookup)))
        return failure();
    }
    kb.endKernel();
    ++numKernels;
    freeAfter(b, &op);
  }

  // Results that could not be written in place are copied to their buffer.
  for (auto [position, value] : llvm::enumerate(returnOp.getOperands())) {
    Value destination =
        position < firstField ? logits : stateViews[position - firstField];
    Value source = buffers.lookup(value);
    if (source != destination)
      memref::CopyOp::create(b, loc, source, destination);
  }
  for (auto &entry : allocated)
    memref::DeallocOp::create(b, loc, entry.second);
  func::ReturnOp::create(b, loc);
  return success();
}

struct LowerToLoopsPass : public mm::impl::LowerToLoopsBase<LowerToLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Manifest manifest = Manifest::fromModule(module);
    SmallVector<std::pair<func::FuncOp, EntryKind>> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (auto kind =
              func->getAttrOfType<EntryKindAttr>(MMDialect::kEntryAttrName))
        entries.push_back({func, kind.getValue()});
    unsigned kernels = 0, inPlace = 0;
    for (auto [func, kind] : entries)
      if (failed(EntryLowering(func, kind, manifest, kernels, inPlace).lower()))
        return signalPassFailure();
    numKernels += kernels;
    numInPlace += inPlace;
    for (auto [func, kind] : entries)
      func.erase();
    for (auto layout :
         llvm::make_early_inc_range(module.getOps<StateLayoutOp>()))
      layout.erase();
    std::string json;
    llvm::raw_string_ostream os(json);
    os << manifest.toJSON();
    module->setAttr(MMDialect::kManifestAttrName,
                    StringAttr::get(&getContext(), json));
    module->removeAttr(MMDialect::kConfigAttrName);
    module->removeAttr(MMDialect::kFusionAttrName);
  }
};

} // namespace
