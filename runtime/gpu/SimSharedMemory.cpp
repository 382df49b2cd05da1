//===- SimSharedMemory.cpp - one block's shared memory, checked -----------===//

#include "runtime/gpu/SimSharedMemory.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

using namespace mm::gpu::sim;

void SimSharedMemory::AlignedDelete::operator()(uint8_t *pointer) const {
  ::operator delete(pointer, std::align_val_t(kAlignment));
}

void SimSharedMemory::nextInterval() {
  if (interval == std::numeric_limits<uint32_t>::max()) {
    std::fill(shadow.begin(), shadow.end(), ByteShadow());
    interval = 0;
    blockStart = 1;
  }
  ++interval;
}

void SimSharedMemory::beginBlock(uint64_t bytes) {
  if (bytes > capacity) {
    // 64-byte aligned, for host copies that use wide vector accesses.
    memory.reset(static_cast<uint8_t *>(
        ::operator new(bytes, std::align_val_t(kAlignment))));
    capacity = bytes;
    shadow.resize(bytes);
  }
  blockBytes = bytes;
  if (bytes)
    std::memset(memory.get(), kPoison, bytes);
  nextInterval();
  blockStart = interval;
}

void SimSharedMemory::barrier() { nextInterval(); }

SimSharedMemory::Finding SimSharedMemory::access(uint64_t offset,
                                                 uint32_t bytes,
                                                 uint32_t thread, bool write,
                                                 bool atomic) {
  Finding finding;
  if (offset > blockBytes || bytes > blockBytes - offset) {
    finding.kind = Finding::OutOfRange;
    return finding;
  }
  // An atomic read-modify-write reads the bytes too.
  const bool reads = !write || atomic;
  const uint16_t self = uint16_t(thread);
  // The first race, else the first read of garbage: a race is the likelier
  // cause of both.
  auto report = [&](Finding::Kind kind, uint16_t other, bool otherWrote) {
    if (finding.kind == Finding::Race ||
        (finding.kind != Finding::None && kind != Finding::Race))
      return;
    finding.kind = kind;
    finding.otherThread = other;
    finding.otherWrote = otherWrote;
  };
  for (uint64_t byte = offset; byte < offset + bytes; ++byte) {
    ByteShadow &entry = shadow[byte];
    if (reads && entry.writeInterval < blockStart)
      report(Finding::Uninitialized, kNoThread, false);
    if (entry.writeInterval == interval && entry.writer != self &&
        !(atomic && entry.writerAtomic))
      report(Finding::Race, entry.writer, true);
    if (write && entry.readInterval == interval) {
      uint16_t other = entry.reader != self ? entry.reader : entry.otherReader;
      if (other != kNoThread && !(atomic && entry.readersAtomic))
        report(Finding::Race, other, false);
    }
    if (reads) {
      if (entry.readInterval != interval) {
        entry.readInterval = interval;
        entry.reader = self;
        entry.otherReader = kNoThread;
        entry.readersAtomic = atomic;
      } else {
        if (entry.reader != self && entry.otherReader == kNoThread)
          entry.otherReader = self;
        entry.readersAtomic = entry.readersAtomic && atomic;
      }
    }
    if (write) {
      entry.writeInterval = interval;
      entry.writer = self;
      entry.writerAtomic = atomic;
    }
  }
  return finding;
}
