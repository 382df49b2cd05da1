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

#include "runtime/ModelConfig.h"
#include "runtime/ModelWeights.h"
#include "runtime/gpu/GpuDevice.h"

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
/// field a [batch, ...] array at batch * (its per-sequence offset). The host
/// bytes are the state, also for a model on a GPU: a copy is a snapshot.
struct CompiledState {
  int64_t batch = 0;
  std::vector<uint8_t> bytes;
};

class CompiledModel {
public:
  ~CompiledModel();

  /// Opens and checks an artifact: its ABI version, its target and its
  /// manifest. The manifest is read from the file before the library is
  /// loaded, so an artifact for another machine or device never runs any of
  /// its code. The host part of the target (triple, CPU features this
  /// machine must have) is checked for every kind. A CPU artifact runs on
  /// the host and refuses a `device`; a GPU artifact needs a `device` of its
  /// vendor that can run its chip (checkChip), which must outlive the model.
  static llvm::Expected<std::unique_ptr<CompiledModel>>
  open(llvm::StringRef artifactPath, gpu::GpuDevice *device = nullptr);

  /// The config the artifact was compiled for.
  const ModelConfig &config() const { return modelConfig; }
  const llvm::json::Object &manifest() const { return manifestObject; }
  /// The manifest's target kind: "cpu", "cuda" or "hip".
  llvm::StringRef targetKind() const { return kind; }
  /// The device the model runs on, or null for the host.
  gpu::GpuDevice *device() const { return gpuDevice; }

  /// Binds weights (validated for config()) by the manifest's names. On a
  /// GPU they are copied to device memory, once.
  llvm::Error bindWeights(const ModelWeights &weights);

  /// A fresh state for `batch` sequences (the compiled init_state).
  llvm::Expected<CompiledState> createState(int64_t batch) const;
  /// Bytes of state per sequence.
  int64_t stateBytesPerSequence() const { return stateBytes; }

  /// Runs `time` tokens of each of state.batch sequences (tokens row-major
  /// [batch, time]); returns logits [batch, time, V]. On an error the state
  /// is left as it was.
  llvm::Expected<std::vector<float>> prefill(llvm::ArrayRef<int32_t> tokens,
                                             int64_t time,
                                             CompiledState &state) const;
  /// One decode step for each sequence: tokens [batch] -> logits [batch, V].
  llvm::Expected<std::vector<float>> decode(llvm::ArrayRef<int32_t> tokens,
                                            CompiledState &state) const;

private:
  CompiledModel() = default;
  llvm::Error checkTarget(gpu::GpuDevice *device) const;
  /// Loads the library (on `device`, for a GPU artifact).
  llvm::Error load(gpu::GpuDevice *device);
  llvm::Error checkInputs(llvm::ArrayRef<int32_t> tokens, int64_t time,
                          const CompiledState &state) const;
  /// Runs `body` on `bytes` of device memory, freed after, with the device
  /// current for the compiled code (on the model's stream); an error names
  /// the artifact, the `entry` point and the device.
  llvm::Error withDevice(llvm::StringRef entry, size_t bytes,
                         llvm::function_ref<llvm::Error(uint8_t *)> body) const;
  /// An error naming the artifact (and the device, for a GPU model).
  llvm::Error fail(const llvm::Twine &message) const;

  std::string path;
  std::string kind;
  void *library = nullptr;
  llvm::json::Object manifestObject;
  ModelConfig modelConfig;
  int64_t weightFloats = 0, stateBytes = 0;
  /// The weights on the host; released once copied to a device.
  std::vector<float> weightBuffer;
  bool weightsBound = false;
  void *prefillFn = nullptr, *decodeFn = nullptr, *initFn = nullptr;

  // A GPU model: its device, the stream the compiled code runs on (its
  // mgpu* launches and copies, and the runtime's copies around them), and
  // the weights in device memory.
  gpu::GpuDevice *gpuDevice = nullptr;
  gpu::GpuStream stream = nullptr;
  void *deviceWeights = nullptr;
};

/// Whether code built for `chip` runs on `device`, a device of the vendor
/// the artifact was built for: CUDA artifacts hold PTX, which the driver
/// compiles for its device, so "sm_80" runs on compute capability 8.0 and
/// newer ("sm_90a", architecture-specific code, only on 9.0); HIP code
/// objects run only on their exact gfx name. The error says why not.
llvm::Error checkChip(llvm::StringRef chip, const gpu::GpuDeviceInfo &device);

} // namespace mm

#endif // MM_RUNTIME_COMPILEDMODEL_H
