//===- Manifest.cpp - what a compiled model needs from the runtime --------===//

#include "lowering/Manifest.h"

#include "dialect/MMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mm;

namespace {
constexpr int64_t kWeightAlignment = 16; // floats: 64 bytes
} // namespace

Precision mm::precisionOf(Type element) {
  if (element.isBF16())
    return Precision::BF16;
  if (element.isF16())
    return Precision::F16;
  return Precision::F32;
}

Manifest Manifest::fromModule(ModuleOp module) {
  Manifest manifest;
  manifest.compilerVersion = kCompilerVersion;
  module.walk([&](WeightOp weight) {
    if (manifest.findWeight(weight.getName()))
      return;
    ManifestWeight entry;
    entry.name = weight.getName().str();
    entry.fallback = weight.getFallback().value_or("").str();
    entry.shape = weight.getType().getShape().vec();
    entry.offset = manifest.weightFloats;
    entry.dtype = precisionOf(weight.getType().getElementType());
    // The reduced weights say which precision the artifact is compiled for
    // (mm-reduce-precision gives them all the same type).
    if (entry.dtype != Precision::F32)
      manifest.precision = entry.dtype;
    int64_t size =
        weightWords(weight.getType().getNumElements(), entry.dtype);
    manifest.weightFloats +=
        (size + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
    manifest.weights.push_back(std::move(entry));
  });
  module.walk([&](StateLayoutOp layout) {
    for (auto field : layout.getFields().getAsRange<StateFieldAttr>()) {
      ManifestStateField entry;
      entry.name = field.getName().str();
      entry.kind = stringifyStateKind(field.getKind()).str();
      entry.layer = field.getLayer();
      entry.dtype = field.getType().getElementType().isF32() ? "f32" : "i32";
      entry.shape = field.getType().getShape().vec();
      entry.offset = manifest.stateBytesPerSequence;
      manifest.stateBytesPerSequence += field.getType().getNumElements() * 4;
      manifest.state.push_back(std::move(entry));
    }
  });
  if (auto config =
          module->getAttrOfType<ModelConfigAttr>(MMDialect::kConfigAttrName))
    manifest.config = mm::toJSON(config.getModelConfig());
  if (auto fusion =
          module->getAttrOfType<DictionaryAttr>(MMDialect::kFusionAttrName)) {
    llvm::json::Object object, kernels;
    for (NamedAttribute entry : fusion) {
      if (auto text = dyn_cast<StringAttr>(entry.getValue()))
        object[entry.getName().getValue()] = text.getValue();
      else if (auto number = dyn_cast<IntegerAttr>(entry.getValue()))
        object[entry.getName().getValue()] = number.getInt();
    }
    for (auto func : module.getOps<func::FuncOp>()) {
      auto kind = func->getAttrOfType<EntryKindAttr>(MMDialect::kEntryAttrName);
      if (!kind)
        continue;
      llvm::json::Object counts;
      auto count = [&](FusionAttr strategy) {
        StringRef name = stringifyFusionKind(strategy.getKind());
        counts[name] = counts.getInteger(name).value_or(0) + 1;
      };
      func.walk([&](Operation *op) {
        if (auto group = dyn_cast<FusedOp>(op))
          count(group.getStrategy());
        else if (auto call = dyn_cast<func::CallOp>(op))
          if (auto kernel = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
                  call, call.getCalleeAttr()))
            if (auto strategy = kernel->getAttrOfType<FusionAttr>(
                    MMDialect::kFusionAttrName))
              count(strategy);
      });
      kernels[stringifyEntryKind(kind.getValue())] = std::move(counts);
    }
    object["kernels"] = std::move(kernels);
    // The kernel functions (mm-outline-kernels): one per distinct kernel,
    // whatever the number of layers that call it.
    llvm::json::Object functions;
    for (auto func : module.getOps<func::FuncOp>())
      if (auto strategy =
              func->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName)) {
        StringRef name = stringifyFusionKind(strategy.getKind());
        functions[name] = functions.getInteger(name).value_or(0) + 1;
      }
    if (!functions.empty())
      object["kernel_functions"] = std::move(functions);
    manifest.fusion = std::move(object);
  }
  return manifest;
}
