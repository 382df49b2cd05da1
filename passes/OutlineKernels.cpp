//===- OutlineKernels.cpp - fusion groups to kernel functions -------------===//
//
// Each mm.fused group of an entry point becomes a call of a kernel function
// that keeps the group's #mm.fusion as its lowering configuration. Weights are
// group inputs (mm.weight stays outside the groups), so the groups of two
// layers differ only in the values they are called with: a group equal to a
// kernel already outlined (same strategy, types and operations) calls it, and
// a model of L identical layers has the kernels of one.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

namespace mm {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "passes/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

struct OutlineKernelsPass
    : public mm::impl::OutlineKernelsBase<OutlineKernelsPass> {
  using OutlineKernelsBase::OutlineKernelsBase;
  void runOnOperation() override;

private:
  /// The kernel function that computes `group`: an equal one already
  /// outlined, or a new one inserted into the module.
  func::FuncOp outline(FusedOp group, SymbolTable &symbols);

  /// The kernels outlined so far, by strategy and function type (candidates
  /// for an equal group), in the order they were made.
  llvm::MapVector<std::pair<Attribute, Type>, SmallVector<func::FuncOp>>
      kernels;
  /// Kernels made so far per kind, to number their names.
  llvm::StringMap<unsigned> perKind;
};

func::FuncOp OutlineKernelsPass::outline(FusedOp group, SymbolTable &symbols) {
  MLIRContext *context = group.getContext();
  auto type = FunctionType::get(context, group.getInputs().getTypes(),
                                group.getResultTypes());
  // The function is built detached, compared, and inserted only if new.
  auto kernel = func::FuncOp::create(group.getLoc(), "kernel", type);
  kernel.setPrivate();
  kernel->setAttr(MMDialect::kFusionAttrName, group.getStrategy());
  Region &body = kernel.getBody();
  IRMapping mapping;
  group.getBody().cloneInto(&body, mapping);
  auto yield = cast<YieldOp>(body.front().getTerminator());
  OpBuilder b(yield);
  func::ReturnOp::create(b, yield.getLoc(), yield.getValues());
  yield.erase();

  SmallVector<func::FuncOp> &candidates =
      kernels[{group.getStrategy(), type}];
  for (func::FuncOp existing : candidates)
    if (OperationEquivalence::isRegionEquivalentTo(
            &existing.getBody(), &body,
            OperationEquivalence::IgnoreLocations)) {
      kernel.erase();
      return existing;
    }
  StringRef kind = stringifyFusionKind(group.getKind());
  kernel.setSymName((kind + "_" + llvm::Twine(perKind[kind]++)).str());
  symbols.insert(kernel); // renames it if the name is taken
  candidates.push_back(kernel);
  ++numKernels;
  return kernel;
}

void OutlineKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (StringRef(targetSpec).trim().empty()) {
    module.emitError() << "mm-outline-kernels needs a target";
    return signalPassFailure();
  }
  SymbolTable symbols(module);
  SmallVector<FusedOp> groups;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func->hasAttr(MMDialect::kFusionAttrName))
      func.walk([&](FusedOp group) { groups.push_back(group); });
  for (FusedOp group : groups) {
    func::FuncOp kernel = outline(group, symbols);
    OpBuilder b(group);
    auto call = func::CallOp::create(b, group.getLoc(), kernel,
                                     group.getInputs());
    group.replaceAllUsesWith(call.getResults());
    group.erase();
    ++numGroups;
  }
  module->setAttr(MMDialect::kTargetAttrName,
                  StringAttr::get(&getContext(), StringRef(targetSpec).trim()));
}

} // namespace
