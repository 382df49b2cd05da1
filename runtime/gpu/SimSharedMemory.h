//===- SimSharedMemory.h - one block's shared memory, checked ---*- C++ -*-===//
//
// The shared (workgroup) memory of the block a worker runs, and a shadow of
// it, one record per byte, that catches what a GPU would silently get
// wrong:
//
//   - accesses outside [0, size);
//   - races: within one barrier interval (between two barriers of the
//     block), two different threads touch the same byte, at least one of
//     them writes, and they are not both atomic;
//   - reads of bytes no thread of the block wrote: shared memory starts
//     every block holding garbage (here, a poison pattern).
//
// Intervals are numbered by one counter that only grows (a new block and
// each barrier take the next number), so starting a block or passing a
// barrier costs nothing per byte.
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMSHAREDMEMORY_H
#define MM_RUNTIME_GPU_SIMSHAREDMEMORY_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mm::gpu::sim {

class SimSharedMemory {
public:
  /// The byte every block's shared memory starts as: 0xff bytes read as NaN
  /// (f32, f16) and -1 (integers).
  static constexpr uint8_t kPoison = 0xff;

  /// The alignment of the memory.
  static constexpr size_t kAlignment = 64;

  /// A thread id the shadow uses for "none".
  static constexpr uint16_t kNoThread = 0xffff;

  /// What an access found.
  struct Finding {
    enum Kind { None, OutOfRange, Uninitialized, Race } kind = None;
    /// For a race: the other thread (linear id in the block) and whether it
    /// wrote the bytes (or read them).
    uint32_t otherThread = 0;
    bool otherWrote = false;
  };

  /// Starts a block with `bytes` of shared memory, all poison.
  void beginBlock(uint64_t bytes);
  /// The block passed a barrier: a new interval starts.
  void barrier();

  uint8_t *data() { return memory.get(); }
  uint64_t size() const { return blockBytes; }

  /// Checks and records an access by thread `thread` (linear id, below
  /// kNoThread) of `bytes` at `offset`. An out-of-range access records
  /// nothing.
  Finding access(uint64_t offset, uint32_t bytes, uint32_t thread, bool write,
                 bool atomic);

private:
  /// What the shadow knows of one byte.
  struct ByteShadow {
    /// The interval of the last write (0: never).
    uint32_t writeInterval = 0;
    /// The interval `reader` and `otherReader` read in.
    uint32_t readInterval = 0;
    uint16_t writer = kNoThread;
    uint16_t reader = kNoThread;
    uint16_t otherReader = kNoThread;
    bool writerAtomic = false;
    bool readersAtomic = false;
  };

  /// Takes the next interval number, clearing the shadow when the counter
  /// would wrap.
  void nextInterval();

  /// Frees what beginBlock allocated (64-byte aligned).
  struct AlignedDelete {
    void operator()(uint8_t *pointer) const;
  };
  std::unique_ptr<uint8_t[], AlignedDelete> memory;
  uint64_t capacity = 0;
  uint64_t blockBytes = 0;
  std::vector<ByteShadow> shadow;
  uint32_t interval = 0;
  uint32_t blockStart = 0;
};

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMSHAREDMEMORY_H
