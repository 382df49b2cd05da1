//===- ModelRunner.h - one interface over every backend ---------*- C++ -*-===//
//
// What the tools need from a backend: run prompts from fresh states, then
// decode token by token. The reference executor and compiled artifacts (on
// the host CPU or a GPU) all provide it, so mm-run and mm-bench treat them
// alike.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_MODELRUNNER_H
#define MM_RUNTIME_MODELRUNNER_H

#include "common/ModelConfig.h"
#include "common/Precision.h"
#include "runtime/CompiledModel.h"
#include "runtime/gpu/GpuDevice.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mm {

enum class BackendKind { Reference, Cpu };

class ModelRunner {
public:
  virtual ~ModelRunner() = default;
  virtual const ModelConfig &config() const = 0;
  /// "reference", or where compiled code runs: "cpu", "cuda" or "hip".
  virtual llvm::StringRef backendName() const = 0;
  /// Runs every prompt from a fresh state, in chunks of the runner's
  /// chunkTokens; per prompt the logits `which` asks for: [V] of its last
  /// position, [T, V] of every position, or none. Logits that are not
  /// finite are an error. Compiled code on a GPU runs prompts of similar
  /// lengths in one call (a right-padded batch, CompiledModel's
  /// PrefillOptions::lengths), then each goes on with its own state.
  virtual llvm::Expected<std::vector<std::vector<float>>>
  prefill(const std::vector<std::vector<int32_t>> &prompts,
          PromptLogits which = PromptLogits::Last) = 0;
  /// Runs `tokens` on sequence `index` of the last prefill from the state it
  /// was left in, as if they ended its prompt (spec invariant 3: prefill(a ++
  /// b) equals prefill(a) then b), in chunks of the runner's chunkTokens;
  /// returns the logits `which` asks for, of these tokens only. A long text
  /// runs piece by piece this way with every position's logits, in memory
  /// bounded by the piece. Logits that are not finite are an error.
  virtual llvm::Expected<std::vector<float>>
  extend(size_t index, llvm::ArrayRef<int32_t> tokens,
         PromptLogits which = PromptLogits::All) = 0;
  /// One token of sequence `index` (of the last prefill); logits [V].
  virtual llvm::Expected<std::vector<float>> decode(size_t index,
                                                    int32_t token) = 0;
  /// The GPU (or the simulator) compiled code runs on; null on the host and
  /// for the reference executor. mm-bench reads the simulator's counters
  /// through it.
  virtual gpu::GpuDevice *getDevice() const { return nullptr; }
  /// The positions of the tokens each layer's pool holds (sorted), for
  /// sequence `index` after the calls so far: the memory path's note and
  /// eviction decisions, which backends must agree on (spec invariant 5).
  /// Empty without memory.
  virtual llvm::Expected<std::vector<std::vector<int32_t>>>
  poolPositions(size_t index) const = 0;
};

/// Whether `path` is a compiled artifact (an ELF shared library).
bool isArtifact(llvm::StringRef path);

/// An error saying what the file at `path` is when it is neither a config,
/// a model folder nor an artifact (a safetensors file, an ELF file that is
/// not a shared library, ...), or success when it may be one of those.
llvm::Error checkModelFileKind(llvm::StringRef path);

/// How the tools open a model.
struct RunnerOptions {
  /// The checkpoint: a .safetensors file, a shard index or a folder
  /// (default: the model folder).
  std::string weightsPath;
  /// The executor (default: compiled code for an artifact, the reference
  /// executor otherwise).
  std::optional<BackendKind> backend;
  /// Where compiled code runs: "cpu" (the host), or a GPU, "cuda:N" or
  /// "hip:N", for an artifact compiled for it, or "sim", the simulator,
  /// for any GPU artifact.
  std::string device = "cpu";
  /// Weights from mm-init-weights' initialisation instead of a checkpoint
  /// (for benchmarks of shapes without one).
  bool randomWeights = false;
  /// Load weights holding NaN or infinite values (an error by default).
  bool allowNonFiniteWeights = false;
  /// Tokens per sequence per step of a prefill (PrefillOptions::chunkTokens):
  /// memory stays bounded however long the prompt. 0: whole prompts.
  int64_t chunkTokens = PrefillOptions().chunkTokens;
  /// The precision of the matrix products (docs/precision.md): the
  /// reference executor computes in it (default f32); an artifact's is
  /// fixed by mm-compile, and asking for another is an error.
  std::optional<Precision> precision;
  /// Decode steps on a GPU replay a graph captured at the first step
  /// (DecodeOptions::graphs); false launches every kernel from the host.
  bool decodeGraphs = true;
};

/// Opens `modelPath` (a config, a model folder, or an artifact) as
/// `options` say.
llvm::Expected<std::unique_ptr<ModelRunner>>
openModelRunner(llvm::StringRef modelPath, const RunnerOptions &options);

/// Opens the device a --device value names: null for "cpu" (the host), a
/// GPU for "cuda:N" or "hip:N" (the driver's error when it cannot), the
/// simulator for "sim".
llvm::Expected<std::unique_ptr<gpu::GpuDevice>>
openDevice(llvm::StringRef spec);

/// What --list-devices prints: every device the runtime can run on
/// (gpu::listDevices), one a line, then a note for each driver that is
/// unavailable.
void printDevices(llvm::raw_ostream &os);

} // namespace mm

#endif // MM_RUNTIME_MODELRUNNER_H
