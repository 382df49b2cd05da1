//===- fake-gpu-artifact.c - a GPU artifact written by hand, for tests ----===//
//
// What an artifact of mm-compile for a GPU holds (docs/artifact.md), written
// by hand so that the runtime's GPU path runs without a GPU or that compiler:
// the manifest (`mm_manifest`, generated next to it by fake-gpu-manifest);
// the kernel module as data (`mm_kernel_module`, which the runtime loads on
// the model's device); the entry points, which take the runtime's kernel
// context first, then device pointers (common/KernelContextAbi.h);
// kernels launched through the mgpu* ABI with the context's functions, on
// its stream, without synchronising; and a stream-ordered temporary from
// mgpuMemAlloc.
//
// The module is PTX text that the fake CUDA driver (FakeCudaDriver.h) takes
// for an image listing three kernels, and the kernels are host functions
// here, which a constructor registers with the fake driver (the library
// MM_CUDA_DRIVER names) under those names: the fake driver's stand-in for
// device code, not a load of the module. With the state of sequence b read
// as floats s[0..]:
//
//   fake_init(state, batch, floats):   s[1] = b + 1 (after a memset to 0)
//   fake_positions(state, positions, batch, time, floats):
//                                      positions[b, t] = s[0] + t
//   fake_step(weights, state, tokens, positions, logits, batch, time, vocab,
//             hidden, floats, lengths, last_only):
//                                      logits[b, t, v] = E[token, v % H]
//                                        + N[v % H] * positions[b, t]
//                                        + 100 * s[1];
//                                      s[0] += time; s[2] += the tokens
//
// (prefill_last: only each sequence's last t, as logits[b, 0, v])
//
// where E is the embedding and N the final norm (the manifest's weights, at
// offsets 0 and V * H; H is mm_fake_hidden, generated with the manifest),
// and `floats` is the state's floats per sequence.
//
//===----------------------------------------------------------------------===//

#include "common/KernelContextAbi.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

// The mgpu* ABI (runtime/gpu/MgpuAbi.h), bound at load time to the
// executable that loads this artifact.
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream);

/// The hidden size of the config, from the generated manifest file.
extern const int64_t mm_fake_hidden;

/// MLIR's memref descriptors (the C interface of the entry points).
typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} MemRef1;
typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} MemRef2;
typedef struct {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
} MemRef3;

//===----------------------------------------------------------------------===//
// The kernels
//===----------------------------------------------------------------------===//

/// What a fake kernel sees of its launch (FakeLaunch in FakeCudaDriver.h).
typedef struct {
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedMemoryBytes;
  void *stream;
  void **params;
} FakeLaunch;
typedef void (*FakeKernel)(const FakeLaunch *launch);

#define PARAM(type, index) (*(type *)launch->params[index])

static void fakeInit(const FakeLaunch *launch) {
  float *state = PARAM(float *, 0);
  int64_t batch = PARAM(int64_t, 1), floats = PARAM(int64_t, 2);
  for (int64_t b = 0; b < batch; ++b)
    state[b * floats + 1] = (float)(b + 1);
}

static void fakePositions(const FakeLaunch *launch) {
  const float *state = PARAM(float *, 0);
  float *positions = PARAM(float *, 1);
  int64_t batch = PARAM(int64_t, 2), time = PARAM(int64_t, 3),
          floats = PARAM(int64_t, 4);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < time; ++t)
      positions[b * time + t] = state[b * floats] + (float)t;
}

static void fakeStep(const FakeLaunch *launch) {
  const float *weights = PARAM(float *, 0);
  float *state = PARAM(float *, 1);
  const int32_t *tokens = PARAM(int32_t *, 2);
  const float *positions = PARAM(float *, 3);
  float *logits = PARAM(float *, 4);
  int64_t batch = PARAM(int64_t, 5), time = PARAM(int64_t, 6),
          vocab = PARAM(int64_t, 7), hidden = PARAM(int64_t, 8),
          floats = PARAM(int64_t, 9);
  /* Prefill's lengths (null for decode): a sequence's state stops at its
   * length, its padding's logits are not read. */
  const int32_t *lengths = PARAM(int32_t *, 10);
  /* prefill_last: one row of logits per sequence, its last token's. */
  int64_t lastOnly = PARAM(int64_t, 11);
  const float *norm = weights + vocab * hidden;
  for (int64_t b = 0; b < batch; ++b) {
    float *s = state + b * floats;
    int64_t steps = lengths ? lengths[b] : time;
    for (int64_t t = 0; t < steps; ++t) {
      int32_t token = tokens[b * time + t];
      float position = positions[b * time + t];
      float *row =
          lastOnly ? logits + b * vocab : logits + (b * time + t) * vocab;
      for (int64_t v = 0; v < vocab && (!lastOnly || t == steps - 1); ++v) {
        float value = weights[token * hidden + v % hidden];
        value += norm[v % hidden] * position;
        value += 100 * s[1];
        row[v] = value;
      }
      s[2] += (float)token;
    }
    s[0] += (float)steps;
  }
}

/// Registers the kernels with the fake driver, when it is the driver.
__attribute__((constructor)) static void registerKernels(void) {
  const char *driver = getenv("MM_CUDA_DRIVER");
  void *library = driver ? dlopen(driver, RTLD_NOW | RTLD_NOLOAD) : NULL;
  if (!library)
    return;
  /* With their argument counts: launches copy the values, as a real
   * driver's do, and captured steps replay after run() returned. */
  void (*registerKernel)(const char *, FakeKernel, int) =
      (void (*)(const char *, FakeKernel, int))dlsym(
          library, "fakeCudaRegisterKernelWithParams");
  if (registerKernel) {
    registerKernel("fake_init", fakeInit, 3);
    registerKernel("fake_positions", fakePositions, 5);
    registerKernel("fake_step", fakeStep, 12);
  }
  dlclose(library);
}

//===----------------------------------------------------------------------===//
// The host code
//===----------------------------------------------------------------------===//

/// The kernels' module: PTX text (the runtime hands it to the driver to
/// compile) holding the fake driver's list of kernels.
static const char kImage[] =
    ".version 8.0\n.target sm_80\n"
    "// FAKECUBIN fake_init fake_positions fake_step\n";

/// The kernels in the order of the context's functions.
enum { kInit, kPositions, kStep, kKernels };

const MMKernelModule mm_kernel_module = {
    MM_KERNEL_CONTEXT_VERSION, MM_KERNEL_IMAGE_ASSEMBLY, 2, kImage,
    sizeof(kImage),            kKernels,
    "fake_init\0fake_positions\0fake_step"};

/// Launches kernel `kernel` on `blocks` blocks of one thread, on the
/// context's stream.
static void launch(MMKernelContext *context, int kernel, int64_t blocks,
                   void **params, size_t count) {
  mgpuLaunchKernel(context->functions[kernel], blocks, 1, 1, 1, 1, 1, 0,
                   context->stream, params, NULL, count);
}

void _mlir_ciface_mm_init_state(MMKernelContext *context, MemRef1 *state,
                                int64_t batch) {
  float *data = (float *)state->aligned + state->offset;
  int64_t floats = state->sizes[0] / 4 / batch;
  mgpuMemset32(data, 0, (size_t)(batch * floats), context->stream);
  void *params[] = {&data, &batch, &floats};
  launch(context, kInit, batch, params, 3);
}

static void run(MMKernelContext *context, MemRef1 *weights, MemRef1 *state,
                MemRef2 *tokens, MemRef1 *lengths, MemRef3 *logits,
                int64_t lastOnly) {
  float *weightData = (float *)weights->aligned + weights->offset;
  float *stateData = (float *)((char *)state->aligned + state->offset);
  int32_t *tokenData = (int32_t *)tokens->aligned + tokens->offset;
  int32_t *lengthData =
      lengths ? (int32_t *)lengths->aligned + lengths->offset : NULL;
  float *logitData = (float *)logits->aligned + logits->offset;
  int64_t batch = tokens->sizes[0], time = tokens->sizes[1];
  int64_t vocab = logits->sizes[2];
  int64_t hidden = mm_fake_hidden;
  int64_t floats = state->sizes[0] / 4 / batch;

  float *positions = mgpuMemAlloc((uint64_t)(batch * time) * sizeof(float),
                                  context->stream, false);
  void *positionParams[] = {&stateData, &positions, &batch, &time, &floats};
  launch(context, kPositions, batch, positionParams, 5);
  void *stepParams[] = {&weightData, &stateData, &tokenData,  &positions,
                        &logitData,  &batch,     &time,       &vocab,
                        &hidden,     &floats,    &lengthData, &lastOnly};
  launch(context, kStep, batch, stepParams, 12);
  mgpuMemFree(positions, context->stream);
}

void _mlir_ciface_mm_prefill(MMKernelContext *context, MemRef1 *weights,
                             MemRef1 *state, MemRef2 *tokens, MemRef1 *lengths,
                             MemRef3 *logits) {
  run(context, weights, state, tokens, lengths, logits, 0);
}

void _mlir_ciface_mm_prefill_last(MMKernelContext *context, MemRef1 *weights,
                                  MemRef1 *state, MemRef2 *tokens,
                                  MemRef1 *lengths, MemRef3 *logits) {
  run(context, weights, state, tokens, lengths, logits, 1);
}

void _mlir_ciface_mm_decode(MMKernelContext *context, MemRef1 *weights,
                            MemRef1 *state, MemRef2 *tokens, MemRef3 *logits) {
  run(context, weights, state, tokens, NULL, logits, 0);
}
