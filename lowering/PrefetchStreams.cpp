//===- PrefetchStreams.cpp - prefetches ahead of streamed weight rows -----===//
//
// A decode step multiplies each weight matrix by one vector: every weight
// is read once per token, from memory, and nothing else bounds the step.
// The hardware prefetchers follow each row's stream, but they start late
// on every new row and stop at page boundaries; on the two-core machine of
// bench/results a bf16 matrix-vector loop reached 13 GB/s of the 20 GB/s a
// plain read does. A software prefetch a kilobyte ahead of each read keeps
// enough lines in flight to reach the read bandwidth. The schedules choose
// the loops (mm.prefetch_bytes on them) and the distance; this pass only
// places the prefetches, at the level where the reads are vector loads of
// buffers (after mm-apply-schedules, before the lowering to LLVM).
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringPasses.h"

#include "dialect/MMDialect.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mm {
#define GEN_PASS_DEF_PREFETCHSTREAMS
#include "lowering/Passes.h.inc"
} // namespace mm

using namespace mlir;

namespace {

/// The cache line of the x86-64 and AArch64 CPUs the host path targets.
constexpr int64_t kCacheLineBytes = 64;

/// The buffer a view (subviews, casts, reinterpretations) reads.
Value viewedBuffer(Value memref) {
  while (auto view = memref.getDefiningOp<ViewLikeOpInterface>())
    memref = view.getViewSource();
  return memref;
}

/// The bytes of a statically shaped buffer; nullopt when dynamic.
std::optional<int64_t> staticBytes(Value memref) {
  auto type = dyn_cast<MemRefType>(memref.getType());
  if (!type || !type.hasStaticShape() || !type.getElementType().isIntOrFloat())
    return std::nullopt;
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

/// A read of a loop body: the operation, the buffer, its indices and how
/// many elements along the last (contiguous) dimension it reads.
struct StreamRead {
  Operation *op;
  Value memref;
  ValueRange indices;
  int64_t elements;
};

std::optional<StreamRead> asStreamRead(Operation *op) {
  if (auto load = dyn_cast<vector::LoadOp>(op))
    return StreamRead{op, load.getBase(), load.getIndices(),
                      load.getVectorType().getShape().back()};
  if (auto read = dyn_cast<vector::TransferReadOp>(op);
      read && isa<MemRefType>(read.getBase().getType()))
    return StreamRead{op, read.getBase(), read.getIndices(),
                      read.getVectorType().getShape().back()};
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return StreamRead{op, load.getMemRef(), load.getIndices(), 1};
  return std::nullopt;
}

/// Whether the last dimension of `memref` is contiguous (unit stride).
bool hasContiguousRows(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  return type.getRank() > 0 && type.isLastDimUnitStride();
}

void prefetchLoopReads(scf::ForOp loop, int64_t distanceBytes,
                       int64_t minBytes) {
  SmallVector<StreamRead> reads;
  for (Operation &op : loop.getBody()->without_terminator()) {
    std::optional<StreamRead> read = asStreamRead(&op);
    if (!read || !hasContiguousRows(read->memref))
      continue;
    // A read the loop repeats at one address is in the L1 after the first.
    if (loop.isDefinedOutsideOfLoop(read->memref) &&
        llvm::all_of(read->indices, [&](Value index) {
          return loop.isDefinedOutsideOfLoop(index);
        }))
      continue;
    std::optional<int64_t> bytes = staticBytes(viewedBuffer(read->memref));
    if (!bytes || *bytes < minBytes)
      continue;
    reads.push_back(*read);
  }
  for (const StreamRead &read : reads) {
    OpBuilder b(read.op);
    Location loc = read.op->getLoc();
    int64_t elementBytes =
        cast<MemRefType>(read.memref.getType()).getElementTypeBitWidth() / 8;
    int64_t readBytes = std::max<int64_t>(read.elements * elementBytes, 1);
    // One prefetch per line the read covers, each `distanceBytes` ahead:
    // past the end of its row it lands on the next row, read next.
    for (int64_t line = 0; line * kCacheLineBytes < readBytes; ++line) {
      int64_t ahead = (distanceBytes + line * kCacheLineBytes) / elementBytes;
      SmallVector<Value> indices(read.indices);
      indices.back() =
          arith::AddIOp::create(b, loc, indices.back(),
                                arith::ConstantIndexOp::create(b, loc, ahead));
      memref::PrefetchOp::create(b, loc, read.memref, indices,
                                 /*isWrite=*/false, /*localityHint=*/3,
                                 /*isDataCache=*/true);
    }
  }
}

struct PrefetchStreamsPass
    : public mm::impl::PrefetchStreamsBase<PrefetchStreamsPass> {
  using Base::Base;

  void runOnOperation() override {
    for (Operation &top : getOperation().getBody()->getOperations()) {
      if (isa<gpu::GPUModuleOp>(top))
        continue;
      top.walk([&](scf::ForOp loop) {
        auto distance = loop->getAttrOfType<IntegerAttr>(
            mm::MMDialect::kPrefetchBytesAttrName);
        if (!distance)
          return;
        if (distance.getInt() > 0)
          prefetchLoopReads(loop, distance.getInt(), minBytes);
        loop->removeAttr(mm::MMDialect::kPrefetchBytesAttrName);
      });
    }
  }
};

} // namespace
