//===- OffloadToGpu.cpp - host loops to GPU launches ----------------------===//
//
// Turns the entry points that mm-lower-to-loops built (the same loop kernels
// the CPU runs) into host code that launches them on a GPU:
//   - every buffer lives in device memory: memref.alloc/dealloc become
//     gpu.alloc/gpu.dealloc (the runtime passes device pointers for the ABI
//     buffers);
//   - each scf.parallel (the loop emitters' or a GPU schedule's thread
//     tiles, lowering/schedules/gpu/) becomes a launch with one thread per
//     iteration, threads-per-block threads per block;
//   - the sequential loop nests of a fusion group become one one-thread
//     launch (the memory path's sequential pass, norms, residuals);
//   - memref.copy becomes a copy kernel (views may be strided);
//   - host loops that contain parallel loops stay on the host and launch
//     their bodies.
// Stack buffers move into the launches that use them (private memory), and
// heap buffers allocated inside a sequential nest are hoisted before its
// launch (device code allocates nothing). gpu-kernel-outlining then makes
// each launch a gpu.func kernel.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "dialect/MMDialect.h"
#include "lowering/KernelLowering.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/MapVector.h"

namespace mm {
#define GEN_PASS_DEF_OFFLOADTOGPU
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

bool containsParallel(Operation *op) {
  return op->walk([](scf::ParallelOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

/// Host-side operations: they compute sizes and describe buffers, never
/// touch buffer contents.
bool isHostOp(Operation *op) {
  if (isa<memref::DimOp, memref::ViewOp, memref::SubViewOp,
          memref::ReinterpretCastOp, memref::CastOp, memref::AllocaOp,
          memref::AllocOp, memref::DeallocOp, memref::CopyOp,
          memref::ExtractStridedMetadataOp>(op))
    return true;
  return isPure(op) && op->getNumRegions() == 0;
}

class Offloader {
public:
  Offloader(func::FuncOp func, int64_t threads)
      : func(func), threads(threads), b(func.getContext()) {}

  LogicalResult run();
  unsigned numLaunches = 0;

private:
  LogicalResult offloadBlock(Block &block, Operation *origin = nullptr);
  gpu::LaunchOp createLaunch(Location loc, Value blocks, Value threadCount,
                             Operation *origin);
  LogicalResult launchParallel(scf::ParallelOp loop, Operation *origin);
  LogicalResult launchSequential(ArrayRef<Operation *> run, Operation *origin);
  void launchCopy(memref::CopyOp copy);
  Value replaceAlloc(memref::AllocOp alloc);
  void freeAt(Location loc, Value buffer);
  LogicalResult sinkStackBuffers();
  Value index(Location loc, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  func::FuncOp func;
  int64_t threads;
  OpBuilder b;
  /// The kind of the fusion group whose nests are being offloaded.
  StringAttr currentKind;
  DominanceInfo dominance{func};
};

/// A launch of `blocks` x `threadCount` threads, its kernel named after the
/// fusion group `origin` came from (mm_prefill_scan_3).
gpu::LaunchOp Offloader::createLaunch(Location loc, Value blocks,
                                      Value threadCount, Operation *origin) {
  Value one = index(loc, 1);
  auto kind =
      origin ? origin->getAttrOfType<StringAttr>(MMDialect::kKernelKindAttrName)
             : StringAttr();
  if (!kind && !isa_and_nonnull<memref::CopyOp>(origin))
    kind = currentKind; // a later nest of the group being launched
  StringRef kindName = kind ? kind.getValue()
                       : isa_and_nonnull<memref::CopyOp>(origin) ? "copy"
                                                                 : "kernel";
  // A kernel function's launches are named after it (mm_scan_0_1), an entry
  // point's after the kind of what they compute (mm_prefill_copy_3).
  std::string name =
      func->hasAttr(MMDialect::kLoweringAttrName)
          ? (func.getSymName() + "_" + std::to_string(numLaunches)).str()
          : (func.getSymName() + "_" + kindName + "_" +
             std::to_string(numLaunches))
                .str();
  // All kernels go to one gpu.module (one binary the artifact loads once).
  auto module = FlatSymbolRefAttr::get(b.getContext(), kKernelModuleName);
  auto function = FlatSymbolRefAttr::get(b.getContext(), name);
  auto launch = gpu::LaunchOp::create(
      b, loc, blocks, one, one, threadCount, one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, /*workgroupAttributions=*/{},
      /*privateAttributions=*/{}, nullptr, nullptr, nullptr, module, function);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  ++numLaunches;
  return launch;
}

/// for (i, j, ...) in [lb, ub) step s, in parallel  =>  one thread per
/// iteration, the iterations numbered with the last dimension fastest (a
/// schedule's tiles along a row go to neighbouring threads: coalesced).
LogicalResult Offloader::launchParallel(scf::ParallelOp loop,
                                        Operation *origin) {
  if (loop.getNumResults() ||
      (!loop.getBody()->getTerminator()->getRegions().empty() &&
       llvm::any_of(loop.getBody()->getTerminator()->getRegions(),
                    [](Region &r) { return !r.empty(); })))
    return loop.emitOpError() << "has reductions; they are not offloaded";
  Location loc = loop.getLoc();
  b.setInsertionPoint(loop);
  SmallVector<Value> counts;
  Value count;
  for (auto [lower, upper, step] : llvm::zip_equal(
           loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    counts.push_back(arith::CeilDivSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, upper, lower), step));
    count = count ? arith::MulIOp::create(b, loc, count, counts.back())
                        .getResult()
                  : counts.back();
  }
  // No iterations, no launch (a grid of 0 blocks is a launch error).
  auto any =
      scf::IfOp::create(b, loc,
                        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                              count, index(loc, 0)),
                        /*withElse=*/false);
  b.setInsertionPointToStart(any.thenBlock());
  Value perBlock = index(loc, threads);
  Value blocks = arith::CeilDivSIOp::create(b, loc, count, perBlock);
  gpu::LaunchOp launch = createLaunch(loc, blocks, perBlock, origin);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value flat = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, perBlock),
      launch.getThreadIds().x);
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, flat, count);
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
  b.setInsertionPointToStart(guard.thenBlock());
  IRMapping mapping;
  Value rest = flat;
  for (unsigned d = loop.getNumLoops(); d-- > 0;) {
    Value position = rest;
    if (d > 0) {
      position = arith::RemUIOp::create(b, loc, rest, counts[d]);
      rest = arith::DivUIOp::create(b, loc, rest, counts[d]);
    }
    mapping.map(loop.getInductionVars()[d],
                arith::AddIOp::create(
                    b, loc, loop.getLowerBound()[d],
                    arith::MulIOp::create(b, loc, position, loop.getStep()[d])));
  }
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  loop.erase();
  return success();
}

/// Sequential nests run on one thread, in order, in one launch.
LogicalResult Offloader::launchSequential(ArrayRef<Operation *> run,
                                          Operation *origin) {
  for (Operation *op : run)
    for (Value result : op->getResults())
      if (!result.use_empty())
        return op->emitOpError()
               << "computes a value the host needs; it cannot run on the GPU";
  Location loc = run.back()->getLoc();
  b.setInsertionPoint(run.back());
  // Buffers allocated inside the nests: allocated once before the launch.
  SmallVector<memref::AllocOp> allocs;
  SmallVector<memref::DeallocOp> deallocs;
  for (Operation *op : run) {
    op->walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
    op->walk([&](memref::DeallocOp dealloc) { deallocs.push_back(dealloc); });
  }
  SmallVector<Value> hoisted;
  for (memref::AllocOp alloc : allocs) {
    for (Value size : alloc.getDynamicSizes())
      if (!dominance.properlyDominates(size, run.front()))
        return alloc.emitOpError()
               << "has a size computed in the kernel; it cannot be hoisted";
    alloc->moveBefore(run.front());
    hoisted.push_back(replaceAlloc(alloc));
  }
  for (memref::DeallocOp dealloc : deallocs)
    dealloc.erase();
  b.setInsertionPoint(run.back());
  Value one = index(loc, 1);
  gpu::LaunchOp launch = createLaunch(
      loc, one, one,
      run.front()->hasAttr(MMDialect::kKernelKindAttrName) ? run.front()
                                                           : origin);
  Operation *terminator = launch.getBody().front().getTerminator();
  for (Operation *op : run)
    op->moveBefore(terminator);
  // The hoisted buffers are freed after the launch.
  for (Value buffer : llvm::reverse(hoisted)) {
    b.setInsertionPointAfter(launch);
    freeAt(launch.getLoc(), buffer);
  }
  return success();
}

/// memref.copy between device buffers of any layout: one thread per element
/// of the leading dimension, loops over the rest.
void Offloader::launchCopy(memref::CopyOp copy) {
  Location loc = copy.getLoc();
  b.setInsertionPoint(copy);
  Value source = copy.getSource(), target = copy.getTarget();
  auto type = cast<MemRefType>(source.getType());
  if (type.getRank() == 0) {
    Value one = index(loc, 1);
    gpu::LaunchOp launch = createLaunch(loc, one, one, copy);
    b.setInsertionPointToStart(&launch.getBody().front());
    memref::StoreOp::create(b, loc, memref::LoadOp::create(b, loc, source),
                            target);
    copy.erase();
    return;
  }
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    sizes.push_back(memref::DimOp::create(b, loc, source, d));
  Value zero = index(loc, 0), one = index(loc, 1);
  auto loop = scf::ParallelOp::create(b, loc, ValueRange{zero},
                                      ValueRange{sizes[0]}, ValueRange{one});
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> ivs{loop.getInductionVars()[0]};
  std::function<void(int64_t)> nest = [&](int64_t d) {
    if (d == type.getRank()) {
      memref::StoreOp::create(
          b, loc, memref::LoadOp::create(b, loc, source, ivs), target, ivs);
      return;
    }
    auto inner = scf::ForOp::create(b, loc, zero, sizes[d], one);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inner.getBody());
    ivs.push_back(inner.getInductionVar());
    nest(d + 1);
    ivs.pop_back();
  };
  nest(1);
  (void)launchParallel(loop, copy); // one dimension, no reductions
  copy.erase();
}

/// memref.alloc => gpu.alloc on a stream, waited for (the host code is
/// synchronous: each launch waits for its kernel).
Value Offloader::replaceAlloc(memref::AllocOp alloc) {
  Location loc = alloc.getLoc();
  b.setInsertionPoint(alloc);
  Type token = gpu::AsyncTokenType::get(b.getContext());
  Value start =
      gpu::WaitOp::create(b, loc, token, ValueRange{}).getAsyncToken();
  auto deviceAlloc = gpu::AllocOp::create(
      b, loc, alloc.getType(), token, ValueRange{start},
      alloc.getDynamicSizes(), alloc.getSymbolOperands(), /*hostShared=*/false);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{deviceAlloc.getAsyncToken()});
  alloc.replaceAllUsesWith(deviceAlloc.getMemref());
  alloc.erase();
  return deviceAlloc.getMemref();
}

/// gpu.dealloc at the builder's insertion point, waited for.
void Offloader::freeAt(Location loc, Value buffer) {
  Type token = gpu::AsyncTokenType::get(b.getContext());
  Value start =
      gpu::WaitOp::create(b, loc, token, ValueRange{}).getAsyncToken();
  auto free = gpu::DeallocOp::create(b, loc, token, ValueRange{start}, buffer);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{free.getAsyncToken()});
}

/// Offloads the operations of `block`; `origin` is the host loop around it,
/// if any (its fusion-group kind names the launches of its body).
LogicalResult Offloader::offloadBlock(Block &block, Operation *origin) {
  SmallVector<Operation *> run;
  auto flush = [&]() -> LogicalResult {
    if (run.empty())
      return success();
    LogicalResult result = launchSequential(run, origin);
    run.clear();
    return result;
  };
  for (Operation &op : llvm::make_early_inc_range(block.without_terminator())) {
    if (auto kind =
            op.getAttrOfType<StringAttr>(MMDialect::kKernelKindAttrName)) {
      // A fusion group's first nest starts a new kernel.
      if (failed(flush()))
        return failure();
      currentKind = kind;
    }
    if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
      if (failed(flush()) ||
          failed(
              launchParallel(loop, loop->hasAttr(MMDialect::kKernelKindAttrName)
                                       ? loop.getOperation()
                                       : origin)))
        return failure();
      continue;
    }
    if (op.getNumRegions() && containsParallel(&op)) {
      // A host loop around parallel work: its body launches.
      if (failed(flush()))
        return failure();
      for (Region &region : op.getRegions())
        for (Block &inner : region)
          if (failed(offloadBlock(inner, &op)))
            return failure();
      continue;
    }
    if (isa<func::CallOp>(op) || op.walk([](gpu::LaunchFuncOp) {
                                     return WalkResult::interrupt();
                                   }).wasInterrupted()) {
      // A kernel function's own launches, or a kernel a lowering launched
      // already (KernelLowering.h): after those pending here.
      if (failed(flush()))
        return failure();
      continue;
    }
    if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      if (failed(flush()))
        return failure();
      launchCopy(copy);
      continue;
    }
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      replaceAlloc(alloc);
      continue;
    }
    if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      // The kernels of the pending run may still read the buffer: launch
      // them first.
      if (failed(flush()))
        return failure();
      b.setInsertionPoint(dealloc);
      freeAt(dealloc.getLoc(), dealloc.getMemref());
      dealloc.erase();
      continue;
    }
    if (isHostOp(&op)) {
      // Sizes and views for the next launch: they stay before it.
      continue;
    }
    run.push_back(&op);
  }
  return flush();
}

/// Stack buffers (memref.alloca at the function entry) are thread-private
/// scratch of the kernels that use them: each launch gets its own.
LogicalResult Offloader::sinkStackBuffers() {
  SmallVector<memref::AllocaOp> allocas;
  func.walk([&](memref::AllocaOp alloca) {
    if (!alloca->getParentOfType<gpu::LaunchOp>())
      allocas.push_back(alloca);
  });
  for (memref::AllocaOp alloca : allocas) {
    llvm::MapVector<gpu::LaunchOp, SmallVector<OpOperand *>> byLaunch;
    for (OpOperand &use : alloca->getUses()) {
      auto launch = use.getOwner()->getParentOfType<gpu::LaunchOp>();
      if (!launch)
        return alloca.emitOpError()
               << "is used outside the GPU kernels; it cannot be sunk";
      byLaunch[launch].push_back(&use);
    }
    // Each launch gets its own copy: nothing may pass between launches
    // through a stack buffer.
    if (byLaunch.size() > 1)
      return alloca.emitOpError()
             << "is shared by several kernels; a stack buffer must belong to "
                "one";
    // In private memory: AMDGPU selects stack objects only in its private
    // address space (NVVM maps it to .local, where they live anyway).
    MemRefType type = alloca.getType();
    auto privateType = MemRefType::get(
        type.getShape(), type.getElementType(), type.getLayout(),
        gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Private));
    for (auto &[launch, uses] : byLaunch) {
      b.setInsertionPointToStart(&launch.getBody().front());
      Value copy = memref::AllocaOp::create(b, alloca.getLoc(), privateType,
                                            alloca.getDynamicSizes());
      for (OpOperand *use : uses) {
        if (!isa<memref::LoadOp, memref::StoreOp>(use->getOwner()))
          return use->getOwner()->emitOpError()
                 << "uses a stack buffer other than by load or store; it "
                    "cannot move to private memory";
        use->set(copy);
      }
    }
    alloca.erase();
  }
  return success();
}

LogicalResult Offloader::run() {
  if (failed(offloadBlock(func.front())) || failed(sinkStackBuffers()))
    return failure();
  // Constants the kernels use are the kernels' own, not parameters: a
  // vectorised tile's vector constants could not be passed (the ABI takes
  // scalars and pointers), and bounds known in the kernel let LLVM unroll.
  SmallVector<gpu::LaunchOp> launches;
  func.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
  for (gpu::LaunchOp launch : launches)
    if (failed(sinkOperationsIntoLaunchOp(launch, [](Operation *op) {
          return isa<arith::ConstantOp>(op);
        })))
      return failure();
  return success();
}

struct OffloadToGpuPass : public mm::impl::OffloadToGpuBase<OffloadToGpuPass> {
  using OffloadToGpuBase::OffloadToGpuBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (threadsPerBlock < 1 || threadsPerBlock > 1024) {
      module.emitError() << "threads-per-block must be in [1, 1024], got "
                         << threadsPerBlock;
      return signalPassFailure();
    }
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    for (auto func : module.getOps<func::FuncOp>()) {
      // The entry points and the kernel functions they call.
      if (func.isExternal() ||
          !(func->hasAttr("llvm.emit_c_interface") ||
            func->hasAttr(MMDialect::kLoweringAttrName)))
        continue;
      Offloader offloader(func, threadsPerBlock);
      if (failed(offloader.run()))
        return signalPassFailure();
      numLaunches += offloader.numLaunches;
    }
  }
};

} // namespace
