//===- Schedules.h - the transform schedules of the linalg kernels -*- C++ -*-===//
//
// A kernel kind is lowered through linalg (LinalgEmitters.h) on a target
// exactly when a transform schedule exists for the pair: a default one,
// lowering/schedules/<target>/<kind>.mlir built into the binary, or one the
// user names with `--schedule=KIND:FILE`. mm-lower-to-loops asks this
// header which kinds those are; mm-apply-schedules applies them and records
// them in the manifest.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_SCHEDULES_H
#define MM_LOWERING_SCHEDULES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mm {

/// The `mm.lowering` of the kernel functions built through linalg, the ones
/// mm-apply-schedules schedules.
constexpr llvm::StringLiteral kLinalgLoweringName = "linalg";

/// A default schedule built into the binary.
struct DefaultSchedule {
  llvm::StringLiteral target, kind, path, text;
};

/// The folder of lowering/schedules/ whose schedules serve every GPU target
/// (cuda and hip) that has no file of its own for a kind.
constexpr llvm::StringLiteral kGpuScheduleTarget = "gpu";

/// The default schedule of `kind` for targets of `targetKind` ("cpu",
/// "cuda", "hip"), if there is one: lowering/schedules/<targetKind>/, then
/// for GPU targets lowering/schedules/gpu/.
const DefaultSchedule *findDefaultSchedule(llvm::StringRef targetKind,
                                           llvm::StringRef kind);

/// `KIND:loops` in a schedule option: kernels of KIND keep the hand-written
/// loop emitters (LoopEmitters.h) instead of linalg and a schedule. A file
/// named "loops" is spelled ./loops.
constexpr llvm::StringLiteral kLoopsScheduleName = "loops";

/// One `KIND:FILE` (or `KIND:loops`) of the schedule options.
struct UserSchedule {
  std::string kind, path;
  bool keepsLoops() const { return path == kLoopsScheduleName; }
};

/// Parses the `KIND:FILE` entries of a schedule option: KIND must be a kernel
/// kind that has a linalg form (gemm, norm, elementwise, embed, conv), each kind
/// at most once. Does not read the files.
llvm::Expected<std::vector<UserSchedule>>
parseUserSchedules(llvm::ArrayRef<std::string> entries);

/// Whether kernels of `kind` on targets of `targetKind` are lowered through
/// linalg: a schedule exists for them (`user` first, where `KIND:loops`
/// says no, then the defaults).
bool hasSchedule(llvm::StringRef targetKind, llvm::StringRef kind,
                 llvm::ArrayRef<UserSchedule> user);

/// The 64-bit xxh3 hash of a schedule's text, as the manifest records it
/// (hex): which schedule an artifact was built with.
std::string scheduleHash(llvm::StringRef text);

} // namespace mm

#endif // MM_LOWERING_SCHEDULES_H
