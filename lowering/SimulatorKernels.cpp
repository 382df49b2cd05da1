//===- SimulatorKernels.cpp - host copies of the GPU kernels --------------===//
//
// Every GPU artifact also runs on the simulator device (`--device sim`,
// runtime/gpu/SimDevice.h): beside the PTX or hsaco it carries a host copy
// of each kernel, built here from the gpu.module as it is just before the
// vendor conversion, so the simulator runs the very kernels the GPU would.
//
// Each kernel K becomes a host function
//
//   func.func @__mmsim_impl_K(<K's arguments>, %shared: memref<?xi8>,
//                             %thread: !llvm.ptr)
//
// that runs K for one thread (common/SimKernelAbi.h is the contract):
//   - thread, block and grid ids and sizes, the lane id and the subgroup
//     size are loads from the MMSimThread `%thread` points to;
//   - workgroup attributions (and dynamic shared memory after them) are
//     views of `%shared`, the block's shared memory; private attributions
//     are stack buffers;
//   - gpu.barrier and gpu.shuffle are calls into the simulator, which runs
//     the threads of a block as fibers when a kernel uses them; subgroup and
//     all-reduce operations are first rewritten into shuffles, barriers and
//     shared memory by upstream's patterns, so they run as the GPU's own
//     lowering would;
//   - the warp-level matrix instructions (nvgpu.mma_sync, nvgpu.ldmatrix,
//     amdgpu.mfma) are warp-collective calls (mmsim_matrix_multiply,
//     mmsim_load_matrix), each lane's fragments passed through stack slots;
//     the simulator lays them out as the PTX and CDNA3 ISAs do;
//   - the asynchronous copies (nvgpu.device_async_copy) copy at once, as
//     a vector load and store that are counted and checked like any other;
//     their groups and waits do nothing. A kernel that reads shared memory
//     before the wait covering its copy therefore runs correctly here
//     rather than being caught (the GPU may give it stale bytes);
//   - every memref access is checked: an index outside its memref's bounds
//     calls mmsim_out_of_bounds (the access is skipped, the launch fails
//     naming the kernel, thread, buffer and index), and every shared-memory
//     access is first reported to the simulator (mmsim_shared_access),
//     which checks races between barriers and reads of bytes never written;
//   - each block of operations adds what it does to the worker's counters
//     inline: bytes of global loads and stores, floating-point operations.
// Each check site (op, source location, buffer) is listed in the module
// attribute `mm.sim.sites`, so the simulator's errors can name it; the
// function keeps what the kernel table needs in `mm.sim.*` attributes.
// mm-simulator-kernel-table, after the host lowering to the LLVM dialect,
// adds the `__mmsim_K(void **params, MMSimThread *)` entry points and the
// `mm_sim_kernels` table.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"
#include "lowering/SimulatorAbi.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/ScopeExit.h"

namespace mm {
#define GEN_PASS_DEF_SIMULATORKERNELS
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// Where the memory a memref value addresses lives.
enum class MemorySpace { Global, Shared, Private };

struct MemoryRoot {
  MemorySpace space = MemorySpace::Global;
  /// Global: the kernel argument; Shared: the workgroup attribution (-1:
  /// dynamic shared memory); Private: unused.
  int64_t index = 0;
};

/// A memref type with its memory space dropped (the host has one).
Type stripMemorySpace(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref || !memref.getMemorySpace())
    return type;
  return MemRefType::get(memref.getShape(), memref.getElementType(),
                         memref.getLayout(), Attribute());
}

/// Bytes of a scalar or vector value (an index is 8 bytes on the host).
int64_t bytesOf(Type type) {
  if (auto vector = dyn_cast<VectorType>(type))
    return vector.getNumElements() * bytesOf(vector.getElementType());
  if (type.isIndex())
    return 8;
  return (type.getIntOrFloatBitWidth() + 7) / 8;
}

int64_t elementsOf(Type type) {
  if (auto vector = dyn_cast<VectorType>(type))
    return vector.getNumElements();
  return 1;
}

/// Floating-point operations an op does, as SimKernelAbi.h counts them.
int64_t flopsOf(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumOperands() == 0)
    return 0;
  Type type = op->getOperand(0).getType();
  if (!isa<FloatType>(getElementTypeOrSelf(type)))
    return 0;
  if (isa<math::FmaOp, vector::FMAOp>(op))
    return 2 * elementsOf(type);
  // An atomic add, multiply, min or max of floats is one operation; an
  // exchange none.
  if (auto atomic = dyn_cast<memref::AtomicRMWOp>(op))
    return atomic.getKind() == arith::AtomicRMWKind::assign ? 0
                                                            : elementsOf(type);
  if (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp,
          arith::RemFOp, arith::NegFOp, arith::CmpFOp, arith::MaximumFOp,
          arith::MinimumFOp, arith::MaxNumFOp, arith::MinNumFOp>(op) ||
      isa<math::MathDialect>(op->getDialect()))
    return elementsOf(type);
  return 0;
}

/// The kind of kernel a name says ("mm_prefill_scan_3" is a scan): the name
/// without the entry point's prefix and the launch number.
std::string kernelKind(StringRef name) {
  for (StringRef entry :
       {"mm_prefill_last_", "mm_prefill_", "mm_decode_", "mm_init_state_"})
    if (name.consume_front(entry))
      break;
  size_t underscore = name.rfind('_');
  if (underscore != StringRef::npos &&
      llvm::all_of(name.drop_front(underscore + 1),
                   [](char c) { return c >= '0' && c <= '9'; }) &&
      underscore + 1 < name.size())
    name = name.take_front(underscore);
  return name.str();
}

std::string printed(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    os << file.getFilename().getValue() << ":" << file.getLine() << ":"
       << file.getColumn();
  else if (auto fused = dyn_cast<FusedLoc>(loc);
           fused && !fused.getLocations().empty())
    return printed(fused.getLocations().front());
  else if (auto named = dyn_cast<NameLoc>(loc))
    return printed(named.getChildLoc());
  else if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return printed(callSite.getCallee());
  else
    os << "unknown";
  return text;
}

std::string printed(Type type) {
  std::string text;
  llvm::raw_string_ostream(text) << type;
  return text;
}

class KernelCopier {
public:
  KernelCopier(ModuleOp module, gpu::GPUFuncOp kernel, const TargetInfo &target,
               SmallVectorImpl<Attribute> &sites)
      : module(module), kernel(kernel), target(target), sites(sites),
        b(module.getContext()) {}

  /// Builds the host copy; errors are emitted on the kernel.
  LogicalResult run();

private:
  LogicalResult lowerCollectives(gpu::GPUFuncOp work);
  LogicalResult buildFunction(gpu::GPUFuncOp work);
  std::optional<MemoryRoot> rootOf(Value memref);
  LogicalResult replaceGpuOps();
  void addCounters();
  LogicalResult checkAccesses();
  void checkAccess(Operation *op, Value memref, ValueRange indices,
                   Type accessType, bool isWrite, bool isAtomic);
  /// A check site: the op, where it is, and the memref it accesses if any.
  int32_t addSite(Operation *op, Value memref = Value());
  void stripMemorySpaces();
  /// nvgpu.mma_sync, nvgpu.ldmatrix and amdgpu.mfma as warp-collective calls
  /// into the simulator, their fragments passed through stack slots.
  LogicalResult replaceMatrixOps();
  /// nvgpu.device_async_copy as an immediate vector load and store (then
  /// counted and checked), its groups and waits dropped.
  LogicalResult replaceAsyncCopies();
  /// Bytes from the block's shared memory to element `indices` of `memref`.
  Value sharedByteOffset(Location loc, Value memref, ValueRange indices);
  /// A stack slot (allocated at the function's entry) holding `value`, a
  /// vector flattened to 1-D.
  Value spill(Location loc, Value value);
  Value stackSlot(Location loc, Type type);
  /// Loads a value of `type` (a vector from its flat form) from a slot.
  Value reload(Location loc, Value slot, Type type);

  Value threadField(Location loc, int64_t offset, Type type);
  Value threadIndex(Location loc, int64_t offset, gpu::Dimension dimension);
  Value indexConstant(Location loc, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  func::FuncOp runtimeFunction(StringRef name, FunctionType type);

  ModuleOp module;
  gpu::GPUFuncOp kernel;
  const TargetInfo &target;
  SmallVectorImpl<Attribute> &sites;
  OpBuilder b;

  func::FuncOp copy;
  unsigned numArguments = 0;
  Value shared, thread;
  /// Byte offsets of the workgroup attributions in shared memory, and their
  /// total (where dynamic shared memory starts).
  SmallVector<int64_t> workgroupOffsets;
  int64_t staticSharedBytes = 0;
  bool cooperative = false;
};

LogicalResult KernelCopier::run() {
  // Work on a clone in the kernel's module: upstream's patterns rewrite
  // collectives into shuffles and workgroup attributions of the function.
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfter(kernel);
  auto work = cast<gpu::GPUFuncOp>(b.clone(*kernel));
  work.setName((Twine("__mmsim_work_") + kernel.getName()).str());
  llvm::scope_exit eraseWork([&] { work.erase(); });
  if (failed(lowerCollectives(work)) || failed(buildFunction(work)))
    return failure();
  if (failed(replaceAsyncCopies()))
    return failure();
  addCounters();
  if (failed(replaceMatrixOps()) || failed(replaceGpuOps()) ||
      failed(checkAccesses()))
    return failure();
  stripMemorySpaces();

  // What mm-simulator-kernel-table needs to describe the parameters.
  SmallVector<int64_t> ranks, elementBytes;
  for (Type type : kernel.getFunctionType().getInputs()) {
    auto memref = dyn_cast<MemRefType>(type);
    ranks.push_back(memref ? memref.getRank() : -1);
    elementBytes.push_back(memref ? bytesOf(memref.getElementType())
                                  : bytesOf(type));
  }
  MLIRContext *context = module.getContext();
  copy->setAttr(sim::kKernelAttr, StringAttr::get(context, kernel.getName()));
  copy->setAttr(sim::kKindAttr,
                StringAttr::get(context, kernelKind(kernel.getName())));
  copy->setAttr(sim::kArgRanksAttr, DenseI64ArrayAttr::get(context, ranks));
  copy->setAttr(sim::kArgElementBytesAttr,
                DenseI64ArrayAttr::get(context, elementBytes));
  copy->setAttr(sim::kSharedBytesAttr,
                IntegerAttr::get(IntegerType::get(context, 64),
                                 staticSharedBytes));
  copy->setAttr(sim::kCooperativeAttr, BoolAttr::get(context, cooperative));
  if (auto known = kernel.getKnownBlockSizeAttr())
    copy->setAttr(sim::kKnownBlockSizeAttr, known);
  return success();
}

LogicalResult KernelCopier::lowerCollectives(gpu::GPUFuncOp work) {
  RewritePatternSet patterns(module.getContext());
  populateGpuAllReducePatterns(patterns);
  populateGpuBreakDownSubgroupReducePatterns(patterns, /*maxShuffleBitwidth=*/32);
  populateGpuLowerSubgroupReduceToShufflePatterns(
      patterns, target.subgroupWidth, /*shuffleBitwidth=*/32);
  populateGpuLowerClusteredSubgroupReduceToShufflePatterns(
      patterns, target.subgroupWidth, /*shuffleBitwidth=*/32);
  populateGpuShufflePatterns(patterns);
  populateGpuGlobalIdPatterns(patterns);
  populateGpuSubgroupIdPatterns(patterns);
  if (failed(applyPatternsGreedily(work, std::move(patterns))))
    return work.emitOpError("the simulator's rewrite of collectives failed");
  return success();
}

LogicalResult KernelCopier::buildFunction(gpu::GPUFuncOp work) {
  MLIRContext *context = module.getContext();
  Location loc = kernel.getLoc();
  Type sharedType = MemRefType::get({ShapedType::kDynamic},
                                    IntegerType::get(context, 8));
  SmallVector<Type> inputs;
  for (Type type : work.getFunctionType().getInputs())
    inputs.push_back(stripMemorySpace(type));
  numArguments = inputs.size();
  inputs.push_back(sharedType);
  inputs.push_back(LLVM::LLVMPointerType::get(context));

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  copy = func::FuncOp::create(
      b, loc, (Twine(sim::kImplPrefix) + kernel.getName()).str(),
      FunctionType::get(context, inputs, {}));
  Block *entry = copy.addEntryBlock();
  shared = entry->getArgument(numArguments);
  thread = entry->getArgument(numArguments + 1);

  // The kernel's body after the prologue: its arguments, shared memory
  // views for its workgroup attributions, stack buffers for its private
  // ones.
  b.setInsertionPointToStart(entry);
  IRMapping mapping;
  for (unsigned i = 0; i < numArguments; ++i)
    mapping.map(work.getArgument(i), entry->getArgument(i));
  for (BlockArgument attribution : work.getWorkgroupAttributions()) {
    auto type = cast<MemRefType>(stripMemorySpace(attribution.getType()));
    if (!type.hasStaticShape() || !type.getLayout().isIdentity())
      return kernel.emitOpError(
          "the simulator needs workgroup attributions of static shape");
    int64_t bytes = type.getNumElements() * bytesOf(type.getElementType());
    int64_t offset = llvm::alignTo(staticSharedBytes, 16);
    workgroupOffsets.push_back(offset);
    staticSharedBytes = offset + bytes;
    Value view = memref::ViewOp::create(b, attribution.getLoc(), type, shared,
                                        indexConstant(loc, offset),
                                        ValueRange());
    mapping.map(attribution, view);
    cooperative = true;
  }
  staticSharedBytes = llvm::alignTo(staticSharedBytes, 16);
  for (BlockArgument attribution : work.getPrivateAttributions()) {
    auto type = cast<MemRefType>(stripMemorySpace(attribution.getType()));
    mapping.map(attribution,
                memref::AllocaOp::create(b, attribution.getLoc(), type));
  }

  Region &body = work.getBody();
  if (!body.hasOneBlock())
    return kernel.emitOpError(
        "the simulator needs kernels with one block (structured control "
        "flow); run it before scf-to-cf");
  for (Operation &op : body.front().getOperations())
    b.clone(op, mapping);
  return success();
}

std::optional<MemoryRoot> KernelCopier::rootOf(Value memref) {
  while (true) {
    if (auto argument = dyn_cast<BlockArgument>(memref)) {
      if (argument.getOwner() == &copy.getBody().front()) {
        if (argument == shared)
          return MemoryRoot{MemorySpace::Shared, -1};
        if (argument.getArgNumber() < numArguments)
          return MemoryRoot{MemorySpace::Global, argument.getArgNumber()};
      }
      return std::nullopt;
    }
    Operation *def = memref.getDefiningOp();
    if (isa<memref::AllocaOp>(def))
      return MemoryRoot{MemorySpace::Private, 0};
    // Before replaceGpuOps makes it a view of `shared`.
    if (isa<gpu::DynamicSharedMemoryOp>(def))
      return MemoryRoot{MemorySpace::Shared, -1};
    if (auto view = dyn_cast<memref::ViewOp>(def);
        view && view.getSource() == shared) {
      auto *offset = llvm::find(workgroupOffsets,
                                getConstantIntValue(view.getByteShift())
                                    .value_or(-1));
      return MemoryRoot{MemorySpace::Shared,
                        offset == workgroupOffsets.end()
                            ? -1
                            : offset - workgroupOffsets.begin()};
    }
    if (auto viewLike = dyn_cast<ViewLikeOpInterface>(def)) {
      memref = viewLike.getViewSource();
      continue;
    }
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      memref = cast.getSource();
      continue;
    }
    return std::nullopt;
  }
}

Value KernelCopier::threadField(Location loc, int64_t offset, Type type) {
  MLIRContext *context = b.getContext();
  Value address = LLVM::GEPOp::create(
      b, loc, LLVM::LLVMPointerType::get(context), IntegerType::get(context, 8),
      thread, ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(offset)});
  return LLVM::LoadOp::create(b, loc, type, address);
}

Value KernelCopier::threadIndex(Location loc, int64_t offset,
                                gpu::Dimension dimension) {
  Value value = threadField(loc, offset + 4 * static_cast<int64_t>(dimension),
                            b.getI32Type());
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), value);
}

func::FuncOp KernelCopier::runtimeFunction(StringRef name, FunctionType type) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto function = func::FuncOp::create(b, module.getLoc(), name, type);
  function.setPrivate();
  return function;
}

int32_t KernelCopier::addSite(Operation *op, Value memref) {
  MLIRContext *context = b.getContext();
  SmallVector<NamedAttribute> fields{
      b.getNamedAttr("kernel", StringAttr::get(context, kernel.getName())),
      b.getNamedAttr("op",
                     StringAttr::get(context, op->getName().getStringRef())),
      b.getNamedAttr("loc", StringAttr::get(context, printed(op->getLoc())))};
  if (!memref) {
    sites.push_back(DictionaryAttr::get(context, fields));
    return static_cast<int32_t>(sites.size() - 1);
  }
  std::string buffer = "a buffer";
  if (std::optional<MemoryRoot> root = rootOf(memref)) {
    switch (root->space) {
    case MemorySpace::Global:
      buffer = "argument " + std::to_string(root->index);
      break;
    case MemorySpace::Shared:
      buffer = root->index < 0
                   ? std::string("dynamic shared memory")
                   : "workgroup buffer " + std::to_string(root->index);
      break;
    case MemorySpace::Private:
      buffer = "a private buffer";
      break;
    }
  }
  fields.push_back(b.getNamedAttr("buffer", StringAttr::get(context, buffer)));
  fields.push_back(b.getNamedAttr(
      "type", StringAttr::get(context, printed(memref.getType()))));
  sites.push_back(DictionaryAttr::get(context, fields));
  return static_cast<int32_t>(sites.size() - 1);
}

LogicalResult KernelCopier::replaceGpuOps() {
  MLIRContext *context = b.getContext();
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  Type pointer = LLVM::LLVMPointerType::get(context);
  SmallVector<Operation *> gpuOps;
  copy.walk([&](Operation *op) {
    if (isa<gpu::GPUDialect>(op->getDialect()))
      gpuOps.push_back(op);
  });
  for (Operation *op : gpuOps) {
    b.setInsertionPoint(op);
    Location loc = op->getLoc();
    Value replacement;
    if (auto id = dyn_cast<gpu::ThreadIdOp>(op))
      replacement = threadIndex(loc, sim::kThreadIdOffset, id.getDimension());
    else if (auto id = dyn_cast<gpu::BlockIdOp>(op))
      replacement = threadIndex(loc, sim::kBlockIdOffset, id.getDimension());
    else if (auto dim = dyn_cast<gpu::BlockDimOp>(op))
      replacement = threadIndex(loc, sim::kBlockDimOffset, dim.getDimension());
    else if (auto dim = dyn_cast<gpu::GridDimOp>(op))
      replacement = threadIndex(loc, sim::kGridDimOffset, dim.getDimension());
    else if (isa<gpu::LaneIdOp>(op))
      replacement = arith::IndexCastUIOp::create(
          b, loc, b.getIndexType(),
          threadField(loc, sim::kLaneIdOffset, i32));
    else if (isa<gpu::SubgroupSizeOp>(op))
      replacement = arith::IndexCastUIOp::create(
          b, loc, b.getIndexType(),
          threadField(loc, sim::kSubgroupSizeOffset, i32));
    else if (isa<gpu::NumSubgroupsOp>(op)) {
      Value threads = arith::MulIOp::create(
          b, loc,
          threadIndex(loc, sim::kBlockDimOffset, gpu::Dimension::x),
          arith::MulIOp::create(
              b, loc,
              threadIndex(loc, sim::kBlockDimOffset, gpu::Dimension::y),
              threadIndex(loc, sim::kBlockDimOffset, gpu::Dimension::z)));
      Value width = arith::IndexCastUIOp::create(
          b, loc, b.getIndexType(),
          threadField(loc, sim::kSubgroupSizeOffset, i32));
      // ceil(threads / width), in operations the host lowering has.
      replacement = arith::DivUIOp::create(
          b, loc,
          arith::SubIOp::create(
              b, loc, arith::AddIOp::create(b, loc, threads, width),
              indexConstant(loc, 1)),
          width);
    } else if (auto barrier = dyn_cast<gpu::BarrierOp>(op)) {
      cooperative = true;
      auto callee = runtimeFunction(
          "mmsim_barrier", FunctionType::get(context, {pointer, i32}, {}));
      int32_t site = addSite(op);
      func::CallOp::create(
          b, loc, callee,
          ValueRange{thread, arith::ConstantIntOp::create(b, loc, i32, site)});
      op->erase();
      continue;
    } else if (auto shuffle = dyn_cast<gpu::ShuffleOp>(op)) {
      cooperative = true;
      Type type = shuffle.getValue().getType();
      if (type.getIntOrFloatBitWidth() != 32)
        return shuffle.emitOpError(
            "the simulator shuffles 32-bit values (wider ones are split "
            "before)");
      auto callee = runtimeFunction(
          "mmsim_shuffle",
          FunctionType::get(context, {pointer, i32, i32, i32, i32, i32}, {i64}));
      int32_t site = addSite(op);
      Value bits = shuffle.getValue();
      if (!type.isInteger(32))
        bits = arith::BitcastOp::create(b, loc, i32, bits);
      int32_t mode = 0;
      switch (shuffle.getMode()) {
      case gpu::ShuffleMode::XOR:
        mode = MMSIM_SHUFFLE_XOR;
        break;
      case gpu::ShuffleMode::DOWN:
        mode = MMSIM_SHUFFLE_DOWN;
        break;
      case gpu::ShuffleMode::UP:
        mode = MMSIM_SHUFFLE_UP;
        break;
      case gpu::ShuffleMode::IDX:
        mode = MMSIM_SHUFFLE_IDX;
        break;
      }
      Value result =
          func::CallOp::create(
              b, loc, callee,
              ValueRange{thread, bits, shuffle.getOffset(), shuffle.getWidth(),
                         arith::ConstantIntOp::create(b, loc, i32, mode),
                         arith::ConstantIntOp::create(b, loc, i32, site)})
              .getResult(0);
      Value value = arith::TruncIOp::create(b, loc, i32, result);
      if (!type.isInteger(32))
        value = arith::BitcastOp::create(b, loc, type, value);
      Value valid = arith::TruncIOp::create(
          b, loc, b.getI1Type(),
          arith::ShRUIOp::create(b, loc, result,
                                 arith::ConstantIntOp::create(b, loc, i64, 32)));
      op->replaceAllUsesWith(ValueRange{value, valid});
      op->erase();
      continue;
    } else if (auto dynamic = dyn_cast<gpu::DynamicSharedMemoryOp>(op)) {
      cooperative = true;
      // After the workgroup attributions; the simulator bounds accesses by
      // the launch's shared memory size.
      replacement = memref::ViewOp::create(
          b, loc,
          MemRefType::get({ShapedType::kDynamic}, b.getIntegerType(8)), shared,
          indexConstant(loc, staticSharedBytes),
          ValueRange{indexConstant(loc, int64_t(1) << 30)});
    } else if (isa<gpu::ReturnOp>(op)) {
      func::ReturnOp::create(b, loc);
      op->erase();
      continue;
    } else {
      return op->emitOpError("the simulator cannot run this operation yet "
                             "(kernel ")
             << kernel.getName() << ")";
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  // Vendor operations have no host copy yet: name them.
  WalkResult unsupported = copy.walk([&](Operation *op) {
    StringRef dialect = op->getDialect() ? op->getDialect()->getNamespace()
                                         : StringRef();
    if (dialect == "nvgpu" || dialect == "amdgpu" || dialect == "nvvm" ||
        dialect == "rocdl") {
      op->emitOpError("the simulator cannot run this operation yet (kernel ")
          << kernel.getName() << ")";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(unsupported.wasInterrupted());
}

void KernelCopier::addCounters() {
  Location loc = copy.getLoc();
  Type i64 = b.getI64Type();
  Type pointer = LLVM::LLVMPointerType::get(b.getContext());
  Block &entry = copy.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value counters = threadField(loc, sim::kCountersOffset, pointer);
  Operation *afterCounters = counters.getDefiningOp();

  auto add = [&](Block &block, Operation *before, int64_t offset,
                 int64_t amount) {
    if (amount == 0)
      return;
    if (before)
      b.setInsertionPoint(before);
    else
      b.setInsertionPointToEnd(&block);
    Value address = LLVM::GEPOp::create(b, loc, pointer, b.getI8Type(),
                                        counters,
                                        ArrayRef<LLVM::GEPArg>{
                                            static_cast<int32_t>(offset)});
    Value old = LLVM::LoadOp::create(b, loc, i64, address);
    Value sum = arith::AddIOp::create(
        b, loc, old, arith::ConstantIntOp::create(b, loc, i64, amount));
    LLVM::StoreOp::create(b, loc, sum, address);
  };

  SmallVector<Block *> blocks;
  copy.walk([&](Block *block) { blocks.push_back(block); });
  for (Block *block : blocks) {
    int64_t loads = 0, stores = 0, flops = 0;
    for (Operation &op : *block) {
      flops += flopsOf(&op);
      auto global = [&](Value memref) {
        std::optional<MemoryRoot> root = rootOf(memref);
        return root && root->space == MemorySpace::Global;
      };
      if (auto load = dyn_cast<memref::LoadOp>(op)) {
        if (global(load.getMemRef()))
          loads += bytesOf(load.getType());
      } else if (auto store = dyn_cast<memref::StoreOp>(op)) {
        if (global(store.getMemRef()))
          stores += bytesOf(store.getValueToStore().getType());
      } else if (auto load = dyn_cast<vector::LoadOp>(op)) {
        if (global(load.getBase()))
          loads += bytesOf(load.getType());
      } else if (auto store = dyn_cast<vector::StoreOp>(op)) {
        if (global(store.getBase()))
          stores += bytesOf(store.getValueToStore().getType());
      } else if (auto atomic = dyn_cast<memref::AtomicRMWOp>(op)) {
        if (global(atomic.getMemref())) {
          loads += bytesOf(atomic.getType());
          stores += bytesOf(atomic.getType());
        }
      }
    }
    // At the start of the block (after the counters pointer in the entry
    // block), so that a block counts once per execution.
    Operation *first = block == &entry ? afterCounters->getNextNode()
                                       : (block->empty() ? nullptr
                                                         : &block->front());
    add(*block, first, sim::kGlobalLoadBytesOffset, loads);
    add(*block, first, sim::kGlobalStoreBytesOffset, stores);
    add(*block, first, sim::kFlopsOffset, flops);
  }
}

LogicalResult KernelCopier::checkAccesses() {
  SmallVector<Operation *> accesses;
  copy.walk([&](Operation *op) {
    if (isa<memref::LoadOp, memref::StoreOp, vector::LoadOp, vector::StoreOp,
            memref::AtomicRMWOp>(op))
      accesses.push_back(op);
  });
  for (Operation *op : accesses) {
    if (auto load = dyn_cast<memref::LoadOp>(op))
      checkAccess(op, load.getMemRef(), load.getIndices(), load.getType(),
                  /*isWrite=*/false, /*isAtomic=*/false);
    else if (auto store = dyn_cast<memref::StoreOp>(op))
      checkAccess(op, store.getMemRef(), store.getIndices(),
                  store.getValueToStore().getType(), true, false);
    else if (auto load = dyn_cast<vector::LoadOp>(op))
      checkAccess(op, load.getBase(), load.getIndices(), load.getType(), false,
                  false);
    else if (auto store = dyn_cast<vector::StoreOp>(op))
      checkAccess(op, store.getBase(), store.getIndices(),
                  store.getValueToStore().getType(), true, false);
    else if (auto atomic = dyn_cast<memref::AtomicRMWOp>(op))
      checkAccess(op, atomic.getMemref(), atomic.getIndices(),
                  atomic.getType(), true, true);
  }
  // Other ways of touching memory have no checks yet: refuse them rather
  // than run them unchecked.
  WalkResult unchecked = copy.walk([&](Operation *op) {
    if (isa<memref::GenericAtomicRMWOp, memref::CopyOp, vector::TransferReadOp,
            vector::TransferWriteOp, vector::MaskedLoadOp,
            vector::MaskedStoreOp, vector::GatherOp, vector::ScatterOp,
            memref::GetGlobalOp>(op)) {
      op->emitOpError("the simulator does not check this access yet (kernel ")
          << kernel.getName() << ")";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(unchecked.wasInterrupted());
}

void KernelCopier::checkAccess(Operation *op, Value memref, ValueRange indices,
                               Type accessType, bool isWrite, bool isAtomic) {
  MLIRContext *context = b.getContext();
  Location loc = op->getLoc();
  auto type = cast<MemRefType>(memref.getType());
  std::optional<MemoryRoot> root = rootOf(memref);
  bool isShared = root && root->space == MemorySpace::Shared;
  // A vector access covers elements [i, i + n) of the last dimension.
  int64_t lastExtent = 1;
  if (auto vector = dyn_cast<VectorType>(accessType))
    lastExtent = vector.getShape().back();

  b.setInsertionPoint(op);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  Type pointer = LLVM::LLVMPointerType::get(context);
  int32_t site = -1;
  auto siteValue = [&] {
    if (site < 0)
      site = addSite(op, memref);
    return arith::ConstantIntOp::create(b, loc, i32, site);
  };

  // Bounds: each index within its dimension, unless constants prove it.
  SmallVector<std::pair<Value, Value>> checks; // (index, size)
  SmallVector<int64_t> checkDims;
  for (auto [dim, index] : llvm::enumerate(indices)) {
    int64_t extent = dim + 1 == indices.size() ? lastExtent : 1;
    int64_t size = type.getDimSize(dim);
    std::optional<int64_t> constant = getConstantIntValue(index);
    if (constant && !ShapedType::isDynamic(size) && *constant >= 0 &&
        *constant + extent <= size)
      continue;
    Value last = extent == 1 ? index
                             : arith::AddIOp::create(
                                   b, loc, index,
                                   indexConstant(loc, extent - 1))
                                   .getResult();
    Value sizeValue = ShapedType::isDynamic(size)
                          ? memref::DimOp::create(b, loc, memref, dim)
                                .getResult()
                          : indexConstant(loc, size);
    checks.push_back({last, sizeValue});
    checkDims.push_back(dim);
  }
  Value ok;
  for (auto [index, size] : checks) {
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         index, size);
    ok = ok ? arith::AndIOp::create(b, loc, ok, inside).getResult() : inside;
  }

  // Shared memory: tell the simulator (races, unwritten bytes, counts)
  // where the access falls, in bytes from the block's shared memory.
  if (isShared) {
    Value offset = sharedByteOffset(loc, memref, indices);
    auto callee = runtimeFunction(
        "mmsim_shared_access",
        FunctionType::get(context, {pointer, i64, i32, i32, i32}, {i32}));
    int32_t flags = (isWrite ? MMSIM_ACCESS_WRITE : 0) |
                    (isAtomic ? MMSIM_ACCESS_ATOMIC : 0);
    Value granted =
        func::CallOp::create(
            b, loc, callee,
            ValueRange{thread,
                       arith::IndexCastOp::create(b, loc, i64, offset),
                       arith::ConstantIntOp::create(b, loc, i32,
                                                    bytesOf(accessType)),
                       arith::ConstantIntOp::create(b, loc, i32, flags),
                       siteValue()})
            .getResult(0);
    Value allowed = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne, granted,
        arith::ConstantIntOp::create(b, loc, i32, 0));
    ok = ok ? arith::AndIOp::create(b, loc, ok, allowed).getResult() : allowed;
  }
  if (!ok)
    return;

  // The access runs only when allowed; otherwise the out-of-bounds indices
  // are reported and a load gives zero.
  // (An scf.if without results comes with its yields.)
  auto guarded = scf::IfOp::create(b, loc, op->getResultTypes(), ok,
                                   /*withElseRegion=*/true);
  b.setInsertionPointToStart(guarded.thenBlock());
  Operation *moved = b.clone(*op);
  if (op->getNumResults())
    scf::YieldOp::create(b, loc, moved->getResults());
  b.setInsertionPointToStart(guarded.elseBlock());
  auto report = runtimeFunction(
      "mmsim_out_of_bounds",
      FunctionType::get(context, {pointer, i32, i32, i64, i64}, {}));
  for (auto [check, dim] : llvm::zip(checks, checkDims)) {
    auto [index, size] = check;
    Value outside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                          index, size);
    auto ifOutside = scf::IfOp::create(b, loc, outside);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOutside.thenBlock());
    func::CallOp::create(
        b, loc, report,
        ValueRange{thread, siteValue(),
                   arith::ConstantIntOp::create(b, loc, i32, dim),
                   arith::IndexCastOp::create(b, loc, i64, index),
                   arith::IndexCastOp::create(b, loc, i64, size)});
  }
  if (op->getNumResults()) {
    Type resultType = op->getResult(0).getType();
    Value zero;
    if (auto vector = dyn_cast<VectorType>(resultType))
      zero = arith::ConstantOp::create(
          b, loc, vector, b.getZeroAttr(vector));
    else
      zero = arith::ConstantOp::create(b, loc, resultType,
                                       b.getZeroAttr(resultType));
    scf::YieldOp::create(b, loc, zero);
  }
  op->replaceAllUsesWith(guarded.getResults());
  op->erase();
}

Value KernelCopier::sharedByteOffset(Location loc, Value memref,
                                     ValueRange indices) {
  auto type = cast<MemRefType>(memref.getType());
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  Value sharedBase =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, shared);
  Value element = metadata.getOffset();
  for (auto [dim, index] : llvm::enumerate(indices))
    element = arith::AddIOp::create(
        b, loc, element,
        arith::MulIOp::create(b, loc, index, metadata.getStrides()[dim]));
  return arith::AddIOp::create(
      b, loc, arith::SubIOp::create(b, loc, base, sharedBase),
      arith::MulIOp::create(b, loc, element,
                            indexConstant(loc, bytesOf(type.getElementType()))));
}

/// A vector type as 1-D (row-major order), how fragments go to memory.
static Type flattened(Type type) {
  auto vector = dyn_cast<VectorType>(type);
  if (!vector || vector.getRank() == 1)
    return type;
  return VectorType::get({vector.getNumElements()}, vector.getElementType());
}

Value KernelCopier::spill(Location loc, Value value) {
  Type type = flattened(value.getType());
  if (type != value.getType())
    value = vector::ShapeCastOp::create(b, loc, type, value);
  Value slot = stackSlot(loc, type);
  LLVM::StoreOp::create(b, loc, value, slot);
  return slot;
}

Value KernelCopier::stackSlot(Location loc, Type type) {
  // At the function's entry, so that a loop does not grow the stack.
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&copy.getBody().front());
  Value one = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                       b.getI64IntegerAttr(1));
  return LLVM::AllocaOp::create(b, loc,
                                LLVM::LLVMPointerType::get(b.getContext()),
                                type, one);
}

Value KernelCopier::reload(Location loc, Value slot, Type type) {
  Type flat = flattened(type);
  Value value = LLVM::LoadOp::create(b, loc, flat, slot);
  if (flat == type)
    return value;
  return vector::ShapeCastOp::create(b, loc, type, value);
}

/// The simulator's name (SimKernelAbi.h) of a warp-level matrix
/// instruction, or nullopt when it has none.
static std::optional<int32_t> matrixShape(Operation *op) {
  // (M, N, K, element type of A and B, the simulator's name); C and D are
  // f32 in all of them.
  enum class Element { F16, BF16, F32 };
  struct Known {
    int64_t m, n, k;
    Element element;
    int32_t shape;
  };
  static constexpr Known kMma[] = {
      {16, 8, 16, Element::F16, MMSIM_MMA_M16N8K16_F16_F32},
      {16, 8, 16, Element::BF16, MMSIM_MMA_M16N8K16_BF16_F32},
      {16, 8, 8, Element::F16, MMSIM_MMA_M16N8K8_F16_F32},
      {16, 8, 8, Element::F32, MMSIM_MMA_M16N8K8_TF32_F32},
      {16, 8, 4, Element::F32, MMSIM_MMA_M16N8K4_TF32_F32}};
  static constexpr Known kMfma[] = {
      {32, 32, 8, Element::F16, MMSIM_MFMA_F32_32X32X8_F16},
      {16, 16, 16, Element::F16, MMSIM_MFMA_F32_16X16X16_F16},
      {32, 32, 8, Element::BF16, MMSIM_MFMA_F32_32X32X8_BF16},
      {16, 16, 16, Element::BF16, MMSIM_MFMA_F32_16X16X16_BF16},
      {16, 16, 4, Element::F32, MMSIM_MFMA_F32_16X16X4_F32},
      {32, 32, 2, Element::F32, MMSIM_MFMA_F32_32X32X2_F32}};
  auto element = [](Value value) -> std::optional<Element> {
    Type type = getElementTypeOrSelf(value.getType());
    if (type.isF16())
      return Element::F16;
    if (type.isBF16())
      return Element::BF16;
    if (type.isF32())
      return Element::F32;
    return std::nullopt;
  };
  auto find = [&](llvm::ArrayRef<Known> known, std::array<int64_t, 3> mnk,
                  Value a) -> std::optional<int32_t> {
    for (const Known &entry : known)
      if (std::array<int64_t, 3>{entry.m, entry.n, entry.k} == mnk &&
          element(a) == entry.element)
        return entry.shape;
    return std::nullopt;
  };
  if (auto mma = dyn_cast<nvgpu::MmaSyncOp>(op)) {
    // f32 operands are tf32 only (mma.sync has no f32 inputs).
    if (element(mma.getMatrixC()) != Element::F32 ||
        (element(mma.getMatrixA()) == Element::F32 &&
         !mma.getTf32Enabled().value_or(false)))
      return std::nullopt;
    return find(kMma, mma.getMmaShapeAsArray(), mma.getMatrixA());
  }
  auto mfma = dyn_cast<amdgpu::MFMAOp>(op);
  if (!mfma || mfma.getBlocks() != 1 || mfma.getCbsz() != 0 ||
      mfma.getAbid() != 0 || mfma.getBlgp() != amdgpu::MFMAPermB::none ||
      mfma.getNegateA() || mfma.getNegateB() || mfma.getNegateC() ||
      element(mfma.getDestC()) != Element::F32)
    return std::nullopt;
  return find(kMfma, {mfma.getM(), mfma.getN(), mfma.getK()},
              mfma.getSourceA());
}

LogicalResult KernelCopier::replaceMatrixOps() {
  MLIRContext *context = b.getContext();
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  Type pointer = LLVM::LLVMPointerType::get(context);
  SmallVector<Operation *> ops;
  copy.walk([&](Operation *op) {
    if (isa<nvgpu::MmaSyncOp, nvgpu::LdMatrixOp, amdgpu::MFMAOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    cooperative = true;
    Location loc = op->getLoc();
    b.setInsertionPoint(op);
    Type resultType = op->getResult(0).getType();
    Value result = stackSlot(loc, flattened(resultType));
    if (auto load = dyn_cast<nvgpu::LdMatrixOp>(op)) {
      std::optional<MemoryRoot> root = rootOf(load.getSrcMemref());
      if (!root || root->space != MemorySpace::Shared ||
          (!getElementTypeOrSelf(resultType).isF16() &&
           !getElementTypeOrSelf(resultType).isBF16() &&
           !getElementTypeOrSelf(resultType).isInteger(16)))
        return op->emitOpError("the simulator runs ldmatrix of 16-bit "
                               "elements from shared memory only (kernel ")
               << kernel.getName() << ")";
      Value offset =
          sharedByteOffset(loc, load.getSrcMemref(), load.getIndices());
      auto callee = runtimeFunction(
          "mmsim_load_matrix",
          FunctionType::get(context, {pointer, i64, i32, i32, pointer, i32},
                            {}));
      func::CallOp::create(
          b, loc, callee,
          ValueRange{
              thread, arith::IndexCastOp::create(b, loc, i64, offset),
              arith::ConstantIntOp::create(b, loc, i32, load.getNumTiles()),
              arith::ConstantIntOp::create(b, loc, i32, load.getTranspose()),
              result,
              arith::ConstantIntOp::create(b, loc, i32,
                                           addSite(op, load.getSrcMemref()))});
    } else {
      std::optional<int32_t> shape = matrixShape(op);
      if (!shape)
        return op->emitOpError("the simulator has no model of this matrix "
                               "instruction's shape, types or modifiers yet "
                               "(kernel ")
               << kernel.getName() << ")";
      auto callee = runtimeFunction(
          "mmsim_matrix_multiply",
          FunctionType::get(
              context, {pointer, i32, pointer, pointer, pointer, pointer, i32},
              {}));
      func::CallOp::create(
          b, loc, callee,
          ValueRange{thread, arith::ConstantIntOp::create(b, loc, i32, *shape),
                     spill(loc, op->getOperand(0)),
                     spill(loc, op->getOperand(1)),
                     spill(loc, op->getOperand(2)), result,
                     arith::ConstantIntOp::create(b, loc, i32, addSite(op))});
    }
    op->getResult(0).replaceAllUsesWith(reload(loc, result, resultType));
    op->erase();
  }
  return success();
}

LogicalResult KernelCopier::replaceAsyncCopies() {
  SmallVector<Operation *> waits, groups;
  SmallVector<nvgpu::DeviceAsyncCopyOp> copies;
  copy.walk([&](Operation *op) {
    if (isa<nvgpu::DeviceAsyncWaitOp>(op))
      waits.push_back(op);
    else if (isa<nvgpu::DeviceAsyncCreateGroupOp>(op))
      groups.push_back(op);
    else if (auto asyncCopy = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op))
      copies.push_back(asyncCopy);
  });
  // Tokens only order the copies: with immediate copies they carry nothing.
  for (Operation *op : llvm::concat<Operation *>(waits, groups)) {
    if (op->getNumResults() && !op->getResult(0).use_empty())
      return op->emitOpError("the simulator needs async tokens used only by "
                             "groups and waits (kernel ")
             << kernel.getName() << ")";
    op->erase();
  }
  for (nvgpu::DeviceAsyncCopyOp asyncCopy : copies) {
    if (!asyncCopy.getAsyncToken().use_empty())
      return asyncCopy.emitOpError("the simulator needs async tokens used "
                                   "only by groups and waits (kernel ")
             << kernel.getName() << ")";
    Location loc = asyncCopy.getLoc();
    b.setInsertionPoint(asyncCopy);
    int64_t elements = asyncCopy.getDstElements().getZExtValue();
    Type element =
        cast<MemRefType>(asyncCopy.getDst().getType()).getElementType();
    auto type = VectorType::get({elements}, element);
    Value value;
    if (Value sourceElements = asyncCopy.getSrcElements()) {
      // Only the first `sourceElements` are read, the rest are zeros: each
      // element a guarded load.
      SmallVector<Value> indices(asyncCopy.getSrcIndices());
      Value last = indices.back();
      SmallVector<Value> values;
      for (int64_t i = 0; i < elements; ++i) {
        Value offset = indexConstant(loc, i);
        auto read = scf::IfOp::create(
            b, loc, TypeRange{element},
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, offset,
                                  sourceElements),
            /*withElseRegion=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(read.thenBlock());
        indices.back() = arith::AddIOp::create(b, loc, last, offset);
        scf::YieldOp::create(
            b, loc,
            memref::LoadOp::create(b, loc, asyncCopy.getSrc(), indices)
                .getResult());
        b.setInsertionPointToStart(read.elseBlock());
        scf::YieldOp::create(
            b, loc,
            arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element))
                .getResult());
        values.push_back(read.getResult(0));
      }
      value = vector::FromElementsOp::create(b, loc, type, values);
    } else {
      value = vector::LoadOp::create(b, loc, type, asyncCopy.getSrc(),
                                     asyncCopy.getSrcIndices());
    }
    vector::StoreOp::create(b, loc, value, asyncCopy.getDst(),
                            asyncCopy.getDstIndices());
    asyncCopy.erase();
  }
  return success();
}

void KernelCopier::stripMemorySpaces() {
  copy.walk([](Operation *op) {
    for (Value result : op->getResults())
      result.setType(stripMemorySpace(result.getType()));
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument argument : block.getArguments())
          argument.setType(stripMemorySpace(argument.getType()));
  });
}

class SimulatorKernels : public mm::impl::SimulatorKernelsBase<SimulatorKernels> {
public:
  using SimulatorKernelsBase::SimulatorKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::Expected<TargetInfo> target = TargetInfo::parse(targetSpec);
    if (!target) {
      module.emitError(llvm::toString(target.takeError()));
      return signalPassFailure();
    }
    if (!target->isGpu()) {
      module.emitError("mm-simulator-kernels needs a GPU target, not '")
          << targetSpec << "'";
      return signalPassFailure();
    }
    SmallVector<Attribute> sites;
    SmallVector<gpu::GPUFuncOp> kernels;
    module.walk([&](gpu::GPUFuncOp function) {
      if (function.isKernel())
        kernels.push_back(function);
    });
    for (gpu::GPUFuncOp kernel : kernels)
      if (failed(KernelCopier(module, kernel, *target, sites).run()))
        return signalPassFailure();
    numKernels = kernels.size();
    MLIRContext *context = module.getContext();
    if (dropDeviceCode) {
      for (auto gpuModule :
           llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>()))
        gpuModule.erase();
      module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
    }
    module->setAttr(sim::kSitesAttr, ArrayAttr::get(context, sites));
    module->setAttr(sim::kTargetAttr,
                    StringAttr::get(context, target->spec()));
  }
};

} // namespace
