//===- KernelLowering.cpp - the lowering of each kernel kind and target ---===//

#include "lowering/KernelLowering.h"

using namespace mlir;
using namespace mm;

namespace {

/// Every kind, every target: the loop emitters (LoopEmitters.h). On the CPU
/// they are the kernels; on a GPU mm-offload-to-gpu launches their parallel
/// loops one thread per iteration and their sequential nests on one thread.
class LoopKernelLowering final : public KernelLowering {
public:
  StringRef name() const override { return "loops"; }
  LogicalResult emit(func::FuncOp kernel, KernelBuilder &kb, BufferMap buffer,
                     Allocator allocate) const override {
    auto strategy = kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
    return emitFusedLoops(strategy, kernel.front(), kb, buffer, allocate);
  }
};

} // namespace

const KernelLowering &mm::selectKernelLowering(FusionKind kind,
                                               const TargetInfo &target) {
  (void)kind;
  (void)target;
  static const LoopKernelLowering loops;
  return loops;
}
