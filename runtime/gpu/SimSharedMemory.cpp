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
    std::fill(writeIntervals.begin(), writeIntervals.end(), 0);
    std::fill(readIntervals.begin(), readIntervals.end(), 0);
    std::fill(writers.begin(), writers.end(), kNoThread);
    std::fill(readers.begin(), readers.end(), kNoThread);
    std::fill(otherReaders.begin(), otherReaders.end(), kNoThread);
    std::fill(writersAtomic.begin(), writersAtomic.end(), 0);
    std::fill(readersAtomic.begin(), readersAtomic.end(), 0);
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
    writeIntervals.resize(bytes, 0);
    readIntervals.resize(bytes, 0);
    writers.resize(bytes, kNoThread);
    readers.resize(bytes, kNoThread);
    otherReaders.resize(bytes, kNoThread);
    writersAtomic.resize(bytes, 0);
    readersAtomic.resize(bytes, 0);
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
    uint32_t &writeInterval = writeIntervals[byte];
    uint32_t &readInterval = readIntervals[byte];
    uint16_t &writer = writers[byte];
    uint16_t &reader = readers[byte];
    uint16_t &otherReader = otherReaders[byte];
    uint8_t &writerAtomic = writersAtomic[byte];
    uint8_t &atomicReaders = readersAtomic[byte];
    if (reads && writeInterval < blockStart)
      report(Finding::Uninitialized, kNoThread, false);
    if (writeInterval == interval && writer != self &&
        !(atomic && writerAtomic))
      report(Finding::Race, writer, true);
    if (write && readInterval == interval) {
      uint16_t other = reader != self ? reader : otherReader;
      if (other != kNoThread && !(atomic && atomicReaders))
        report(Finding::Race, other, false);
    }
    if (reads) {
      if (readInterval != interval) {
        readInterval = interval;
        reader = self;
        otherReader = kNoThread;
        atomicReaders = atomic;
      } else {
        if (reader != self && otherReader == kNoThread)
          otherReader = self;
        atomicReaders = atomicReaders && atomic;
      }
    }
    if (write) {
      writeInterval = interval;
      writer = self;
      writerAtomic = atomic;
    }
  }
  return finding;
}
