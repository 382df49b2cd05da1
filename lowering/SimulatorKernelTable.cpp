//===- SimulatorKernelTable.cpp - entry points and table of host copies ---===//
//
// After the host lowering has turned the host copies of the kernels
// (mm-simulator-kernels) into LLVM functions, each kernel gets the entry
// point the simulator calls,
//
//   void __mmsim_K(void **params, MMSimThread *thread)
//
// which unpacks the launch's kernelParams (one pointer per parameter of the
// lowered kernel: a memref is its descriptor's fields, as gpu-to-llvm
// passes them to the GPU) and calls the copy with the block's shared memory
// and the thread. The module gets the exported NUL-terminated JSON string
// `mm_sim_kernels` that describes them (docs/artifact.md, "Host copies of
// the kernels"):
//
//   {"version": 1, "target": "cuda:sm_90", "vendor": "cuda", "chip": "sm_90",
//    "subgroup_size": 32,
//    "kernels": [{"name": K, "kind": "scan", "symbol": "__mmsim_K",
//                 "params": [bytes of each parameter],
//                 "memrefs": [{"arg": 1, "param": 1, "rank": 3,
//                              "element_bytes": 4, "space": "global"}],
//                 "shared_bytes": 0, "cooperative": false,
//                 "known_block_size": [128, 1, 1]}],
//    "sites": [{"kernel": K, "op": "memref.load", "loc": "f.mlir:3:5",
//               "buffer": "argument 1", "type": "memref<?xf32>"}]}
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"
#include "lowering/SimulatorAbi.h"
#include "lowering/TargetInfo.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/JSON.h"

namespace mm {
#define GEN_PASS_DEF_SIMULATORKERNELTABLE
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// Bytes of a lowered kernel parameter, as the launch's kernelParams hold it.
std::optional<int64_t> parameterBytes(Type type) {
  if (isa<LLVM::LLVMPointerType>(type))
    return 8;
  if (type.isIntOrFloat())
    return (type.getIntOrFloatBitWidth() + 7) / 8;
  return std::nullopt;
}

class SimulatorKernelTable
    : public mm::impl::SimulatorKernelTableBase<SimulatorKernelTable> {
public:
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = module.getContext();
    auto targetAttr = module->getAttrOfType<StringAttr>(sim::kTargetAttr);
    if (!targetAttr)
      return; // no GPU kernels, no host copies
    llvm::Expected<TargetInfo> target = TargetInfo::parse(targetAttr);
    if (!target) {
      module.emitError(llvm::toString(target.takeError()));
      return signalPassFailure();
    }

    llvm::json::Array kernels;
    SmallVector<LLVM::LLVMFuncOp> copies;
    module.walk([&](LLVM::LLVMFuncOp function) {
      if (function->hasAttr(sim::kKernelAttr))
        copies.push_back(function);
    });
    for (LLVM::LLVMFuncOp copy : copies) {
      std::optional<llvm::json::Object> kernel = addEntryPoint(copy);
      if (!kernel)
        return signalPassFailure();
      kernels.push_back(std::move(*kernel));
    }

    llvm::json::Array sites;
    if (auto siteAttrs = module->getAttrOfType<ArrayAttr>(sim::kSitesAttr))
      for (auto site : siteAttrs.getAsRange<DictionaryAttr>()) {
        llvm::json::Object object;
        for (NamedAttribute field : site)
          object[field.getName().getValue()] =
              cast<StringAttr>(field.getValue()).getValue().str();
        sites.push_back(std::move(object));
      }
    llvm::json::Object table{
        {"version", MM_SIM_ABI_VERSION},
        {"target", target->spec()},
        {"vendor", target->kindName()},
        {"chip", target->chip},
        {"subgroup_size", target->subgroupWidth},
        {"kernels", std::move(kernels)},
        {"sites", std::move(sites)}};
    std::string json;
    llvm::raw_string_ostream(json) << llvm::json::Value(std::move(table));
    json.push_back('\0');

    OpBuilder b(context);
    b.setInsertionPointToEnd(module.getBody());
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), json.size());
    LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true,
                           LLVM::Linkage::External, sim::kTableSymbol,
                           b.getStringAttr(json));
    module->removeAttr(sim::kSitesAttr);
    module->removeAttr(sim::kTargetAttr);
  }

private:
  std::optional<llvm::json::Object> addEntryPoint(LLVM::LLVMFuncOp copy);
};

std::optional<llvm::json::Object>
SimulatorKernelTable::addEntryPoint(LLVM::LLVMFuncOp copy) {
  MLIRContext *context = copy.getContext();
  Location loc = copy.getLoc();
  StringRef name = copy->getAttrOfType<StringAttr>(sim::kKernelAttr);
  auto ranks = copy->getAttrOfType<DenseI64ArrayAttr>(sim::kArgRanksAttr);
  auto elementBytes =
      copy->getAttrOfType<DenseI64ArrayAttr>(sim::kArgElementBytesAttr);
  if (!ranks || !elementBytes) {
    copy.emitOpError("a host copy of a kernel without its argument list");
    return std::nullopt;
  }

  // The lowered parameters: the kernel's (a memref expanded to its
  // descriptor's fields), then the shared memory memref's five, then the
  // thread.
  ArrayRef<Type> parameters = copy.getFunctionType().getParams();
  constexpr size_t kTrailing = 5 + 1;
  llvm::json::Array memrefs, parameterSizes;
  size_t expected = 0;
  for (auto [arg, rank] : llvm::enumerate(ranks.asArrayRef())) {
    if (rank >= 0) {
      memrefs.push_back(llvm::json::Object{
          {"arg", static_cast<int64_t>(arg)},
          {"param", static_cast<int64_t>(expected)},
          {"rank", rank},
          {"element_bytes", elementBytes[arg]},
          {"space", "global"}});
      expected += 3 + 2 * rank;
    } else {
      expected += 1;
    }
  }
  if (parameters.size() != expected + kTrailing) {
    copy.emitOpError("the host copy of kernel ")
        << name << " has " << parameters.size()
        << " parameters after lowering, not the " << expected + kTrailing
        << " its arguments expand to";
    return std::nullopt;
  }
  for (Type type : parameters.drop_back(kTrailing)) {
    std::optional<int64_t> bytes = parameterBytes(type);
    if (!bytes) {
      copy.emitOpError("a kernel parameter of type ")
          << type << " the simulator cannot pass";
      return std::nullopt;
    }
    parameterSizes.push_back(*bytes);
  }

  // void __mmsim_K(void **params, MMSimThread *thread)
  OpBuilder b(context);
  b.setInsertionPointAfter(copy);
  Type pointer = LLVM::LLVMPointerType::get(context);
  Type i64 = b.getI64Type();
  auto entryPoint = LLVM::LLVMFuncOp::create(
      b, loc, (sim::kEntryPrefix + name).str(),
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context),
                                  {pointer, pointer}));
  Block *entry = entryPoint.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  Value params = entry->getArgument(0), thread = entry->getArgument(1);
  SmallVector<Value> arguments;
  for (auto [i, type] : llvm::enumerate(parameters.drop_back(kTrailing))) {
    Value slot = LLVM::GEPOp::create(b, loc, pointer, pointer, params,
                                     ArrayRef<LLVM::GEPArg>{
                                         static_cast<int32_t>(i)});
    Value address = LLVM::LoadOp::create(b, loc, pointer, slot);
    arguments.push_back(LLVM::LoadOp::create(b, loc, type, address));
  }
  Value sharedSlot = LLVM::GEPOp::create(
      b, loc, pointer, b.getI8Type(), thread,
      ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(sim::kSharedOffset)});
  Value shared = LLVM::LoadOp::create(b, loc, pointer, sharedSlot);
  auto constant = [&](int64_t value) {
    return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(value));
  };
  // The shared memory as a memref<?xi8> (the simulator bounds accesses).
  arguments.append({shared, shared, constant(0), constant(int64_t(1) << 30),
                    constant(1), thread});
  LLVM::CallOp::create(b, loc, copy, arguments);
  LLVM::ReturnOp::create(b, loc, ValueRange());
  // The copy is called only from here: let LLVM inline it.
  copy.setLinkage(LLVM::Linkage::Internal);

  llvm::json::Object kernel{
      {"name", name.str()},
      {"kind", copy->getAttrOfType<StringAttr>(sim::kKindAttr).getValue().str()},
      {"symbol", entryPoint.getName().str()},
      {"params", std::move(parameterSizes)},
      {"memrefs", std::move(memrefs)},
      {"shared_bytes",
       copy->getAttrOfType<IntegerAttr>(sim::kSharedBytesAttr).getInt()},
      {"cooperative",
       copy->getAttrOfType<BoolAttr>(sim::kCooperativeAttr).getValue()}};
  if (auto known =
          copy->getAttrOfType<DenseI32ArrayAttr>(sim::kKnownBlockSizeAttr))
    kernel["known_block_size"] = llvm::json::Array(known.asArrayRef());
  for (StringRef attr :
       {sim::kKernelAttr, sim::kKindAttr, sim::kArgRanksAttr,
        sim::kArgElementBytesAttr, sim::kSharedBytesAttr, sim::kCooperativeAttr,
        sim::kKnownBlockSizeAttr})
    copy->removeAttr(attr);
  return kernel;
}

} // namespace
