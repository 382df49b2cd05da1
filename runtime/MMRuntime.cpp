//===- MMRuntime.cpp - the runtime's C ABI --------------------------------===//
//
// Thin wrappers over CompiledModel: errors become a thread-local message and
// a status, state is a CompiledState behind an opaque pointer. Nothing may
// escape through `extern "C"`: every entry point catches what the C++ below
// it throws (std::bad_alloc above all) and reports it as an error.
//
//===----------------------------------------------------------------------===//

#include "runtime/MMRuntime.h"

#include "runtime/CompiledModel.h"
#include "runtime/ModelWeights.h"
#include "runtime/gpu/GpuDevice.h"

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <new>
#include <string>

using namespace mm;

/// The model and its settings, shared by the handle and every state.
struct SharedModel {
  /// The GPU the model runs on (null on the host); it goes after the model
  /// and its states.
  std::unique_ptr<gpu::GpuDevice> device;
  std::string deviceSpec = "cpu";
  std::unique_ptr<CompiledModel> compiled;
  std::atomic<int64_t> chunkTokens{PrefillOptions().chunkTokens};
  std::atomic<bool> decodeGraphs{DecodeOptions().graphs};
};

struct mm_model {
  std::shared_ptr<SharedModel> shared;
};

struct mm_state {
  /// Keeps the model alive; identifies the model the state belongs to.
  std::shared_ptr<SharedModel> model;
  CompiledState state;
  /// Set while a call runs on the state (snapshots, which take a const
  /// state, set it too).
  mutable std::atomic<bool> busy{false};
};

namespace {

thread_local std::string lastError;

int fail(const std::string &message) {
  lastError = message;
  return 1;
}

int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

/// Runs `body` (returning a status) with every exception turned into an
/// error of `function`.
template <typename Body> int guarded(const char *function, Body &&body) {
  lastError.clear();
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(std::string(function) + ": out of memory");
  } catch (const std::exception &error) {
    return fail(std::string(function) + ": " + error.what());
  } catch (...) {
    return fail(std::string(function) + ": unexpected failure");
  }
}

/// guarded() for functions that return a pointer (NULL on failure).
template <typename T, typename Body>
T *guardedPointer(const char *function, Body &&body) {
  T *result = nullptr;
  guarded(function, [&] {
    result = body();
    return result ? 0 : 1;
  });
  return result;
}

/// Checks the pointers every call needs; names the function and argument.
bool checkArgument(const void *pointer, const char *function,
                   const char *argument) {
  if (pointer)
    return true;
  fail(std::string(function) + ": " + argument + " is NULL");
  return false;
}

/// Marks a state busy for one call; refuses a state another call is using.
class StateUse {
public:
  StateUse(const mm_state *state, const char *function) : state(state) {
    acquired = !state->busy.exchange(true, std::memory_order_acquire);
    if (!acquired)
      fail(std::string(function) +
           ": the state is in use by another call (a state serves one call "
           "at a time; give each thread its own)");
  }
  ~StateUse() {
    if (acquired)
      state->busy.store(false, std::memory_order_release);
  }
  explicit operator bool() const { return acquired; }

private:
  const mm_state *state;
  bool acquired;
};

/// Checks that a state belongs to a model: states hold that model's layout.
int checkSession(const mm_model *model, const mm_state *state,
                 const void *tokens, const char *function) {
  if (!checkArgument(model, function, "model") ||
      !checkArgument(state, function, "state") ||
      !checkArgument(tokens, function, "tokens"))
    return 1;
  if (state->model != model->shared)
    return fail(std::string(function) +
                ": the state was created for another model");
  return 0;
}

/// Copies `logits` to `out` (if not NULL).
int finish(llvm::Expected<std::vector<float>> logits, float *out) {
  if (!logits)
    return fail(logits.takeError());
  if (out && !logits->empty())
    std::memcpy(out, logits->data(), logits->size() * sizeof(float));
  return 0;
}

int prefill(const char *function, const mm_model *model, mm_state *state,
            const int32_t *tokens, int64_t time, float *logits,
            PromptLogits which, bool ragged = false,
            const int64_t *lengths = nullptr) {
  return guarded(function, [&] {
    if (checkSession(model, state, tokens, function))
      return 1;
    if (which == PromptLogits::All &&
        !checkArgument(logits, function, "logits"))
      return 1;
    if (ragged && !checkArgument(lengths, function, "lengths"))
      return 1;
    int64_t count;
    if (time < 1 || __builtin_mul_overflow(state->state.batch, time, &count))
      return fail(std::string(function) + ": time must be at least 1 and " +
                  "batch x time must fit in 64 bits, got time " +
                  std::to_string(time));
    StateUse use(state, function);
    if (!use)
      return 1;
    PrefillOptions options;
    options.logits = logits ? which : PromptLogits::None;
    options.chunkTokens = model->shared->chunkTokens.load();
    if (lengths)
      options.lengths.assign(lengths, lengths + state->state.batch);
    llvm::ArrayRef<int32_t> all(tokens, count);
    return finish(
        model->shared->compiled->prefill(all, time, state->state, options),
        logits);
  });
}

} // namespace

const char *mm_last_error(void) { return lastError.c_str(); }

namespace {

/// Makes this library's mgpu* functions (runtime/gpu/MgpuAbi.h) visible to
/// the GPU artifacts it loads, which bind to them at load time: a caller
/// that loaded the library with RTLD_LOCAL (Python's ctypes does) left them
/// out of the global scope, so the library reopens itself with RTLD_GLOBAL.
void exportMgpuAbi() {
  static const bool exported = [] {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&mm_last_error), &info) ||
        !info.dli_fname)
      return false;
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) !=
           nullptr;
  }();
  (void)exported;
}

mm_model *openModel(const char *function, const char *artifactPath,
                    const char *weightsPath, const char *deviceSpec) {
  if (!checkArgument(artifactPath, function, "artifact_path") ||
      !checkArgument(weightsPath, function, "weights_path"))
    return nullptr;
  auto shared = std::make_shared<SharedModel>();
  llvm::StringRef spec = deviceSpec ? deviceSpec : "cpu";
  if (spec != "cpu") {
    auto device = gpu::GpuDevice::open(spec);
    if (!device) {
      fail(std::string(function) + ": device '" + spec.str() +
           "': " + llvm::toString(device.takeError()) +
           " (devices: cpu, sim, cuda:N, hip:N)");
      return nullptr;
    }
    shared->device = std::move(*device);
    shared->deviceSpec = shared->device->getSpec();
    exportMgpuAbi();
  }
  auto compiled = CompiledModel::open(
      artifactPath, shared->device.get(),
      "open it with mm_model_open_on_device and a device (\"cuda:0\", "
      "\"hip:0\", or \"sim\", the simulator)");
  if (!compiled) {
    fail(compiled.takeError());
    return nullptr;
  }
  auto weights = ModelWeights::load((*compiled)->config(), weightsPath);
  if (!weights) {
    fail(weights.takeError());
    return nullptr;
  }
  if (llvm::Error err = (*compiled)->bindWeights(*weights)) {
    fail(std::move(err));
    return nullptr;
  }
  shared->compiled = std::move(*compiled);
  return new mm_model{std::move(shared)};
}

} // namespace

mm_model *mm_model_open(const char *artifactPath, const char *weightsPath) {
  return guardedPointer<mm_model>("mm_model_open", [&] {
    return openModel("mm_model_open", artifactPath, weightsPath, nullptr);
  });
}

mm_model *mm_model_open_on_device(const char *artifactPath,
                                  const char *weightsPath, const char *device) {
  return guardedPointer<mm_model>("mm_model_open_on_device", [&] {
    return openModel("mm_model_open_on_device", artifactPath, weightsPath,
                     device);
  });
}

void mm_model_free(mm_model *model) { delete model; }

const char *mm_model_device(const mm_model *model) {
  return model ? model->shared->deviceSpec.c_str() : "";
}

int mm_model_set_decode_graphs(mm_model *model, int enabled) {
  lastError.clear();
  if (!checkArgument(model, "mm_model_set_decode_graphs", "model"))
    return 1;
  model->shared->decodeGraphs = enabled != 0;
  return 0;
}

int64_t mm_model_vocab_size(const mm_model *model) {
  return model ? model->shared->compiled->config().vocabSize : 0;
}

int64_t mm_model_state_bytes(const mm_model *model) {
  return model ? model->shared->compiled->stateBytesPerSequence() : 0;
}

int mm_model_set_prefill_chunk(mm_model *model, int64_t tokens) {
  lastError.clear();
  if (!checkArgument(model, "mm_model_set_prefill_chunk", "model"))
    return 1;
  if (tokens < 0 || tokens > kMaxChunkTokens)
    return fail("mm_model_set_prefill_chunk: a chunk holds 0 (no limit) to " +
                std::to_string(kMaxChunkTokens) + " tokens, not " +
                std::to_string(tokens));
  model->shared->chunkTokens = tokens;
  return 0;
}

mm_state *mm_state_create(const mm_model *model, int64_t batch) {
  return guardedPointer<mm_state>("mm_state_create", [&]() -> mm_state * {
    if (!checkArgument(model, "mm_state_create", "model"))
      return nullptr;
    auto state = model->shared->compiled->createState(batch);
    if (!state) {
      fail("mm_state_create: " + llvm::toString(state.takeError()));
      return nullptr;
    }
    auto *created = new mm_state();
    created->model = model->shared;
    created->state = std::move(*state);
    return created;
  });
}

void mm_state_free(mm_state *state) { delete state; }

int64_t mm_state_batch(const mm_state *state) {
  return state ? state->state.batch : 0;
}

int64_t mm_state_size(const mm_state *state) {
  return state ? state->state.size() : 0;
}

int mm_prefill(const mm_model *model, mm_state *state, const int32_t *tokens,
               int64_t time, float *logits) {
  return prefill("mm_prefill", model, state, tokens, time, logits,
                 PromptLogits::Last);
}

int mm_prefill_all_logits(const mm_model *model, mm_state *state,
                          const int32_t *tokens, int64_t time, float *logits) {
  return prefill("mm_prefill_all_logits", model, state, tokens, time, logits,
                 PromptLogits::All);
}

int mm_prefill_lengths(const mm_model *model, mm_state *state,
                       const int32_t *tokens, int64_t time,
                       const int64_t *lengths, float *logits) {
  return prefill("mm_prefill_lengths", model, state, tokens, time, logits,
                 PromptLogits::Last, /*ragged=*/true, lengths);
}

int mm_decode(const mm_model *model, mm_state *state, const int32_t *tokens,
              float *logits) {
  return guarded("mm_decode", [&] {
    if (checkSession(model, state, tokens, "mm_decode"))
      return 1;
    StateUse use(state, "mm_decode");
    if (!use)
      return 1;
    llvm::ArrayRef<int32_t> all(tokens, state->state.batch);
    DecodeOptions options;
    options.graphs = model->shared->decodeGraphs.load();
    return finish(model->shared->compiled->decode(all, state->state, options),
                  logits);
  });
}

int mm_state_snapshot(const mm_state *state, void *buffer, int64_t size) {
  return guarded("mm_state_snapshot", [&] {
    if (!checkArgument(state, "mm_state_snapshot", "state") ||
        !checkArgument(buffer, "mm_state_snapshot", "buffer"))
      return 1;
    if (size != mm_state_size(state))
      return fail("mm_state_snapshot: the buffer holds " +
                  std::to_string(size) + " bytes, the state " +
                  std::to_string(mm_state_size(state)));
    // Held for the copy: a call that started after a mere check would tear
    // it.
    StateUse use(state, "mm_state_snapshot");
    if (!use)
      return 1;
    if (!state->state.device) {
      std::memcpy(buffer, state->state.bytes.data(), size);
      return 0;
    }
    auto bytes = state->model->compiled->readState(state->state);
    if (!bytes)
      return fail("mm_state_snapshot: " + llvm::toString(bytes.takeError()));
    std::memcpy(buffer, bytes->data(), size);
    return 0;
  });
}

int mm_state_restore(mm_state *state, const void *buffer, int64_t size) {
  return guarded("mm_state_restore", [&] {
    if (!checkArgument(state, "mm_state_restore", "state") ||
        !checkArgument(buffer, "mm_state_restore", "buffer"))
      return 1;
    if (size != mm_state_size(state))
      return fail("mm_state_restore: the snapshot holds " +
                  std::to_string(size) + " bytes, this state (batch " +
                  std::to_string(state->state.batch) + ") " +
                  std::to_string(mm_state_size(state)));
    StateUse use(state, "mm_state_restore");
    if (!use)
      return 1;
    llvm::ArrayRef<uint8_t> bytes(static_cast<const uint8_t *>(buffer), size);
    if (llvm::Error err =
            state->model->compiled->writeState(state->state, bytes))
      return fail("mm_state_restore: " + llvm::toString(std::move(err)));
    return 0;
  });
}

mm_state *mm_state_clone(const mm_state *state) {
  return guardedPointer<mm_state>("mm_state_clone", [&]() -> mm_state * {
    if (!checkArgument(state, "mm_state_clone", "state"))
      return nullptr;
    StateUse use(state, "mm_state_clone");
    if (!use)
      return nullptr;
    auto copy = state->model->compiled->copyState(state->state);
    if (!copy) {
      fail("mm_state_clone: " + llvm::toString(copy.takeError()));
      return nullptr;
    }
    auto *created = new mm_state();
    created->model = state->model;
    created->state = std::move(*copy);
    return created;
  });
}

int mm_state_copy(mm_state *target, const mm_state *source) {
  return guarded("mm_state_copy", [&] {
    if (!checkArgument(target, "mm_state_copy", "target") ||
        !checkArgument(source, "mm_state_copy", "source"))
      return 1;
    if (target->model != source->model)
      return fail("mm_state_copy: the states belong to different models");
    if (target == source)
      return 0;
    StateUse targetUse(target, "mm_state_copy");
    if (!targetUse)
      return 1;
    StateUse sourceUse(source, "mm_state_copy");
    if (!sourceUse)
      return 1;
    if (llvm::Error err =
            target->model->compiled->restoreState(target->state, source->state))
      return fail("mm_state_copy: " + llvm::toString(std::move(err)));
    return 0;
  });
}
