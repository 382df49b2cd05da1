//===- KernelContextAbi.h - the kernel context of GPU entry points -*- C -*-===//
//
// The contract between a GPU artifact's host code and the runtime (artifact
// ABI version 2, docs/artifact.md "GPU artifacts"), C so that hand-written
// artifacts (test/unit/Inputs/fake-gpu-artifact.c) use it too.
//
// The artifact exports its kernels as data, `mm_kernel_module` (an
// MMKernelModule), and loads nothing itself: no global constructor. When a
// model is loaded on a device, the runtime loads that image on the device,
// looks up every kernel by name, and hands the entry points an
// MMKernelContext as their first argument:
//
//   void _mlir_ciface_mm_prefill(MMKernelContext *context, weights, state,
//                                tokens, logits);
//
// Compiled code launches kernel i as context->functions[i] on
// context->stream, and allocates its temporaries on that stream too
// (mgpuMemAlloc and mgpuMemFree with the stream: stream-ordered). It does not
// synchronise: the runtime does, once, when it needs the results.
// lowering/KernelContext.cpp (mm-kernel-context) emits this code from
// gpu.launch_func and gpu.binary; the field offsets below are what it loads.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_KERNELCONTEXTABI_H
#define MM_RUNTIME_GPU_KERNELCONTEXTABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The version of MMKernelModule and MMKernelContext.
#define MM_KERNEL_CONTEXT_VERSION 1

/// How the runtime loads MMKernelModule::image.
enum MMKernelImageFormat {
  /// A binary the driver loads as it is (cubin, fatbin, hsaco).
  MM_KERNEL_IMAGE_BINARY = 0,
  /// Assembly the driver compiles when it loads it (PTX text,
  /// NUL-terminated); MMKernelModule::jit_opt_level is the level.
  MM_KERNEL_IMAGE_ASSEMBLY = 1,
};

/// The kernels of an artifact, exported as `mm_kernel_module`.
typedef struct MMKernelModule {
  /// MM_KERNEL_CONTEXT_VERSION.
  int64_t version;
  /// An MMKernelImageFormat.
  int64_t format;
  /// The JIT optimisation level (assembly only; -1: the driver's default).
  int64_t jit_opt_level;
  /// The image and its size in bytes (with the NUL of assembly text).
  const char *image;
  int64_t image_bytes;
  /// How many kernels the host code launches, and their names: that many
  /// NUL-terminated strings one after the other. Kernel i is
  /// MMKernelContext::functions[i].
  int64_t kernel_count;
  const char *kernel_names;
} MMKernelModule;

/// What the runtime hands every GPU entry point, for one model on one
/// device. The compiled code reads `stream` and `functions` only.
typedef struct MMKernelContext {
  /// The stream every launch, copy and temporary of a call goes on.
  void *stream;
  /// One driver function handle per kernel of MMKernelModule, in its order.
  void *const *functions;
  /// The runtime's device (mm::gpu::GpuDevice) and loaded module; opaque.
  void *device;
  void *module;
} MMKernelContext;

/// The byte offsets compiled code loads from.
#define MM_KERNEL_CONTEXT_STREAM_OFFSET 0
#define MM_KERNEL_CONTEXT_FUNCTIONS_OFFSET 8

/// The symbol name of the artifact's MMKernelModule.
#define MM_KERNEL_MODULE_SYMBOL "mm_kernel_module"

#ifdef __cplusplus
} // extern "C"
#endif

#endif // MM_RUNTIME_GPU_KERNELCONTEXTABI_H
