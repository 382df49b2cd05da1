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
  Value zero = body.index(0), width = body.index(spec.width);
  // sigmoid(w . x + b), summed in f64 in order as the reference does: the
  // notes' and reads' decisions are the reference's.
  auto score64 = [&](Value weight, Value b,
                     const std::function<Value(Value)> &x) {
    Value dot = kb.sum(zero, width, kb.f64(0), [&](Value d) {
      return kb.mul(kb.extend(kb.load(weight, {zero, d})), kb.extend(x(d)));
    });
    return kb.truncate(kb.sigmoid(kb.add(dot, kb.extend(kb.load(b, {zero})))));
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
  auto function = startKernel(module, spec.name, arguments,
                              spec.update ? 12 : 8, warp, "pool membership");
  if (!function)
    return function.takeError();
  KernelBody body(*function, warp);
  KernelBuilder &kb = body.kb;
  OpBuilder &b = body.b;
  Location loc = body.loc;
  Value score = body.argument(), priorities = body.argument(),
        positions = body.argument(), count = body.argument();
  Value position = spec.update ? body.argument() : Value();
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

  // The slot a note evicts from a full pool: the lowest priority (ties: the
  // most recent position) or the oldest position; ties beyond that (never
  // in a valid pool) go to the lowest slot, as the reference's scan.
  auto better = [&](ValueRange x, ValueRange y) -> Value {
    Value samePosition = kb.cmpi(arith::CmpIPredicate::eq, x[1], y[1]);
    Value lowerSlot = kb.cmpi(arith::CmpIPredicate::slt, x[2], y[2]);
    Value byPosition = kb.ori(
        kb.cmpi(fifo ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sgt,
                x[1], y[1]),
        kb.andi(samePosition, lowerSlot));
    if (fifo)
      return byPosition;
    return kb.ori(kb.flt(x[0], y[0]), kb.andi(kb.feq(x[0], y[0]), byPosition));
  };
  auto evictionCandidate = [&]() -> SmallVector<Value> {
    SmallVector<Value> none = {
        kb.f32(INFINITY),
        kb.i32(fifo ? std::numeric_limits<int32_t>::max()
                    : std::numeric_limits<int32_t>::min()),
        kb.i32(int32_t(m))};
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
