//===- ApplySchedules.cpp - transform schedules for the linalg kernels ----===//
//
// Applies, to each kernel function, the transform-dialect schedule of its
// (kind, target): the default ones are lowering/schedules/<target>/<kind>.mlir,
// built into the binary by lowering/EmbedSchedules.cmake; a user replaces one
// with `schedule=KIND:FILE`. Upstream's interpreter does the work
// (transform::applyTransformNamedSequence); this pass only finds the
// schedule, binds the kernel function to it and names the file on failure.
//
//===----------------------------------------------------------------------===//

#include "dialect/MMDialect.h"
#include "dialect/MMOps.h"
#include "lowering/LoweringPasses.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Affine/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/TransformOps/DialectExtension.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/MemRef/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/TransformOps/SCFTransformOps.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/TransformOps/VectorTransformOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

namespace mm {
#define GEN_PASS_DEF_APPLYSCHEDULES
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;
using namespace mm;

namespace {

/// A default schedule built into the binary.
struct DefaultSchedule {
  llvm::StringLiteral target, kind, path, text;
};

#define MM_SCHEDULE(target, kind, path, text)                                  \
  DefaultSchedule{target, kind, path, text},
constexpr DefaultSchedule kDefaultSchedules[] = {
#include "lowering/DefaultSchedules.inc"
};
#undef MM_SCHEDULE

/// The name of the one named sequence of a schedule file.
constexpr llvm::StringLiteral kEntryPoint = "schedule";

/// A parsed schedule and where it came from (for errors).
struct Schedule {
  OwningOpRef<ModuleOp> module;
  transform::NamedSequenceOp entry;
  std::string path;
};

struct ApplySchedulesPass
    : public mm::impl::ApplySchedulesBase<ApplySchedulesPass> {
  using ApplySchedulesBase::ApplySchedulesBase;

  void getDependentDialects(DialectRegistry &registry) const override {
    // What the schedules are written in and what they produce.
    registry.insert<transform::TransformDialect, linalg::LinalgDialect,
                    vector::VectorDialect, scf::SCFDialect,
                    affine::AffineDialect, arith::ArithDialect,
                    memref::MemRefDialect, math::MathDialect>();
    linalg::registerTransformDialectExtension(registry);
    scf::registerTransformDialectExtension(registry);
    vector::registerTransformDialectExtension(registry);
    // Tiling linalg operations with dynamic sizes.
    linalg::registerTilingInterfaceExternalModels(registry);
    affine::registerValueBoundsOpInterfaceExternalModels(registry);
    arith::registerValueBoundsOpInterfaceExternalModels(registry);
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
    return success();
  }

  /// The user's replacements, by kind.
  LogicalResult parseUserSchedules(Location loc,
                                   llvm::StringMap<Schedule> &schedules) {
    for (const std::string &entry : scheduleFiles) {
      auto [kind, path] = StringRef(entry).split(':');
      if (path.empty() || !symbolizeFusionKind(kind))
        return emitError(loc) << "schedule=" << entry
                              << ": expected KIND:FILE with KIND a kernel "
                                 "kind (gemm, norm, elementwise, embed, ...)";
      auto buffer = llvm::MemoryBuffer::getFile(path);
      if (!buffer)
        return emitError(loc) << "cannot read the schedule of kind '" << kind
                              << "' in " << path << ": "
                              << buffer.getError().message();
      if (failed(parse((*buffer)->getBuffer(), path, kind, loc,
                       schedules[kind])))
        return failure();
    }
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

    auto kernels = llvm::to_vector(llvm::make_filter_range(
        module.getOps<func::FuncOp>(), [](func::FuncOp function) {
          return function->hasAttr(MMDialect::kFusionAttrName);
        }));
    for (func::FuncOp kernel : kernels) {
      auto fusion =
          kernel->getAttrOfType<FusionAttr>(MMDialect::kFusionAttrName);
      if (!fusion) {
        kernel.emitOpError() << "has an " << MMDialect::kFusionAttrName
                             << " attribute that is not an #mm.fusion";
        return signalPassFailure();
      }
      StringRef kind = stringifyFusionKind(fusion.getKind());
      auto found = schedules.find(kind);
      if (found == schedules.end()) {
        const DefaultSchedule *builtIn = llvm::find_if(
            kDefaultSchedules, [&](const DefaultSchedule &schedule) {
              return schedule.target == targetKind && schedule.kind == kind;
            });
        if (builtIn == std::end(kDefaultSchedules))
          continue;
        if (failed(parse(builtIn->text, builtIn->path, kind, module.getLoc(),
                         schedules[kind])))
          return signalPassFailure();
        found = schedules.find(kind);
      }
      Schedule &schedule = found->second;
      if (failed(transform::applyTransformNamedSequence(
              kernel, schedule.entry, *schedule.module,
              transform::TransformOptions()))) {
        kernel.emitOpError() << "the schedule of kind '" << kind << "' in "
                             << schedule.path << " failed on this kernel";
        return signalPassFailure();
      }
      ++numScheduled;
    }
  }
};

} // namespace
