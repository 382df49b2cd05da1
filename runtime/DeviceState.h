//===- DeviceState.h - a GPU model's state, kept on its device --*- C++ -*-===//
//
// The state of a batch of sequences of a GPU model lives in device memory
// from init_state on: the prefills and decode update it there, and nothing
// of it crosses to the host unless the caller asks for a snapshot. A
// DeviceState owns that memory and what the state's calls reuse from one to
// the next:
//
//   - a stream of its own, so that the calls of different states (on
//     different threads) neither wait for nor capture each other's work;
//   - a copy of the state that a call can go back to when it fails (its
//     logits not finite, a launch refused), allocated at the first call;
//   - the decode step's token and logit buffers, at fixed addresses, and
//     the step captured once as a graph (CUDA graph, HIP graph, or the
//     simulator's recording) that every later step replays: one launch of
//     the graph instead of the step's kernel launches from the host.
//
// CompiledModel drives it (runtime/CompiledModel.cpp); the device must
// outlive it.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_DEVICESTATE_H
#define MM_RUNTIME_DEVICESTATE_H

#include "runtime/gpu/GpuDevice.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace mm {

class DeviceState {
public:
  /// A state of `bytes` bytes (uninitialised) on `device`, with a stream of
  /// its own; `label` names the memory in the device's errors.
  static llvm::Expected<std::unique_ptr<DeviceState>>
  create(gpu::GpuDevice &device, size_t bytes, const llvm::Twine &label);
  /// Waits for the state's work, then frees its graph, memory and stream.
  ~DeviceState();
  DeviceState(const DeviceState &) = delete;
  DeviceState &operator=(const DeviceState &) = delete;

  gpu::GpuDevice &getDevice() const { return device; }
  gpu::GpuStream getStream() const { return stream; }
  uint8_t *data() const { return memory; }
  size_t size() const { return bytes; }

  /// Copies the state aside on its stream (the copy a failed call goes back
  /// to), allocating the copy's memory at the first call.
  llvm::Error saveCopy();
  /// Copies the saved state back (on the stream).
  llvm::Error restoreCopy();

  /// The decode step's buffers for `batch` sequences and `vocab` logits
  /// each, allocated at the first call: tokens [batch] (int32) and logits
  /// [batch, vocab] (float). Their addresses never change, so a captured
  /// step reads and writes the same memory at every replay.
  struct StepBuffers {
    int32_t *tokens;
    float *logits;
  };
  llvm::Expected<StepBuffers> stepBuffers(int64_t batch, int64_t vocab);

  /// The captured decode step, if any, and the model it was captured for
  /// (an id that is never reused): the graph launches the kernels of one
  /// model (its kernel context and weights), so another model that runs
  /// this state captures its own.
  gpu::GpuGraph *getStepGraph(uint64_t model) const {
    return graphModel == model ? graph.get() : nullptr;
  }
  void setStepGraph(std::unique_ptr<gpu::GpuGraph> captured, uint64_t model);
  /// Whether capturing the step failed on this state (the driver refused):
  /// its steps then run their launches directly, without trying again.
  bool captureFailed = false;

private:
  DeviceState(gpu::GpuDevice &device, size_t bytes)
      : device(device), bytes(bytes) {}

  gpu::GpuDevice &device;
  size_t bytes;
  gpu::GpuStream stream = nullptr;
  uint8_t *memory = nullptr;
  uint8_t *saved = nullptr;
  /// One allocation: the step's tokens, then its logits.
  uint8_t *step = nullptr;
  size_t stepLogitOffset = 0, stepBytes = 0;
  std::unique_ptr<gpu::GpuGraph> graph;
  uint64_t graphModel = 0;
};

} // namespace mm

#endif // MM_RUNTIME_DEVICESTATE_H
