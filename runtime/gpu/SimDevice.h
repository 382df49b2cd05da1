//===- SimDevice.h - GPU kernels run on the CPU -----------------*- C++ -*-===//
//
// The simulator device (`--device sim`): a GpuDevice that runs the host
// copies of the kernels every GPU artifact carries (SimKernelAbi.h) on the
// CPU, so that GPU artifacts build, run and are tested on machines without
// a GPU (ARCHITECTURE.md section 6).
//
//   - Memory is host memory (256-byte aligned), with a registry of the live
//     allocations: every launch checks that each buffer argument lies inside
//     one, and errors name it ("the weights (allocation #1, 4096 bytes)").
//   - Modules: loadModule(blob) finds the library holding the blob (an
//     artifact loads its PTX or hsaco from its own .rodata) and reads its
//     `mm_sim_kernels` table; loadHostKernels does the same for a library
//     the caller opened.
//   - Launches run synchronously, over a pool of worker threads
//     (MM_SIM_THREADS overrides their number), at the warp width and with
//     the limits of the chip each kernel was built for; they check
//     out-of-bounds indices, shared-memory ranges, races and reads of
//     unwritten shared memory, and barriers, shuffles and warp-level
//     matrix operations (SimMatrix.h) that not every thread reaches. A
//     failed check fails the launch with an error naming the kernel, block,
//     thread, buffer and source location.
//   - Streams and events are tokens (everything is done when a call
//     returns); graphs record launches (with their parameter values), copies
//     and fills, and replay them.
//   - Counters: per kernel, launches, threads, global and shared bytes,
//     barriers, shuffles, atomics and FLOPs.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMDEVICE_H
#define MM_RUNTIME_GPU_SIMDEVICE_H

#include "runtime/gpu/GpuDevice.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mm::gpu {

namespace sim {
struct SimKernel;
struct SimKernelTable;
} // namespace sim

/// What the launches of one kernel did, summed over launches since the
/// device opened or resetCounters().
struct SimKernelCounters {
  std::string name;
  /// What the compiler made the kernel for ("scan", "gemm"; the table's
  /// `kind`).
  std::string kind;
  uint64_t launches = 0;
  /// The grid and block of the last launch.
  Dim3 lastGrid, lastBlock;
  /// Threads run, over all launches.
  uint64_t threads = 0;
  uint64_t globalLoadBytes = 0;
  uint64_t globalStoreBytes = 0;
  uint64_t sharedLoadBytes = 0;
  uint64_t sharedStoreBytes = 0;
  /// Barriers passed, counted per thread.
  uint64_t barriers = 0;
  /// Shuffles made, counted per lane.
  uint64_t shuffles = 0;
  /// Atomic shared-memory accesses.
  uint64_t atomics = 0;
  /// Floating-point operations (an fma counts 2).
  uint64_t flops = 0;
};

class SimDevice final : public GpuDevice {
public:
  /// The simulator, with MM_SIM_THREADS (or the hardware's) worker threads.
  SimDevice();
  /// The simulator with `workers` worker threads (at least 1).
  explicit SimDevice(unsigned workers);
  ~SimDevice() override;

  /// What `--list-devices` says of the simulator.
  static GpuDeviceInfo describeSimulator();

  /// The simulator behind `device`, or null when it is another device.
  static SimDevice *get(GpuDevice &device);

  /// Loads the kernels of a library holding host copies (its
  /// `mm_sim_kernels`), opened by the caller with dlopen; the library must
  /// stay loaded until the module is unloaded.
  llvm::Expected<GpuModule> loadHostKernels(void *dlHandle);

  /// The counters of every kernel launched, in the order of their first
  /// launch.
  std::vector<SimKernelCounters> getCounters() const;
  void resetCounters();

  /// The worker threads launches run on.
  unsigned getWorkerCount() const;

  void nameAllocation(void *pointer, llvm::StringRef label) override;
  /// Describes the allocation holding `address` ("the weights (allocation
  /// #1, 4096 bytes)"), or returns "" when it is not device memory.
  std::string describeAddress(const void *address) const;

protected:
  llvm::Error activate() override { return llvm::Error::success(); }
  llvm::Error synchronizeDevice() override { return llvm::Error::success(); }
  llvm::Expected<void *> allocateImpl(size_t bytes, bool hostShared) override;
  llvm::Error freeImpl(void *pointer) override;
  /// Work is done when its call returns, so memory is freed at once, except
  /// while its stream is captured: then the graph owns it (its launches
  /// point into it) and frees it when it is destroyed.
  llvm::Error freeAsyncImpl(void *pointer, GpuStream stream) override;
  llvm::Error copyImpl(void *dst, const void *src, size_t bytes, CopyKind kind,
                       GpuStream stream) override;
  llvm::Error fillImpl(void *dst, uint32_t value, unsigned elementBytes,
                       size_t count, GpuStream stream) override;
  llvm::Expected<GpuStream> createStreamImpl() override;
  llvm::Error destroyStreamImpl(GpuStream stream) override;
  llvm::Error synchronizeStream(GpuStream stream) override;
  llvm::Expected<GpuEvent> createEventImpl() override;
  llvm::Error destroyEventImpl(GpuEvent event) override;
  llvm::Error recordEventImpl(GpuEvent event, GpuStream stream) override;
  llvm::Error waitEventImpl(GpuStream stream, GpuEvent event) override;
  llvm::Error synchronizeEvent(GpuEvent event) override;
  llvm::Expected<GpuModule> loadModuleImpl(const char *blob, bool isText,
                                           int jitOptLevel) override;
  llvm::Error unloadModuleImpl(GpuModule module) override;
  llvm::Expected<GpuFunction> getFunctionImpl(GpuModule module,
                                              const char *name) override;
  llvm::Error launchImpl(GpuFunction function, Dim3 grid, Dim3 block,
                         unsigned sharedMemoryBytes, GpuStream stream,
                         void **params, void **extra) override;
  llvm::Error beginCaptureImpl(GpuStream stream) override;
  llvm::Expected<std::pair<void *, void *>>
  endCaptureImpl(GpuStream stream) override;
  llvm::Error launchGraphImpl(void *exec, GpuStream stream) override;
  void destroyGraphImpl(void *graph, void *exec) override;

private:
  struct State;
  /// Registers a loaded table as a module.
  GpuModule addModule(std::unique_ptr<sim::SimKernelTable> table);
  /// Runs a launch and adds it to the counters.
  llvm::Error runLaunch(const sim::SimKernel &kernel, Dim3 grid, Dim3 block,
                        unsigned sharedMemoryBytes, void **params);

  std::unique_ptr<State> state;
};

/// The first mmsim_* call made outside any simulator launch since the last
/// call (such calls are recorded and ignored), or success.
llvm::Error takeSimStrayCallError();

} // namespace mm::gpu

#endif // MM_RUNTIME_GPU_SIMDEVICE_H
