//===- KernelContext.cpp - launches through the runtime's kernel context --===//
//
// mm-kernel-context: the host code of a GPU module launches its kernels
// through an MMKernelContext the runtime hands the entry points
// (common/KernelContextAbi.h), instead of what gpu.binary's
// translation (SelectObjectAttr) would make of it: a global constructor that
// loads the module into whatever device is current when the library is
// opened, a mgpuModuleGetFunction on every launch, and a stream created,
// synchronised and destroyed around every launch.
//
// Runs on the LLVM dialect after gpu-to-llvm (whose gpu.launch_func ops have
// LLVM operands) and gpu-module-to-binary (the gpu.binary holds the image).
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "common/KernelContextAbi.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace mm {
#define GEN_PASS_DEF_KERNELCONTEXT
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// The entry points, which take the context whether they launch or not: the
/// runtime calls all of them the same way.
constexpr llvm::StringLiteral kEntryPoints[] = {"mm_prefill",
                                                "mm_decode",
                                                "mm_init_state",
                                                "mm_prefill_last",
                                                "_mlir_ciface_mm_prefill",
                                                "_mlir_ciface_mm_decode",
                                                "_mlir_ciface_mm_init_state",
                                                "_mlir_ciface_mm_prefill_last"};

/// The mgpu functions whose stream operand (or result) is the context's.
bool usesStream(StringRef callee) {
  return llvm::is_contained(
      {"mgpuStreamCreate", "mgpuStreamDestroy", "mgpuStreamSynchronize",
       "mgpuStreamWaitEvent", "mgpuEventRecord", "mgpuMemAlloc", "mgpuMemFree",
       "mgpuMemcpy", "mgpuMemset32", "mgpuMemset16"},
      callee);
}

StringRef calleeName(LLVM::CallOp call) {
  std::optional<StringRef> callee = call.getCallee();
  return callee ? *callee : StringRef();
}

/// A constant of type `type`.
Value constant(OpBuilder &b, Location loc, Type type, int64_t value) {
  return LLVM::ConstantOp::create(b, loc, type, b.getIntegerAttr(type, value));
}

/// An internal constant global holding `bytes`.
LLVM::GlobalOp addBytes(OpBuilder &b, Location loc, StringRef name,
                        StringRef bytes, unsigned alignment) {
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
  auto global = LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                       LLVM::Linkage::Internal, name,
                                       b.getStringAttr(bytes), alignment);
  return global;
}

class KernelContextPass
    : public mm::impl::KernelContextBase<KernelContextPass> {
public:
  using KernelContextBase::KernelContextBase;

  void runOnOperation() override;

private:
  LogicalResult exportModule(gpu::BinaryOp binary);
  void addContextArguments();
  LogicalResult rewriteLaunch(gpu::LaunchFuncOp launch);
  void bindStreams(LLVM::LLVMFuncOp func);
  LLVM::LLVMFuncOp launchFunction(Location loc);

  /// The kernels launched, in the order of MMKernelModule's names.
  llvm::MapVector<StringAttr, unsigned> kernelIndex;
  /// The functions that take the context.
  llvm::SetVector<LLVM::LLVMFuncOp> withContext;
};

} // namespace

void KernelContextPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto binaries = llvm::to_vector(module.getOps<gpu::BinaryOp>());
  SmallVector<gpu::LaunchFuncOp> launches;
  module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
  if (binaries.empty()) {
    if (launches.empty())
      return;
    launches.front().emitError("mm-kernel-context: a kernel launch without a "
                               "gpu.binary (run gpu-module-to-binary first)");
    return signalPassFailure();
  }
  if (binaries.size() > 1) {
    binaries[1].emitError("mm-kernel-context: the runtime loads one kernel "
                          "module per artifact; found a second gpu.binary");
    return signalPassFailure();
  }
  gpu::BinaryOp binary = binaries.front();
  for (gpu::LaunchFuncOp launch : launches) {
    if (launch.getKernelModuleName() != binary.getSymNameAttr()) {
      launch.emitError("mm-kernel-context: launches a kernel of @")
          << launch.getKernelModuleName().getValue()
          << ", not of the gpu.binary @" << binary.getSymName();
      return signalPassFailure();
    }
    if (!launch->getParentOfType<LLVM::LLVMFuncOp>()) {
      launch.emitError("mm-kernel-context: runs after gpu-to-llvm; this "
                       "launch is not in an llvm.func");
      return signalPassFailure();
    }
    kernelIndex.insert({launch.getKernelName(), kernelIndex.size()});
  }
  if (failed(exportModule(binary)))
    return signalPassFailure();

  addContextArguments();
  for (gpu::LaunchFuncOp launch : launches)
    if (failed(rewriteLaunch(launch)))
      return signalPassFailure();
  for (LLVM::LLVMFuncOp func : withContext)
    bindStreams(func);
  // What the binary held stays readable for the tools that print or dump
  // the kernels (mm-compile --emit=isa, --dump-kernels), as an attribute the
  // LLVM translation ignores.
  module->setAttr(kKernelBinariesAttrName,
                  DictionaryAttr::get(&getContext(),
                                      {NamedAttribute(binary.getSymNameAttr(),
                                                      binary.getObjects())}));
  binary.erase();
}

/// The exported MMKernelModule: the image, its format and the kernel names.
LogicalResult KernelContextPass::exportModule(gpu::BinaryOp binary) {
  auto objects = binary.getObjects().getAsRange<gpu::ObjectAttr>();
  if (binary.getObjects().size() != 1)
    return binary.emitError("mm-kernel-context: the gpu.binary needs exactly "
                            "one object (the device's), not ")
           << binary.getObjects().size();
  gpu::ObjectAttr object = *objects.begin();
  int64_t format;
  std::string image = object.getObject().getValue().str();
  switch (object.getFormat()) {
  case gpu::CompilationTarget::Assembly:
    format = MM_KERNEL_IMAGE_ASSEMBLY;
    // The driver reads assembly up to its NUL.
    if (image.empty() || image.back() != '\0')
      image.push_back('\0');
    break;
  case gpu::CompilationTarget::Binary:
  case gpu::CompilationTarget::Fatbin:
    format = MM_KERNEL_IMAGE_BINARY;
    break;
  default:
    return binary.emitError("mm-kernel-context: the runtime loads assembly, "
                            "binaries and fatbins, not offload objects");
  }
  // The JIT level the serialiser recorded (the attach pass's O option).
  int64_t jitOptLevel = -1;
  if (DictionaryAttr properties = object.getProperties())
    if (auto level = properties.getAs<IntegerAttr>("O"))
      jitOptLevel = level.getInt();
  std::string names;
  for (auto &[name, index] : kernelIndex) {
    names += name.getValue();
    names.push_back('\0');
  }

  MLIRContext *context = &getContext();
  Location loc = binary.getLoc();
  OpBuilder b(binary);
  LLVM::GlobalOp imageGlobal =
      addBytes(b, loc, "mm_kernel_image", image, /*alignment=*/64);
  LLVM::GlobalOp namesGlobal =
      addBytes(b, loc, "mm_kernel_names", names, /*alignment=*/1);
  Type i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(context);
  // MMKernelModule's fields, in order.
  auto type = LLVM::LLVMStructType::getLiteral(
      context, {i64, i64, i64, ptr, i64, i64, ptr});
  auto module = LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                       LLVM::Linkage::External,
                                       MM_KERNEL_MODULE_SYMBOL, Attribute(),
                                       /*alignment=*/8);
  Block *init = b.createBlock(&module.getInitializerRegion());
  b.setInsertionPointToStart(init);
  Value value = LLVM::UndefOp::create(b, loc, type);
  Value fields[] = {constant(b, loc, i64, MM_KERNEL_CONTEXT_VERSION),
                    constant(b, loc, i64, format),
                    constant(b, loc, i64, jitOptLevel),
                    LLVM::AddressOfOp::create(b, loc, imageGlobal),
                    constant(b, loc, i64, int64_t(image.size())),
                    constant(b, loc, i64, int64_t(kernelIndex.size())),
                    LLVM::AddressOfOp::create(b, loc, namesGlobal)};
  for (auto [position, field] : llvm::enumerate(fields))
    value = LLVM::InsertValueOp::create(b, loc, value, field, position);
  LLVM::ReturnOp::create(b, loc, value);
  return success();
}

/// Gives the context argument to every function that launches or uses a
/// stream, to the entry points, and to their callers, and passes it on at
/// every call.
void KernelContextPass::addContextArguments() {
  ModuleOp module = getOperation();
  SymbolTable symbols(module);
  for (StringRef name : kEntryPoints)
    if (auto func = symbols.lookup<LLVM::LLVMFuncOp>(name))
      if (!func.isExternal())
        withContext.insert(func);
  module.walk([&](Operation *op) {
    auto call = dyn_cast<LLVM::CallOp>(op);
    if (isa<gpu::LaunchFuncOp>(op) || (call && usesStream(calleeName(call))))
      if (auto func = op->getParentOfType<LLVM::LLVMFuncOp>())
        withContext.insert(func);
  });
  // Callers, transitively.
  SmallVector<LLVM::CallOp> calls;
  module.walk([&](LLVM::CallOp call) { calls.push_back(call); });
  for (bool grew = true; grew;) {
    grew = false;
    for (LLVM::CallOp call : calls) {
      auto callee = symbols.lookup<LLVM::LLVMFuncOp>(calleeName(call));
      if (callee && withContext.contains(callee))
        grew |= withContext.insert(call->getParentOfType<LLVM::LLVMFuncOp>());
    }
  }
  auto ptr = LLVM::LLVMPointerType::get(&getContext());
  for (LLVM::LLVMFuncOp func : withContext) {
    LLVM::LLVMFunctionType type = func.getFunctionType();
    SmallVector<Type> params{ptr};
    llvm::append_range(params, type.getParams());
    func.setFunctionType(LLVM::LLVMFunctionType::get(
        type.getReturnType(), params, type.isVarArg()));
    func.getBody().front().insertArgument(0u, ptr, func.getLoc());
    if (ArrayAttr attributes = func.getArgAttrsAttr()) {
      SmallVector<Attribute> shifted{DictionaryAttr::get(&getContext())};
      llvm::append_range(shifted, attributes);
      func.setArgAttrsAttr(ArrayAttr::get(&getContext(), shifted));
    }
  }
  for (LLVM::CallOp call : calls) {
    auto callee = symbols.lookup<LLVM::LLVMFuncOp>(calleeName(call));
    if (!callee || !withContext.contains(callee))
      continue;
    Value context =
        call->getParentOfType<LLVM::LLVMFuncOp>().getArgument(0);
    SmallVector<Value> operands{context};
    llvm::append_range(operands, call.getCalleeOperands());
    call.getCalleeOperandsMutable().assign(operands);
  }
}

/// The declaration of mgpuLaunchKernel (runtime/gpu/MgpuAbi.h).
LLVM::LLVMFuncOp KernelContextPass::launchFunction(Location loc) {
  ModuleOp module = getOperation();
  constexpr StringLiteral name = "mgpuLaunchKernel";
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return existing;
  MLIRContext *context = &getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Type i64 = b.getI64Type(), i32 = b.getI32Type();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto type = LLVM::LLVMFunctionType::get(
      LLVM::LLVMVoidType::get(context),
      {ptr, i64, i64, i64, i64, i64, i64, i32, ptr, ptr, ptr, i64});
  return LLVM::LLVMFuncOp::create(b, loc, name, type);
}

/// kernel<<<grid, block, smem, context->stream>>>(args) with
/// context->functions[index of kernel].
LogicalResult KernelContextPass::rewriteLaunch(gpu::LaunchFuncOp launch) {
  if (launch.hasClusterSize())
    return launch.emitError(
        "mm-kernel-context: thread block clusters are not supported");
  if (launch.getAsyncToken() && !launch.getAsyncToken().use_empty())
    return launch.emitError("mm-kernel-context: launches are ordered on the "
                            "context's stream; async tokens are not used");
  MLIRContext *context = &getContext();
  Location loc = launch.getLoc();
  auto func = launch->getParentOfType<LLVM::LLVMFuncOp>();
  LLVM::LLVMFuncOp callee = launchFunction(loc);
  Type i64 = IntegerType::get(context, 64), i32 = IntegerType::get(context, 32);
  Type i8 = IntegerType::get(context, 8);
  auto ptr = LLVM::LLVMPointerType::get(context);
  ValueRange arguments = launch.getKernelOperands();
  SmallVector<Type> argumentTypes(arguments.getTypes());

  // The parameter block lives in the entry block's frame (launches sit in
  // loops); the driver copies it at the launch.
  OpBuilder b(context);
  b.setInsertionPointToStart(&func.getBody().front());
  Value one = constant(b, loc, i64, 1);
  auto argumentsType = LLVM::LLVMStructType::getLiteral(context, argumentTypes);
  auto paramsType = LLVM::LLVMArrayType::get(ptr, arguments.size());
  Value argumentBlock = LLVM::AllocaOp::create(b, loc, ptr, argumentsType, one);
  Value params = LLVM::AllocaOp::create(b, loc, ptr, paramsType, one);

  b.setInsertionPoint(launch);
  for (auto [position, argument] : llvm::enumerate(arguments)) {
    int32_t field = position;
    Value slot = LLVM::GEPOp::create(b, loc, ptr, argumentsType, argumentBlock,
                                     ArrayRef<LLVM::GEPArg>{0, field});
    LLVM::StoreOp::create(b, loc, argument, slot);
    Value entry = LLVM::GEPOp::create(b, loc, ptr, paramsType, params,
                                      ArrayRef<LLVM::GEPArg>{0, field});
    LLVM::StoreOp::create(b, loc, slot, entry);
  }
  Value contextArg = func.getArgument(0);
  Value stream = LLVM::LoadOp::create(b, loc, ptr, contextArg);
  Value functionsField =
      LLVM::GEPOp::create(b, loc, ptr, i8, contextArg,
                          ArrayRef<LLVM::GEPArg>{
                              int32_t(MM_KERNEL_CONTEXT_FUNCTIONS_OFFSET)});
  Value functions = LLVM::LoadOp::create(b, loc, ptr, functionsField);
  int32_t index = kernelIndex.lookup(launch.getKernelName());
  Value functionSlot = LLVM::GEPOp::create(b, loc, ptr, ptr, functions,
                                           ArrayRef<LLVM::GEPArg>{index});
  Value function = LLVM::LoadOp::create(b, loc, ptr, functionSlot);
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  Value sharedBytes = launch.getDynamicSharedMemorySize();
  if (!sharedBytes)
    sharedBytes = constant(b, loc, i32, 0);
  Value null = LLVM::ZeroOp::create(b, loc, ptr);
  Value operands[] = {function,
                      grid.x,
                      grid.y,
                      grid.z,
                      block.x,
                      block.y,
                      block.z,
                      sharedBytes,
                      stream,
                      params,
                      null,
                      constant(b, loc, i64, int64_t(arguments.size()))};
  for (auto [position, operand] : llvm::enumerate(operands))
    if (operand.getType() !=
        callee.getFunctionType().getParamType(position))
      return launch.emitError("mm-kernel-context: unexpected launch operand "
                              "type ")
             << operand.getType() << " (run gpu-to-llvm first)";
  LLVM::CallOp::create(b, loc, callee, operands);
  launch.erase();
  ++numLaunches;
  return success();
}

/// The host code's streams are the context's: created streams are it, and
/// it is neither destroyed nor, outside functions that copy memory,
/// synchronised.
void KernelContextPass::bindStreams(LLVM::LLVMFuncOp func) {
  bool copies = false;
  SmallVector<LLVM::CallOp> calls;
  func.walk([&](LLVM::CallOp call) {
    copies |= calleeName(call) == "mgpuMemcpy";
    calls.push_back(call);
  });
  Value context = func.getArgument(0);
  auto ptr = LLVM::LLVMPointerType::get(&getContext());
  for (LLVM::CallOp call : calls) {
    StringRef callee = calleeName(call);
    if (callee == "mgpuStreamCreate") {
      OpBuilder b(call);
      call.getResult().replaceAllUsesWith(
          LLVM::LoadOp::create(b, call.getLoc(), ptr, context));
      call.erase();
    } else if (callee == "mgpuStreamDestroy" ||
               (callee == "mgpuStreamSynchronize" && !copies)) {
      numSynchronisations += callee == "mgpuStreamSynchronize";
      call.erase();
    }
  }
}
