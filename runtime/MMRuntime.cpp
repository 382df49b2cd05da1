//===- MMRuntime.cpp - the runtime's C ABI --------------------------------===//
//
// Thin wrappers over CompiledModel: errors become a thread-local message and
// a status, state is a CompiledState behind an opaque pointer.
//
//===----------------------------------------------------------------------===//

#include "runtime/MMRuntime.h"

#include "runtime/CompiledModel.h"
#include "runtime/ModelWeights.h"

#include <cstring>
#include <string>

using namespace mm;

struct mm_model {
  std::unique_ptr<CompiledModel> compiled;
};

struct mm_state {
  const mm_model *model;
  CompiledState state;
};

namespace {

thread_local std::string lastError;

int fail(const std::string &message) {
  lastError = message;
  return 1;
}

int fail(llvm::Error error) { return fail(llvm::toString(std::move(error))); }

/// Checks the pointers every call needs; names the function and argument.
bool checkArgument(const void *pointer, const char *function,
                   const char *argument) {
  if (pointer)
    return true;
  fail(std::string(function) + ": " + argument + " is NULL");
  return false;
}

} // namespace

const char *mm_last_error(void) { return lastError.c_str(); }

mm_model *mm_model_open(const char *artifactPath, const char *weightsPath) {
  lastError.clear();
  if (!checkArgument(artifactPath, "mm_model_open", "artifact_path") ||
      !checkArgument(weightsPath, "mm_model_open", "weights_path"))
    return nullptr;
  auto compiled = CompiledModel::open(artifactPath);
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
  return new mm_model{std::move(*compiled)};
}

void mm_model_free(mm_model *model) { delete model; }

int64_t mm_model_vocab_size(const mm_model *model) {
  return model ? model->compiled->config().vocabSize : 0;
}

int64_t mm_model_state_bytes(const mm_model *model) {
  return model ? model->compiled->stateBytesPerSequence() : 0;
}

mm_state *mm_state_create(const mm_model *model, int64_t batch) {
  lastError.clear();
  if (!checkArgument(model, "mm_state_create", "model"))
    return nullptr;
  if (batch < 1) {
    fail("mm_state_create: batch must be at least 1, got " +
         std::to_string(batch));
    return nullptr;
  }
  auto state = model->compiled->createState(batch);
  if (!state) {
    fail(state.takeError());
    return nullptr;
  }
  return new mm_state{model, std::move(*state)};
}

void mm_state_free(mm_state *state) { delete state; }

int64_t mm_state_batch(const mm_state *state) {
  return state ? state->state.batch : 0;
}

int64_t mm_state_size(const mm_state *state) {
  return state ? static_cast<int64_t>(state->state.bytes.size()) : 0;
}

namespace {
/// Checks that a state belongs to a model: states hold that model's layout.
int checkSession(const mm_model *model, const mm_state *state,
                 const void *tokens, const char *function) {
  if (!checkArgument(model, function, "model") ||
      !checkArgument(state, function, "state") ||
      !checkArgument(tokens, function, "tokens"))
    return 1;
  if (state->model != model)
    return fail(std::string(function) +
                ": the state was created for another model");
  return 0;
}

int finish(llvm::Expected<std::vector<float>> logits, float *out) {
  if (!logits)
    return fail(logits.takeError());
  if (out)
    std::memcpy(out, logits->data(), logits->size() * sizeof(float));
  return 0;
}
} // namespace

int mm_prefill(const mm_model *model, mm_state *state, const int32_t *tokens,
               int64_t time, float *logits) {
  lastError.clear();
  if (checkSession(model, state, tokens, "mm_prefill"))
    return 1;
  if (time < 1)
    return fail("mm_prefill: time must be at least 1, got " +
                std::to_string(time));
  llvm::ArrayRef<int32_t> all(tokens, state->state.batch * time);
  return finish(model->compiled->prefill(all, time, state->state), logits);
}

int mm_decode(const mm_model *model, mm_state *state, const int32_t *tokens,
              float *logits) {
  lastError.clear();
  if (checkSession(model, state, tokens, "mm_decode"))
    return 1;
  llvm::ArrayRef<int32_t> all(tokens, state->state.batch);
  return finish(model->compiled->decode(all, state->state), logits);
}

int mm_state_snapshot(const mm_state *state, void *buffer, int64_t size) {
  lastError.clear();
  if (!checkArgument(state, "mm_state_snapshot", "state") ||
      !checkArgument(buffer, "mm_state_snapshot", "buffer"))
    return 1;
  if (size != mm_state_size(state))
    return fail("mm_state_snapshot: the buffer holds " + std::to_string(size) +
                " bytes, the state " + std::to_string(mm_state_size(state)));
  std::memcpy(buffer, state->state.bytes.data(), size);
  return 0;
}

int mm_state_restore(mm_state *state, const void *buffer, int64_t size) {
  lastError.clear();
  if (!checkArgument(state, "mm_state_restore", "state") ||
      !checkArgument(buffer, "mm_state_restore", "buffer"))
    return 1;
  if (size != mm_state_size(state))
    return fail("mm_state_restore: the snapshot holds " + std::to_string(size) +
                " bytes, this state (batch " +
                std::to_string(state->state.batch) + ") " +
                std::to_string(mm_state_size(state)));
  std::memcpy(state->state.bytes.data(), buffer, size);
  return 0;
}
