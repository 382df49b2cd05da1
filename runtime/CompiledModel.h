//===- CompiledModel.h - running a compiled artifact ------------*- C++ -*-===//
//
// Loads an artifact written by mm-compile (a shared library embedding its
// manifest), checks it against this machine, the device and the runtime's
// ABI, binds weights by name from the manifest, and runs the compiled entry
// points. MLIR-free: the artifact is opened with dlopen.
//
// A CPU artifact runs on the host. A GPU artifact (target kind "cuda" or
// "hip") runs on a mm::gpu::GpuDevice: its entry points take device
// pointers, and its host code launches kernels through the mgpu* ABI
// (runtime/gpu/MgpuAbi.h), which the executable must export
// (mm_export_mgpu_abi in CMake). docs/artifact.md describes both.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_COMPILEDMODEL_H
#define MM_RUNTIME_COMPILEDMODEL_H

#include "common/ArtifactManifest.h"
#include "common/ArtifactSeal.h"
#include "common/ModelConfig.h"
#include "common/StateLayout.h"
#include "runtime/DeviceState.h"
#include "runtime/MemoryLoadedLibrary.h"
#include "runtime/ModelWeights.h"
#include "runtime/gpu/GpuDevice.h"
#include "runtime/gpu/KernelContext.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mm {

/// The per-sequence state of a batch, as the artifact lays it out: each
/// field a [batch, ...] array at batch * (its per-sequence offset).
///
/// A CPU model's state is `bytes`, on the host. A GPU model's lives on its
/// device from init_state on (`device`, runtime/DeviceState.h): prefill and
/// decode update it there, and its bytes come to the host only when the
/// caller reads them (CompiledModel::readState). States are moved, not
/// copied: CompiledModel::copyState and restoreState copy them, on the
/// device for a GPU state.
///
/// Threads: a CompiledModel is immutable once its weights are bound, and any
/// number of threads may run it at once, each on its own state; one state
/// serves one call at a time (calls update it in place). A state holds no
/// reference to its model, but only the model that created it (or another
/// model of the same artifact, on the same device) may run it; a GPU state
/// needs its device to outlive it.
struct CompiledState {
  int64_t batch = 0;
  /// The state of a CPU model.
  std::vector<uint8_t> bytes;
  /// The state of a GPU model, on its device.
  std::unique_ptr<DeviceState> device;

  /// The state's size in bytes.
  int64_t size() const {
    return device ? static_cast<int64_t>(device->size())
                  : static_cast<int64_t>(bytes.size());
  }
};

/// How decode steps run on a GPU.
struct DecodeOptions {
  /// Capture a state's first step as a graph (CUDA or HIP graph; the
  /// simulator records it) and replay it for the steps after: one launch
  /// per step instead of one per kernel. Off: every step launches its
  /// kernels from the host (for comparison).
  bool graphs = true;
};

/// Which prompt positions a prefill returns logits for.
enum class PromptLogits {
  /// The last position of each sequence: [batch, V]. What generation needs.
  Last,
  /// Every position: [batch, time, V].
  All,
  /// None (the prompt only advances the state).
  None,
};

/// How a prefill runs.
struct PrefillOptions {
  PromptLogits logits = PromptLogits::Last;
  /// Tokens of each sequence per call into the compiled code. A longer
  /// prompt runs in chunks of this many, carrying the state from one to the
  /// next (the result is the same, spec invariant 3), so that memory stays
  /// bounded however long the prompt: the compiled code's intermediates and
  /// the logits it computes grow with the chunk, not the prompt.
  int64_t chunkTokens = 512;
  /// Sequences of different lengths in one call: sequence b's tokens are
  /// the first lengths[b] (0 to time) of its row, the rest padding (any
  /// values; they are not read). Its state advances by its own length, as
  /// if it ran alone (spec invariant 4); its last logits are those of its
  /// last token, and with all logits its rows past its length are NaN.
  /// Empty: every sequence has `time` tokens.
  std::vector<int64_t> lengths;
};

/// The largest number of sequences in one state (2^20).
constexpr int64_t kMaxBatch = int64_t(1) << 20;
/// The largest chunk (tokens per sequence per compiled call).
constexpr int64_t kMaxChunkTokens = int64_t(1) << 20;

class CompiledModel {
public:
  ~CompiledModel();

  /// Opens and checks an artifact: its seal (the file is read once and its
  /// checksum verified; the code that runs is loaded from those bytes, not
  /// from the path again), its ABI version, its target and its manifest (the
  /// weight list and state layout against the config). The manifest is read
  /// before the library is loaded, so an artifact for another machine or
  /// device never runs any of its code. The host part of the target (triple,
  /// CPU features this machine must have) is checked for every kind. A CPU
  /// artifact runs on the host and refuses a `device`; a GPU artifact needs a
  /// `device` of its vendor that can run its chip (checkChip), which must
  /// outlive the model. `noDeviceHint` tells, in the error for a GPU artifact
  /// opened without a device, how the caller picks one (default: the tools'
  /// --device flag).
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  open(llvm::StringRef artifactPath, gpu::GpuDevice *device = nullptr,
       llvm::StringRef noDeviceHint = "");

  /// The config the artifact was compiled for.
  const ModelConfig &config() const { return modelConfig; }
  /// The precision it was compiled for (mm-compile --precision).
  Precision getPrecision() const { return precision; }
  const llvm::json::Object &manifest() const { return manifestObject; }
  /// The manifest's target kind: "cpu", "cuda" or "hip".
  llvm::StringRef targetKind() const { return kind; }
  /// The device the model runs on, or null for the host.
  gpu::GpuDevice *device() const { return gpuDevice; }

  /// Binds weights (validated for config()) by the manifest's names. On a
  /// GPU they are copied to device memory, once.
  llvm::Error bindWeights(const ModelWeights &weights);

  /// A fresh state for `batch` sequences (the compiled init_state), 1 to
  /// kMaxBatch, on the model's device; an error when its memory cannot be
  /// allocated.
  llvm::Expected<CompiledState> createState(int64_t batch) const;
  /// A copy of `state` (same batch), made on the device for a GPU state:
  /// a snapshot that never leaves it.
  llvm::Expected<CompiledState> copyState(const CompiledState &state) const;
  /// Makes `target` a copy of `source`, states of this model with the same
  /// batch (on the device for GPU states: a restore without a host round
  /// trip).
  llvm::Error restoreState(CompiledState &target,
                           const CompiledState &source) const;
  /// A state of one sequence holding sequence `sequence` of `state` (on the
  /// device for a GPU state): a batch that prefilled together can go on
  /// one sequence at a time.
  llvm::Expected<CompiledState> extractSequence(const CompiledState &state,
                                                int64_t sequence) const;
  /// The bytes of `state` on the host (a snapshot to keep or save).
  llvm::Expected<std::vector<uint8_t>>
  readState(const CompiledState &state) const;
  /// Replaces the contents of `state` by `bytes` (a snapshot of a state of
  /// this model with the same batch), checked first (checkState): a damaged
  /// snapshot is refused and the state left as it was.
  llvm::Error writeState(CompiledState &state,
                         llvm::ArrayRef<uint8_t> bytes) const;
  /// Bytes of state per sequence.
  int64_t stateBytesPerSequence() const { return stateBytes; }
  /// The state layout, field by field.
  llvm::ArrayRef<StateField> stateFields() const { return fields; }
  /// Checks that `bytes`, the state of `batch` sequences, is one this model
  /// could have produced: its size, and with memory, each pool's count
  /// within [0, M], the positions of its valid slots distinct and before the
  /// sequence position (its free slots ignored: nothing reads them), and
  /// (when `checkValues`) every float finite. Compiled code indexes the
  /// pools by these numbers, so a state from outside (a restored snapshot)
  /// is checked before it runs. The error names the sequence and the field.
  llvm::Error checkState(int64_t batch, llvm::ArrayRef<uint8_t> bytes,
                         bool checkValues = true) const;
  /// checkState of a state's bytes (read from the device for a GPU state).
  llvm::Error checkState(const CompiledState &state,
                         bool checkValues = true) const;
  /// The positions of the tokens each layer's pool holds (sorted), for
  /// sequence `sequence` of `state`: the note and eviction decisions so
  /// far. Empty without memory.
  llvm::Expected<std::vector<std::vector<int32_t>>>
  poolPositions(const CompiledState &state, int64_t sequence) const;
  /// The SHA-256 of the artifact's code and manifest, as its seal holds it.
  llvm::StringRef digest() const { return artifactDigest; }

  /// Runs `time` tokens of each of state.batch sequences (tokens row-major
  /// [batch, time]), in chunks of options.chunkTokens; returns the logits
  /// options.logits asks for ([batch, V] for the last position, [batch,
  /// time, V] for all, nothing for none). With options.lengths the batch's
  /// sequences have different lengths and run together, right-padded to
  /// `time`. Logits that are not finite (NaN or infinite weights, or an
  /// overflow) are an error naming the sequence and position. On an error
  /// the state is left as it was.
  llvm::Expected<std::vector<float>>
  prefill(llvm::ArrayRef<int32_t> tokens, int64_t time, CompiledState &state,
          const PrefillOptions &options = PrefillOptions()) const;
  /// One decode step for each sequence: tokens [batch] -> logits [batch,
  /// V]. On a GPU the step runs on the state's device memory and stream,
  /// replayed from a graph unless `options` say otherwise.
  llvm::Expected<std::vector<float>>
  decode(llvm::ArrayRef<int32_t> tokens, CompiledState &state,
         const DecodeOptions &options = DecodeOptions()) const;

private:
  CompiledModel() = default;
  llvm::Error checkTarget(gpu::GpuDevice *device,
                          llvm::StringRef noDeviceHint) const;
  /// Finds the fields checkState() reads.
  void indexStateFields();
  /// Loads the checked library bytes (on `device`, for a GPU artifact).
  llvm::Error load(llvm::StringRef code, gpu::GpuDevice *device);
  llvm::Error checkInputs(llvm::ArrayRef<int32_t> tokens, int64_t time,
                          llvm::ArrayRef<int64_t> lengths,
                          const CompiledState &state) const;
  /// prefill() and decode(): `graphs` replays decode steps from a graph.
  llvm::Expected<std::vector<float>>
  runTokens(llvm::ArrayRef<int32_t> tokens, int64_t time, CompiledState &state,
            const PrefillOptions &options, bool graphs) const;
  /// One call of the compiled prefill, or decode where every sequence has
  /// one token: tokens [batch, time] and each sequence's length [batch]
  /// (null: all `time`) of host memory, logits [batch, time, V] into
  /// `logits`; with `lastOnly`, prefill_last's [batch, 1, V], each
  /// sequence's last token's (a sequence without tokens: a padding row's).
  llvm::Error runChunk(const int32_t *tokens, const int32_t *lengths,
                       int64_t time, CompiledState &state, float *logits,
                       bool graphs, bool lastOnly) const;
  /// A decode step replayed from the state's graph, captured at its first
  /// step; false (nothing ran) when the driver cannot capture it.
  llvm::Expected<bool> replayStep(const int32_t *tokens, DeviceState &state,
                                  float *logits) const;
  /// Runs `body` with the model's device current for the compiled code, on
  /// the state's stream (`body` gets the kernel context that names it),
  /// then waits for that stream; an error names the artifact, the `entry`
  /// point and the device.
  llvm::Error
  onDevice(llvm::StringRef entry, DeviceState &state,
           llvm::function_ref<llvm::Error(MMKernelContext *)> body) const;
  /// Checks that `state` is one this model can run: host bytes of its
  /// size for a CPU model, device memory of its size on its device for a
  /// GPU model.
  llvm::Error checkStateKind(const CompiledState &state) const;
  /// An error naming the artifact (and the device, for a GPU model).
  llvm::Error fail(const llvm::Twine &message) const;

  std::string path;
  std::string kind;
  std::string artifactDigest;
  /// The artifact's code, loaded from memory (runtime/MemoryLoadedLibrary.h).
  std::unique_ptr<MemoryLoadedLibrary> library;
  llvm::json::Object manifestObject;
  /// Where each weight goes in the weight buffer.
  std::vector<ArtifactManifest::Weight> weightOffsets;
  std::vector<StateField> fields;
  /// checkState's fields: the position (-1 without memory), and each pool's
  /// count and positions.
  int64_t positionFieldIndex = -1;
  std::vector<std::pair<size_t, size_t>> pools;
  ModelConfig modelConfig;
  /// The matrix products' precision: in bf16 and f16 the weight buffer
  /// holds 16-bit tensors and the entry points take it as bytes.
  Precision precision = Precision::F32;
  int64_t weightFloats = 0, stateBytes = 0;
  /// The size the entry points' weight argument is described with.
  int64_t weightArgumentSize() const {
    return precision == Precision::F32 ? weightFloats : 4 * weightFloats;
  }
  /// The weights on the host; released once copied to a device.
  std::vector<float> weightBuffer;
  bool weightsBound = false;
  void *prefillFn = nullptr, *decodeFn = nullptr, *initFn = nullptr,
       *prefillLastFn = nullptr;

  // A GPU model: its device, the stream the compiled code runs on (its
  // mgpu* launches and copies, and the runtime's copies around them), and
  // the weights in device memory.
  gpu::GpuDevice *gpuDevice = nullptr;
  gpu::GpuStream stream = nullptr;
  void *deviceWeights = nullptr;
  /// The kernels loaded on the device, and the context the entry points
  /// take.
  std::unique_ptr<gpu::KernelContext> kernels;
  /// Tells the models of a process apart (never reused, unlike addresses):
  /// a state's captured decode step belongs to one.
  uint64_t modelId = 0;
};

/// Whether code built for `chip` runs on `device`, a device of the vendor
/// the artifact was built for: CUDA artifacts hold PTX, which the driver
/// compiles for its device, so "sm_80" runs on compute capability 8.0 and
/// newer ("sm_90a", architecture-specific code, only on 9.0); HIP code
/// objects run only on their exact gfx name. The error says why not.
llvm::Error checkChip(llvm::StringRef chip, const gpu::GpuDeviceInfo &device);

} // namespace mm

#endif // MM_RUNTIME_COMPILEDMODEL_H
