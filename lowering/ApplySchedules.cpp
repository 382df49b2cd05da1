//===- ApplySchedules.cpp - transform schedules for the linalg kernels ----===//
//
// Applies, to each kernel function, the transform-dialect schedule of its
// (kind, target): the default ones are lowering/schedules/<target>/<kind>.mlir,
// built into the binary by lowering/EmbedSchedules.cmake; a user replaces one
// with `schedule=KIND:FILE`. Upstream's interpreter does the work
// (transform::applyTransformNamedSequence); this pass only finds the
// schedule, binds the kernel function to it and names the file on failure.
//
// A schedule that bufferises may leave heap buffers in the kernel (a
// partial-sum tile one_shot_bufferize could not keep in registers, say);
// upstream's buffer deallocation pipeline frees them after the schedule, so
// no schedule, default or a user's, leaks memory on every call.
//
//===----------------------------------------------------------------------===//

#include "dialect/MMDialect.h"
#include "dialect/MMOps.h"
#include "lowering/LinalgEmitters.h"
#include "lowering/LoweringPasses.h"
#include "lowering/Schedules.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Affine/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/TransformOps/DialectExtension.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/MemRef/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/TransformOps/MemRefTransformOps.h"
#include "mlir/Dialect/SCF/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/TransformOps/SCFTransformOps.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/TransformOps/VectorTransformOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

namespace mm {
#define GEN_PASS_DEF_APPLYSCHEDULES
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// The name of the one named sequence of a schedule file.
constexpr llvm::StringLiteral kEntryPoint = "schedule";
/// The argument attributes of @schedule's size parameters: the kernel size
/// bound to it and the value taken when the kernel has none.
constexpr llvm::StringLiteral kSizeArgAttr = "mm.size";
constexpr llvm::StringLiteral kDefaultArgAttr = "mm.default";

/// A parsed schedule, where it came from (for errors and the manifest) and
/// the hash of its text (for the manifest).
struct Schedule {
  OwningOpRef<ModuleOp> module;
  transform::NamedSequenceOp entry;
  std::string path, hash;
  bool applied = false;
};

struct ApplySchedulesPass
    : public mm::impl::ApplySchedulesBase<ApplySchedulesPass> {
  using ApplySchedulesBase::ApplySchedulesBase;

  /// Frees what a schedule's bufferisation left on the heap: upstream's
  /// ownership-based deallocation, run on each scheduled kernel (not on
  /// the module: the loop kernels free their own buffers, and that pass
  /// takes no IR that already deallocates; see freeBuffers).
  static OpPassManager deallocationPipeline() {
    OpPassManager pipeline(func::FuncOp::getOperationName());
    bufferization::buildBufferDeallocationPipeline(pipeline);
    return pipeline;
  }

  void getDependentDialects(DialectRegistry &registry) const override {
    deallocationPipeline().getDependentDialects(registry);
    // What the schedules are written in and what they produce.
    registry.insert<transform::TransformDialect, linalg::LinalgDialect,
                    vector::VectorDialect, scf::SCFDialect,
                    affine::AffineDialect, arith::ArithDialect,
                    memref::MemRefDialect, math::MathDialect>();
    linalg::registerTransformDialectExtension(registry);
    scf::registerTransformDialectExtension(registry);
    // Folding the sizes of buffers to the values they were allocated with
    // (lowering/schedules/gpu/norm.mlir).
    memref::registerTransformDialectExtension(registry);
    vector::registerTransformDialectExtension(registry);
    // Tiling linalg operations with dynamic sizes.
    linalg::registerTilingInterfaceExternalModels(registry);
    affine::registerValueBoundsOpInterfaceExternalModels(registry);
    arith::registerValueBoundsOpInterfaceExternalModels(registry);
    // Bufferising the GEMM's tensors and splitting their reductions.
    registerLinalgBufferization(registry);
    linalg::registerValueBoundsOpInterfaceExternalModels(registry);
    memref::registerValueBoundsOpInterfaceExternalModels(registry);
    scf::registerValueBoundsOpInterfaceExternalModels(registry);
  }

  /// Parses `text` (from `path`, for `kind`) into `schedule`; reports
  /// failures at `loc`.
  LogicalResult parse(StringRef text, StringRef path, StringRef kind,
                      Location loc, Schedule &schedule) {
    ParserConfig config(&getContext());
    // The parser's own diagnostics carry the file's line and column.
    schedule.module = parseSourceString<ModuleOp>(text, config, path);
    if (!schedule.module)
      return emitError(loc) << "cannot parse the schedule of kind '" << kind
                            << "' in " << path;
    schedule.entry = dyn_cast_or_null<transform::NamedSequenceOp>(
        SymbolTable::lookupSymbolIn(*schedule.module, kEntryPoint));
    if (!schedule.entry)
      return emitError(loc)
             << "the schedule of kind '" << kind << "' in " << path
             << " has no transform.named_sequence @" << kEntryPoint;
    schedule.path = path.str();
    schedule.hash = scheduleHash(text);
    return success();
  }

  /// Frees every heap buffer of a scheduled kernel with upstream's
  /// deallocation pipeline. The kernel's own scratch (mm-lower-to-loops
  /// frees it at the end of the kernel) is handed over to the pipeline:
  /// ownership-based deallocation takes no IR that deallocates already, and
  /// frees those buffers as it frees the schedule's.
  LogicalResult freeBuffers(func::FuncOp kernel, OpPassManager &pipeline) {
    SmallVector<memref::DeallocOp> deallocs;
    kernel.walk([&](memref::DeallocOp dealloc) {
      if (dealloc.getMemref().getDefiningOp<memref::AllocOp>())
        deallocs.push_back(dealloc);
    });
    for (memref::DeallocOp dealloc : deallocs)
      dealloc.erase();
    return runPipeline(pipeline, kernel);
  }

  /// What the schedule's @schedule takes: the kernel function, then one
  /// !transform.param<i64> per size of the kernel it reads, named by its
  /// argument attribute `mm.size` (a key of the kernel's #mm.fusion, such as
  /// `tokens`), with `mm.default` where the kernel may lack it. The sizes a
  /// tuning file or mm-compile's flags choose thus reach the schedule.
  std::optional<RaggedArray<transform::MappedValue>>
  bindArguments(func::FuncOp kernel, FusionAttr fusion, Schedule &schedule,
                StringRef kind) {
    RaggedArray<transform::MappedValue> bindings;
    bindings.push_back(ArrayRef<transform::MappedValue>{kernel.getOperation()});
    Builder b(kernel.getContext());
    for (unsigned i = 1, e = schedule.entry.getNumArguments(); i < e; ++i) {
      auto size = schedule.entry.getArgAttrOfType<StringAttr>(i, kSizeArgAttr);
      auto fallback =
          schedule.entry.getArgAttrOfType<IntegerAttr>(i, kDefaultArgAttr);
      if (!size ||
          !isa<transform::ParamType>(schedule.entry.getArgument(i).getType())) {
        kernel.emitOpError()
            << "the schedule of kind '" << kind << "' in " << schedule.path
            << ": argument " << i << " of @" << kEntryPoint
            << " must be a !transform.param<i64> naming a size of the kernel "
               "with {"
            << kSizeArgAttr << " = \"...\"}";
        return std::nullopt;
      }
      int64_t value = fusion.getParam(size.getValue(), -1);
      if (value < 0 && !fallback) {
        kernel.emitOpError()
            << "the schedule of kind '" << kind << "' in " << schedule.path
            << " reads the size '" << size.getValue()
            << "', which this kernel's #mm.fusion lacks (give the argument "
            << kDefaultArgAttr << ")";
        return std::nullopt;
      }
      if (value < 0)
        value = fallback.getInt();
      bindings.push_back(ArrayRef<transform::MappedValue>{
          transform::MappedValue(b.getI64IntegerAttr(value))});
    }
    return bindings;
  }

  /// The kinds the user keeps on the loop emitters (`KIND:loops`).
  llvm::StringSet<> keptLoops;

  /// The user's replacements, by kind.
  LogicalResult parseUserSchedules(Location loc,
                                   llvm::StringMap<Schedule> &schedules) {
    llvm::Expected<std::vector<UserSchedule>> user =
        mm::parseUserSchedules(scheduleFiles);
    if (!user)
      return emitError(loc) << llvm::toString(user.takeError());
    for (const UserSchedule &entry : *user) {
      if (entry.keepsLoops()) {
        keptLoops.insert(entry.kind);
        continue;
      }
      auto buffer = llvm::MemoryBuffer::getFile(entry.path);
      if (!buffer)
        return emitError(loc) << "cannot read the schedule of kind '"
                              << entry.kind << "' in " << entry.path << ": "
                              << buffer.getError().message();
      if (failed(parse((*buffer)->getBuffer(), entry.path, entry.kind, loc,
                       schedules[entry.kind])))
        return failure();
    }
    return success();
  }

  /// Records in the module's manifest (mm-lower-to-loops wrote it) the
  /// schedule each kind was lowered with: fusion.schedules.KIND = {file,
  /// xxh3}.
  LogicalResult recordInManifest(ModuleOp module,
                                 const llvm::StringMap<Schedule> &schedules) {
    auto text = module->getAttrOfType<StringAttr>(MMDialect::kManifestAttrName);
    if (!text)
      return success();
    llvm::Expected<llvm::json::Value> manifest =
        llvm::json::parse(text.getValue());
    llvm::json::Object *fusion =
        manifest && manifest->getAsObject()
            ? manifest->getAsObject()->getObject("fusion")
            : nullptr;
    if (!fusion) {
      if (!manifest)
        llvm::consumeError(manifest.takeError());
      return module.emitError() << "the module's " << MMDialect::kManifestAttrName
                                << " is not a manifest with a fusion object";
    }
    llvm::json::Object recorded;
    for (const auto &entry : schedules)
      if (entry.second.applied)
        recorded[entry.first()] = llvm::json::Object{
            {"file", entry.second.path}, {"xxh3", entry.second.hash}};
    (*fusion)["schedules"] = std::move(recorded);
    std::string json;
    llvm::raw_string_ostream(json) << *manifest;
    module->setAttr(MMDialect::kManifestAttrName,
                    StringAttr::get(module.getContext(), json));
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string targetText = targetSpec;
    if (auto attr = module->getAttrOfType<StringAttr>(MMDialect::kTargetAttrName))
      targetText = attr.str();
    llvm::Expected<TargetInfo> target = TargetInfo::parse(targetText);
    if (!target) {
      emitError(module.getLoc()) << llvm::toString(target.takeError());
      return signalPassFailure();
    }
    StringRef targetKind = target->kindName();

    llvm::StringMap<Schedule> schedules;
    if (failed(parseUserSchedules(module.getLoc(), schedules)))
      return signalPassFailure();

    // The kernel functions; of those mm-lower-to-loops built, the ones it
    // lowered through linalg (the others hold no linalg operations).
    auto kernels = llvm::to_vector(llvm::make_filter_range(
        module.getOps<func::FuncOp>(), [](func::FuncOp function) {
          auto lowering =
              function->getAttrOfType<StringAttr>(MMDialect::kLoweringAttrName);
          return function->hasAttr(MMDialect::kFusionAttrName) &&
                 (!lowering || lowering.getValue() == kLinalgLoweringName);
        }));
    OpPassManager deallocation = deallocationPipeline();
    for (func::FuncOp kernel : kernels) {
      auto fusion =
          kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
      if (!fusion) {
        kernel.emitOpError() << "has an " << MMDialect::kFusionAttrName
                             << " attribute that is not an #mm.fusion";
        return signalPassFailure();
      }
      StringRef kind = stringifyFusionKind(fusion.getKind());
      if (keptLoops.contains(kind))
        continue;
      auto found = schedules.find(kind);
      if (found == schedules.end()) {
        const DefaultSchedule *builtIn = findDefaultSchedule(targetKind, kind);
        if (!builtIn)
          continue;
        if (failed(parse(builtIn->text, builtIn->path, kind, module.getLoc(),
                         schedules[kind])))
          return signalPassFailure();
        found = schedules.find(kind);
      }
      Schedule &schedule = found->second;
      std::optional<RaggedArray<transform::MappedValue>> bindings =
          bindArguments(kernel, fusion, schedule, kind);
      if (!bindings)
        return signalPassFailure();
      if (failed(transform::applyTransformNamedSequence(
              std::move(*bindings), schedule.entry, *schedule.module,
              transform::TransformOptions()))) {
        kernel.emitOpError() << "the schedule of kind '" << kind << "' in "
                             << schedule.path << " failed on this kernel";
        return signalPassFailure();
      }
      if (failed(freeBuffers(kernel, deallocation))) {
        kernel.emitOpError() << "cannot free the buffers that the schedule of "
                                "kind '"
                             << kind << "' in " << schedule.path
                             << " left in this kernel";
        return signalPassFailure();
      }
      schedule.applied = true;
      ++numScheduled;
    }
    if (failed(recordInManifest(module, schedules)))
      return signalPassFailure();
  }
};

} // namespace
