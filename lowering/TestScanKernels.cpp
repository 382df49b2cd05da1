//===- TestScanKernels.cpp - one scan kernel for tests and benchmarks -----===//
//
// mm-test-scan-kernels: the scan kernel generator (ScanKernels.h) driven
// from the command line, so that bench/scan_counters.sh and lit tests can
// build any variant at any shape and run it with mm-sim-kernel. The kernel
// has every optional operand the models use (delta bias and softplus, an
// initial state, the gate), row-major buffers; the launch for `batch`
// sequences of `tokens` is recorded as mm-sim-kernel flags.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"
#include "lowering/ScanKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

namespace mm {
#define GEN_PASS_DEF_TESTSCANKERNELS
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

class TestScanKernels
    : public mm::impl::TestScanKernelsBase<TestScanKernels> {
public:
  using TestScanKernelsBase::TestScanKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::Expected<TargetInfo> target = TargetInfo::parse(targetSpec);
    if (!target) {
      module.emitError(llvm::toString(target.takeError()));
      return signalPassFailure();
    }
    if (batch < 1 || tokens < (step ? 1 : 0) || (step && tokens != 1)) {
      module.emitError("mm-test-scan-kernels: batch must be positive and "
                       "tokens 1 for a step, 0 or more otherwise");
      return signalPassFailure();
    }
    ScanKernelSpec spec;
    spec.name = kernelName;
    spec.channels = channels;
    spec.states = states;
    spec.deltaBias = spec.deltaSoftplus = spec.initialState = spec.gate = true;
    spec.blockChannels = blockChannels;
    spec.chunk = chunk;
    spec.step = step;
    llvm::Expected<ScanConfig> config = resolveScanConfig(spec, *target);
    if (!config) {
      module.emitError(llvm::toString(config.takeError()));
      return signalPassFailure();
    }

    MLIRContext *context = module.getContext();
    OpBuilder b(context);
    Type f32 = b.getF32Type();
    int64_t dynamic = ShapedType::kDynamic, e = channels, n = states;
    auto perToken = [&](int64_t size) {
      return MemRefType::get({dynamic, dynamic, size}, f32);
    };
    auto perChannel = MemRefType::get({e}, f32);
    auto state = MemRefType::get({dynamic, e, n}, f32);
    // u, delta, A_log, B, C, D, delta bias, initial state, z, final, out.
    SmallVector<Type> arguments = {perToken(e), perToken(e),
                                   MemRefType::get({e, n}, f32),
                                   perToken(n), perToken(n), perChannel,
                                   perChannel, state, perToken(e), state,
                                   perToken(e)};
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule =
        gpu::GPUModuleOp::create(b, module.getLoc(), "scan_kernels");
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    llvm::Expected<gpu::GPUFuncOp> kernel =
        buildScanKernel(gpuModule, spec, arguments, *target);
    if (!kernel) {
      module.emitError(llvm::toString(kernel.takeError()));
      return signalPassFailure();
    }
    std::string flags =
        llvm::formatv("--grid={0},{1} --block={2} --shared-bytes={3}",
                      scanBlocks(*config), scanBatchBlocks(*config, batch),
                      config->threadsPerBlock,
                      config->sharedBytes);
    module->setAttr("mm.test.scan_launch", b.getStringAttr(flags));
    auto [read, written] = scanMinimumBytes(*config, batch, tokens);
    module->setAttr("mm.test.scan_minimum_bytes",
                    b.getDenseI64ArrayAttr({read, written}));
    module->setAttr("mm.test.scan_config",
                    b.getStringAttr(llvm::formatv(
                        "block_channels={0} chunk={1} warps={2}",
                        config->blockChannels, config->chunk,
                        config->warps)));
  }
};

} // namespace
