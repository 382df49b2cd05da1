//===- GpuDevice.cpp - one GPU of either vendor ---------------------------===//

#include "runtime/gpu/GpuDevice.h"

#include "common/TuningFile.h"
#include "runtime/gpu/VendorDevices.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <climits>
#include <optional>

using namespace mm::gpu;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

using detail::makeError;

namespace {

/// "48 KiB", "79.1 GiB".
std::string formatBytes(uint64_t bytes) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (bytes >= (1ull << 30))
    os << llvm::format("%.1f GiB", double(bytes) / double(1ull << 30));
  else if (bytes >= (1ull << 20))
    os << llvm::format("%.1f MiB", double(bytes) / double(1ull << 20));
  else
    os << (bytes >> 10) << " KiB";
  return text;
}

/// Assembly text (PTX, AMDGPU assembly) rather than a binary image (ELF
/// cubin or hsaco, CUDA fatbin, clang offload bundle).
bool isAssemblyText(StringRef blob) {
  if (blob.starts_with("\x7f"
                       "ELF") ||
      blob.starts_with("\x50\xed\x55\xba") ||
      blob.starts_with("__CLANG_OFFLOAD_BUNDLE__"))
    return false;
  return blob.contains(".version") || blob.contains(".target") ||
         blob.contains(".amdgcn_target");
}

} // namespace

//===----------------------------------------------------------------------===//
// GpuDeviceInfo
//===----------------------------------------------------------------------===//

std::string GpuDeviceInfo::getSpec() const {
  // There is one simulator; its spec has no index.
  if (vendor == Vendor::Sim)
    return "sim";
  return (getVendorName(vendor) + ":" + Twine(index)).str();
}

std::string GpuDeviceInfo::describe() const {
  if (vendor == Vendor::Sim)
    return name + ": runs any cuda or hip artifact, " +
           formatBytes(totalMemory) + " of host memory";
  std::string text =
      name + ", " + arch + ", " + std::to_string(multiprocessors) +
      (vendor == Vendor::Cuda ? " multiprocessors" : " compute units") +
      ", subgroup " + std::to_string(subgroupWidth) + ", " +
      formatBytes(sharedMemoryPerBlock) + " shared memory per block";
  if (sharedMemoryPerBlockOptin > sharedMemoryPerBlock)
    text += " (" + formatBytes(sharedMemoryPerBlockOptin) + " opt-in)";
  text += ", " + formatBytes(totalMemory);
  return text;
}

//===----------------------------------------------------------------------===//
// Opening
//===----------------------------------------------------------------------===//

Expected<int> GpuDevice::countDevices(Vendor vendor) {
  switch (vendor) {
  case Vendor::Cuda:
    return detail::countCudaDevices();
  case Vendor::Hip:
    return detail::countHipDevices();
  case Vendor::Sim:
    return 1;
  }
  llvm_unreachable("unknown GPU vendor");
}

/// Checks `index` against the devices the driver sees.
static Error checkIndex(Vendor vendor, int index) {
  Expected<int> count = GpuDevice::countDevices(vendor);
  if (!count)
    return count.takeError();
  if (index >= 0 && index < *count)
    return Error::success();
  if (vendor == Vendor::Sim)
    return makeError("sim:" + Twine(index) +
                     ": no such device; there is one simulator, sim");
  std::string seen =
      std::to_string(*count) + " device" + (*count == 1 ? "" : "s");
  if (*count > 0)
    seen += " (" + getVendorName(vendor).str() + ":0" +
            (*count > 1 ? " to " + getVendorName(vendor).str() + ":" +
                              std::to_string(*count - 1)
                        : std::string()) +
            ")";
  return makeError(getVendorName(vendor) + ":" + Twine(index) +
                   ": no such device; the " + getVendorName(vendor) +
                   " driver sees " + seen);
}

Expected<GpuDeviceInfo> GpuDevice::query(Vendor vendor, int index) {
  if (Error error = checkIndex(vendor, index))
    return std::move(error);
  switch (vendor) {
  case Vendor::Cuda:
    return detail::queryCudaDevice(index);
  case Vendor::Hip:
    return detail::queryHipDevice(index);
  case Vendor::Sim:
    return detail::querySimDevice();
  }
  llvm_unreachable("unknown GPU vendor");
}

Expected<std::unique_ptr<GpuDevice>> GpuDevice::open(Vendor vendor, int index) {
  if (Error error = checkIndex(vendor, index))
    return std::move(error);
  switch (vendor) {
  case Vendor::Cuda:
    return detail::openCudaDevice(index);
  case Vendor::Hip:
    return detail::openHipDevice(index);
  case Vendor::Sim:
    return detail::openSimDevice();
  }
  llvm_unreachable("unknown GPU vendor");
}

Expected<std::unique_ptr<GpuDevice>> GpuDevice::open(StringRef spec) {
  auto [vendorName, indexText] = spec.split(':');
  std::optional<Vendor> vendor;
  if (vendorName == "cuda")
    vendor = Vendor::Cuda;
  else if (vendorName == "hip")
    vendor = Vendor::Hip;
  else if (vendorName == "sim")
    vendor = Vendor::Sim;
  unsigned index = 0;
  bool badIndex = spec.contains(':') &&
                  (indexText.getAsInteger(10, index) || index > INT_MAX);
  if (!vendor || badIndex)
    return makeError("bad device spec '" + spec +
                     "': expected cuda:N, hip:N (N a device index, 0 "
                     "for the first device) or sim (the simulator)");
  return open(*vendor, static_cast<int>(index));
}

GpuDevice::~GpuDevice() = default;

template <typename Function>
auto GpuDevice::whenActive(Function function) -> decltype(function()) {
  if (Error error = activate())
    return std::move(error);
  return function();
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

Error GpuDevice::synchronize() {
  return whenActive([&] { return synchronizeDevice(); });
}

Expected<void *> GpuDevice::allocate(size_t bytes, bool hostShared) {
  if (bytes == 0)
    return nullptr;
  return whenActive([&] { return allocateImpl(bytes, hostShared); });
}

Error GpuDevice::free(void *pointer) {
  if (!pointer)
    return Error::success();
  return whenActive([&] { return freeImpl(pointer); });
}

Expected<void *> GpuDevice::allocateAsync(size_t bytes, GpuStream stream) {
  if (bytes == 0)
    return nullptr;
  return whenActive([&] { return allocateAsyncImpl(bytes, stream); });
}

Error GpuDevice::freeAsync(void *pointer, GpuStream stream) {
  if (!pointer)
    return Error::success();
  return whenActive([&] { return freeAsyncImpl(pointer, stream); });
}

Expected<void *> GpuDevice::allocateAsyncImpl(size_t bytes,
                                              GpuStream /*stream*/) {
  return allocateImpl(bytes, /*hostShared=*/false);
}

Error GpuDevice::freeAsyncImpl(void *pointer, GpuStream stream) {
  if (Error error = synchronizeStream(stream))
    return error;
  return freeImpl(pointer);
}

Error GpuDevice::copyAs(CopyKind kind, void *dst, const void *src, size_t bytes,
                        GpuStream stream) {
  if (bytes == 0)
    return Error::success();
  if (!dst || !src)
    return makeError("a copy of " + Twine(bytes) + " bytes on " + getSpec() +
                     " has a null " + (dst ? "source" : "destination"));
  return whenActive([&] { return copyImpl(dst, src, bytes, kind, stream); });
}

Error GpuDevice::copyToDevice(void *dst, const void *src, size_t bytes,
                              GpuStream stream) {
  return copyAs(CopyKind::HostToDevice, dst, src, bytes, stream);
}

Error GpuDevice::copyToHost(void *dst, const void *src, size_t bytes,
                            GpuStream stream) {
  return copyAs(CopyKind::DeviceToHost, dst, src, bytes, stream);
}

Error GpuDevice::copyOnDevice(void *dst, const void *src, size_t bytes,
                              GpuStream stream) {
  return copyAs(CopyKind::DeviceToDevice, dst, src, bytes, stream);
}

Error GpuDevice::copy(void *dst, const void *src, size_t bytes,
                      GpuStream stream) {
  return copyAs(CopyKind::Any, dst, src, bytes, stream);
}

Error GpuDevice::fillAs(unsigned elementBytes, void *dst, uint32_t value,
                        size_t count, GpuStream stream) {
  if (count == 0)
    return Error::success();
  if (!dst)
    return makeError("a fill of " + Twine(count) + " elements on " + getSpec() +
                     " has a null destination");
  return whenActive(
      [&] { return fillImpl(dst, value, elementBytes, count, stream); });
}

Error GpuDevice::fill8(void *dst, uint8_t value, size_t count,
                       GpuStream stream) {
  return fillAs(1, dst, value, count, stream);
}

Error GpuDevice::fill16(void *dst, uint16_t value, size_t count,
                        GpuStream stream) {
  return fillAs(2, dst, value, count, stream);
}

Error GpuDevice::fill32(void *dst, uint32_t value, size_t count,
                        GpuStream stream) {
  return fillAs(4, dst, value, count, stream);
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

Expected<GpuStream> GpuDevice::createStream() {
  return whenActive([&] { return createStreamImpl(); });
}

Error GpuDevice::destroyStream(GpuStream stream) {
  if (!stream)
    return Error::success();
  return whenActive([&] { return destroyStreamImpl(stream); });
}

Error GpuDevice::synchronize(GpuStream stream) {
  return whenActive([&] { return synchronizeStream(stream); });
}

Expected<GpuEvent> GpuDevice::createEvent() {
  return whenActive([&] { return createEventImpl(); });
}

Error GpuDevice::destroyEvent(GpuEvent event) {
  if (!event)
    return Error::success();
  return whenActive([&] { return destroyEventImpl(event); });
}

Error GpuDevice::recordEvent(GpuEvent event, GpuStream stream) {
  if (!event)
    return makeError("recording a null event on " + getSpec());
  return whenActive([&] { return recordEventImpl(event, stream); });
}

Error GpuDevice::waitEvent(GpuStream stream, GpuEvent event) {
  if (!event)
    return makeError("waiting for a null event on " + getSpec());
  return whenActive([&] { return waitEventImpl(stream, event); });
}

Error GpuDevice::synchronize(GpuEvent event) {
  if (!event)
    return makeError("synchronising a null event on " + getSpec());
  return whenActive([&] { return synchronizeEvent(event); });
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

Expected<GpuModule> GpuDevice::loadModule(StringRef blob, int jitOptLevel) {
  if (blob.empty())
    return makeError("an empty module blob for " + getSpec());
  bool isText = isAssemblyText(blob);
  // The drivers take no size: text must end in a NUL, binary images say
  // their own size.
  // The simulator finds the artifact by the blob's address: it gets the
  // blob itself.
  std::string terminated;
  const char *data = blob.data();
  if (isText && blob.back() != '\0' && !isSimulator()) {
    terminated = blob.str();
    data = terminated.c_str();
  }
  return whenActive([&] { return loadModuleImpl(data, isText, jitOptLevel); });
}

Error GpuDevice::unloadModule(GpuModule module) {
  if (!module)
    return Error::success();
  return whenActive([&] { return unloadModuleImpl(module); });
}

Expected<GpuFunction> GpuDevice::getFunction(GpuModule module, StringRef name) {
  if (!module)
    return makeError("looking up kernel '" + name + "' in a null module");
  return whenActive(
      [&] { return getFunctionImpl(module, name.str().c_str()); });
}

Error GpuDevice::launch(GpuFunction function, Dim3 grid, Dim3 block,
                        unsigned sharedMemoryBytes, GpuStream stream,
                        void **params, void **extra) {
  if (!function)
    return makeError("launching a null kernel on " + getSpec());
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z)
    return makeError("an empty launch on " + getSpec() + ": grid " +
                     Twine(grid.x) + "x" + Twine(grid.y) + "x" + Twine(grid.z) +
                     ", block " + Twine(block.x) + "x" + Twine(block.y) + "x" +
                     Twine(block.z));
  uint64_t limit =
      std::max(info.sharedMemoryPerBlockOptin, info.sharedMemoryPerBlock);
  if (limit && sharedMemoryBytes > limit)
    return makeError(
        "a launch on " + getSpec() + " asks for " + Twine(sharedMemoryBytes) +
        " bytes of shared memory; a block may have " + Twine(limit));
  return whenActive([&] {
    return launchImpl(function, grid, block, sharedMemoryBytes, stream, params,
                      extra);
  });
}

//===----------------------------------------------------------------------===//
// Graphs
//===----------------------------------------------------------------------===//

Error GpuDevice::beginCapture(GpuStream stream) {
  if (!stream)
    return makeError("the default stream of " + getSpec() +
                     " cannot be captured; capture a created stream");
  if (capturing)
    return makeError("a capture is already in progress on " + getSpec());
  if (Error error = activate())
    return error;
  if (Error error = beginCaptureImpl(stream))
    return error;
  capturing = stream;
  return Error::success();
}

Expected<std::unique_ptr<GpuGraph>> GpuDevice::endCapture(GpuStream stream) {
  if (!stream || stream != capturing)
    return makeError("no capture is in progress on this stream of " +
                     getSpec());
  capturing = nullptr;
  if (Error error = activate())
    return std::move(error);
  Expected<std::pair<void *, void *>> graph = endCaptureImpl(stream);
  if (!graph)
    return graph.takeError();
  return std::unique_ptr<GpuGraph>(
      new GpuGraph(*this, graph->first, graph->second));
}

GpuGraph::~GpuGraph() {
  // Teardown cannot report errors; a failing driver here has already failed
  // louder elsewhere.
  llvm::consumeError(device.activate());
  device.destroyGraphImpl(graph, exec);
}

Error GpuGraph::launch(GpuStream stream) {
  return device.whenActive(
      [&] { return device.launchGraphImpl(exec, stream); });
}

//===----------------------------------------------------------------------===//
// Listing
//===----------------------------------------------------------------------===//

std::vector<DeviceDescription>
mm::gpu::listDevices(std::vector<std::string> *notes) {
  std::vector<DeviceDescription> devices;
  devices.push_back({"cpu", describeHostDevice()});
  GpuDeviceInfo simulator = detail::querySimDevice();
  devices.push_back({simulator.getSpec(), simulator.describe()});
  auto note = [&](Error error) {
    std::string message = llvm::toString(std::move(error));
    if (notes)
      notes->push_back(std::move(message));
  };
  for (Vendor vendor : {Vendor::Cuda, Vendor::Hip}) {
    Expected<int> count = GpuDevice::countDevices(vendor);
    if (!count) {
      note(count.takeError());
      continue;
    }
    for (int index = 0; index < *count; ++index) {
      Expected<GpuDeviceInfo> info = GpuDevice::query(vendor, index);
      if (!info) {
        note(info.takeError());
        continue;
      }
      devices.push_back({info->getSpec(), info->describe()});
    }
  }
  return devices;
}
