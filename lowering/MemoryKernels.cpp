//===- MemoryKernels.cpp - the memory path as GPU kernels -----------------===//

#include "lowering/MemoryKernels.h"

#include "lowering/DeviceKernels.h"
#include "lowering/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/Twine.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mm;

namespace {

/// Checks the buffers of a kernel and adds the empty kernel to `module`.
llvm::Expected<gpu::GPUFuncOp>
startKernel(gpu::GPUModuleOp module, llvm::StringRef name, TypeRange arguments,
            size_t expected, int64_t threads, llvm::StringRef what) {
  if (arguments.size() != expected)
    return kernelError("a " + what + " kernel with these operands takes " +
                       llvm::Twine(expected) + " buffers, got " +
                       llvm::Twine(arguments.size()));
  for (Type type : arguments) {
    auto memref = dyn_cast<MemRefType>(type);
    if (!memref || !(memref.getElementType().isF32() ||
                     memref.getElementType().isInteger(32)))
      return kernelError(what + " kernel buffers must be f32 or i32 memrefs");
  }
  module.getContext()
      ->loadDialect<arith::ArithDialect, math::MathDialect,
                    memref::MemRefDialect, scf::SCFDialect>();
  return createDeviceKernel(module, name, arguments, threads);
}

/// What every memory kernel's body uses: the builder at the start of the
/// kernel, its arguments in order, and warp-level helpers.
class KernelBody {
public:
  KernelBody(gpu::GPUFuncOp function, int64_t warpWidth)
      : function(function), b(function.getContext()), loc(function.getLoc()),
        kb(b, loc), warpWidth(warpWidth) {
    b.setInsertionPointToStart(&function.getBody().front());
  }
  Value argument() { return function.getArgument(next++); }
  Value threadId() {
    return gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  }
  Value blockId(gpu::Dimension dimension) {
    return gpu::BlockIdOp::create(b, loc, dimension);
  }
  Value index(int64_t value) { return kb.index(value); }
  Value less(Value x, Value y) {
    return kb.cmpi(arith::CmpIPredicate::slt, x, y);
  }
  /// for (iv = lower; iv < upper; iv += step), carrying values.
  SmallVector<Value> stridedLoop(Value lower, Value upper, int64_t step,
                                 ValueRange initial,
                                 const KernelBuilder::CarriedBody &body) {
    auto loop = scf::ForOp::create(
        b, loc, lower, upper, index(step), initial,
        [&](OpBuilder &nested, Location, Value iv, ValueRange carried) {
          scf::YieldOp::create(nested, loc, body(iv, carried));
        });
    return SmallVector<Value>(loop.getResults());
  }
  /// `value` of the lane `lane ^ offset`.
  Value shuffleXor(Value value, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, value, offset, int32_t(warpWidth),
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// Every lane's values combined by `combine` (associative and
  /// commutative), in every lane: a butterfly of log2(warp) shuffles.
  SmallVector<Value>
  warpReduce(SmallVector<Value> values,
             const std::function<SmallVector<Value>(ValueRange, ValueRange)>
                 &combine) {
    for (int32_t offset = warpWidth / 2; offset >= 1; offset /= 2) {
      SmallVector<Value> other;
      for (Value value : values)
        other.push_back(shuffleXor(value, offset));
      values = combine(values, other);
    }
    return values;
  }
  /// The i32 `-1 - k` of an index k: the source code of the pool's slot k.
  Value poolSlotCode(Value k) {
    return arith::SubIOp::create(b, loc, kb.i32(-1), kb.toI32(k));
  }
  /// The summary a row's source `code` names: the chunk's token `code`
  /// (code >= 0) or the pool's slot -1 - code, through `read(buffer, row)`.
  Value ofSource(Value code, Value chunk, Value pool,
                 const std::function<Value(Value, Value)> &read) {
    Value isToken = kb.cmpi(arith::CmpIPredicate::sge, code, kb.i32(0));
    return kb
        .ifElse(
            isToken, {b.getF32Type()},
            [&] { return SmallVector<Value>{read(chunk, kb.toIndex(code))}; },
            [&] {
              Value slot = arith::SubIOp::create(b, loc, kb.i32(-1), code);
              return SmallVector<Value>{read(pool, kb.toIndex(slot))};
            })
        .front();
  }
  void finish() { gpu::ReturnOp::create(b, loc); }

  gpu::GPUFuncOp function;
  OpBuilder b;
  Location loc;
  KernelBuilder kb;
  int64_t warpWidth;

private:
  unsigned next = 0;
};

/// Whether a full pool's slot x = (priority, position, slot) is evicted
/// before slot y: the lowest priority (ties: the most recent position) or
/// the oldest position; ties beyond that (never in a valid pool) go to the
/// lowest slot, as the reference's scan.
Value evictsFirst(KernelBuilder &kb, EvictionPolicy eviction, ValueRange x,
                  ValueRange y) {
  bool fifo = eviction == EvictionPolicy::fifo;
  Value samePosition = kb.cmpi(arith::CmpIPredicate::eq, x[1], y[1]);
  Value lowerSlot = kb.cmpi(arith::CmpIPredicate::slt, x[2], y[2]);
  Value byPosition = kb.ori(
      kb.cmpi(fifo ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sgt,
              x[1], y[1]),
      kb.andi(samePosition, lowerSlot));
  if (fifo)
    return byPosition;
  return kb.ori(kb.flt(x[0], y[0]), kb.andi(kb.feq(x[0], y[0]), byPosition));
}

/// The (priority, position, slot) every slot of a pool of `m` is evicted
/// before: where a search for the slot to evict starts.
SmallVector<Value> noEvictionCandidate(KernelBuilder &kb,
                                       EvictionPolicy eviction, int64_t m) {
  bool fifo = eviction == EvictionPolicy::fifo;
  return {kb.f32(INFINITY),
          kb.i32(fifo ? std::numeric_limits<int32_t>::max()
                      : std::numeric_limits<int32_t>::min()),
          kb.i32(int32_t(m))};
}

/// sigmoid(w . x + b) for w [1, D], b [1] and the values x(d), summed in f64
/// in order as the reference does: the notes' and reads' decisions are the
/// reference's.
Value sigmoidScore64(KernelBuilder &kb, Value weight, Value bias, int64_t width,
                     const std::function<Value(Value)> &x) {
  Value zero = kb.index(0);
  Value dot = kb.sum(zero, kb.index(width), kb.f64(0), [&](Value d) {
    return kb.mul(kb.extend(kb.load(weight, {zero, d})), kb.extend(x(d)));
  });
  return kb.truncate(kb.sigmoid(kb.add(dot, kb.extend(kb.load(bias, {zero})))));
}

} // namespace

//===----------------------------------------------------------------------===//
// Scores
//===----------------------------------------------------------------------===//

int64_t mm::noteScoresThreads(const TargetInfo &target) {
  return target.threadsPerBlock;
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildNoteScoresKernel(gpu::GPUModuleOp module,
                          const NoteScoresKernelSpec &spec, TypeRange arguments,
                          const TargetInfo &target) {
  int64_t threads = noteScoresThreads(target);
  auto function = startKernel(module, spec.name, arguments,
                              spec.trigger ? 9 : 4, threads, "note scores");
  if (!function)
    return function.takeError();
  KernelBody body(*function, target.subgroupWidth);
  KernelBuilder &kb = body.kb;
  Value u = body.argument(), w = body.argument(), bias = body.argument(),
        score = body.argument();
  Value m, previous, wr, br, trigger;
  if (spec.trigger) {
    m = body.argument();
    previous = body.argument();
    wr = body.argument();
    br = body.argument();
    trigger = body.argument();
  }
  Value t =
      kb.addi(kb.muli(body.blockId(gpu::Dimension::x), body.index(threads)),
              body.threadId());
  Value seq = body.blockId(gpu::Dimension::y);
  Value zero = body.index(0);
  auto score64 = [&](Value weight, Value b,
                     const std::function<Value(Value)> &x) {
    return sigmoidScore64(kb, weight, b, spec.width, x);
  };
  kb.ifThen(body.less(t, kb.dim(u, 1)), [&] {
    kb.store(score64(w, bias,
                     [&](Value d) {
                       return kb.load(u, {seq, t, d});
                     }),
             score, {seq, t});
    if (!trigger)
      return;
    // The mixer output of the token before: the previous chunk's at t = 0.
    Value first = kb.cmpi(arith::CmpIPredicate::eq, t, zero);
    Value r = kb.ifElse(
                    first, {body.b.getF32Type()},
                    [&] {
                      return SmallVector<Value>{score64(wr, br, [&](Value d) {
                        return kb.load(previous, {seq, d});
                      })};
                    },
                    [&] {
                      Value before = kb.subi(t, body.index(1));
                      return SmallVector<Value>{score64(wr, br, [&](Value d) {
                        return kb.load(m, {seq, before, d});
                      })};
                    })
                  .front();
    kb.store(r, trigger, {seq, t});
  });
  body.finish();
  return *function;
}

//===----------------------------------------------------------------------===//
// Membership
//===----------------------------------------------------------------------===//

int64_t mm::poolMembershipSharedBytes(const PoolMembershipKernelSpec &spec) {
  // Priorities, positions and sources of the slots.
  return 12 * spec.poolSize;
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildPoolMembershipKernel(gpu::GPUModuleOp module,
                              const PoolMembershipKernelSpec &spec,
                              TypeRange arguments, const TargetInfo &target) {
  if (spec.poolSize <= 0)
    return kernelError("pool membership needs a static pool size");
  if (poolMembershipSharedBytes(spec) > target.sharedMemoryBytes)
    return kernelError("a pool of " + llvm::Twine(spec.poolSize) +
                       " slots needs more shared memory than " + target.spec() +
                       " has");
  int64_t warp = target.subgroupWidth;
  if (spec.lengths && !spec.update)
    return kernelError("pool membership takes lengths only with its update");
  auto function = startKernel(module, spec.name, arguments,
                              (spec.update ? 12 : 8) + spec.lengths, warp,
                              "pool membership");
  if (!function)
    return function.takeError();
  KernelBody body(*function, warp);
  KernelBuilder &kb = body.kb;
  OpBuilder &b = body.b;
  Location loc = body.loc;
  Value score = body.argument(), priorities = body.argument(),
        positions = body.argument(), count = body.argument();
  Value position = spec.update ? body.argument() : Value();
  Value lengths = spec.lengths ? body.argument() : Value();
  Value rows = body.argument(), rowCounts = body.argument(),
        rowOf = body.argument(), lastRow = body.argument();
  Value prioritiesOut, positionsOut, countOut;
  if (spec.update) {
    prioritiesOut = body.argument();
    positionsOut = body.argument();
    countOut = body.argument();
  }
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), indexType = b.getIndexType();
  int64_t m = spec.poolSize;
  bool fifo = spec.eviction == EvictionPolicy::fifo;

  Value lane = body.threadId();
  Value seq = body.blockId(gpu::Dimension::x);
  Value isFirstLane = kb.cmpi(arith::CmpIPredicate::eq, lane, body.index(0));
  Value poolSize = body.index(m), zero = body.index(0);
  // Lane l owns slots l, l + warp, ...: it alone reads and writes them, so
  // the pass needs no barrier; only the choice of a slot to evict crosses
  // lanes, by shuffles.
  Value bytes = dynamicSharedBytes(b, loc);
  Value slotPriority = sharedView(b, loc, bytes, {m}, f32, 0);
  Value slotPosition = sharedView(b, loc, bytes, {m}, i32, 4 * m);
  Value slotSource = sharedView(b, loc, bytes, {m}, i32, 8 * m);
  auto ownSlots = [&](const std::function<void(Value)> &each) {
    kb.loop(lane, poolSize, warp, each);
  };
  ownSlots([&](Value k) {
    kb.store(kb.load(priorities, {seq, k}), slotPriority, {k});
    kb.store(kb.load(positions, {seq, k}), slotPosition, {k});
    kb.store(body.poolSlotCode(k), slotSource, {k});
  });
  Value count0 = kb.load(count, {seq});
  // Every lane has read the count before the first lane may write the new
  // one into the same buffer (the pool is updated in place): lanes of a
  // warp need not run in step.
  gpu::BarrierOp::create(b, loc);
  // The chunk's token t takes position start + t: the chunk's first
  // position, or (where only the order matters) one after the pool's last.
  Value start;
  if (spec.update) {
    start = kb.load(position, {seq});
  } else {
    Value last = body.stridedLoop(
        lane, kb.toIndex(count0), warp, {kb.i32(-1)},
        [&](Value k, ValueRange carried) -> SmallVector<Value> {
          return {arith::MaxSIOp::create(b, loc, carried[0],
                                         kb.load(slotPosition, {k}))};
        })[0];
    last = body.warpReduce({last}, [&](ValueRange x, ValueRange y) {
      return SmallVector<Value>{arith::MaxSIOp::create(b, loc, x[0], y[0])};
    })[0];
    start = arith::AddIOp::create(b, loc, last, kb.i32(1));
  }
  auto writeRow = [&](Value row, Value valid) {
    ownSlots([&](Value k) {
      kb.store(kb.load(slotSource, {k}), rows, {seq, row, k});
    });
    kb.ifThen(isFirstLane, [&] { kb.store(valid, rowCounts, {seq, row}); });
  };
  writeRow(zero, count0);

  auto better = [&](ValueRange x, ValueRange y) {
    return evictsFirst(kb, spec.eviction, x, y);
  };
  auto evictionCandidate = [&]() -> SmallVector<Value> {
    SmallVector<Value> none = noEvictionCandidate(kb, spec.eviction, m);
    SmallVector<Value> best = body.stridedLoop(
        lane, poolSize, warp, none,
        [&](Value k, ValueRange carried) -> SmallVector<Value> {
          SmallVector<Value> slot = {kb.load(slotPriority, {k}),
                                     kb.load(slotPosition, {k}), kb.toI32(k)};
          Value take = better(slot, carried);
          SmallVector<Value> next;
          for (auto [x, y] : llvm::zip(slot, carried))
            next.push_back(kb.select(take, x, y));
          return next;
        });
    return body.warpReduce(best, [&](ValueRange x, ValueRange y) {
      Value take = better(y, x);
      SmallVector<Value> next;
      for (auto [yi, xi] : llvm::zip(y, x))
        next.push_back(kb.select(take, yi, xi));
      return next;
    });
  };

  Value time = kb.dim(score, 1);
  // Tokens past the sequence's length (padding) note nothing; they still
  // get a row, which only their own (unread) outputs read.
  Value length = kb.sequenceLength(lengths, seq, time);
  SmallVector<Value> last = kb.loop(
      zero, time, {count0, zero},
      [&](Value t, ValueRange carried) -> SmallVector<Value> {
        Value valid = carried[0], row = carried[1];
        Value sigma = kb.load(score, {seq, t});
        if (!spec.after)
          kb.ifThen(isFirstLane, [&] {
            kb.store(kb.toI32(row), rowOf, {seq, t});
          });
        Value noted = kb.fgt(sigma, kb.f32(spec.noteThreshold));
        if (lengths)
          noted = kb.andi(noted, body.less(t, length));
        SmallVector<Value> next = kb.ifElse(
            noted, {i32, indexType},
            [&]() -> SmallVector<Value> {
              Value hasRoom = body.less(kb.toIndex(valid), poolSize);
              SmallVector<Value> choice = kb.ifElse(
                  hasRoom, {indexType, b.getI1Type()},
                  [&]() -> SmallVector<Value> {
                    return {kb.toIndex(valid),
                            arith::ConstantIntOp::create(b, loc, 1, 1)};
                  },
                  [&]() -> SmallVector<Value> {
                    SmallVector<Value> candidate = evictionCandidate();
                    // A new note is later than every note in the pool: it
                    // enters only with a strictly higher score.
                    Value enters =
                        fifo ? Value(arith::ConstantIntOp::create(b, loc, 1, 1))
                             : kb.fgt(sigma, candidate[0]);
                    return {kb.toIndex(candidate[2]), enters};
                  });
              Value slot = choice[0];
              Value grown = kb.select(
                  hasRoom, arith::AddIOp::create(b, loc, valid, kb.i32(1)),
                  valid);
              Value nextRow = kb.ifElse(
                  choice[1], {indexType},
                  [&]() -> SmallVector<Value> {
                    Value owner = kb.cmpi(
                        arith::CmpIPredicate::eq,
                        arith::RemUIOp::create(b, loc, slot, body.index(warp)),
                        lane);
                    kb.ifThen(owner, [&] {
                      kb.store(sigma, slotPriority, {slot});
                      kb.store(
                          arith::AddIOp::create(b, loc, start, kb.toI32(t)),
                          slotPosition, {slot});
                      kb.store(kb.toI32(t), slotSource, {slot});
                    });
                    Value added = kb.addi(row, body.index(1));
                    writeRow(added, grown);
                    return {added};
                  },
                  [&]() -> SmallVector<Value> { return {row}; })[0];
              return {grown, nextRow};
            },
            [&]() -> SmallVector<Value> {
              return {valid, row};
            });
        if (spec.after)
          kb.ifThen(isFirstLane, [&] {
            kb.store(kb.toI32(next[1]), rowOf, {seq, t});
          });
        return next;
      });
  kb.ifThen(isFirstLane, [&] {
    kb.store(kb.toI32(last[1]), lastRow, {seq});
    if (spec.update)
      kb.store(last[0], countOut, {seq});
  });
  if (spec.update)
    ownSlots([&](Value k) {
      kb.store(kb.load(slotPriority, {k}), prioritiesOut, {seq, k});
      kb.store(kb.load(slotPosition, {k}), positionsOut, {seq, k});
    });
  body.finish();
  return *function;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

int64_t mm::poolAttentionSharedBytes(const PoolAttentionKernelSpec &spec) {
  // W_k^T q_h and a head's weighted summaries [S], the weights of every
  // source's slots [sources x M].
  return 4 * (2 * spec.summary + spec.sources * spec.poolSize);
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildPoolAttentionKernel(gpu::GPUModuleOp module,
                             const PoolAttentionKernelSpec &spec,
                             TypeRange arguments, const TargetInfo &target) {
  if (spec.summary <= 0 || spec.poolSize <= 0 || spec.heads <= 0 ||
      spec.summary % spec.heads || spec.sources <= 0)
    return kernelError("pool attention needs static sizes with heads dividing "
                       "the summary: S = " +
                       llvm::Twine(spec.summary) +
                       ", heads = " + llvm::Twine(spec.heads));
  if (poolAttentionSharedBytes(spec) > target.sharedMemoryBytes)
    return kernelError(
        "an attention over " + llvm::Twine(spec.sources * spec.poolSize) +
        " slots needs more shared memory than " + target.spec() + " has");
  int64_t warp = target.subgroupWidth;
  size_t expected = 4 + spec.trigger + 5 * spec.sources;
  auto function = startKernel(module, spec.name, arguments, expected, warp,
                              "pool attention");
  if (!function)
    return function.takeError();
  KernelBody body(*function, warp);
  KernelBuilder &kb = body.kb;
  OpBuilder &b = body.b;
  Location loc = body.loc;
  Value query = body.argument();
  Value trigger = spec.trigger ? body.argument() : Value();
  struct Source {
    Value rowOf, rows, rowCounts, summaries, slots;
    Value row, count, offset;
  };
  SmallVector<Source> sources(spec.sources);
  for (Source &source : sources) {
    source.rowOf = body.argument();
    source.rows = body.argument();
    source.rowCounts = body.argument();
    source.summaries = body.argument();
    source.slots = body.argument();
  }
  Value keyWeight = body.argument(), valueWeight = body.argument(),
        out = body.argument();
  int64_t s = spec.summary, headSize = s / spec.heads;
  Type f32 = b.getF32Type();

  Value lane = body.threadId();
  Value t = body.blockId(gpu::Dimension::x);
  Value seq = body.blockId(gpu::Dimension::y);
  Value zero = body.index(0), width = body.index(s);
  Value bytes = dynamicSharedBytes(b, loc);
  Value keyedQuery = sharedView(b, loc, bytes, {s}, f32, 0);
  Value context = sharedView(b, loc, bytes, {s}, f32, 4 * s);
  Value weights =
      sharedView(b, loc, bytes, {spec.sources * spec.poolSize}, f32, 8 * s);

  Value total = zero;
  for (Source &source : sources) {
    source.row = kb.toIndex(kb.load(source.rowOf, {seq, t}));
    source.count = kb.toIndex(kb.load(source.rowCounts, {seq, source.row}));
    source.offset = total;
    total = kb.addi(total, source.count);
  }
  Value reads = kb.cmpi(arith::CmpIPredicate::sgt, total, zero);
  if (trigger)
    reads = kb.andi(
        reads, kb.fgt(kb.load(trigger, {seq, t}), kb.f32(spec.readThreshold)));
  // The branch, like every loop bound below, is the same in every lane.
  kb.ifThenElse(
      reads,
      [&] {
        Value scale = kb.f32(1.0 / std::sqrt(static_cast<double>(headSize)));
        kb.loop(zero, body.index(spec.heads), [&](Value h) {
          Value c0 = kb.muli(h, body.index(headSize));
          // W_k^T q_h, scaled: the score of a summary x is its dot with x.
          kb.loop(lane, width, warp, [&](Value i) {
            Value dot =
                kb.sum(zero, body.index(headSize), kb.f32(0), [&](Value c) {
                  Value row = kb.addi(c0, c);
                  return kb.mul(kb.load(query, {seq, t, row}),
                                kb.load(keyWeight, {row, i}));
                });
            kb.store(kb.mul(dot, scale), keyedQuery, {i});
          });
          gpu::BarrierOp::create(b, loc);
          // A lane per slot: the scores, then their softmax.
          Value largest = kb.f32(-INFINITY);
          for (Source &source : sources) {
            largest = body.stridedLoop(
                lane, source.count, warp, {largest},
                [&](Value k, ValueRange carried) -> SmallVector<Value> {
                  Value code = kb.load(source.rows, {seq, source.row, k});
                  Value score = body.ofSource(
                      code, source.summaries, source.slots,
                      [&](Value buffer, Value r) {
                        return kb.sum(zero, width, kb.f32(0), [&](Value i) {
                          return kb.mul(kb.load(keyedQuery, {i}),
                                        kb.load(buffer, {seq, r, i}));
                        });
                      });
                  kb.store(score, weights, {kb.addi(source.offset, k)});
                  return {kb.maxf(carried[0], score)};
                })[0];
          }
          largest = body.warpReduce({largest}, [&](ValueRange x, ValueRange y) {
            return SmallVector<Value>{kb.maxf(x[0], y[0])};
          })[0];
          Value sum = kb.f32(0);
          for (Source &source : sources) {
            sum = body.stridedLoop(
                lane, source.count, warp, {sum},
                [&](Value k, ValueRange carried) -> SmallVector<Value> {
                  Value at = kb.addi(source.offset, k);
                  Value p = kb.exp(kb.sub(kb.load(weights, {at}), largest));
                  kb.store(p, weights, {at});
                  return {kb.add(carried[0], p)};
                })[0];
          }
          sum = body.warpReduce({sum}, [&](ValueRange x, ValueRange y) {
            return SmallVector<Value>{kb.add(x[0], y[0])};
          })[0];
          gpu::BarrierOp::create(b, loc);
          // A lane per dimension: the weighted summaries.
          kb.loop(lane, width, warp, [&](Value i) {
            Value acc = kb.f32(0);
            for (Source &source : sources) {
              acc = kb.loop(
                  zero, source.count, {acc},
                  [&](Value k, ValueRange carried) -> SmallVector<Value> {
                    Value p = kb.load(weights, {kb.addi(source.offset, k)});
                    Value code = kb.load(source.rows, {seq, source.row, k});
                    Value x =
                        body.ofSource(code, source.summaries, source.slots,
                                      [&](Value buffer, Value r) {
                                        return kb.load(buffer, {seq, r, i});
                                      });
                    return {kb.add(carried[0], kb.mul(p, x))};
                  })[0];
            }
            kb.store(kb.div(acc, sum), context, {i});
          });
          gpu::BarrierOp::create(b, loc);
          // The head's outputs: W_v of the weighted summaries.
          kb.loop(lane, body.index(headSize), warp, [&](Value c) {
            Value row = kb.addi(c0, c);
            Value v = kb.sum(zero, width, kb.f32(0), [&](Value i) {
              return kb.mul(kb.load(valueWeight, {row, i}),
                            kb.load(context, {i}));
            });
            kb.store(v, out, {seq, t, row});
          });
        });
      },
      [&] {
        kb.loop(lane, width, warp, [&](Value c) {
          kb.store(kb.f32(0), out, {seq, t, c});
        });
      });
  body.finish();
  return *function;
}

//===----------------------------------------------------------------------===//
// Slots
//===----------------------------------------------------------------------===//

int64_t mm::poolSlotsThreads(const PoolSlotsKernelSpec &spec,
                             const TargetInfo &target) {
  int64_t warp = target.subgroupWidth;
  return std::min<int64_t>(std::max<int64_t>(1, ceilDiv(spec.summary, warp)) *
                               warp,
                           target.threadsPerBlock);
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildPoolSlotsKernel(gpu::GPUModuleOp module,
                         const PoolSlotsKernelSpec &spec, TypeRange arguments,
                         const TargetInfo &target) {
  int64_t threads = poolSlotsThreads(spec, target);
  auto function =
      startKernel(module, spec.name, arguments, 5, threads, "pool slots");
  if (!function)
    return function.takeError();
  KernelBody body(*function, target.subgroupWidth);
  KernelBuilder &kb = body.kb;
  Value rows = body.argument(), lastRow = body.argument(),
        summaries = body.argument(), slots = body.argument(),
        slotsOut = body.argument();
  Value seq = body.blockId(gpu::Dimension::x);
  Value thread = body.threadId();
  Value row = kb.toIndex(kb.load(lastRow, {seq}));
  // A thread reads slot k's old summary only to write slot k: the slots may
  // be updated in place.
  kb.loop(0, body.index(spec.poolSize), [&](Value k) {
    Value code = kb.load(rows, {seq, row, k});
    kb.loop(thread, body.index(spec.summary), threads, [&](Value i) {
      Value x =
          body.ofSource(code, summaries, slots, [&](Value buffer, Value r) {
            return kb.load(buffer, {seq, r, i});
          });
      kb.store(x, slotsOut, {seq, k, i});
    });
  });
  body.finish();
  return *function;
}

//===----------------------------------------------------------------------===//
// Decode steps
//===----------------------------------------------------------------------===//

namespace {
/// A decode step kernel's shared memory: the token's score and read
/// trigger (f32) and, per pool, the slot the token's note takes and the
/// count after it (i32); the summary, the query, W_k^T q_h, a head's
/// weighted summaries and the heads' outputs [S]; the scores of the slots
/// of every pool read and their softmax numerators [pools x M].
struct StepShared {
  StepShared(int64_t summary, int64_t poolSize, int64_t pools)
      : s(summary), slots(poolSize * pools),
        header(16 * ceilDiv(8 + 8 * pools, 16)) {}
  int64_t summaryVector(int64_t i) const { return header + 4 * s * i; }
  int64_t slotVector(int64_t i) const {
    return summaryVector(5) + 4 * slots * i;
  }
  int64_t bytes() const { return slotVector(2); }
  int64_t s, slots, header;
};

/// A pool a step's attention reads: its valid slots (`count`, an index)
/// and the summary element i of slot k.
struct StepPool {
  Value count;
  std::function<Value(Value, Value)> element;
};

/// What the decode step kernels share: a block of whole warps over one
/// sequence (block x), its views of shared memory, and the pieces both
/// steps are made of.
class StepKernel : public KernelBody {
public:
  StepKernel(gpu::GPUFuncOp function, const TargetInfo &target, int64_t summary,
             int64_t poolSize, int64_t pools)
      : KernelBody(function, target.subgroupWidth),
        threads(wholeWarpThreads(target)), warps(threads / warpWidth),
        layout(summary, poolSize, pools) {
    seq = blockId(gpu::Dimension::x);
    thread = threadId();
    lane = arith::RemUIOp::create(b, loc, thread, index(warpWidth));
    warpIndex = arith::DivUIOp::create(b, loc, thread, index(warpWidth));
    isFirstLane = kb.cmpi(arith::CmpIPredicate::eq, lane, index(0));
    Value bytes = dynamicSharedBytes(b, loc);
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    scores = sharedView(b, loc, bytes, {2}, f32, 0);
    decisions = sharedView(b, loc, bytes, {2 * pools}, i32, 8);
    auto vector = [&](int64_t i) {
      return sharedView(b, loc, bytes, {summary}, f32, layout.summaryVector(i));
    };
    note = vector(0);
    query = vector(1);
    keyedQuery = vector(2);
    headContext = vector(3);
    headOutputs = vector(4);
    slotScores =
        sharedView(b, loc, bytes, {layout.slots}, f32, layout.slotVector(0));
    slotWeights =
        sharedView(b, loc, bytes, {layout.slots}, f32, layout.slotVector(1));
  }

  Value isThread(int64_t k) {
    return kb.cmpi(arith::CmpIPredicate::eq, thread, index(k));
  }
  void barrier() { gpu::BarrierOp::create(b, loc); }

  /// store(row, weight[row, :] . x) for the `rows` rows of `weight`: a warp
  /// per row, its lanes along the row (coalesced), summed by a butterfly.
  void warpRows(Value weight, int64_t rows, int64_t columns,
                const std::function<Value(Value)> &x,
                const std::function<void(Value, Value)> &store) {
    kb.loop(warpIndex, index(rows), warps, [&](Value row) {
      Value partial = stridedLoop(
          lane, index(columns), warpWidth, {kb.f32(0)},
          [&](Value c, ValueRange acc) -> SmallVector<Value> {
            return {kb.add(acc[0], kb.mul(kb.load(weight, {row, c}), x(c)))};
          })[0];
      Value total = warpReduce({partial}, [&](ValueRange x, ValueRange y) {
        return SmallVector<Value>{kb.add(x[0], y[0])};
      })[0];
      kb.ifThen(isFirstLane, [&] { store(row, total); });
    });
  }

  /// The valid slots of a pool whose count is `count` [B] (a count beyond
  /// the pool, which no valid state has, is taken as a full pool), i32.
  Value validSlots(Value count, int64_t poolSize) {
    return arith::MaxSIOp::create(
        b, loc,
        arith::MinSIOp::create(b, loc, kb.load(count, {seq}), kb.i32(poolSize)),
        kb.i32(0));
  }

  /// The slot of a pool (`valid` of `poolSize` slots taken) the token's note
  /// of score `sigma` takes, or -1, and the valid slots after it (i32): a
  /// free slot, or the one it evicts (a new note is later than every note
  /// in the pool: under priority eviction it enters only with a strictly
  /// higher score). One thread's sequential walk of the slots.
  SmallVector<Value> noteSlot(Value sigma, Value valid, Value priorities,
                              Value positions, int64_t poolSize,
                              double noteThreshold, EvictionPolicy eviction) {
    Type i32 = b.getI32Type();
    Value noted = kb.fgt(sigma, kb.f32(noteThreshold));
    Value hasRoom = kb.cmpi(arith::CmpIPredicate::slt, valid, kb.i32(poolSize));
    SmallVector<Value> choice = kb.ifElse(
        hasRoom, {i32, i32},
        [&]() -> SmallVector<Value> {
          return {valid, arith::AddIOp::create(b, loc, valid, kb.i32(1))};
        },
        [&]() -> SmallVector<Value> {
          SmallVector<Value> best =
              kb.loop(index(0), index(poolSize),
                      noEvictionCandidate(kb, eviction, poolSize),
                      [&](Value k, ValueRange carried) -> SmallVector<Value> {
                        SmallVector<Value> slot = {
                            kb.load(priorities, {seq, k}),
                            kb.load(positions, {seq, k}), kb.toI32(k)};
                        Value take = evictsFirst(kb, eviction, slot, carried);
                        SmallVector<Value> next;
                        for (auto [x, y] : llvm::zip(slot, carried))
                          next.push_back(kb.select(take, x, y));
                        return next;
                      });
          Value enters = eviction == EvictionPolicy::fifo
                             ? Value(arith::ConstantIntOp::create(b, loc, 1, 1))
                             : kb.fgt(sigma, best[0]);
          return {kb.select(enters, best[2], kb.i32(-1)), valid};
        });
    return {kb.select(noted, choice[0], kb.i32(-1)),
            kb.select(noted, choice[1], valid)};
  }

  /// out[seq, 0, :] = W_o (the heads' attention of the query in shared
  /// memory over the slots of `pools`) where `reads`, zeros elsewhere.
  /// `reads` and the pools' counts must be the same in every thread.
  void attention(Value reads, ArrayRef<StepPool> pools, int64_t heads,
                 int64_t width, Value keyWeight, Value valueWeight,
                 Value outputWeight, Value out) {
    int64_t s = layout.s, headSize = s / heads;
    Value zero = index(0), summaryWidth = index(s);
    SmallVector<Value> offsets;
    Value total = zero;
    for (const StepPool &pool : pools) {
      offsets.push_back(total);
      total = kb.addi(total, pool.count);
    }
    auto eachSlot =
        [&](const std::function<void(const StepPool &, Value, Value)> &body) {
          for (auto [pool, offset] : llvm::zip(pools, offsets))
            kb.loop(thread, pool.count, threads,
                    [&](Value k) { body(pool, k, kb.addi(offset, k)); });
        };
    kb.ifThenElse(
        reads,
        [&] {
          Value scale = kb.f32(1.0 / std::sqrt(static_cast<double>(headSize)));
          kb.loop(zero, index(heads), [&](Value h) {
            Value c0 = kb.muli(h, index(headSize));
            // W_k^T q_h, scaled: the score of a summary x is its dot with x.
            kb.loop(thread, summaryWidth, threads, [&](Value i) {
              Value dot =
                  kb.sum(zero, index(headSize), kb.f32(0), [&](Value c) {
                    Value row = kb.addi(c0, c);
                    return kb.mul(kb.load(query, {row}),
                                  kb.load(keyWeight, {row, i}));
                  });
              kb.store(kb.mul(dot, scale), keyedQuery, {i});
            });
            barrier();
            eachSlot([&](const StepPool &pool, Value k, Value at) {
              Value dot = kb.sum(zero, summaryWidth, kb.f32(0), [&](Value i) {
                return kb.mul(kb.load(keyedQuery, {i}), pool.element(k, i));
              });
              kb.store(dot, slotScores, {at});
            });
            barrier();
            // The softmax: every thread finds the maximum and the sum (a
            // few hundred slots at most).
            Value largest = kb.loop(
                zero, total, {kb.f32(-INFINITY)},
                [&](Value k, ValueRange carried) -> SmallVector<Value> {
                  return {kb.maxf(carried[0], kb.load(slotScores, {k}))};
                })[0];
            kb.loop(thread, total, threads, [&](Value k) {
              kb.store(kb.exp(kb.sub(kb.load(slotScores, {k}), largest)),
                       slotWeights, {k});
            });
            barrier();
            Value sum = kb.sum(zero, total, kb.f32(0), [&](Value k) {
              return kb.load(slotWeights, {k});
            });
            kb.loop(thread, summaryWidth, threads, [&](Value i) {
              Value acc = kb.f32(0);
              for (auto [pool, offset] : llvm::zip(pools, offsets))
                acc = kb.sum(zero, pool.count, acc, [&](Value k) {
                  return kb.mul(kb.load(slotWeights, {kb.addi(offset, k)}),
                                pool.element(k, i));
                });
              kb.store(kb.div(acc, sum), headContext, {i});
            });
            barrier();
            // The head's outputs: W_v of its weighted summaries. The next
            // head writes what this one read only after barriers every
            // thread passes once done with it.
            kb.loop(thread, index(headSize), threads, [&](Value c) {
              Value row = kb.addi(c0, c);
              Value v = kb.sum(zero, summaryWidth, kb.f32(0), [&](Value i) {
                return kb.mul(kb.load(valueWeight, {row, i}),
                              kb.load(headContext, {i}));
              });
              kb.store(v, headOutputs, {row});
            });
          });
          barrier();
          warpRows(
              outputWeight, width, s,
              [&](Value c) { return kb.load(headOutputs, {c}); },
              [&](Value row, Value v) {
                kb.store(v, out, {seq, zero, row});
              });
        },
        [&] {
          kb.loop(thread, index(width), threads, [&](Value d) {
            kb.store(kb.f32(0), out, {seq, zero, d});
          });
        });
  }

  int64_t threads, warps;
  StepShared layout;
  Value seq, thread, lane, warpIndex, isFirstLane;
  Value scores, decisions, note, query, keyedQuery, headContext, headOutputs,
      slotScores, slotWeights;
};

/// Checks a step kernel's sizes: static, heads dividing the summary, its
/// shared memory within the target's.
llvm::Error checkStepSizes(llvm::StringRef what, int64_t width, int64_t summary,
                           int64_t poolSize, int64_t heads, int64_t pools,
                           const TargetInfo &target) {
  if (width <= 0 || summary <= 0 || poolSize <= 0 || heads <= 0 ||
      summary % heads || pools <= 0)
    return kernelError(what +
                       " needs static sizes with heads dividing the "
                       "summary: D = " +
                       llvm::Twine(width) + ", S = " + llvm::Twine(summary) +
                       ", M = " + llvm::Twine(poolSize) +
                       ", heads = " + llvm::Twine(heads));
  if (StepShared(summary, poolSize, pools).bytes() > target.sharedMemoryBytes)
    return kernelError(
        what + " over " + llvm::Twine(pools) + " pools of " +
        llvm::Twine(poolSize) + " slots of " + llvm::Twine(summary) +
        " needs more shared memory than " + target.spec() + " has");
  return llvm::Error::success();
}
} // namespace

int64_t mm::memoryStepSharedBytes(const MemoryStepKernelSpec &spec) {
  return StepShared(spec.summary, spec.poolSize, 1).bytes();
}

int64_t mm::crossLayerStepSharedBytes(const CrossLayerStepKernelSpec &spec) {
  return StepShared(spec.summary, spec.poolSize, spec.sources).bytes();
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildMemoryStepKernel(gpu::GPUModuleOp module,
                          const MemoryStepKernelSpec &spec, TypeRange arguments,
                          const TargetInfo &target) {
  if (llvm::Error error =
          checkStepSizes("a memory step", spec.width, spec.summary,
                         spec.poolSize, spec.heads, 1, target))
    return std::move(error);
  auto function = startKernel(module, spec.name, arguments, 24,
                              wholeWarpThreads(target), "memory step");
  if (!function)
    return function.takeError();
  StepKernel body(*function, target, spec.summary, spec.poolSize, 1);
  KernelBuilder &kb = body.kb;
  Value u = body.argument(), noteWeight = body.argument(),
        noteBias = body.argument(), previous = body.argument(),
        readWeight = body.argument(), readBias = body.argument(),
        summaryWeight = body.argument(), queryWeight = body.argument(),
        keyWeight = body.argument(), valueWeight = body.argument(),
        outputWeight = body.argument(), slots = body.argument(),
        priorities = body.argument(), positions = body.argument(),
        count = body.argument(), position = body.argument(),
        score = body.argument(), trigger = body.argument(),
        summary = body.argument(), out = body.argument(),
        slotsOut = body.argument(), prioritiesOut = body.argument(),
        positionsOut = body.argument(), countOut = body.argument();
  int64_t s = spec.summary, m = spec.poolSize;
  Value seq = body.seq, thread = body.thread, zero = body.index(0);

  // The scores, each by one thread (of different warps) in f64 in order as
  // the reference: the note's and the read's decisions are the reference's.
  // The read trigger looks at the mixer output of the token before.
  kb.ifThen(body.isThread(0), [&] {
    Value sigma =
        sigmoidScore64(kb, noteWeight, noteBias, spec.width, [&](Value d) {
          return kb.load(u, {seq, zero, d});
        });
    kb.store(sigma, body.scores, {body.index(0)});
    kb.store(sigma, score, {seq, zero});
  });
  kb.ifThen(body.isThread(body.warps > 1 ? body.warpWidth : 0), [&] {
    Value r =
        sigmoidScore64(kb, readWeight, readBias, spec.width, [&](Value d) {
          return kb.load(previous, {seq, d});
        });
    kb.store(r, body.scores, {body.index(1)});
    kb.store(r, trigger, {seq, zero});
  });
  // The note's summary W_N u and the query W_q u.
  auto fromU = [&](Value d) { return kb.load(u, {seq, zero, d}); };
  body.warpRows(summaryWeight, s, spec.width, fromU, [&](Value row, Value v) {
    kb.store(v, body.note, {row});
    kb.store(v, summary, {seq, zero, row});
  });
  body.warpRows(queryWeight, s, spec.width, fromU,
                [&](Value row, Value v) { kb.store(v, body.query, {row}); });
  Value valid = body.validSlots(count, m);
  body.barrier();

  kb.ifThen(body.isThread(0), [&] {
    SmallVector<Value> decision =
        body.noteSlot(kb.load(body.scores, {body.index(0)}), valid, priorities,
                      positions, m, spec.noteThreshold, spec.eviction);
    kb.store(decision[0], body.decisions, {body.index(0)});
    kb.store(decision[1], body.decisions, {body.index(1)});
  });

  // The attention over the pool before the token, where the trigger fires.
  Value validSlots = kb.toIndex(valid);
  Value reads = kb.andi(kb.cmpi(arith::CmpIPredicate::sgt, validSlots, zero),
                        kb.fgt(kb.load(body.scores, {body.index(1)}),
                               kb.f32(spec.readThreshold)));
  StepPool before{validSlots, [&](Value k, Value i) {
                    return kb.load(slots, {seq, k, i});
                  }};
  body.attention(reads, {before}, spec.heads, spec.width, keyWeight,
                 valueWeight, outputWeight, out);

  // The pool after the token, once every thread is done reading the one
  // before (the pool may be updated in place: each element is read and
  // written by the same thread).
  body.barrier();
  Value slot = kb.load(body.decisions, {body.index(0)});
  Value sigma = kb.load(body.scores, {body.index(0)});
  Value tokenPosition = kb.load(position, {seq});
  Value summaryWidth = body.index(s);
  auto replaced = [&](Value k) {
    return kb.cmpi(arith::CmpIPredicate::eq, kb.toI32(k), slot);
  };
  kb.loop(thread, body.index(m * s), body.threads, [&](Value e) {
    Value k = arith::DivUIOp::create(body.b, body.loc, e, summaryWidth);
    Value i = arith::RemUIOp::create(body.b, body.loc, e, summaryWidth);
    kb.store(kb.select(replaced(k), kb.load(body.note, {i}),
                       kb.load(slots, {seq, k, i})),
             slotsOut, {seq, k, i});
  });
  kb.loop(thread, body.index(m), body.threads, [&](Value k) {
    Value mine = replaced(k);
    kb.store(kb.select(mine, sigma, kb.load(priorities, {seq, k})),
             prioritiesOut, {seq, k});
    kb.store(kb.select(mine, tokenPosition, kb.load(positions, {seq, k})),
             positionsOut, {seq, k});
  });
  kb.ifThen(body.isThread(0), [&] {
    kb.store(kb.load(body.decisions, {body.index(1)}), countOut, {seq});
  });
  body.finish();
  return *function;
}

llvm::Expected<gpu::GPUFuncOp>
mm::buildCrossLayerStepKernel(gpu::GPUModuleOp module,
                              const CrossLayerStepKernelSpec &spec,
                              TypeRange arguments, const TargetInfo &target) {
  if (llvm::Error error =
          checkStepSizes("a cross-layer step", spec.width, spec.summary,
                         spec.poolSize, spec.heads, spec.sources, target))
    return std::move(error);
  auto function =
      startKernel(module, spec.name, arguments, 6 + 6 * spec.sources,
                  wholeWarpThreads(target), "cross-layer step");
  if (!function)
    return function.takeError();
  StepKernel body(*function, target, spec.summary, spec.poolSize, spec.sources);
  KernelBuilder &kb = body.kb;
  Value u = body.argument(), queryWeight = body.argument(),
        keyWeight = body.argument(), valueWeight = body.argument(),
        outputWeight = body.argument();
  struct Source {
    Value score, summary, slots, priorities, positions, count, valid;
  };
  SmallVector<Source> sources(spec.sources);
  for (Source &source : sources) {
    source.score = body.argument();
    source.summary = body.argument();
    source.slots = body.argument();
    source.priorities = body.argument();
    source.positions = body.argument();
    source.count = body.argument();
  }
  Value out = body.argument();
  Value seq = body.seq, zero = body.index(0);

  body.warpRows(
      queryWeight, spec.summary, spec.width,
      [&](Value d) {
        return kb.load(u, {seq, zero, d});
      },
      [&](Value row, Value v) { kb.store(v, body.query, {row}); });
  // Each source pool as it stands after the token: the slot the token's
  // note took in that layer, if any, by a thread per source.
  for (auto [j, source] : llvm::enumerate(sources)) {
    source.valid = body.validSlots(source.count, spec.poolSize);
    kb.ifThen(body.isThread(j), [&] {
      SmallVector<Value> decision = body.noteSlot(
          kb.load(source.score, {seq, zero}), source.valid, source.priorities,
          source.positions, spec.poolSize, spec.noteThreshold, spec.eviction);
      kb.store(decision[0], body.decisions, {body.index(2 * j)});
      kb.store(decision[1], body.decisions, {body.index(2 * j + 1)});
    });
  }
  body.barrier();
  SmallVector<StepPool> pools;
  Value total = zero;
  for (auto [j, source] : llvm::enumerate(sources)) {
    Value slot = kb.load(body.decisions, {body.index(2 * j)});
    Value count = kb.toIndex(kb.load(body.decisions, {body.index(2 * j + 1)}));
    total = kb.addi(total, count);
    Value summary = source.summary, slots = source.slots;
    pools.push_back(
        {count, [&kb, seq, zero, slot, summary, slots](Value k, Value i) {
           Value replaced =
               kb.cmpi(arith::CmpIPredicate::eq, kb.toI32(k), slot);
           return kb.select(replaced, kb.load(summary, {seq, zero, i}),
                            kb.load(slots, {seq, k, i}));
         }});
  }
  body.attention(kb.cmpi(arith::CmpIPredicate::sgt, total, zero), pools,
                 spec.heads, spec.width, keyWeight, valueWeight, outputWeight,
                 out);
  body.finish();
  return *function;
}
