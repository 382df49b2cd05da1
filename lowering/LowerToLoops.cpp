//===- LowerToLoops.cpp - mm entry points to loops over buffers -----------===//
//
// Buffer assignment for the straight-line entry functions of an mm module,
// and each kernel function (mm-outline-kernels) as a function over buffers,
// built once for every call of it by the lowering its kind and the module's
// target select (lowering/KernelLowering.h). The entry functions have no
// control flow at this level, so a single walk in program order decides
// every buffer: ABI buffers (weights, state, tokens, logits) where a value
// lives there anyway, subviews for mm.split, fresh allocations otherwise,
// freed after their last use. Operations outside kernel functions (a module
// written by hand) are emitted in place, one kernel each.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "dialect/MMOps.h"
#include "lowering/KernelLowering.h"
#include "lowering/LoopEmitters.h"
#include "lowering/Manifest.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
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

/// Only the batch and time dimensions of a value may be dynamic: they are
/// the only sizes an entry point learns at run time.
LogicalResult checkBufferable(Operation *op, Value value, bool hasTime) {
  auto type = bufferType(value.getType());
  for (int64_t dim = 0; dim < type.getRank(); ++dim)
    if (type.isDynamicDim(dim) && (dim > 1 || (dim == 1 && !hasTime)))
      return op->emitOpError()
             << "the host lowering supports dynamic batch and time "
                "dimensions only, got "
             << value.getType();
  return success();
}

/// A fresh heap buffer for `value`, aligned to a cache line
/// (kBufferAlignment), its dynamic dimensions `batch` and `time`.
Value allocateBuffer(OpBuilder &b, Location loc, Value value, Value batch,
                     Value time) {
  auto type = bufferType(value.getType());
  SmallVector<Value> sizes;
  for (int64_t dim = 0; dim < type.getRank(); ++dim)
    if (type.isDynamicDim(dim))
      sizes.push_back(dim == 0 ? batch : time);
  return memref::AllocOp::create(b, loc, type, sizes,
                                 b.getI64IntegerAttr(kBufferAlignment));
}

/// The type a kernel function takes for a buffer of type `type`: the same
/// strides, any offset, so that the weights of every layer (views at their
/// own offsets into one buffer) and the views of every call pass as the
/// same argument type.
Type kernelArgumentType(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref)
    return type; // an index
  auto [strides, offset] = memref.getStridesAndOffset();
  (void)offset;
  return MemRefType::get(
      memref.getShape(), memref.getElementType(),
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic, strides),
      memref.getMemorySpace());
}

/// The kernel functions over buffers: for each kernel function of the
/// module and each list of argument types it is called with, one function
///
///   mm_<kernel>(%batch: index, %time: index, <inputs>, <outputs>)
///
/// whose body the kernel's lowering builds (KernelLowering.h).
class KernelFunctions {
public:
  KernelFunctions(ModuleOp module, const TargetInfo &target,
                  const KernelLoweringOptions &options)
      : module(module), target(target), options(options) {}

  /// The function over buffers of `kernel` taking `type`.
  FailureOr<func::FuncOp> get(func::FuncOp kernel, FunctionType type);
  /// Emits at `b` a copy of `from` into `to` through a function shared by
  /// every copy between buffers of these strides (mm_copy_0): on a GPU each
  /// function is one kernel, so the copies of L layers' state fields are
  /// one kernel, not L.
  void copy(OpBuilder &b, Location loc, Value from, Value to);
  /// Emits at `b` the copies of `pairs` (from, to): on a GPU, per type of
  /// field, kernels (mm_copies_0) of 24 fields each with a thread per
  /// element, which copies that element of each (the state fields an entry
  /// point could not update in place: a launch for up to 24 layers' field
  /// instead of one per field and layer); elsewhere, or for buffers of
  /// other than a dynamic batch and static sizes, one copy each.
  void copyAll(OpBuilder &b, Location loc,
               ArrayRef<std::pair<Value, Value>> pairs);
  /// One kernel copying `pairs` (of a dynamic batch and static sizes).
  void copyGroup(OpBuilder &b, Location loc,
                 ArrayRef<std::pair<Value, Value>> pairs);
  unsigned numBuilt = 0;
  const TargetInfo &getTarget() const { return target; }

private:
  LogicalResult build(func::FuncOp kernel, func::FuncOp lowered);

  ModuleOp module;
  const TargetInfo &target;
  KernelLoweringOptions options;
  DenseMap<std::pair<Operation *, Type>, func::FuncOp> built;
  DenseMap<Type, func::FuncOp> copies, copyGroups;
  llvm::StringMap<unsigned> variants;
};

void KernelFunctions::copy(OpBuilder &b, Location loc, Value from, Value to) {
  Type source = kernelArgumentType(from.getType()),
       target = kernelArgumentType(to.getType());
  FunctionType type = b.getFunctionType({source, target}, {});
  func::FuncOp &function = copies[type];
  if (!function) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    function = func::FuncOp::create(
        b, loc, "mm_copy_" + std::to_string(copies.size() - 1), type);
    function.setPrivate();
    function->setAttr(MMDialect::kLoweringAttrName, b.getStringAttr("copy"));
    Block *entry = function.addEntryBlock();
    b.setInsertionPointToStart(entry);
    memref::CopyOp::create(b, loc, entry->getArgument(0),
                           entry->getArgument(1));
    func::ReturnOp::create(b, loc);
  }
  SmallVector<Value> arguments{from, to};
  for (auto [argument, argumentType] :
       llvm::zip(arguments, type.getInputs()))
    if (argument.getType() != argumentType)
      argument = memref::CastOp::create(b, loc, argumentType, argument);
  func::CallOp::create(b, loc, function, arguments);
}

void KernelFunctions::copyAll(OpBuilder &b, Location loc,
                              ArrayRef<std::pair<Value, Value>> pairs) {
  auto batchRows = [](Value value) {
    auto type = cast<MemRefType>(value.getType());
    return type.getRank() > 0 && type.isDynamicDim(0) &&
           llvm::all_of(type.getShape().drop_front(), [](int64_t size) {
             return size != ShapedType::kDynamic;
           });
  };
  if (!target.isGpu() || pairs.size() < 2 ||
      !llvm::all_of(pairs, [&](const std::pair<Value, Value> &pair) {
        return batchRows(pair.first) && batchRows(pair.second);
      })) {
    for (auto [from, to] : pairs)
      copy(b, loc, from, to);
    return;
  }
  // One kernel per type of field, copying kCopiesPerKernel fields of it
  // (the last group repeats its last field: a second copy of the same
  // element is harmless), so that the kernels do not grow with the layer
  // count; the parameters stay within a kernel's (4352 bytes on NVIDIA
  // before PTX 8.1; a memref of rank r passes 3 + 2 r words).
  constexpr size_t kCopiesPerKernel = 24;
  llvm::MapVector<std::pair<Type, Type>, SmallVector<std::pair<Value, Value>>>
      byType;
  for (auto [from, to] : pairs)
    byType[{kernelArgumentType(from.getType()),
            kernelArgumentType(to.getType())}]
        .push_back({from, to});
  for (auto &[type, fields] : byType) {
    if (fields.size() == 1) {
      copy(b, loc, fields[0].first, fields[0].second);
      continue;
    }
    for (size_t first = 0; first < fields.size(); first += kCopiesPerKernel) {
      SmallVector<std::pair<Value, Value>> group(
          ArrayRef<std::pair<Value, Value>>(fields).slice(
              first, std::min(kCopiesPerKernel, fields.size() - first)));
      group.resize(std::min(kCopiesPerKernel, fields.size()), group.back());
      copyGroup(b, loc, group);
    }
  }
}

void KernelFunctions::copyGroup(OpBuilder &b, Location loc,
                                ArrayRef<std::pair<Value, Value>> pairs) {
  SmallVector<Type> types;
  SmallVector<Value> arguments;
  for (auto [from, to] : pairs)
    for (Value value : {from, to}) {
      Type type = kernelArgumentType(value.getType());
      types.push_back(type);
      arguments.push_back(value.getType() == type
                              ? value
                              : memref::CastOp::create(b, loc, type, value));
    }
  FunctionType type = b.getFunctionType(types, {});
  func::FuncOp &function = copyGroups[type];
  if (!function) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    function = func::FuncOp::create(
        b, loc, "mm_copies_" + std::to_string(copyGroups.size() - 1), type);
    function.setPrivate();
    function->setAttr(MMDialect::kLoweringAttrName, b.getStringAttr("copy"));
    Block *entry = function.addEntryBlock();
    b.setInsertionPointToStart(entry);
    KernelBuilder kb(b, loc);
    // Element e of every buffer that has one: the batch rows of each are
    // contiguous in its index space, e = row * (its row's size) + ...
    Value batch = kb.dim(entry->getArgument(0), 0);
    auto rowSize = [](Type type) {
      int64_t row = 1;
      for (int64_t size : cast<MemRefType>(type).getShape().drop_front())
        row *= size;
      return row;
    };
    int64_t largestRow = 1;
    for (Type argument : types)
      largestRow = std::max(largestRow, rowSize(argument));
    Value elements = kb.muli(batch, kb.index(largestRow));
    auto loop =
        scf::ParallelOp::create(b, loc, ValueRange{kb.index(0)},
                                ValueRange{elements}, ValueRange{kb.index(1)});
    b.setInsertionPointToStart(loop.getBody());
    Value e = loop.getInductionVars()[0];
    for (unsigned k = 0; k < pairs.size(); ++k) {
      Value from = entry->getArgument(2 * k),
            to = entry->getArgument(2 * k + 1);
      Value size = kb.muli(kb.dim(from, 0), kb.index(rowSize(from.getType())));
      kb.ifThen(kb.cmpi(arith::CmpIPredicate::ult, e, size), [&] {
        SmallVector<Value> indices = kb.delinearize(e, from);
        kb.store(kb.load(from, indices), to, indices);
      });
    }
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);
  }
  func::CallOp::create(b, loc, function, arguments);
}

FailureOr<func::FuncOp> KernelFunctions::get(func::FuncOp kernel,
                                             FunctionType type) {
  func::FuncOp &lowered = built[{kernel, type}];
  if (lowered)
    return lowered;
  // The same kernel called with buffers of other strides is another
  // function (mm_gemm_0_1): in practice every layer calls it alike.
  std::string name = ("mm_" + kernel.getSymName()).str();
  if (unsigned variant = variants[name]++)
    name += "_" + std::to_string(variant);
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  lowered = func::FuncOp::create(b, kernel.getLoc(), name, type);
  lowered.setPrivate();
  if (failed(build(kernel, lowered)))
    return failure();
  ++numBuilt;
  return lowered;
}

LogicalResult KernelFunctions::build(func::FuncOp kernel,
                                     func::FuncOp lowered) {
  auto strategy = kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
  const KernelLowering &lowering =
      selectKernelLowering(kernel, lowered.getFunctionType(), target, options);
  MLIRContext *context = kernel.getContext();
  lowered->setAttr(MMDialect::kFusionAttrName, strategy);
  lowered->setAttr(MMDialect::kLoweringAttrName,
                   StringAttr::get(context, lowering.name()));

  Block *entry = lowered.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockBegin(entry);
  KernelBuilder kb(b, kernel.getLoc());
  Value batch = entry->getArgument(0), time = entry->getArgument(1);
  unsigned numInputs = kernel.getNumArguments();
  DenseMap<Value, Value> buffers;
  for (auto [index, argument] : llvm::enumerate(kernel.getArguments()))
    buffers[argument] = entry->getArgument(2 + index);
  // Returned values are written to the output buffers; a value returned
  // twice, or an argument returned, is copied there after the kernel.
  SmallVector<std::pair<Value, Value>> copies;
  auto returned = cast<func::ReturnOp>(kernel.front().getTerminator());
  for (auto [index, value] : llvm::enumerate(returned.getOperands())) {
    Value output = entry->getArgument(2 + numInputs + index);
    if (Value existing = buffers.lookup(value))
      copies.push_back({existing, output});
    else
      buffers[value] = output;
  }
  SmallVector<Value> local;
  bool failedToAllocate = false;
  auto allocate = [&](Value value) -> Value {
    if (failed(checkBufferable(value.getDefiningOp() ? value.getDefiningOp()
                                                     : kernel.getOperation(),
                               value, /*hasTime=*/true))) {
      failedToAllocate = true;
      return Value();
    }
    Value buffer = allocateBuffer(b, kb.location(), value, batch, time);
    buffers[value] = buffer;
    local.push_back(buffer);
    return buffer;
  };
  kb.beginKernel();
  if (failed(lowering.emit(
          kernel, kb, [&](Value v) { return buffers.lookup(v); }, allocate,
          target)) ||
      failedToAllocate)
    return failure();
  // The kernel's first loop nest carries its kind: GPU kernels are named
  // after it, so profiles and tests can find them.
  for (Operation &op : *entry)
    if (op.getNumRegions()) {
      op.setAttr(MMDialect::kKernelKindAttrName,
                 StringAttr::get(context,
                                 stringifyFusionKind(strategy.getKind())));
      break;
    }
  for (auto [from, to] : copies)
    memref::CopyOp::create(b, kb.location(), from, to);
  for (Value buffer : local)
    memref::DeallocOp::create(b, kb.location(), buffer);
  kb.endKernel();
  func::ReturnOp::create(b, kb.location());
  return success();
}

class EntryLowering {
public:
  EntryLowering(func::FuncOp func, EntryKind kind, const Manifest &manifest,
                KernelFunctions &kernels, unsigned &numKernels,
                unsigned &numInPlace)
      : func(func), kind(kind), manifest(manifest), kernels(kernels),
        numKernels(numKernels), numInPlace(numInPlace) {}

  LogicalResult lower();

private:
  bool isInit() const { return kind == EntryKind::init_state; }
  /// The entry's argument that holds state field `field`'s old value.
  Value fieldArgument(int64_t field) {
    return func.getArgument(field + getNumLeadingEntryArguments(kind));
  }
  LogicalResult assignResult(OpBuilder &b, KernelBuilder &kb, Operation *op,
                             Value result);
  bool writableInPlace(Operation *op, Value result, Value old) const;
  LogicalResult lowerCall(OpBuilder &b, KernelBuilder &kb, func::CallOp call);
  /// The kernel function `call` calls, or null.
  func::FuncOp calledKernel(func::CallOp call) const {
    auto kernel =
        SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(call,
                                                           call.getCalleeAttr());
    return kernel && kernel->hasAttr(MMDialect::kFusionAttrName) &&
                   !kernel.isExternal()
               ? kernel
               : func::FuncOp();
  }
  void computeLastUsers();
  void freeAfter(OpBuilder &b, Operation *op);

  func::FuncOp func;
  EntryKind kind;
  const Manifest &manifest;
  KernelFunctions &kernels;
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
    Value old = isInit() ? Value() : fieldArgument(field);
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
  if (failed(checkBufferable(op, result, /*hasTime=*/bool(time))))
    return failure();
  Value buffer = allocateBuffer(b, kb.location(), result, batch, time);
  buffers[result] = buffer;
  allocated[result] = buffer;
  return success();
}

/// Whether `op` may write `result` over the buffer of `old`: nothing after
/// it reads `old`, and inside a kernel function nothing after the operation
/// that computes the result reads the kernel's argument for `old`.
bool EntryLowering::writableInPlace(Operation *op, Value result,
                                    Value old) const {
  auto before = [](Operation *writer) {
    return [writer](Operation *user) {
      return user == writer || user->isBeforeInBlock(writer);
    };
  };
  if (!llvm::all_of(old.getUsers(), before(op)))
    return false;
  auto call = dyn_cast<func::CallOp>(op);
  if (!call)
    return true;
  Block &body = calledKernel(call).front();
  Value inner = body.getTerminator()->getOperand(
      cast<OpResult>(result).getResultNumber());
  Operation *writer = inner.getDefiningOp();
  if (!writer)
    return false;
  for (auto [input, argument] :
       llvm::zip(call.getOperands(), body.getArguments()))
    if (input == old && !llvm::all_of(argument.getUsers(), before(writer)))
      return false;
  return true;
}

/// A call of a kernel function: its results get their buffers, and the
/// kernel's function over buffers is called with them.
LogicalResult EntryLowering::lowerCall(OpBuilder &b, KernelBuilder &kb,
                                       func::CallOp call) {
  func::FuncOp kernel = calledKernel(call);
  if (!kernel)
    return call.emitOpError()
           << "calls " << call.getCalleeAttr()
           << ", which is not a kernel function (mm-outline-kernels)";
  for (Value result : call.getResults())
    if (failed(assignResult(b, kb, call, result)))
      return failure();
  SmallVector<Value> arguments{batch, time ? time : kb.index(0)};
  for (Value input : call.getOperands()) {
    Value buffer = isa<IndexType>(input.getType()) ? batch
                                                   : buffers.lookup(input);
    if (!buffer)
      return call.emitOpError() << "reads a value with no buffer";
    arguments.push_back(buffer);
  }
  for (Value result : call.getResults())
    arguments.push_back(buffers.lookup(result));
  SmallVector<Type> types;
  for (Value argument : arguments)
    types.push_back(kernelArgumentType(argument.getType()));
  FailureOr<func::FuncOp> lowered =
      kernels.get(kernel, b.getFunctionType(types, {}));
  if (failed(lowered))
    return failure();
  for (auto [argument, type] : llvm::zip(arguments, types))
    if (argument.getType() != type)
      argument = memref::CastOp::create(b, call.getLoc(), type, argument);
  func::CallOp::create(b, call.getLoc(), *lowered, arguments);
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
  // In a reduced precision the weights are of two element types: the
  // buffer is bytes, and each weight a view of its own type.
  bool weightBytes = manifest.precision != Precision::F32;
  auto weightsType =
      MemRefType::get({ShapedType::kDynamic}, weightBytes ? i8 : f32);
  auto stateType = MemRefType::get({ShapedType::kDynamic}, i8);

  // The C ABI (runtime/CompiledModel.cpp): init_state(state, batch);
  // decode(weights, state, tokens, logits); prefill and prefill_last(weights,
  // state, tokens, lengths, logits).
  SmallVector<Type> inputs;
  const bool hasLengths = entryTakesLengths(kind);
  if (isInit()) {
    inputs = {stateType, b.getIndexType()};
  } else {
    inputs = {weightsType, stateType, bufferType(func.getArgumentTypes()[0])};
    if (hasLengths)
      inputs.push_back(bufferType(func.getArgumentTypes()[1]));
    inputs.push_back(bufferType(func.getResultTypes()[0]));
  }
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
    logits = entry->getArgument(hasLengths ? 4 : 3);
    batch = kb.dim(tokens, 0);
    time = kb.dim(tokens, 1);
    buffers[func.getArgument(0)] = tokens;
    if (hasLengths)
      buffers[func.getArgument(1)] = entry->getArgument(3);
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
      buffers[fieldArgument(index)] = view;
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
      if (weightBytes) {
        buffers[weight.getResult()] = memref::ViewOp::create(
            b, loc, bufferType(weight.getType()), weights,
            kb.index(4 * entry->offset), ValueRange());
        continue;
      }
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
    if (isa<FusedOp>(op))
      return op.emitOpError()
             << "is a fusion group: run mm-outline-kernels before "
                "mm-lower-to-loops";
    // Each kernel call or operation is one kernel: the scratch buffers of
    // an operation emitted here live from its start to its end.
    kb.beginKernel();
    if (auto call = dyn_cast<func::CallOp>(op)) {
      if (failed(lowerCall(b, kb, call)))
        return failure();
    } else {
      for (Value result : op.getResults())
        if (failed(assignResult(b, kb, &op, result)))
          return failure();
      if (failed(emitLoops(&op, kb, lookup, kernels.getTarget())))
        return failure();
    }
    kb.endKernel();
    ++numKernels;
    freeAfter(b, &op);
  }

  // Results that could not be written in place are copied to their buffer.
  SmallVector<std::pair<Value, Value>> copies;
  for (auto [position, value] : llvm::enumerate(returnOp.getOperands())) {
    Value destination =
        position < firstField ? logits : stateViews[position - firstField];
    Value source = buffers.lookup(value);
    if (source != destination)
      copies.push_back({source, destination});
  }
  kernels.copyAll(b, loc, copies);
  for (auto &entry : allocated)
    memref::DeallocOp::create(b, loc, entry.second);
  func::ReturnOp::create(b, loc);
  return success();
}

/// On the CPU, memref.copy between buffers that are not plain arrays (the
/// kernel functions take views at any offset) would call MLIR's runtime
/// library (memrefCopy), which artifacts do not link: such copies become
/// loops, which LLVM vectorises. Plain arrays keep memref.copy (a memcpy).
/// On a GPU mm-offload-to-gpu makes every copy a kernel.
void expandViewCopies(ModuleOp module) {
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp copy) {
    auto source = cast<MemRefType>(copy.getSource().getType());
    auto target = cast<MemRefType>(copy.getTarget().getType());
    if (!source.getLayout().isIdentity() || !target.getLayout().isIdentity())
      copies.push_back(copy);
  });
  for (memref::CopyOp copy : copies) {
    OpBuilder b(copy);
    KernelBuilder kb(b, copy.getLoc());
    Value source = copy.getSource(), target = copy.getTarget();
    kb.forEachElement(source, [&](ValueRange indices) {
      kb.store(kb.load(source, indices), target, indices);
    });
    copy.erase();
  }
}

struct LowerToLoopsPass : public mm::impl::LowerToLoopsBase<LowerToLoopsPass> {
  using LowerToLoopsBase::LowerToLoopsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Manifest manifest = Manifest::fromModule(module);
    auto targetSpec =
        module->getAttrOfType<StringAttr>(MMDialect::kTargetAttrName);
    llvm::Expected<TargetInfo> target =
        TargetInfo::parse(targetSpec ? targetSpec.getValue() : "cpu");
    if (!target) {
      module.emitError() << "'" << MMDialect::kTargetAttrName
                         << "': " << llvm::toString(target.takeError());
      return signalPassFailure();
    }
    SmallVector<std::pair<func::FuncOp, EntryKind>> entries;
    SmallVector<func::FuncOp> tensorKernels;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (auto kind =
              func->getAttrOfType<EntryKindAttr>(MMDialect::kEntryAttrName))
        entries.push_back({func, kind.getValue()});
      else if (func->hasAttr(MMDialect::kFusionAttrName))
        tensorKernels.push_back(func);
    }
    KernelLoweringOptions options;
    options.gemmKernels = gemmKernels;
    options.scanKernels = scanKernels;
    options.convKernels = convKernels;
    options.normKernels = normKernels;
    options.memoryKernels = memoryKernels;
    llvm::Expected<std::vector<UserSchedule>> userSchedules =
        parseUserSchedules(scheduleFiles);
    if (!userSchedules) {
      module.emitError() << llvm::toString(userSchedules.takeError());
      return signalPassFailure();
    }
    options.userSchedules = std::move(*userSchedules);
    KernelFunctions kernelFunctions(module, *target, options);
    unsigned kernels = 0, inPlace = 0;
    for (auto [func, kind] : entries)
      if (failed(EntryLowering(func, kind, manifest, kernelFunctions, kernels,
                               inPlace)
                     .lower()))
        return signalPassFailure();
    numKernels += kernels;
    numInPlace += inPlace;
    numKernelFunctions += kernelFunctions.numBuilt;
    for (auto [func, kind] : entries)
      func.erase();
    for (func::FuncOp kernel : tensorKernels)
      kernel.erase();
    if (!target->isGpu())
      expandViewCopies(module);
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
