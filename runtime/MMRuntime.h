/*===- MMRuntime.h - the runtime's C ABI --------------------------*- C -*-===*\
|*                                                                            *|
|* A small C interface over compiled models, for callers that do not speak   *|
|* C++ (Python ctypes, Rust, Go). Every function that can fail returns NULL   *|
|* or a non-zero status and leaves a message for mm_last_error(); nothing    *|
|* aborts on bad input.                                                       *|
|*                                                                            *|
|* Sessions: open an artifact with its weights, create a state for a batch   *|
|* of sequences, prefill any number of tokens, decode token by token, copy   *|
|* the state out (snapshot) and back in (restore).                            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MM_RUNTIME_MMRUNTIME_H
#define MM_RUNTIME_MMRUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this C interface. */
#define MM_RUNTIME_C_API_VERSION 1

/** A compiled model with its weights bound. */
typedef struct mm_model mm_model;
/** The state of a batch of sequences of one model. */
typedef struct mm_state mm_state;

/** The message of the last failure on this thread ("" if none). Valid until
 * the next call into the runtime on this thread. */
const char *mm_last_error(void);

/** Opens an artifact (mm-compile -o FILE) and binds the weights at
 * `weights_path` (a .safetensors file, a shard index or a model folder).
 * NULL on failure. */
mm_model *mm_model_open(const char *artifact_path, const char *weights_path);
void mm_model_free(mm_model *model);

/** The vocabulary size V (logits per token). */
int64_t mm_model_vocab_size(const mm_model *model);
/** Bytes of state per sequence. */
int64_t mm_model_state_bytes(const mm_model *model);

/** A fresh state for `batch` sequences (batch >= 1). NULL on failure. */
mm_state *mm_state_create(const mm_model *model, int64_t batch);
void mm_state_free(mm_state *state);
/** The number of sequences of a state. */
int64_t mm_state_batch(const mm_state *state);
/** The size of a snapshot of `state`, in bytes. */
int64_t mm_state_size(const mm_state *state);

/** Runs `time` tokens of each sequence (tokens [batch, time], row-major)
 * from `state`, which it advances; writes logits [batch, time, V] to
 * `logits` unless it is NULL. Returns 0, or non-zero with the state left as
 * it was. */
int mm_prefill(const mm_model *model, mm_state *state, const int32_t *tokens,
               int64_t time, float *logits);
/** One decode step: one token per sequence (tokens [batch]), logits
 * [batch, V]. Returns 0, or non-zero with the state left as it was. */
int mm_decode(const mm_model *model, mm_state *state, const int32_t *tokens,
              float *logits);

/** Copies the state into `buffer` (`size` must be mm_state_size). */
int mm_state_snapshot(const mm_state *state, void *buffer, int64_t size);
/** Replaces the state by a snapshot of the same model and batch. */
int mm_state_restore(mm_state *state, const void *buffer, int64_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MM_RUNTIME_MMRUNTIME_H */
