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

  /// The common case of access(), and the hot path of every kernel that
  /// uses shared memory: records a plain (not atomic) access in range that
  /// finds nothing, and returns true; otherwise records nothing and returns
  /// false (access() then says what it finds).
  bool accessUneventful(uint64_t offset, uint32_t bytes, uint32_t thread,
                        bool write) {
    if (offset > blockBytes || bytes > blockBytes - offset)
      return false;
    switch (bytes) {
    case 2:
      return recordUneventful<2>(offset, bytes, uint16_t(thread), write);
    case 4:
      return recordUneventful<4>(offset, bytes, uint16_t(thread), write);
    case 8:
      return recordUneventful<8>(offset, bytes, uint16_t(thread), write);
    case 16:
      return recordUneventful<16>(offset, bytes, uint16_t(thread), write);
    default:
      return recordUneventful<0>(offset, bytes, uint16_t(thread), write);
    }
  }

private:
  /// accessUneventful() for accesses of `Bytes` bytes (0: `bytes`): the
  /// loops have no early exits and no branches, so that they unroll and
  /// vectorise.
  template <uint32_t Bytes>
  bool recordUneventful(uint64_t offset, uint32_t bytes, uint16_t self,
                        bool write) {
    const uint32_t count = Bytes ? Bytes : bytes;
    const uint32_t now = interval, start = blockStart;
    const uint32_t *writeInterval = writeIntervals.data() + offset;
    const uint16_t *writer = writers.data() + offset;
    uint32_t *readInterval = readIntervals.data() + offset;
    uint16_t *reader = readers.data() + offset;
    uint16_t *otherReader = otherReaders.data() + offset;
    unsigned suspicious = 0;
    if (!write) {
      // Unwritten bytes, or bytes another thread wrote in this interval.
      for (uint32_t i = 0; i < count; ++i)
        suspicious |=
            unsigned(writeInterval[i] < start) |
            (unsigned(writeInterval[i] == now) & unsigned(writer[i] != self));
      if (suspicious)
        return false;
      uint8_t *atomicReaders = readersAtomic.data() + offset;
      for (uint32_t i = 0; i < count; ++i) {
        const bool fresh = readInterval[i] != now;
        const uint16_t first = reader[i], second = otherReader[i];
        reader[i] = fresh ? self : first;
        otherReader[i] = fresh                                    ? kNoThread
                         : (first != self && second == kNoThread) ? self
                                                                  : second;
        readInterval[i] = now;
        atomicReaders[i] = 0;
      }
      return true;
    }
    // Bytes another thread wrote or read in this interval.
    for (uint32_t i = 0; i < count; ++i) {
      const uint16_t other = reader[i] != self ? reader[i] : otherReader[i];
      suspicious |=
          (unsigned(writeInterval[i] == now) & unsigned(writer[i] != self)) |
          (unsigned(readInterval[i] == now) & unsigned(other != kNoThread));
    }
    if (suspicious)
      return false;
    uint32_t *written = writeIntervals.data() + offset;
    uint16_t *writing = writers.data() + offset;
    uint8_t *atomicWriter = writersAtomic.data() + offset;
    for (uint32_t i = 0; i < count; ++i) {
      written[i] = now;
      writing[i] = self;
      atomicWriter[i] = 0;
    }
    return true;
  }

  // What the shadow knows of each byte, one array per field (so that the
  // common case, an access that finds nothing, is a few vector operations
  // over the access's bytes):
  /// The interval of the last write (0: never).
  std::vector<uint32_t> writeIntervals;
  /// The interval `readers` and `otherReaders` read in.
  std::vector<uint32_t> readIntervals;
  std::vector<uint16_t> writers;
  std::vector<uint16_t> readers;
  std::vector<uint16_t> otherReaders;
  std::vector<uint8_t> writersAtomic;
  std::vector<uint8_t> readersAtomic;

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
  uint32_t interval = 0;
  uint32_t blockStart = 0;
};

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMSHAREDMEMORY_H
