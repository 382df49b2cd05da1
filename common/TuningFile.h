//===- TuningFile.h - what mm-tune measured and mm-compile applies -*- C++
//-*-===//
//
// A tuning file (JSON, docs/tuning.md) holds, per kernel kind, the compiler
// choices mm-tune measured on one device (every candidate with its times or
// why it was rejected) and the best of them, under the key it is valid for:
// the model's shape, the target, the device, the compiler version and the
// precision. mm-tune writes it after every candidate and resumes from it;
// mm-compile --tuning applies the best choices when the key matches. Shared
// by both, MLIR-free: the meaning of each choice belongs to the compiler
// (lowering/Tuning.h).
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_TUNINGFILE_H
#define MM_COMMON_TUNINGFILE_H

#include "common/ModelConfig.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <map>
#include <string>
#include <vector>

namespace mm {

/// The "format" of the files this version reads and writes.
inline constexpr llvm::StringLiteral kTuningFormat = "mm-tuning/1";

/// What a tuning result is valid for. A file whose key differs from the
/// compilation's (anything but `modelShape`, which only describes `model`)
/// does not apply.
struct TuningKey {
  /// The model's shape: a hash of its config's canonical form
  /// (modelShapeKey); configs that differ only in name share it.
  std::string model;
  /// The same shape for people: "memmamba, 24 layers, d_model 768, ...".
  std::string modelShape;
  /// The compiler target: cpu, cuda:sm_90, hip:gfx942.
  std::string target;
  /// The device the times were measured on, as --list-devices describes it
  /// ("x86_64-pc-linux-gnu, znver1, 2 hardware threads").
  std::string device;
  /// The compiler's version: another compiler may lower the same choices
  /// differently.
  std::string compiler;
  /// The matrix products' precision: f32, bf16 or f16.
  std::string precision;
};

/// The parameters of one kernel kind, by name: sizes ("tokens" -> "4"),
/// switches ("fusion" -> "off", "lowering" -> "loops"); "auto" is the
/// compiler's default.
using TuningParams = std::map<std::string, std::string>;

/// "rows=64 tokens=2" (every parameter, in name order).
std::string formatTuningParams(const TuningParams &params);

/// One measured candidate of a kind.
struct TuningTrial {
  TuningParams params;
  /// "ok", "differs" (its outputs were not the reference's) or "failed" (it
  /// did not compile or run); `detail` says how.
  std::string status;
  std::string detail;
  /// Median milliseconds of the workload's prefill and of its decode steps
  /// (status ok only).
  double prefillMs = 0;
  double decodeMs = 0;
  double totalMs() const { return prefillMs + decodeMs; }
  bool ok() const { return status == "ok"; }
};

/// What was tuned of one kernel kind.
struct TunedKind {
  /// The compiler's choice (every parameter "auto") and the best found.
  TuningParams defaults, best;
  /// Whether the search of this kind ended (a budget can stop it midway;
  /// the next run goes on).
  bool complete = false;
  std::vector<TuningTrial> tried;
  /// The trial of `params`, if measured.
  const TuningTrial *find(const TuningParams &params) const;
};

/// What the times measure: a prefill of `prompt` tokens then `generate`
/// decode steps, batch `batch`, the median of `repetitions` runs after a
/// warm-up.
struct TuningWorkload {
  int64_t prompt = 0;
  int64_t generate = 0;
  int64_t batch = 1;
  int64_t repetitions = 0;
};

struct TuningFile {
  TuningKey key;
  TuningWorkload workload;
  /// By kind name (gemm, scan, ...).
  std::map<std::string, TunedKind> kinds;
  /// Seconds spent tuning, over every run that wrote the file.
  double seconds = 0;

  llvm::json::Value toJSON() const;
};

/// Reads a tuning file. A file that cannot be read, is not JSON, or lacks a
/// field or has one of the wrong type is an error naming the file and the
/// field ("t.json: kinds.gemm.best.tokens: expected a string or an
/// integer"); the values' meaning is the compiler's to check.
llvm::Expected<TuningFile> readTuningFile(llvm::StringRef path);

/// Writes `file` to `path` (atomically: common/OutputFile.h).
llvm::Error writeTuningFile(llvm::StringRef path, const TuningFile &file);

/// Why `file` does not apply to a compilation keyed `wanted`: one line per
/// field that differs ("target: tuned for cuda:sm_90, compiling for cpu"),
/// empty when it applies. `checkDevice` false skips the device (a GPU
/// artifact compiled on a machine without that GPU).
std::vector<std::string> tuningKeyMismatches(const TuningKey &file,
                                             const TuningKey &wanted,
                                             bool checkDevice);

/// The TuningKey::model of `config`.
std::string modelShapeKey(const ModelConfig &config);
/// The TuningKey::modelShape of `config`.
std::string describeModelShape(const ModelConfig &config);

/// The host CPU as --list-devices names it: "triple, cpu, N hardware
/// threads" (the device key of CPU tuning).
std::string describeHostDevice();

} // namespace mm

#endif // MM_COMMON_TUNINGFILE_H
