//===- FuseKernels.cpp - group mm operations into kernels -----------------===//
//
// Forms the fusion groups of each entry point: one mm.fused per future
// kernel. Groups are formed in program order by a few local rules (a gate
// joins the scan it gates, memory-block operations join each other, an
// RMSNorm joins the residual it normalises, even across operations that do
// not read the residual; with scan-step-delta, a decode step's scan joins
// the linear computing its delta), then each group is moved into its region at
// the place of its last operation: its inputs are the values it reads from
// outside, its results the values read after it.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/KernelSizes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"

namespace mm {
#define GEN_PASS_DEF_FUSEKERNELS
#include "passes/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// The kernel kind of a lone operation.
FusionKind kindOf(Operation *op) {
  if (isa<EmbedOp>(op))
    return FusionKind::embed;
  if (isa<RMSNormOp>(op))
    return FusionKind::norm;
  if (isa<LinearOp, LMHeadOp>(op))
    return FusionKind::gemm;
  if (isa<CausalConv1dOp>(op))
    return FusionKind::conv;
  if (isa<SelectiveScanOp>(op))
    return FusionKind::scan;
  if (isa<ReadTriggerOp, NoteOp, PoolAttentionOp, PoolUpdateOp>(op))
    return FusionKind::memory;
  if (isa<CrossLayerAttentionOp>(op))
    return FusionKind::cross_layer;
  if (isa<GateOp, ResidualOp>(op))
    return FusionKind::elementwise;
  return FusionKind::state;
}

struct Group {
  FusionKind kind;
  SmallVector<Operation *> ops;
};

struct FuseKernelsPass : public mm::impl::FuseKernelsBase<FuseKernelsPass> {
  using FuseKernelsBase::FuseKernelsBase;

  void runOnOperation() override;

private:
  SmallVector<Group> formGroups(Block &body, bool fuse);
  FusionAttr strategyOf(FusionKind kind);
  void materialize(Group &group);
  /// Parses kernel-sizes and unfuse; false (after an error on `module`) when
  /// one names a kind, a size or a value that does not exist.
  bool parsePerKindOptions(ModuleOp module);

  /// kernel-sizes, by kind: the sizes that replace the options' values.
  DenseMap<FusionKind, SmallVector<std::pair<std::string, int64_t>>> kindSizes;
  /// unfuse.
  llvm::SmallDenseSet<FusionKind> unfusedKinds;
};

/// The group of the residual that `norm` normalises, if that residual is
/// alone in its group.
Group *producerGroupOfResidual(MutableArrayRef<Group> groups,
                               const DenseMap<Operation *, size_t> &groupOf,
                               RMSNormOp norm) {
  auto it = groupOf.find(norm.getInput().getDefiningOp());
  if (it == groupOf.end() || groups[it->second].ops.size() != 1)
    return nullptr;
  return &groups[it->second];
}

/// Whether `scan` runs one token per sequence and its delta is a linear
/// without bias that only the scan reads: the scan kernel's step form can
/// compute that delta itself (a dot of R inputs per channel), saving the
/// linear's launch.
bool hasStepDelta(SelectiveScanOp scan) {
  auto u = cast<RankedTensorType>(scan.getU().getType());
  auto linear = scan.getDelta().getDefiningOp<LinearOp>();
  return u.getDimSize(1) == 1 && linear && !linear.getBias() &&
         scan.getDelta().hasOneUse();
}

/// The group formed so far that `op` may join, if any: a gate joins the
/// scan it gates, an RMSNorm the residual it normalises (both when they are
/// their producer's only reader), a memory-block operation the memory
/// group just before it (the operations of one layer's memory block are
/// adjacent in program order, those of different layers never are), and
/// with `stepDelta` a decode step's scan the linear of its delta.
Group *groupToJoin(MutableArrayRef<Group> groups,
                   const DenseMap<Operation *, size_t> &groupOf, Operation *op,
                   bool stepDelta, llvm::function_ref<bool(FusionKind)> fuses) {
  // The group of `value`'s producer when `value` is its only result read
  // (once) and the producer is the group's last operation.
  auto producerGroup = [&](Value value, size_t size = 1) -> Group * {
    Operation *producer = value.getDefiningOp();
    auto it = groupOf.find(producer);
    if (it == groupOf.end() || groups[it->second].ops.size() != size ||
        groups[it->second].ops.back() != producer || !value.hasOneUse())
      return nullptr;
    return &groups[it->second];
  };
  stepDelta = stepDelta && fuses(FusionKind::scan);
  if (auto scan = dyn_cast<SelectiveScanOp>(op))
    if (stepDelta && hasStepDelta(scan))
      return producerGroup(scan.getDelta());
  if (auto gate = dyn_cast<GateOp>(op))
    if (auto scan = gate.getInput().getDefiningOp<SelectiveScanOp>();
        scan && fuses(FusionKind::scan))
      return producerGroup(gate.getInput(),
                           stepDelta && hasStepDelta(scan) ? 2 : 1);
  // The residual's result also feeds the next residual: the group yields it.
  if (auto norm = dyn_cast<RMSNormOp>(op))
    if (norm.getInput().getDefiningOp<ResidualOp>() && fuses(FusionKind::norm))
      return producerGroupOfResidual(groups, groupOf, norm);
  if (kindOf(op) == FusionKind::memory && fuses(FusionKind::memory) &&
      !groups.empty() && groups.back().kind == FusionKind::memory)
    return &groups.back();
  return nullptr;
}

SmallVector<Group> FuseKernelsPass::formGroups(Block &body, bool fuse) {
  SmallVector<Group> groups;
  DenseMap<Operation *, size_t> groupOf;
  for (Operation &op : body.without_terminator()) {
    if (isa<WeightOp, SplitOp>(op))
      continue;
    if (fuse)
      if (Group *group = groupToJoin(
              groups, groupOf, &op, scanStepDelta,
              [&](FusionKind kind) { return !unfusedKinds.contains(kind); })) {
        group->ops.push_back(&op);
        groupOf[&op] = group - groups.data();
        if (isa<RMSNormOp>(op))
          group->kind = FusionKind::norm;
        if (isa<SelectiveScanOp>(op))
          group->kind = FusionKind::scan;
        continue;
      }
    groupOf[&op] = groups.size();
    groups.push_back({kindOf(&op), {&op}});
  }
  // A group whose early results are read before its last operation cannot
  // become one region: split it back into single operations.
  SmallVector<Group> checked;
  for (Group &group : groups) {
    llvm::SmallPtrSet<Operation *, 8> members(group.ops.begin(),
                                              group.ops.end());
    Operation *last = group.ops.back();
    bool contiguous = llvm::all_of(group.ops, [&](Operation *op) {
      return llvm::all_of(op->getUsers(), [&](Operation *user) {
        return members.contains(user) || !user->isBeforeInBlock(last);
      });
    });
    if (contiguous) {
      checked.push_back(std::move(group));
      continue;
    }
    for (Operation *op : group.ops)
      checked.push_back({kindOf(op), {op}});
  }
  return checked;
}

FusionAttr FuseKernelsPass::strategyOf(FusionKind kind) {
  MLIRContext *context = &getContext();
  Builder b(context);
  SmallVector<NamedAttribute> params;
  if (kind == FusionKind::gemm) {
    params.push_back(b.getNamedAttr("rows", b.getI64IntegerAttr(gemmRows)));
    params.push_back(b.getNamedAttr("tokens", b.getI64IntegerAttr(gemmTokens)));
    params.push_back(
        b.getNamedAttr("rows_at_once", b.getI64IntegerAttr(gemmRowsAtOnce)));
  } else if (kind == FusionKind::scan || kind == FusionKind::conv) {
    params.push_back(
        b.getNamedAttr("channels", b.getI64IntegerAttr(scanChannels)));
    // The GPU scan kernel's sizes, where given (absent: its defaults).
    for (auto [size, value] : {std::pair<const KernelSize &, int64_t>{
                                   kScanBlockChannels, scanBlockChannels},
                               {kScanChunk, scanChunk}})
      if (kind == FusionKind::scan && value)
        params.push_back(
            b.getNamedAttr(size.key, b.getI64IntegerAttr(value)));
  }
  // The sizes given for this kind alone replace the options' values.
  for (const auto &[key, value] : kindSizes.lookup(kind)) {
    auto *existing = llvm::find_if(
        params, [&](NamedAttribute param) { return param.getName() == key; });
    NamedAttribute param = b.getNamedAttr(key, b.getI64IntegerAttr(value));
    if (existing != params.end())
      *existing = param;
    else
      params.push_back(param);
  }
  return FusionAttr::get(context, kind, b.getDictionaryAttr(params));
}

bool FuseKernelsPass::parsePerKindOptions(ModuleOp module) {
  for (const std::string &entry : kernelSizes) {
    auto [name, valueText] = StringRef(entry).split('=');
    auto [kindText, key] = name.split('.');
    int64_t value = 0;
    if (key.empty() || valueText.getAsInteger(10, value)) {
      module.emitError() << "kernel-sizes entry '" << entry
                         << "': expected KIND.SIZE=VALUE (gemm.tokens=2)";
      return false;
    }
    std::optional<FusionKind> kind = symbolizeFusionKind(kindText);
    if (!kind || FusionAttr::paramNames(*kind).empty()) {
      module.emitError() << "kernel-sizes entry '" << entry << "': no kind '"
                         << kindText
                         << "' takes sizes (gemm, conv and scan do)";
      return false;
    }
    if (!llvm::is_contained(FusionAttr::paramNames(*kind), key)) {
      module.emitError() << "kernel-sizes entry '" << entry << "': a "
                         << kindText << " kernel has no size '" << key
                         << "' (it takes "
                         << llvm::join(FusionAttr::paramNames(*kind), ", ")
                         << ")";
      return false;
    }
    const KernelSize *size = lookupFusionSize(key);
    if (size && !inRange(*size, value)) {
      module.emitError() << "kernel-sizes entry '" << entry << "': " << key
                         << " " << rangeError(*size, value);
      return false;
    }
    auto &sizes = kindSizes[*kind];
    llvm::erase_if(sizes, [&](const auto &set) { return set.first == key; });
    sizes.emplace_back(key.str(), value);
  }
  for (const std::string &name : unfuse) {
    std::optional<FusionKind> kind = symbolizeFusionKind(name);
    if (!kind || (*kind != FusionKind::scan && *kind != FusionKind::norm &&
                  *kind != FusionKind::memory)) {
      module.emitError() << "unfuse: '" << name
                         << "' is not a kind that fuses (scan, norm or "
                            "memory)";
      return false;
    }
    unfusedKinds.insert(*kind);
  }
  return true;
}

void FuseKernelsPass::materialize(Group &group) {
  llvm::SmallPtrSet<Operation *, 8> members(group.ops.begin(), group.ops.end());
  llvm::SetVector<Value> inputs;
  SmallVector<Value> outputs;
  for (Operation *op : group.ops) {
    for (Value operand : op->getOperands())
      if (!members.contains(operand.getDefiningOp()))
        inputs.insert(operand);
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !members.contains(user);
          }))
        outputs.push_back(result);
  }
  Operation *last = group.ops.back();
  OpBuilder b(last->getContext());
  b.setInsertionPointAfter(last);
  SmallVector<Type> resultTypes;
  for (Value output : outputs)
    resultTypes.push_back(output.getType());
  auto fused = FusedOp::create(b, last->getLoc(), resultTypes,
                               strategyOf(group.kind), inputs.getArrayRef());
  Block *body = new Block();
  fused.getBody().push_back(body);
  for (Value input : inputs)
    body->addArgument(input.getType(), input.getLoc());
  for (Operation *op : group.ops)
    op->moveBefore(body, body->end());
  b.setInsertionPointToEnd(body);
  YieldOp::create(b, last->getLoc(), outputs);

  Region *region = &fused.getBody();
  auto inside = [&](OpOperand &use) {
    return region->isAncestor(use.getOwner()->getParentRegion());
  };
  for (auto [index, argument] : llvm::enumerate(body->getArguments())) {
    Value input = inputs[index];
    input.replaceUsesWithIf(argument, inside);
  }
  for (auto [output, result] : llvm::zip(outputs, fused.getResults()))
    output.replaceUsesWithIf(result,
                             [&](OpOperand &use) { return !inside(use); });
  ++numGroups;
  if (group.ops.size() > 1)
    numFusedOps += group.ops.size();
}

void FuseKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (strategy != "fused" && strategy != "unfused") {
    module.emitError() << "unknown fusion strategy '" << strategy
                       << "' (expected fused or unfused)";
    return signalPassFailure();
  }
  for (auto [size, value] :
       {std::pair<const KernelSize &, int64_t>{kGemmRows, gemmRows},
        {kGemmTokens, gemmTokens},
        {kGemmRowsAtOnce, gemmRowsAtOnce},
        {kScanChannels, scanChannels},
        {kScanBlockChannels, scanBlockChannels ? scanBlockChannels : 1},
        {kScanChunk, scanChunk ? scanChunk : 1}}) {
    if (!inRange(size, value)) {
      module.emitError() << "fusion option " << size.option << " "
                         << rangeError(size, value);
      return signalPassFailure();
    }
  }
  if (!parsePerKindOptions(module))
    return signalPassFailure();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    if (!func.getBody().hasOneBlock()) {
      func.emitError() << "fusion expects straight-line entry points";
      return signalPassFailure();
    }
    if (!func.getOps<FusedOp>().empty())
      continue; // already fused
    for (Group &group : formGroups(func.front(), strategy == "fused"))
      materialize(group);
  }
  Builder b(&getContext());
  SmallVector<NamedAttribute> summary = {
      b.getNamedAttr("strategy", b.getStringAttr(strategy)),
      b.getNamedAttr("gemm_rows", b.getI64IntegerAttr(gemmRows)),
      b.getNamedAttr("gemm_tokens", b.getI64IntegerAttr(gemmTokens)),
      b.getNamedAttr("gemm_rows_at_once", b.getI64IntegerAttr(gemmRowsAtOnce)),
      b.getNamedAttr("scan_channels", b.getI64IntegerAttr(scanChannels))};
  for (auto [size, value] : {std::pair<const KernelSize &, int64_t>{
                                 kScanBlockChannels, scanBlockChannels},
                             {kScanChunk, scanChunk}})
    if (value)
      summary.push_back(
          b.getNamedAttr(size.moduleKey, b.getI64IntegerAttr(value)));
  // The per-kind choices, in a stable order: "conv.channels=8,gemm.tokens=2".
  SmallVector<std::string> perKind;
  for (const auto &[kind, sizes] : kindSizes)
    for (const auto &[key, value] : sizes)
      perKind.push_back(
          (stringifyFusionKind(kind) + "." + key + "=" + Twine(value)).str());
  llvm::sort(perKind);
  if (!perKind.empty())
    summary.push_back(b.getNamedAttr(
        "kernel_sizes", b.getStringAttr(llvm::join(perKind, ","))));
  SmallVector<std::string> unfusedNames;
  for (FusionKind kind : unfusedKinds)
    unfusedNames.push_back(stringifyFusionKind(kind).str());
  llvm::sort(unfusedNames);
  if (!unfusedNames.empty())
    summary.push_back(b.getNamedAttr(
        "unfused", b.getStringAttr(llvm::join(unfusedNames, ","))));
  if (!tuning.empty())
    summary.push_back(b.getNamedAttr("tuning", b.getStringAttr(tuning)));
  module->setAttr(MMDialect::kFusionAttrName, b.getDictionaryAttr(summary));
}

} // namespace
