/*===- MMRuntime.h - the runtime's C ABI --------------------------*- C -*-===*\
|*                                                                            *|
|* A small C interface over compiled models, for callers that do not speak   *|
|* C++ (Python ctypes, Rust, Go). Every function that can fail returns NULL   *|
|* or a non-zero status and leaves a message for mm_last_error(); nothing    *|
|* aborts on bad input.                                                       *|
|*                                                                            *|
|* Sessions: open an artifact with its weights (on the CPU, a GPU or the    *|
|* simulator), create a state for a batch of sequences, prefill any number   *|
|* of tokens, decode token by token, copy the state out (snapshot) and back  *|
|* in (restore), or to another state where it lives (clone, copy).           *|
|*                                                                            *|
|* Threads and ownership:                                                     *|
|* - A model may be used from any number of threads at once, each call on a *|
|*   state of its own. Set its prefill chunk before sharing it.             *|
|* - A state serves one call at a time: a call on a state that another      *|
|*   thread is running fails ("in use by another call") instead of racing.  *|
|*   Freeing a state while a call runs on it is the caller's error.         *|
|* - A state keeps its model's compiled code and weights alive:             *|
|*   mm_model_free releases the handle, and the model goes with its last    *|
|*   state. A state runs only with the model handle that created it.        *|
|* - Errors are per thread (mm_last_error).                                  *|
|* - Long prompts run in chunks (mm_model_set_prefill_chunk), so memory      *|
|*   stays bounded whatever the prompt length; only the logits asked for    *|
|*   are computed into the caller's buffer.                                  *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MM_RUNTIME_MMRUNTIME_H
#define MM_RUNTIME_MMRUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this C interface. 2: mm_prefill writes the logits of the
 * last position only (mm_prefill_all_logits writes every position's), and
 * prefills run in chunks. 3: models on a GPU or the simulator
 * (mm_model_open_on_device), states that stay in its memory and are copied
 * there (mm_state_clone, mm_state_copy), decode steps replayed from a
 * graph. 4: sequences of different lengths in one prefill
 * (mm_prefill_lengths). */
#define MM_RUNTIME_C_API_VERSION 4

/** A compiled model with its weights bound. */
typedef struct mm_model mm_model;
/** The state of a batch of sequences of one model. */
typedef struct mm_state mm_state;

/** The message of the last failure on this thread ("" if none). Valid until
 * the next call into the runtime on this thread. */
const char *mm_last_error(void);

/** Opens a CPU artifact (mm-compile -o FILE) and binds the weights at
 * `weights_path` (a .safetensors file, a shard index or a model folder).
 * The artifact's checksum seal is verified and the code that runs is the
 * bytes that were checked. NULL on failure. */
mm_model *mm_model_open(const char *artifact_path, const char *weights_path);
/** As mm_model_open, on `device`: "cpu" (or NULL) for a CPU artifact,
 * "cuda:N" or "hip:N" for a GPU artifact built for that device's chip, or
 * "sim", the GPU simulator (any GPU artifact, its kernels run on the CPU).
 * The model keeps the device open; the weights and the states of a GPU
 * model live in its memory, and calls copy only tokens in and logits out.
 * A device the machine lacks, or one the artifact was not built for, is an
 * error. NULL on failure. */
mm_model *mm_model_open_on_device(const char *artifact_path,
                                  const char *weights_path, const char *device);
void mm_model_free(mm_model *model);
/** The device the model runs on: "cpu", "sim", "cuda:0", ... (valid while
 * the model is). */
const char *mm_model_device(const mm_model *model);
/** Whether decode steps on a GPU replay a graph captured at each state's
 * first step (non-zero, the default) or launch every kernel from the host
 * (0). Returns 0, or non-zero for a NULL model. Set it before sharing the
 * model. */
int mm_model_set_decode_graphs(mm_model *model, int enabled);

/** The vocabulary size V (logits per token). */
int64_t mm_model_vocab_size(const mm_model *model);
/** Bytes of state per sequence. */
int64_t mm_model_state_bytes(const mm_model *model);
/** Tokens of each sequence per call into the compiled code (default 512):
 * longer prompts run in chunks of this many, carrying the state, so that
 * memory does not grow with the prompt. 0 runs every prompt whole. Returns
 * 0, or non-zero for a value outside [0, 2^20]. */
int mm_model_set_prefill_chunk(mm_model *model, int64_t tokens);

/** A fresh state for `batch` sequences (1 <= batch <= 2^20). NULL on
 * failure, also when its memory cannot be allocated. */
mm_state *mm_state_create(const mm_model *model, int64_t batch);
void mm_state_free(mm_state *state);
/** The number of sequences of a state. */
int64_t mm_state_batch(const mm_state *state);
/** The size of a snapshot of `state`, in bytes. */
int64_t mm_state_size(const mm_state *state);

/** Runs `time` tokens of each sequence (tokens [batch, time], row-major)
 * from `state`, which it advances; writes the logits of each sequence's
 * last position, [batch, V], to `logits` unless it is NULL. Logits that are
 * not finite are an error. Returns 0, or non-zero with the state left as
 * it was. */
int mm_prefill(const mm_model *model, mm_state *state, const int32_t *tokens,
               int64_t time, float *logits);
/** As mm_prefill, but writes the logits of every position, [batch, time,
 * V], to `logits` (which must not be NULL). */
int mm_prefill_all_logits(const mm_model *model, mm_state *state,
                          const int32_t *tokens, int64_t time, float *logits);
/** As mm_prefill, for a batch of sequences of different lengths in one
 * call: sequence b is the first lengths[b] (0 to `time`) tokens of its row
 * of `tokens` [batch, time], the rest of the row padding (never read). Each
 * sequence's state advances by its own length, as if it ran alone; `logits`
 * [batch, V] gets the logits of each sequence's last token (every length
 * must then be at least 1) unless it is NULL. */
int mm_prefill_lengths(const mm_model *model, mm_state *state,
                       const int32_t *tokens, int64_t time,
                       const int64_t *lengths, float *logits);
/** One decode step: one token per sequence (tokens [batch]), logits
 * [batch, V]. Returns 0, or non-zero with the state left as it was. */
int mm_decode(const mm_model *model, mm_state *state, const int32_t *tokens,
              float *logits);

/** Copies the state into `buffer` (`size` must be mm_state_size). */
int mm_state_snapshot(const mm_state *state, void *buffer, int64_t size);
/** Replaces the state by a snapshot of the same model and batch. The
 * snapshot is checked first (pool counts and positions in range, values
 * finite); a damaged one is refused and the state left as it was. */
int mm_state_restore(mm_state *state, const void *buffer, int64_t size);
/** A new state holding a copy of `state` (a snapshot that stays where the
 * state lives: device memory for a GPU model). NULL on failure. */
mm_state *mm_state_clone(const mm_state *state);
/** Makes `target` a copy of `source`, states of the same model and batch,
 * without a round trip through the host (a restore from mm_state_clone). */
int mm_state_copy(mm_state *target, const mm_state *source);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MM_RUNTIME_MMRUNTIME_H */
