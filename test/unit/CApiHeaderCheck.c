/*===- CApiHeaderCheck.c - runtime/MMRuntime.h compiles as C ------------===*\
|* The C ABI must stay C: this file is compiled by the C compiler and runs  *|
|* one session through it, called from CApiTest.cpp.                        *|
\*===----------------------------------------------------------------------===*/

#include "runtime/MMRuntime.h"

#include <stdlib.h>

/* Prefills `time` tokens of one sequence and greedily decodes one more;
 * returns the decoded token, or -1 with mm_last_error() set. */
int32_t mm_test_greedy_step_in_c(const char *artifact, const char *weights,
                                 const char *device, const int32_t *tokens,
                                 int64_t time) {
  mm_model *model = mm_model_open_on_device(artifact, weights, device);
  if (!model)
    return -1;
  int64_t vocab = mm_model_vocab_size(model);
  mm_state *state = mm_state_create(model, 1);
  /* mm_prefill writes the logits of the last position only. */
  float *logits = (float *)malloc(sizeof(float) * (size_t)vocab);
  int32_t best = -1;
  if (state && logits && mm_prefill(model, state, tokens, time, logits) == 0) {
    const float *last = logits;
    best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (last[v] > last[best])
        best = (int32_t)v;
    if (mm_decode(model, state, &best, logits) != 0)
      best = -1;
  }
  free(logits);
  mm_state_free(state);
  mm_model_free(model);
  return best;
}
