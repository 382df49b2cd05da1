//===- KernelContext.cpp - an artifact's kernels loaded on a device -------===//

#include "runtime/gpu/KernelContext.h"

#include "llvm/ADT/Twine.h"

#include <cstring>

using namespace mm::gpu;
using detail::makeError;
using llvm::Expected;
using llvm::Twine;

/// At most this many kernels, and names this long: a module beyond either is
/// corrupt, not large.
static constexpr int64_t kMaxKernels = 1 << 20;
static constexpr size_t kMaxNameBytes = 4096;

Expected<std::unique_ptr<KernelContext>>
KernelContext::load(GpuDevice &device, const MMKernelModule &module,
                    GpuStream stream) {
  if (module.version != MM_KERNEL_CONTEXT_VERSION)
    return makeError("its kernel module has version " +
                     Twine(module.version) + ", this runtime reads version " +
                     Twine(MM_KERNEL_CONTEXT_VERSION));
  const bool assembly = module.format == MM_KERNEL_IMAGE_ASSEMBLY;
  if ((!assembly && module.format != MM_KERNEL_IMAGE_BINARY) ||
      !module.image || module.image_bytes <= 0 || module.kernel_count < 0 ||
      module.kernel_count > kMaxKernels ||
      (module.kernel_count > 0 && !module.kernel_names))
    return makeError("corrupt kernel module (format " + Twine(module.format) +
                     ", " + Twine(module.image_bytes) + " bytes, " +
                     Twine(module.kernel_count) + " kernels)");
  if (assembly && device.getVendor() == Vendor::Hip)
    return makeError("hip cannot compile assembly at run time; serialise "
                     "ROCDL modules as code objects (--kernel-format=bin)");

  std::unique_ptr<KernelContext> loaded(new KernelContext(device));
  llvm::StringRef image(module.image, size_t(module.image_bytes));
  Expected<GpuModule> handle =
      device.loadModule(image, assembly ? int(module.jit_opt_level) : -1);
  if (!handle)
    return handle.takeError();
  loaded->module = *handle;
  const char *name = module.kernel_names;
  for (int64_t i = 0; i < module.kernel_count; ++i) {
    size_t length = strnlen(name, kMaxNameBytes);
    if (length == 0 || length == kMaxNameBytes)
      return makeError("corrupt kernel module: kernel " + Twine(i) +
                       " has no name");
    loaded->names.emplace_back(name, length);
    Expected<GpuFunction> function = device.getFunction(*handle, name);
    if (!function)
      return function.takeError();
    loaded->functions.push_back(static_cast<void *>(*function));
    name += length + 1;
  }
  loaded->context.stream = stream;
  loaded->context.functions = loaded->functions.data();
  loaded->context.device = &device;
  loaded->context.module = static_cast<void *>(loaded->module);
  return loaded;
}

KernelContext::~KernelContext() {
  llvm::consumeError(device.unloadModule(module));
}
