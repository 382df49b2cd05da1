//===- Schedules.cpp - the transform schedules of the linalg kernels ------===//

#include "lowering/Schedules.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

using namespace mm;

namespace {

#define MM_SCHEDULE(target, kind, path, text)                                  \
  DefaultSchedule{target, kind, path, text},
constexpr DefaultSchedule kDefaultSchedules[] = {
#include "lowering/DefaultSchedules.inc"
};
#undef MM_SCHEDULE

constexpr llvm::StringLiteral kLinalgKinds[] = {"gemm", "norm", "elementwise",
                                                "embed", "conv"};

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

const DefaultSchedule *mm::findDefaultSchedule(llvm::StringRef targetKind,
                                               llvm::StringRef kind) {
  auto lookup = [&](llvm::StringRef target) -> const DefaultSchedule * {
    const DefaultSchedule *found =
        llvm::find_if(kDefaultSchedules, [&](const DefaultSchedule &schedule) {
          return schedule.target == target && schedule.kind == kind;
        });
    return found == std::end(kDefaultSchedules) ? nullptr : found;
  };
  if (const DefaultSchedule *own = lookup(targetKind))
    return own;
  // The GPU schedules name no vendor's instructions (they tile into threads
  // that mm-offload-to-gpu launches): one file serves both, unless a vendor
  // has its own.
  if (targetKind == "cuda" || targetKind == "hip")
    return lookup(kGpuScheduleTarget);
  return nullptr;
}

llvm::Expected<std::vector<UserSchedule>>
mm::parseUserSchedules(llvm::ArrayRef<std::string> entries) {
  std::vector<UserSchedule> schedules;
  for (const std::string &entry : entries) {
    auto [kind, path] = llvm::StringRef(entry).split(':');
    if (path.empty() || !llvm::is_contained(kLinalgKinds, kind))
      return makeError("schedule '" + entry +
                       "': expected KIND:FILE or KIND:loops with KIND one of "
                       "the kernel kinds lowered through linalg (" +
                       llvm::join(llvm::ArrayRef(kLinalgKinds), ", ") + ")");
    if (llvm::any_of(schedules, [&](const UserSchedule &schedule) {
          return schedule.kind == kind;
        }))
      return makeError("schedule '" + entry + "': a second schedule of kind '" +
                       kind + "'");
    schedules.push_back({kind.str(), path.str()});
  }
  return schedules;
}

bool mm::hasSchedule(llvm::StringRef targetKind, llvm::StringRef kind,
                     llvm::ArrayRef<UserSchedule> user) {
  const UserSchedule *chosen =
      llvm::find_if(user, [&](const UserSchedule &schedule) {
        return schedule.kind == kind;
      });
  if (chosen != user.end())
    return !chosen->keepsLoops();
  return findDefaultSchedule(targetKind, kind) != nullptr;
}

std::string mm::scheduleHash(llvm::StringRef text) {
  uint64_t hash = llvm::xxh3_64bits(text);
  std::string hex;
  llvm::raw_string_ostream(hex) << llvm::format_hex_no_prefix(hash, 16);
  return hex;
}
