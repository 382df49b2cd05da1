//===- TestGemmKernels.cpp - one GEMM kernel for tests and benchmarks -----===//
//
// mm-test-gemm-kernels: the GEMM kernel generator (GemmKernels.h) driven
// from the command line, so that lit tests and bench/gemm_counters.sh can
// build any variant, run it with mm-sim-kernel and compile it to PTX or
// GCN. The launch for `m` rows is recorded as mm-sim-kernel flags.
//
//===----------------------------------------------------------------------===//

#include "lowering/GemmKernels.h"
#include "lowering/LoweringPasses.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

namespace mm {
#define GEN_PASS_DEF_TESTGEMMKERNELS
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

class TestGemmKernels
    : public mm::impl::TestGemmKernelsBase<TestGemmKernels> {
public:
  using TestGemmKernelsBase::TestGemmKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(build(module)))
      signalPassFailure();
  }

private:
  LogicalResult build(ModuleOp module) {
    MLIRContext *context = module.getContext();
    llvm::Expected<TargetInfo> target = TargetInfo::parse(targetSpec);
    if (!target)
      return module.emitError(llvm::toString(target.takeError()));
    auto parseType = [&](StringRef text, StringRef option) -> Type {
      if (text == "f32")
        return Float32Type::get(context);
      if (text == "bf16")
        return BFloat16Type::get(context);
      if (text == "f16")
        return Float16Type::get(context);
      module.emitError("mm-test-gemm-kernels: ")
          << option << "=" << text << ": expected f32, bf16 or f16";
      return Type();
    };
    GemmKernelSpec spec;
    spec.name = kernelName;
    spec.n = n;
    spec.k = k;
    spec.aType = parseType(aType, "a");
    spec.wType = parseType(wType, "w");
    if (!spec.aType || !spec.wType)
      return failure();
    if (strategy == "simt")
      spec.strategy = GemmStrategy::Simt;
    else if (strategy == "mma")
      spec.strategy = GemmStrategy::MmaSync;
    else if (strategy == "mfma")
      spec.strategy = GemmStrategy::Mfma;
    else if (strategy == "gemv")
      spec.strategy = GemmStrategy::Gemv;
    else if (strategy != "auto")
      return module.emitError("mm-test-gemm-kernels: strategy=")
             << strategy << ": expected auto, simt, mma, mfma or gemv";
    spec.tiles = {blockM, blockN, blockK, warpsM,
                  warpsN, threadM, threadN, stages, lanes};
    spec.fewRows = fewRows;
    if (m < 1)
      return module.emitError("mm-test-gemm-kernels: m must be positive");

    OpBuilder b(context);
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(),
                                              "gemm_kernels");
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    llvm::Expected<GemmKernel> kernel =
        buildGemmKernel(gpuModule, spec, *target);
    if (!kernel)
      return module.emitError(llvm::toString(kernel.takeError()));
    GemmLaunch launch = gemmLaunch(kernel->config, m);
    std::string flags = llvm::formatv(
        "--grid={0},{1} --block={2} --shared-bytes={3}", launch.grid[0],
        launch.grid[1], launch.block[0], launch.sharedBytes);
    module->setAttr("mm.test.gemm_launch", b.getStringAttr(flags));
    auto [read, written] = gemmMinimumBytes(kernel->config, m);
    module->setAttr("mm.test.gemm_minimum_bytes",
                    b.getDenseI64ArrayAttr({read, written}));
    module->setAttr("mm.test.gemm_strategy",
                    b.getStringAttr(gemmStrategyName(kernel->config.strategy)));
    return success();
  }
};

} // namespace
