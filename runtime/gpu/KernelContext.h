//===- KernelContext.h - an artifact's kernels loaded on a device -*- C++ -*-===//
//
// The runtime's side of common/KernelContextAbi.h: loads the kernel
// module a GPU artifact exports (`mm_kernel_module`) on one device, looks up
// every kernel the host code launches, and owns the MMKernelContext the
// artifact's entry points take. Each model loaded on a device has its own:
// nothing is loaded by the artifact's global constructors, so models of one
// artifact run on different devices of a process, each with its kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_KERNELCONTEXT_H
#define MM_RUNTIME_GPU_KERNELCONTEXT_H

#include "runtime/gpu/GpuDevice.h"
#include "common/KernelContextAbi.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace mm::gpu {

class KernelContext {
public:
  /// Loads `module` on `device` and looks its kernels up; the entry points
  /// will run on `stream` (which the caller owns and keeps alive). The
  /// errors name the driver call or the kernel.
  static llvm::Expected<std::unique_ptr<KernelContext>>
  load(GpuDevice &device, const MMKernelModule &module, GpuStream stream);
  /// Unloads the module.
  ~KernelContext();
  KernelContext(const KernelContext &) = delete;
  KernelContext &operator=(const KernelContext &) = delete;

  /// What the entry points take as their first argument.
  MMKernelContext *get() { return &context; }
  /// The names of the kernels, in the order of the context's functions.
  llvm::ArrayRef<std::string> kernelNames() const { return names; }

private:
  explicit KernelContext(GpuDevice &device) : device(device) {}

  GpuDevice &device;
  GpuModule module = nullptr;
  std::vector<std::string> names;
  std::vector<void *> functions;
  MMKernelContext context = {};
};

} // namespace mm::gpu

#endif // MM_RUNTIME_GPU_KERNELCONTEXT_H
