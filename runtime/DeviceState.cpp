//===- DeviceState.cpp - a GPU model's state, kept on its device ----------===//

#include "runtime/DeviceState.h"

#include "llvm/Support/MathExtras.h"

using namespace mm;
using llvm::Error;
using llvm::Expected;

Expected<std::unique_ptr<DeviceState>>
DeviceState::create(gpu::GpuDevice &device, size_t bytes,
                    const llvm::Twine &label) {
  std::unique_ptr<DeviceState> state(new DeviceState(device, bytes));
  Expected<gpu::GpuStream> stream = device.createStream();
  if (!stream)
    return stream.takeError();
  state->stream = *stream;
  Expected<void *> memory = device.allocate(bytes);
  if (!memory)
    return memory.takeError();
  state->memory = static_cast<uint8_t *>(*memory);
  device.nameAllocation(state->memory, label.str());
  return std::move(state);
}

DeviceState::~DeviceState() {
  llvm::consumeError(device.synchronize(stream));
  // The graph's launches point into the buffers: it goes first.
  graph.reset();
  for (uint8_t *pointer : {memory, saved, step})
    llvm::consumeError(device.free(pointer));
  if (stream)
    llvm::consumeError(device.destroyStream(stream));
}

Error DeviceState::saveCopy() {
  if (!saved) {
    Expected<void *> allocated = device.allocate(bytes);
    if (!allocated)
      return allocated.takeError();
    saved = static_cast<uint8_t *>(*allocated);
    device.nameAllocation(saved, "the copy of a state a failed call restores");
  }
  return device.copyOnDevice(saved, memory, bytes, stream);
}

Error DeviceState::restoreCopy() {
  if (!saved)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no saved copy of the state");
  return device.copyOnDevice(memory, saved, bytes, stream);
}

Expected<DeviceState::StepBuffers> DeviceState::stepBuffers(int64_t batch,
                                                            int64_t vocab) {
  const size_t tokenBytes = batch * sizeof(int32_t);
  const size_t logitOffset = llvm::alignTo(tokenBytes, 256);
  const size_t size = logitOffset + batch * vocab * sizeof(float);
  if (!step) {
    Expected<void *> allocated = device.allocate(size);
    if (!allocated)
      return allocated.takeError();
    step = static_cast<uint8_t *>(*allocated);
    stepLogitOffset = logitOffset;
    stepBytes = size;
    device.nameAllocation(step, "the tokens and logits of a decode step");
  } else if (size != stepBytes) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the decode buffers of this state hold " + llvm::Twine(stepBytes) +
            " bytes, a step of " + llvm::Twine(batch) + " x " +
            llvm::Twine(vocab) + " logits needs " + llvm::Twine(size));
  }
  return StepBuffers{reinterpret_cast<int32_t *>(step),
                     reinterpret_cast<float *>(step + stepLogitOffset)};
}

void DeviceState::setStepGraph(std::unique_ptr<gpu::GpuGraph> captured,
                               uint64_t model) {
  graph = std::move(captured);
  graphModel = graph ? model : 0;
}
