//===- DeviceKernels.cpp - what every hand-written GPU kernel builds ------===//

#include "lowering/DeviceKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

llvm::Expected<gpu::GPUFuncOp>
mm::createDeviceKernel(gpu::GPUModuleOp module, StringRef name,
                       TypeRange arguments, int64_t threads) {
  if (module.lookupSymbol(name))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the gpu.module already has a symbol named '" + name + "'");
  MLIRContext *context = module.getContext();
  OpBuilder b(context);
  b.setInsertionPointToEnd(module.getBody());
  auto function = gpu::GPUFuncOp::create(b, module.getLoc(), name,
                                         b.getFunctionType(arguments, {}));
  function->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                    b.getUnitAttr());
  function.setKnownBlockSizeAttr(DenseI32ArrayAttr::get(
      context, {static_cast<int32_t>(threads), 1, 1}));
  return function;
}

Value mm::dynamicSharedBytes(OpBuilder &b, Location loc) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                              gpu::AddressSpace::Workgroup);
  return gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), nullptr,
                      workgroup));
}

Value mm::sharedView(OpBuilder &b, Location loc, Value bytes,
                     ArrayRef<int64_t> shape, Type element, int64_t offset) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                              gpu::AddressSpace::Workgroup);
  return memref::ViewOp::create(
      b, loc, MemRefType::get(shape, element, nullptr, workgroup), bytes,
      arith::ConstantIndexOp::create(b, loc, offset), ValueRange());
}
