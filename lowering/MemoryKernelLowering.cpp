//===- MemoryKernelLowering.cpp - the memory path's GPU lowerings ---------===//
//
// The KernelLowerings of the memory and cross_layer kernels on GPU targets:
// which operations they take, the scratch tables they allocate and the
// kernels (MemoryKernels.h) and GEMMs they launch, in order.
//
//===----------------------------------------------------------------------===//

#include "lowering/DeviceKernels.h"
#include "lowering/KernelLaunch.h"
#include "lowering/MemoryKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/TypeSwitch.h"

#include <optional>
#include <utility>

using namespace mlir;
using namespace mm;

namespace {
/// Whether the values of `op` are f32 or i32 (the memory kernels' types).
bool hasMemoryKernelTypes(Operation *op) {
  for (Value value : llvm::concat<Value>(op->getOperands(), op->getResults())) {
    Type element = getElementTypeOrSelf(value.getType());
    if (!element.isF32() && !element.isInteger(32))
      return false;
  }
  return true;
}

/// The static sizes of a pool's slots [B, M, S] (0 where dynamic).
std::pair<int64_t, int64_t> poolSizes(Value slots) {
  auto type = cast<RankedTensorType>(slots.getType());
  auto size = [&](unsigned i) {
    return ShapedType::isDynamic(type.getDimSize(i)) ? 0 : type.getDimSize(i);
  };
  return {size(1), size(2)};
}

/// The memref type of the buffer of the kernel's argument `value` in the
/// lowered function's type (batch, time, then the arguments' buffers), or
/// null.
MemRefType argumentBuffer(Value value, FunctionType lowered) {
  auto argument = dyn_cast<BlockArgument>(value);
  if (!argument || argument.getArgNumber() + 2 >= lowered.getNumInputs())
    return nullptr;
  return dyn_cast<MemRefType>(lowered.getInput(argument.getArgNumber() + 2));
}

/// A f32 GEMM kernel's specification, y = x W^T with W [n, k].
GemmKernelSpec memoryGemmSpec(std::string name, int64_t n, int64_t k,
                              bool fewRows, Type f32) {
  GemmKernelSpec spec;
  spec.name = std::move(name);
  spec.n = n;
  spec.k = k;
  spec.aType = f32;
  spec.wType = f32;
  spec.fewRows = fewRows;
  return spec;
}

/// The operations of a memory kernel: one layer's read trigger, note, pool
/// attention and pool update over the same pool and notes (as
/// mm-decompose-layers makes them), with static widths and f32 values.
struct MemoryOperations {
  ReadTriggerOp trigger;
  NoteOp note;
  PoolAttentionOp attention;
  PoolUpdateOp update;
};

std::optional<MemoryOperations> memoryOperations(func::FuncOp kernel) {
  MemoryOperations ops;
  for (Operation &op : kernel.front().without_terminator()) {
    bool duplicate = llvm::TypeSwitch<Operation *, bool>(&op)
                         .Case([&](ReadTriggerOp x) {
                           return std::exchange(ops.trigger, x) != nullptr;
                         })
                         .Case([&](NoteOp x) {
                           return std::exchange(ops.note, x) != nullptr;
                         })
                         .Case([&](PoolAttentionOp x) {
                           return std::exchange(ops.attention, x) != nullptr;
                         })
                         .Case([&](PoolUpdateOp x) {
                           return std::exchange(ops.update, x) != nullptr;
                         })
                         .Default([](Operation *) { return true; });
    if (duplicate || !hasMemoryKernelTypes(&op))
      return std::nullopt;
  }
  if (!ops.trigger || !ops.note || !ops.attention || !ops.update)
    return std::nullopt;
  PoolAttentionOp attention = ops.attention;
  PoolUpdateOp update = ops.update;
  if (attention.getTrigger() != ops.trigger.getResult() ||
      attention.getInput() != ops.note.getInput() ||
      attention.getScore() != ops.note.getScore() ||
      attention.getSummary() != ops.note.getSummary() ||
      update.getScore() != ops.note.getScore() ||
      update.getSummary() != ops.note.getSummary() ||
      attention.getSlots() != update.getSlots() ||
      attention.getPriorities() != update.getPriorities() ||
      attention.getPositions() != update.getPositions() ||
      attention.getCount() != update.getCount() ||
      attention.getNoteThreshold() != update.getNoteThreshold() ||
      attention.getEviction() != update.getEviction())
    return std::nullopt;
  auto [m, s] = poolSizes(update.getSlots());
  auto input = cast<RankedTensorType>(ops.note.getInput().getType());
  if (!m || !s || ShapedType::isDynamic(input.getDimSize(2)) ||
      s % attention.getHeads())
    return std::nullopt;
  // The step kernel (one token per sequence) takes no lengths.
  if (update.getLengths() && input.getDimSize(1) == 1)
    return std::nullopt;
  return ops;
}

/// The GEMMs of the memory kernels (each y = x W^T, x [B, T, k]) exist on
/// `target` for x of type `input` and outputs of `summary` values.
bool memoryGemmsFit(MemRefType input, int64_t width, int64_t summary,
                    const TargetInfo &target) {
  if (!input)
    return false;
  bool step = input.getDimSize(1) == 1;
  auto context =
      MemRefType::get({ShapedType::kDynamic, input.getDimSize(1), summary},
                      input.getElementType());
  Type f32 = input.getElementType();
  return f32.isF32() &&
         gemmFits(memoryGemmSpec("query", summary, width, step, f32), input,
                  target) &&
         gemmFits(memoryGemmSpec("output", width, summary, step, f32), context,
                  target);
}

/// Whether `input`, a kernel's buffer of tokens [B, T, D], holds one token
/// per sequence (a decode step).
bool isStep(MemRefType input) { return input && input.getDimSize(1) == 1; }

/// The decode step's kernel of a memory kernel's operations.
MemoryStepKernelSpec memoryStepSpec(MemoryOperations ops) {
  auto [m, s] = poolSizes(ops.update.getSlots());
  MemoryStepKernelSpec spec;
  spec.width =
      cast<RankedTensorType>(ops.note.getInput().getType()).getDimSize(2);
  spec.summary = s;
  spec.poolSize = m;
  spec.heads = ops.attention.getHeads();
  spec.noteThreshold = ops.update.getNoteThreshold().convertToDouble();
  spec.readThreshold = ops.attention.getReadThreshold().convertToDouble();
  spec.eviction = ops.update.getEviction();
  return spec;
}

/// Scratch buffers of a memory kernel, freed after it.
class ScratchBuffers {
public:
  explicit ScratchBuffers(KernelBuilder &kb) : kb(kb) {}
  ~ScratchBuffers() {
    for (Value buffer : buffers)
      kb.dealloc(buffer);
  }
  Value make(ArrayRef<int64_t> shape, Type element, ValueRange dynamic) {
    buffers.push_back(kb.alloc(shape, element, dynamic));
    return buffers.back();
  }

private:
  KernelBuilder &kb;
  SmallVector<Value> buffers;
};

/// The membership tables of one pool: each token's row, the rows (sources
/// of each slot), their valid slots and the last row.
struct MembershipTables {
  Value rowOf, rows, rowCounts, lastRow;
};

MembershipTables makeMembershipTables(KernelBuilder &kb,
                                      ScratchBuffers &scratch, Value batch,
                                      Value time, int64_t poolSize) {
  Type i32 = kb.builder().getI32Type();
  int64_t dynamic = ShapedType::kDynamic;
  Value rowsPerSequence = kb.addi(time, kb.index(1));
  return {
      scratch.make({dynamic, dynamic}, i32, {batch, time}),
      scratch.make({dynamic, dynamic, poolSize}, i32, {batch, rowsPerSequence}),
      scratch.make({dynamic, dynamic}, i32, {batch, rowsPerSequence}),
      scratch.make({dynamic}, i32, {batch})};
}

/// What both memory lowerings set up at the kernel's insertion point: the
/// gpu.module and names for the kernels they add, the batch and time of
/// their input u [B, T, D], whether there is a sequence (a grid needs one)
/// and a token, and the queries' and attention outputs' scratch buffers
/// [B, T, S], freed where the lowering ends.
struct MemoryLaunch {
  MemoryLaunch(KernelBuilder &kb, Value u, int64_t summary)
      : kb(kb), scratch(kb) {
    OpBuilder &b = kb.builder();
    Location loc = kb.location();
    lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
    kernels = kernelModule(lowered->getParentOfType<ModuleOp>(), b, loc);
    f32 = b.getF32Type();
    step = cast<MemRefType>(u.getType()).getDimSize(1) == 1;
    batch = kb.dim(u, 0);
    time = kb.dim(u, 1);
    Value zero = kb.index(0);
    anySequence =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, batch, zero);
    anyToken = kb.andi(
        anySequence,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, time, zero));
    int64_t dynamic = ShapedType::kDynamic;
    query = scratch.make({dynamic, dynamic, summary}, f32, {batch, time});
    context = scratch.make({dynamic, dynamic, summary}, f32, {batch, time});
  }
  /// The next kernel's name: the lowered function's, then _0, _1, ...
  std::string nextName() {
    return (lowered.getSymName() + "_" + llvm::Twine(next++)).str();
  }
  /// A f32 GEMM kernel y = x W^T, W [n, k], for the tokens of u.
  GemmKernelSpec gemm(int64_t n, int64_t k) {
    return memoryGemmSpec(nextName(), n, k, step, f32);
  }
  /// Launches `function` when there is a sequence (`perToken`: and a
  /// token).
  void launch(gpu::GPUFuncOp function, gpu::KernelDim3 grid, int64_t threads,
              int64_t sharedBytes, ValueRange arguments, bool perToken) {
    kb.ifThen(perToken ? anyToken : anySequence, [&] {
      launchKernel(kb, function, grid, threads, sharedBytes, arguments);
    });
  }

  /// Launches the membership kernel of `spec` (named here), a warp per
  /// sequence; the kernel is built once for the lowering's sources whose
  /// buffers have the same types.
  LogicalResult membership(PoolMembershipKernelSpec spec, ValueRange arguments,
                           const TargetInfo &target, Operation *op) {
    SmallVector<Type> types(arguments.getTypes());
    if (!membershipKernel || membershipTypes != types) {
      spec.name = nextName();
      auto function = buildPoolMembershipKernel(kernels, spec, types, target);
      if (!function)
        return op->emitOpError() << llvm::toString(function.takeError());
      membershipKernel = *function;
      membershipTypes = types;
    }
    launch(membershipKernel, {batch, kb.index(1), kb.index(1)},
           target.subgroupWidth, poolMembershipSharedBytes(spec), arguments,
           /*perToken=*/false);
    return success();
  }
  /// Builds the attention kernel of `spec` and launches it, a warp per
  /// token.
  LogicalResult attention(const PoolAttentionKernelSpec &spec,
                          ValueRange arguments, const TargetInfo &target,
                          Operation *op) {
    auto function =
        buildPoolAttentionKernel(kernels, spec, arguments.getTypes(), target);
    if (!function)
      return op->emitOpError() << llvm::toString(function.takeError());
    launch(*function, {time, batch, kb.index(1)}, target.subgroupWidth,
           poolAttentionSharedBytes(spec), arguments, /*perToken=*/true);
    return success();
  }

  KernelBuilder &kb;
  func::FuncOp lowered;
  gpu::GPUModuleOp kernels;
  Type f32;
  bool step = false;
  Value batch, time, anySequence, anyToken;
  ScratchBuffers scratch;
  Value query, context;

private:
  int next = 0;
  gpu::GPUFuncOp membershipKernel;
  SmallVector<Type> membershipTypes;
};

/// Builds a decode step's kernel (`build`, named after the lowered
/// function: `name` is set) and launches it over `arguments` (each must
/// have a buffer), a block per sequence of the first, `sharedBytes` of
/// shared memory.
LogicalResult
launchStep(KernelBuilder &kb, std::string &name, ValueRange arguments,
           const TargetInfo &target, Operation *op, int64_t sharedBytes,
           llvm::function_ref<llvm::Expected<gpu::GPUFuncOp>(gpu::GPUModuleOp,
                                                             TypeRange)>
               build) {
  if (llvm::is_contained(arguments, Value()))
    return op->emitOpError() << "has an operand without a buffer";
  OpBuilder &b = kb.builder();
  Location loc = kb.location();
  auto lowered = cast<func::FuncOp>(b.getInsertionBlock()->getParentOp());
  name = (lowered.getSymName() + "_0").str();
  auto function =
      build(kernelModule(lowered->getParentOfType<ModuleOp>(), b, loc),
            arguments.getTypes());
  if (!function)
    return op->emitOpError() << llvm::toString(function.takeError());
  Value batch = kb.dim(arguments.front(), 0);
  Value anySequence = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                            batch, kb.index(0));
  kb.ifThen(anySequence, [&] {
    launchKernel(kb, *function, {batch, kb.index(1), kb.index(1)},
                 wholeWarpThreads(target), sharedBytes, arguments);
  });
  return success();
}

/// The memory block on a GPU in its parallel form (MemoryKernels.h): the
/// scores a thread per token, the summaries and queries as GEMMs, the pool
/// membership a warp per sequence, the attention a warp per token, its
/// output projection a GEMM, and the pool's new summaries; seven launches
/// instead of the loop emitters' thread per sequence walking the tokens.
/// A decode step (one token per sequence) is one kernel, a block per
/// sequence.
class GpuMemoryKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "memory"; }

  bool accepts(func::FuncOp kernel, FunctionType lowered,
               const TargetInfo &target) const override {
    if (!target.isGpu())
      return false;
    std::optional<MemoryOperations> ops = memoryOperations(kernel);
    if (!ops)
      return false;
    MemRefType input = argumentBuffer(ops->note.getInput(), lowered);
    if (isStep(input))
      return input.getElementType().isF32() &&
             memoryStepSharedBytes(memoryStepSpec(*ops)) <=
                 target.sharedMemoryBytes;
    auto [m, s] = poolSizes(ops->update.getSlots());
    PoolMembershipKernelSpec membership;
    membership.poolSize = m;
    PoolAttentionKernelSpec attention;
    attention.summary = s;
    attention.poolSize = m;
    int64_t width =
        cast<RankedTensorType>(ops->note.getInput().getType()).getDimSize(2);
    return poolMembershipSharedBytes(membership) <= target.sharedMemoryBytes &&
           poolAttentionSharedBytes(attention) <= target.sharedMemoryBytes &&
           memoryGemmsFit(argumentBuffer(ops->note.getInput(), lowered), width,
                          s, target);
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate,
                     const TargetInfo &target) const override {
    MemoryOperations ops = *memoryOperations(kernel);
    NoteOp note = ops.note;
    PoolAttentionOp attention = ops.attention;
    PoolUpdateOp update = ops.update;
    auto bufferOrNew = [&](Value value) {
      Value existing = buffer(value);
      return existing ? existing : allocate(value);
    };
    Value u = buffer(note.getInput()), score = bufferOrNew(note.getScore()),
          summary = bufferOrNew(note.getSummary()),
          trigger = bufferOrNew(ops.trigger.getResult()),
          tokenContext = bufferOrNew(attention.getResult()),
          slots = buffer(update.getSlots()),
          slotsOut = bufferOrNew(update.getSlotsOut());
    SmallVector<Value> scoreArguments = {u,
                                         buffer(note.getScoreWeight()),
                                         buffer(note.getScoreBias()),
                                         score,
                                         buffer(ops.trigger.getMixer()),
                                         buffer(ops.trigger.getPrevious()),
                                         buffer(ops.trigger.getWeight()),
                                         buffer(ops.trigger.getBias()),
                                         trigger};
    SmallVector<Value> poolBefore = {
        buffer(update.getPriorities()), buffer(update.getPositions()),
        buffer(update.getCount()), buffer(update.getPosition())};
    SmallVector<Value> poolAfter = {bufferOrNew(update.getPrioritiesOut()),
                                    bufferOrNew(update.getPositionsOut()),
                                    bufferOrNew(update.getCountOut())};
    if (llvm::is_contained(scoreArguments, Value()) ||
        llvm::is_contained(poolBefore, Value()) ||
        llvm::is_contained(poolAfter, Value()) || !summary || !tokenContext ||
        !slots || !slotsOut)
      return note.emitOpError() << "has an operand without a buffer";

    if (isStep(cast<MemRefType>(u.getType()))) {
      SmallVector<Value> arguments = {u,
                                      buffer(note.getScoreWeight()),
                                      buffer(note.getScoreBias()),
                                      buffer(ops.trigger.getPrevious()),
                                      buffer(ops.trigger.getWeight()),
                                      buffer(ops.trigger.getBias()),
                                      buffer(note.getSummaryWeight()),
                                      buffer(attention.getQueryWeight()),
                                      buffer(attention.getKeyWeight()),
                                      buffer(attention.getValueWeight()),
                                      buffer(attention.getOutputWeight()),
                                      slots};
      llvm::append_range(arguments, poolBefore);
      llvm::append_range(arguments, ValueRange{score, trigger, summary,
                                               tokenContext, slotsOut});
      llvm::append_range(arguments, poolAfter);
      MemoryStepKernelSpec spec = memoryStepSpec(ops);
      return launchStep(
          kb, spec.name, arguments, target, note, memoryStepSharedBytes(spec),
          [&](gpu::GPUModuleOp kernels, TypeRange types) {
            return buildMemoryStepKernel(kernels, spec, types, target);
          });
    }

    auto [m, s] = poolSizes(update.getSlots());
    int64_t width =
        cast<RankedTensorType>(note.getInput().getType()).getDimSize(2);
    MemoryLaunch launch(kb, u, s);
    MembershipTables tables =
        makeMembershipTables(kb, launch.scratch, launch.batch, launch.time, m);

    // The scores of every token.
    NoteScoresKernelSpec scoresSpec;
    scoresSpec.name = launch.nextName();
    scoresSpec.width = width;
    scoresSpec.trigger = true;
    auto scores =
        buildNoteScoresKernel(launch.kernels, scoresSpec,
                              ValueRange(scoreArguments).getTypes(), target);
    if (!scores)
      return note.emitOpError() << llvm::toString(scores.takeError());
    int64_t scoreThreads = noteScoresThreads(target);
    Value scoreBlocks = arith::CeilDivUIOp::create(
        kb.builder(), kb.location(), launch.time, kb.index(scoreThreads));
    launch.launch(*scores, {scoreBlocks, launch.batch, kb.index(1)},
                  scoreThreads, 0, scoreArguments, /*perToken=*/true);
    // The summaries and queries: GEMMs over every token (one kernel: the
    // weights have the same shape).
    llvm::Expected<GemmKernel> project =
        buildGemmKernel(launch.kernels, launch.gemm(s, width), target);
    if (!project)
      return note.emitOpError() << llvm::toString(project.takeError());
    launchGemm(kb, *project, u, buffer(note.getSummaryWeight()), summary);
    launchGemm(kb, *project, u, buffer(attention.getQueryWeight()),
               launch.query);

    // The pool each token reads, and the pool after the chunk.
    PoolMembershipKernelSpec membershipSpec;
    membershipSpec.poolSize = m;
    membershipSpec.noteThreshold = update.getNoteThreshold().convertToDouble();
    membershipSpec.eviction = update.getEviction();
    membershipSpec.update = true;
    membershipSpec.lengths = bool(update.getLengths());
    SmallVector<Value> membershipArguments = {score};
    llvm::append_range(membershipArguments, poolBefore);
    if (update.getLengths())
      membershipArguments.push_back(buffer(update.getLengths()));
    llvm::append_range(membershipArguments,
                       ValueRange{tables.rows, tables.rowCounts, tables.rowOf,
                                  tables.lastRow});
    llvm::append_range(membershipArguments, poolAfter);
    if (failed(launch.membership(membershipSpec, membershipArguments, target,
                                 update)))
      return failure();

    // The attention, a warp per token, then its output projection.
    PoolAttentionKernelSpec attentionSpec;
    attentionSpec.name = launch.nextName();
    attentionSpec.summary = s;
    attentionSpec.poolSize = m;
    attentionSpec.heads = attention.getHeads();
    attentionSpec.trigger = true;
    attentionSpec.readThreshold =
        attention.getReadThreshold().convertToDouble();
    Value attentionArguments[] = {launch.query,
                                  trigger,
                                  tables.rowOf,
                                  tables.rows,
                                  tables.rowCounts,
                                  summary,
                                  slots,
                                  buffer(attention.getKeyWeight()),
                                  buffer(attention.getValueWeight()),
                                  launch.context};
    if (failed(launch.attention(attentionSpec, attentionArguments, target,
                                attention)) ||
        failed(launchGemm(kb, launch.kernels, launch.gemm(width, s),
                          launch.context, buffer(attention.getOutputWeight()),
                          tokenContext, target, attention)))
      return failure();

    // The pool's summaries, once the attention has read the old ones.
    PoolSlotsKernelSpec slotsSpec;
    slotsSpec.name = launch.nextName();
    slotsSpec.summary = s;
    slotsSpec.poolSize = m;
    SmallVector<Value> slotsArguments = {tables.rows, tables.lastRow, summary,
                                         slots, slotsOut};
    auto writeSlots =
        buildPoolSlotsKernel(launch.kernels, slotsSpec,
                             ValueRange(slotsArguments).getTypes(), target);
    if (!writeSlots)
      return update.emitOpError() << llvm::toString(writeSlots.takeError());
    launch.launch(*writeSlots, {launch.batch, kb.index(1), kb.index(1)},
                  poolSlotsThreads(slotsSpec, target), 0, slotsArguments,
                  /*perToken=*/false);
    return success();
  }
};

/// The cross-layer attention of a cross_layer kernel, with static widths
/// and f32 values.
CrossLayerAttentionOp crossLayerOperation(func::FuncOp kernel) {
  Block &body = kernel.front();
  if (!llvm::hasSingleElement(body.without_terminator()))
    return {};
  auto op = dyn_cast<CrossLayerAttentionOp>(body.front());
  if (!op || !hasMemoryKernelTypes(op) || op.getSlots().empty())
    return {};
  auto [m, s] = poolSizes(op.getSlots().front());
  auto input = cast<RankedTensorType>(op.getInput().getType());
  if (!m || !s || ShapedType::isDynamic(input.getDimSize(2)) ||
      s % op.getHeads())
    return {};
  for (Value slots : op.getSlots())
    if (poolSizes(slots) != std::make_pair(m, s))
      return {};
  return op;
}

/// The decode step's kernel of a cross-layer attention.
CrossLayerStepKernelSpec crossLayerStepSpec(CrossLayerAttentionOp op) {
  auto [m, s] = poolSizes(op.getSlots().front());
  CrossLayerStepKernelSpec spec;
  spec.width = cast<RankedTensorType>(op.getInput().getType()).getDimSize(2);
  spec.summary = s;
  spec.poolSize = m;
  spec.heads = op.getHeads();
  spec.sources = op.getSlots().size();
  spec.noteThreshold = op.getNoteThreshold().convertToDouble();
  spec.eviction = op.getEviction();
  return spec;
}

/// The cross-layer attention on a GPU in its parallel form: the queries a
/// GEMM, each source pool's membership after every token a warp per
/// sequence, the attention over the sources a warp per token, its output
/// projection a GEMM; instead of the loop emitters' single thread. A
/// decode step is one kernel, a block per sequence.
class GpuCrossLayerKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "cross_layer"; }

  bool accepts(func::FuncOp kernel, FunctionType lowered,
               const TargetInfo &target) const override {
    if (!target.isGpu())
      return false;
    CrossLayerAttentionOp op = crossLayerOperation(kernel);
    if (!op)
      return false;
    MemRefType input = argumentBuffer(op.getInput(), lowered);
    if (isStep(input))
      return input.getElementType().isF32() &&
             crossLayerStepSharedBytes(crossLayerStepSpec(op)) <=
                 target.sharedMemoryBytes;
    auto [m, s] = poolSizes(op.getSlots().front());
    PoolMembershipKernelSpec membership;
    membership.poolSize = m;
    PoolAttentionKernelSpec attention;
    attention.summary = s;
    attention.poolSize = m;
    attention.sources = op.getSlots().size();
    int64_t width =
        cast<RankedTensorType>(op.getInput().getType()).getDimSize(2);
    return poolMembershipSharedBytes(membership) <= target.sharedMemoryBytes &&
           poolAttentionSharedBytes(attention) <= target.sharedMemoryBytes &&
           memoryGemmsFit(argumentBuffer(op.getInput(), lowered), width, s,
                          target);
  }

  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate,
                     const TargetInfo &target) const override {
    CrossLayerAttentionOp op = crossLayerOperation(kernel);
    Value u = buffer(op.getInput());
    Value out = buffer(op.getResult());
    if (!out)
      out = allocate(op.getResult());
    size_t sources = op.getSlots().size();
    if (isStep(cast<MemRefType>(u.getType()))) {
      SmallVector<Value> arguments = {
          u, buffer(op.getQueryWeight()), buffer(op.getKeyWeight()),
          buffer(op.getValueWeight()), buffer(op.getOutputWeight())};
      for (size_t j = 0; j < sources; ++j)
        llvm::append_range(arguments, ValueRange{buffer(op.getScores()[j]),
                                                 buffer(op.getSummaries()[j]),
                                                 buffer(op.getSlots()[j]),
                                                 buffer(op.getPriorities()[j]),
                                                 buffer(op.getPositions()[j]),
                                                 buffer(op.getCounts()[j])});
      arguments.push_back(out);
      CrossLayerStepKernelSpec spec = crossLayerStepSpec(op);
      return launchStep(
          kb, spec.name, arguments, target, op, crossLayerStepSharedBytes(spec),
          [&](gpu::GPUModuleOp kernels, TypeRange types) {
            return buildCrossLayerStepKernel(kernels, spec, types, target);
          });
    }
    auto [m, s] = poolSizes(op.getSlots().front());
    int64_t width =
        cast<RankedTensorType>(op.getInput().getType()).getDimSize(2);
    MemoryLaunch launch(kb, u, s);
    if (failed(launchGemm(kb, launch.kernels, launch.gemm(s, width), u,
                          buffer(op.getQueryWeight()), launch.query, target,
                          op)))
      return failure();

    // Each source pool as it stands after every token: one kernel for all
    // (their buffers have the same types), launched per source.
    PoolMembershipKernelSpec membershipSpec;
    membershipSpec.poolSize = m;
    membershipSpec.noteThreshold = op.getNoteThreshold().convertToDouble();
    membershipSpec.eviction = op.getEviction();
    membershipSpec.after = true;
    SmallVector<Value> attentionArguments = {launch.query};
    for (size_t j = 0; j < sources; ++j) {
      MembershipTables tables = makeMembershipTables(
          kb, launch.scratch, launch.batch, launch.time, m);
      Value arguments[] = {buffer(op.getScores()[j]),
                           buffer(op.getPriorities()[j]),
                           buffer(op.getPositions()[j]),
                           buffer(op.getCounts()[j]),
                           tables.rows,
                           tables.rowCounts,
                           tables.rowOf,
                           tables.lastRow};
      if (llvm::is_contained(arguments, Value()))
        return op.emitOpError() << "has an operand without a buffer";
      if (failed(launch.membership(membershipSpec, arguments, target, op)))
        return failure();
      llvm::append_range(attentionArguments,
                         ValueRange{tables.rowOf, tables.rows, tables.rowCounts,
                                    buffer(op.getSummaries()[j]),
                                    buffer(op.getSlots()[j])});
    }
    attentionArguments.append({buffer(op.getKeyWeight()),
                               buffer(op.getValueWeight()), launch.context});
    if (llvm::is_contained(attentionArguments, Value()))
      return op.emitOpError() << "has an operand without a buffer";

    PoolAttentionKernelSpec attentionSpec;
    attentionSpec.name = launch.nextName();
    attentionSpec.summary = s;
    attentionSpec.poolSize = m;
    attentionSpec.heads = op.getHeads();
    attentionSpec.sources = sources;
    if (failed(launch.attention(attentionSpec, attentionArguments, target, op)))
      return failure();
    return launchGemm(kb, launch.kernels, launch.gemm(width, s), launch.context,
                      buffer(op.getOutputWeight()), out, target, op);
  }
};

} // namespace

const KernelLowering &mm::gpuMemoryKernelLowering() {
  static const GpuMemoryKernelLowering lowering;
  return lowering;
}

const KernelLowering &mm::gpuCrossLayerKernelLowering() {
  static const GpuCrossLayerKernelLowering lowering;
  return lowering;
}
