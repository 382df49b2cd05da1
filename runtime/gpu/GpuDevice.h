//===- GpuDevice.h - one GPU of either vendor -------------------*- C++ -*-===//
//
// A GpuDevice is one CUDA or HIP device, or the simulator that runs GPU
// kernels on the CPU (SimDevice.h), opened by its spec ("cuda:0", "hip:1",
// "sim"), with what the runtime needs from it: its properties (name, arch,
// subgroup width, shared memory, memory size), device memory, streams and
// events, modules loaded from a blob (PTX text or cubin for CUDA, hsaco for
// HIP), kernel launches, and graphs captured from a stream and replayed.
//
// Handles (streams, events, modules, functions) are the driver's own, behind
// opaque types; a null GpuStream is the driver's default stream. Every driver
// failure is an llvm::Error naming the driver call (GpuDriver.h). Every method
// makes the device current on the calling thread first (CUDA: its primary
// context; HIP: hipSetDevice), so a device can be used from any thread.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_GPUDEVICE_H
#define MM_RUNTIME_GPU_GPUDEVICE_H

#include "runtime/gpu/GpuDriver.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mm::gpu {

struct GpuStreamOpaque;
struct GpuEventOpaque;
struct GpuModuleOpaque;
struct GpuFunctionOpaque;
/// A stream of the device's driver (CUstream, hipStream_t); null is the
/// default stream.
using GpuStream = GpuStreamOpaque *;
/// An event of the device's driver (CUevent, hipEvent_t).
using GpuEvent = GpuEventOpaque *;
/// A loaded module (CUmodule, hipModule_t).
using GpuModule = GpuModuleOpaque *;
/// A kernel of a loaded module (CUfunction, hipFunction_t).
using GpuFunction = GpuFunctionOpaque *;

/// Launch dimensions (grid in blocks, block in threads).
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// What the runtime and the compiler need to know about a device.
struct GpuDeviceInfo {
  Vendor vendor = Vendor::Cuda;
  /// The driver's ordinal.
  int index = 0;
  /// The marketing name ("NVIDIA H100 80GB HBM3").
  std::string name;
  /// The compilation target: "sm_90" (compute capability) or "gfx942"
  /// (gcnArchName without its feature suffixes); empty for the simulator,
  /// which runs code built for any chip.
  std::string arch;
  /// Threads of a warp (32) or wavefront (64 on CDNA).
  unsigned subgroupWidth = 0;
  /// Streaming multiprocessors or compute units.
  unsigned multiprocessors = 0;
  /// Shared memory a block gets without opting in (48 KiB on NVIDIA).
  uint64_t sharedMemoryPerBlock = 0;
  /// Shared memory a block may opt into (227 KiB on H100).
  uint64_t sharedMemoryPerBlockOptin = 0;
  /// Device memory in bytes.
  uint64_t totalMemory = 0;

  /// "cuda:0", "hip:1", "sim".
  std::string getSpec() const;
  /// One line: spec, name, arch, units, subgroup, shared memory, memory.
  std::string describe() const;
};

class GpuDevice;

/// A graph captured from a stream and instantiated: relaunching it replays
/// the captured work. The device must outlive it.
class GpuGraph {
public:
  ~GpuGraph();
  GpuGraph(const GpuGraph &) = delete;
  GpuGraph &operator=(const GpuGraph &) = delete;

  /// Replays the graph on `stream` (asynchronously).
  llvm::Error launch(GpuStream stream);

private:
  friend class GpuDevice;
  GpuGraph(GpuDevice &device, void *graph, void *exec)
      : device(device), graph(graph), exec(exec) {}

  GpuDevice &device;
  void *graph;
  void *exec;
};

/// One GPU, of either vendor. The public methods check what is common (empty
/// copies, null pointers, captures) and make the device current; the vendor
/// classes implement the protected driver calls.
class GpuDevice {
public:
  /// Opens the device a spec names: "cuda:N", "hip:N" or "sim" ("cuda",
  /// "hip" and "sim:0" mean device 0).
  static llvm::Expected<std::unique_ptr<GpuDevice>> open(llvm::StringRef spec);
  /// Opens device `index` of `vendor`.
  static llvm::Expected<std::unique_ptr<GpuDevice>> open(Vendor vendor,
                                                         int index);
  /// How many devices the vendor's driver sees (an error when the driver is
  /// unavailable).
  static llvm::Expected<int> countDevices(Vendor vendor);
  /// The properties of device `index` of `vendor`, without opening it (no
  /// context is created).
  static llvm::Expected<GpuDeviceInfo> query(Vendor vendor, int index);

  virtual ~GpuDevice();
  GpuDevice(const GpuDevice &) = delete;
  GpuDevice &operator=(const GpuDevice &) = delete;

  const GpuDeviceInfo &getInfo() const { return info; }
  Vendor getVendor() const { return info.vendor; }
  int getIndex() const { return info.index; }
  llvm::StringRef getName() const { return info.name; }
  llvm::StringRef getArch() const { return info.arch; }
  unsigned getSubgroupWidth() const { return info.subgroupWidth; }
  uint64_t getSharedMemoryPerBlock() const { return info.sharedMemoryPerBlock; }
  uint64_t getTotalMemory() const { return info.totalMemory; }
  std::string getSpec() const { return info.getSpec(); }
  /// Whether this is the simulator (SimDevice), which runs the host copies
  /// of the kernels instead of their PTX or hsaco.
  bool isSimulator() const { return info.vendor == Vendor::Sim; }

  /// Makes the device current on the calling thread (the other methods do
  /// it themselves).
  llvm::Error makeCurrent() { return activate(); }
  /// Waits for all work of the device.
  llvm::Error synchronize();

  //===--------------------------------------------------------------------===//
  // Memory. Pointers are device addresses; zero bytes allocate nothing
  // (nullptr), and freeing nullptr does nothing.
  //===--------------------------------------------------------------------===//

  /// Allocates device memory, or managed memory the host can use too.
  llvm::Expected<void *> allocate(size_t bytes, bool hostShared = false);
  llvm::Error free(void *pointer);
  /// Stream-ordered memory: usable by the work queued on `stream` after the
  /// allocation, freed once the work queued before the free is done, and
  /// captured into a graph like the rest of the stream's work. Drivers
  /// without a stream-ordered allocator (cuMemAllocAsync, CUDA 11.2;
  /// hipMallocAsync, ROCm 5.2) fall back to allocate(), and freeAsync() then
  /// waits for the stream before it frees.
  llvm::Expected<void *> allocateAsync(size_t bytes, GpuStream stream);
  llvm::Error freeAsync(void *pointer, GpuStream stream);
  /// Says what the allocation at `pointer` holds ("the weights"), for error
  /// messages of devices that check accesses (the simulator); the label
  /// lives as long as the allocation. Other devices ignore it.
  virtual void nameAllocation(void *pointer, llvm::StringRef label) {}
  /// Copies, asynchronous on `stream`: the host side must stay valid until
  /// the stream is synchronised.
  llvm::Error copyToDevice(void *dst, const void *src, size_t bytes,
                           GpuStream stream = nullptr);
  llvm::Error copyToHost(void *dst, const void *src, size_t bytes,
                         GpuStream stream = nullptr);
  llvm::Error copyOnDevice(void *dst, const void *src, size_t bytes,
                           GpuStream stream = nullptr);
  /// A copy in any direction (unified addressing tells which).
  llvm::Error copy(void *dst, const void *src, size_t bytes,
                   GpuStream stream = nullptr);
  /// Fills `count` elements of 1, 2 or 4 bytes with `value`.
  llvm::Error fill8(void *dst, uint8_t value, size_t count,
                    GpuStream stream = nullptr);
  llvm::Error fill16(void *dst, uint16_t value, size_t count,
                     GpuStream stream = nullptr);
  llvm::Error fill32(void *dst, uint32_t value, size_t count,
                     GpuStream stream = nullptr);

  //===--------------------------------------------------------------------===//
  // Streams and events
  //===--------------------------------------------------------------------===//

  /// A non-blocking stream (it does not synchronise with the default one).
  llvm::Expected<GpuStream> createStream();
  llvm::Error destroyStream(GpuStream stream);
  llvm::Error synchronize(GpuStream stream);
  /// An event without timing.
  llvm::Expected<GpuEvent> createEvent();
  llvm::Error destroyEvent(GpuEvent event);
  llvm::Error recordEvent(GpuEvent event, GpuStream stream);
  /// Makes `stream` wait for `event`.
  llvm::Error waitEvent(GpuStream stream, GpuEvent event);
  llvm::Error synchronize(GpuEvent event);

  //===--------------------------------------------------------------------===//
  // Modules and launches
  //===--------------------------------------------------------------------===//

  /// Loads a module from a blob. CUDA: PTX text (compiled by the driver, its
  /// log part of any error; `jitOptLevel` 0-4 when not negative), cubin or
  /// fatbin. HIP: a code object (hsaco); HIP cannot compile assembly text.
  llvm::Expected<GpuModule> loadModule(llvm::StringRef blob,
                                       int jitOptLevel = -1);
  llvm::Error unloadModule(GpuModule module);
  llvm::Expected<GpuFunction> getFunction(GpuModule module,
                                          llvm::StringRef name);
  /// Launches `function`. `params` points to one pointer per kernel argument
  /// (the driver's kernelParams), `extra` is the driver's extra array. Shared
  /// memory beyond the default per-block amount is opted into where the
  /// driver needs it (CUDA).
  llvm::Error launch(GpuFunction function, Dim3 grid, Dim3 block,
                     unsigned sharedMemoryBytes, GpuStream stream,
                     void **params, void **extra = nullptr);

  //===--------------------------------------------------------------------===//
  // Graphs
  //===--------------------------------------------------------------------===//

  /// Starts capturing the work this thread submits to `stream` (not the
  /// default stream): nothing captured runs until the graph is launched.
  /// One capture at a time per device.
  llvm::Error beginCapture(GpuStream stream);
  /// Ends the capture on `stream` and instantiates the graph.
  llvm::Expected<std::unique_ptr<GpuGraph>> endCapture(GpuStream stream);
  /// The stream a capture is in progress on, or null.
  GpuStream getCapturingStream() const { return capturing.load(); }

protected:
  explicit GpuDevice(GpuDeviceInfo info) : info(std::move(info)) {}

  /// The directions of a copy.
  enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice, Any };

  // The driver calls, made with the device current; sizes are non-zero.
  virtual llvm::Error activate() = 0;
  virtual llvm::Error synchronizeDevice() = 0;
  virtual llvm::Expected<void *> allocateImpl(size_t bytes,
                                              bool hostShared) = 0;
  virtual llvm::Error freeImpl(void *pointer) = 0;
  /// The fallbacks: allocateImpl, and freeImpl after the stream is done.
  virtual llvm::Expected<void *> allocateAsyncImpl(size_t bytes,
                                                   GpuStream stream);
  virtual llvm::Error freeAsyncImpl(void *pointer, GpuStream stream);
  virtual llvm::Error copyImpl(void *dst, const void *src, size_t bytes,
                               CopyKind kind, GpuStream stream) = 0;
  /// Fills `count` elements of `elementBytes` (1, 2 or 4) bytes.
  virtual llvm::Error fillImpl(void *dst, uint32_t value, unsigned elementBytes,
                               size_t count, GpuStream stream) = 0;
  virtual llvm::Expected<GpuStream> createStreamImpl() = 0;
  virtual llvm::Error destroyStreamImpl(GpuStream stream) = 0;
  virtual llvm::Error synchronizeStream(GpuStream stream) = 0;
  virtual llvm::Expected<GpuEvent> createEventImpl() = 0;
  virtual llvm::Error destroyEventImpl(GpuEvent event) = 0;
  virtual llvm::Error recordEventImpl(GpuEvent event, GpuStream stream) = 0;
  virtual llvm::Error waitEventImpl(GpuStream stream, GpuEvent event) = 0;
  virtual llvm::Error synchronizeEvent(GpuEvent event) = 0;
  /// `blob` is NUL-terminated (text); `isText` tells whether it is assembly
  /// rather than a binary image.
  virtual llvm::Expected<GpuModule>
  loadModuleImpl(const char *blob, bool isText, int jitOptLevel) = 0;
  virtual llvm::Error unloadModuleImpl(GpuModule module) = 0;
  /// `name` is NUL-terminated.
  virtual llvm::Expected<GpuFunction> getFunctionImpl(GpuModule module,
                                                      const char *name) = 0;
  virtual llvm::Error launchImpl(GpuFunction function, Dim3 grid, Dim3 block,
                                 unsigned sharedMemoryBytes, GpuStream stream,
                                 void **params, void **extra) = 0;
  virtual llvm::Error beginCaptureImpl(GpuStream stream) = 0;
  /// Ends a capture: the graph and its instantiation.
  virtual llvm::Expected<std::pair<void *, void *>>
  endCaptureImpl(GpuStream stream) = 0;
  virtual llvm::Error launchGraphImpl(void *exec, GpuStream stream) = 0;
  virtual void destroyGraphImpl(void *graph, void *exec) = 0;

  GpuDeviceInfo info;

private:
  friend class GpuGraph;
  /// Makes the device current, then returns what `function` returns.
  template <typename Function>
  auto whenActive(Function function) -> decltype(function());
  llvm::Error copyAs(CopyKind kind, void *dst, const void *src, size_t bytes,
                     GpuStream stream);
  llvm::Error fillAs(unsigned elementBytes, void *dst, uint32_t value,
                     size_t count, GpuStream stream);

  /// Atomic: the mgpu functions of other threads read it while one
  /// captures.
  std::atomic<GpuStream> capturing{nullptr};
};

/// One device listing: its spec ("cpu", "cuda:0") and a description.
struct DeviceDescription {
  std::string spec;
  std::string description;
};

/// Every device the runtime can run on: "cpu" (the host: triple, CPU, cores)
/// first, then "sim" (the simulator, always there), then every CUDA and HIP
/// device the drivers see. A driver that is unavailable or fails adds a line
/// to `notes` (when given) instead.
std::vector<DeviceDescription>
listDevices(std::vector<std::string> *notes = nullptr);

} // namespace mm::gpu

#endif // MM_RUNTIME_GPU_GPUDEVICE_H
