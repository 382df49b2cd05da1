//===- Tuning.h - the compiler's tunable choices, per kernel kind -*- C++
//-*-===//
//
// What mm-tune searches and a tuning file (common/TuningFile.h) sets: for
// each kernel kind, named parameters whose values are compiler choices, each
// one a pipeline option of lowering/Pipelines.h:
//   - a kernel size of the kind (#mm.fusion: gemm rows, tokens,
//     rows_at_once, block_m ..., scan and conv channels, scan block_channels
//     and chunk), set for that kind alone (kernel-sizes);
//   - fusion on|off (scan, norm, memory: the fused strategy's groups);
//   - lowering auto|loops (the kinds with a default transform schedule on
//     the target: the schedule or the hand-written loops);
//   - kernel auto|off (GPU targets: the dedicated GEMM, scan, conv, norm and
//     memory kernels, or the loop emitters).
// "auto" is always the compiler's default, so an untuned parameter reads
// the same in every file, whatever the defaults become.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_TUNING_H
#define MM_LOWERING_TUNING_H

#include "common/TuningFile.h"
#include "lowering/Pipelines.h"
#include "lowering/TargetInfo.h"

#include <string>
#include <vector>

namespace mm {

/// The value of a parameter that leaves the compiler's default.
inline constexpr llvm::StringLiteral kTuningAuto = "auto";

/// One parameter of a kind and the values mm-tune tries ("auto" first).
struct TuningParameter {
  std::string name;
  std::vector<std::string> values;
};

/// The parameters of one kernel kind.
struct KindTuningSpace {
  std::string kind;
  std::vector<TuningParameter> parameters;
  /// Every parameter at "auto".
  TuningParams defaults() const;
  /// The number of combinations of the values.
  int64_t combinations() const;
};

/// The kinds and parameters of `target`, in the order mm-tune tunes them
/// (the kinds that take the most time first). `memory`: the model has a
/// memory path (its kinds are included).
std::vector<KindTuningSpace> tuningSpace(const TargetInfo &target, bool memory);

/// "gemm, scan, ...": the kinds of `space`, for errors.
std::string describeTuningKinds(llvm::ArrayRef<KindTuningSpace> space);

/// Sets in `options` what `params` choose for the kernels of `kind`. An
/// unknown kind or parameter, or a value that is not one of the
/// parameter's, is an error naming `field` ("t.json: kinds.gemm.best") and
/// the parameter.
llvm::Error applyTuningParams(llvm::StringRef kind, const TuningParams &params,
                              const TargetInfo &target,
                              CompilePipelineOptions &options,
                              llvm::StringRef field);

/// The key of compiling `config` for `target` in `precision`, for `device`
/// (a --list-devices description).
TuningKey tuningKeyFor(const ModelConfig &config, const TargetInfo &target,
                       llvm::StringRef precision, llvm::StringRef device);

/// mm-compile --tuning=PATH: reads the file (a malformed one is an error),
/// and when its key matches `wanted` applies each kind's best to `options`
/// and records the file in options.tuning. Returns why it does not apply
/// (empty when it was applied): a stale or foreign file is no error, the
/// caller warns. `checkDevice` as in tuningKeyMismatches.
llvm::Expected<std::vector<std::string>>
applyTuningFile(llvm::StringRef path, const TuningKey &wanted, bool checkDevice,
                const TargetInfo &target, CompilePipelineOptions &options);

} // namespace mm

#endif // MM_LOWERING_TUNING_H
