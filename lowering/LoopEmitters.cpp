//===- LoopEmitters.cpp - mm operations as loops over buffers -------------===//
//
// Each emitter mirrors the formula of spec/MEMMAMBA.md that the reference
// executor implements; scores that decide pool membership (note score, read
// trigger) and RMSNorm accumulate in f64 as the reference does, so decisions
// agree; matrix products accumulate in f32.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoopEmitters.h"

#include "dialect/KernelSizes.h"
#include "dialect/MMOps.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mm;

namespace {

using arith::CmpIPredicate;

int64_t staticDim(Value buffer, int64_t dim) {
  return cast<MemRefType>(buffer.getType()).getDimSize(dim);
}

/// The tiling of a matrix product: a block of `rows` rows of w (kept in L2)
/// meets the rows of x `tokens` at a time (kept in L1), and each load of x
/// feeds `rowsAtOnce` fused multiply-adds; blocks of outputs run in
/// parallel. The defaults are mm-fuse-kernels' (gemm group parameters).
struct GemmTiles {
  int64_t rows = 64, tokens = 8, rowsAtOnce = 4;
  /// Input rows per chunk: 256 rows of the widest input (E = 1536 floats at
  /// the 130m shape) are 1.5 MB, which the last-level cache holds. A tile
  /// (`tokens`) is at most a chunk.
  int64_t chunk = kGemmChunkTokens;

  static GemmTiles of(FusionAttr strategy) {
    GemmTiles tiles;
    if (strategy) {
      tiles.rows = strategy.getParam("rows", tiles.rows);
      tiles.tokens = strategy.getParam("tokens", tiles.tokens);
      tiles.rowsAtOnce = strategy.getParam("rows_at_once", tiles.rowsAtOnce);
    }
    return tiles;
  }
};

/// out[b, t, n] = sum_k x[b, t, k] * w[n, k] (+ bias[n]). With a bf16 or f16
/// w, x is rounded to w's type; the products and sums stay f32.
void emitLinearRows(KernelBuilder &kb, Value x, Value w, Value bias, Value out,
                    const GemmTiles &tiles) {
  Type weightElement = cast<MemRefType>(w.getType()).getElementType();
  Value batch = kb.dim(x, 0), time = kb.dim(x, 1), inputs = kb.dim(w, 1),
        outputs = kb.dim(w, 0);
  auto fast = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  OpBuilder &builder = kb.builder();
  Location loc = kb.location();
  // Rows [first, first + count) of w against row t of x.
  auto dots = [&](Value b, Value t, Value first, int64_t count) {
    SmallVector<Value> initial;
    for (int64_t i = 0; i < count; ++i) {
      Value n = kb.addi(first, kb.index(i));
      initial.push_back(bias ? kb.load(bias, {n}) : kb.f32(0));
    }
    SmallVector<Value> sums =
        kb.loop(kb.index(0), inputs, initial,
                [&](Value k, ValueRange carried) -> SmallVector<Value> {
                  Value xv = kb.roundTo(weightElement, kb.load(x, {b, t, k}));
                  SmallVector<Value> next;
                  for (int64_t i = 0; i < count; ++i) {
                    Value product = arith::MulFOp::create(
                        builder, loc, xv,
                        kb.widen(kb.load(w, {kb.addi(first, kb.index(i)), k})),
                        fast);
                    next.push_back(arith::AddFOp::create(
                        builder, loc, carried[i], product, fast));
                  }
                  return next;
                });
    for (int64_t i = 0; i < count; ++i)
      kb.store(sums[i], out, {b, t, kb.addi(first, kb.index(i))});
  };
  kb.loop(0, batch, [&](Value b) {
    // Long prompts go in chunks of tokens: within a chunk every block of
    // weight rows streams the chunk's input rows, which stay in cache (all
    // 8192 rows of a 130m-shaped layer would not, and each block would read
    // them from memory again).
    kb.loop(kb.index(0), time, tiles.chunk, [&](Value c0) {
      Value c1 = kb.mini(kb.addi(c0, kb.index(tiles.chunk)), time);
      kb.parallelLoop(kb.index(0), outputs, tiles.rows, [&](Value n0) {
        Value n1 = kb.mini(kb.addi(n0, kb.index(tiles.rows)), outputs);
        // The rows that fill whole groups, then the rest one by one.
        Value whole = kb.addi(
            n0, kb.muli(arith::DivUIOp::create(builder, loc, kb.subi(n1, n0),
                                               kb.index(tiles.rowsAtOnce)),
                        kb.index(tiles.rowsAtOnce)));
        kb.loop(c0, c1, tiles.tokens, [&](Value t0) {
          Value t1 = kb.mini(kb.addi(t0, kb.index(tiles.tokens)), c1);
          kb.loop(n0, whole, tiles.rowsAtOnce, [&](Value n) {
            kb.loop(t0, t1, [&](Value t) { dots(b, t, n, tiles.rowsAtOnce); });
          });
          kb.loop(whole, n1, [&](Value n) {
            kb.loop(t0, t1, [&](Value t) { dots(b, t, n, 1); });
          });
        });
      });
    });
  });
}

/// The widest causal conv whose taps are unrolled (per output and per window
/// entry): wider kernels loop over their taps. At K = 64 (the config's
/// limit) full unrolling took 61 s instead of 33 s for memmamba-24l.
constexpr int64_t kMaxUnrolledTaps = 8;

/// f64 dot product of row `row` of a [rows, n] buffer (or a 1-D buffer when
/// `row` is null) with n values read by `value`.
Value dot64(KernelBuilder &kb, Value weights, Value row, Value n,
            const std::function<Value(Value)> &value) {
  return kb.sum(kb.index(0), n, kb.f64(0), [&](Value i) {
    Value w = row ? kb.load(weights, {row, i}) : kb.load(weights, {i});
    return kb.mul(kb.extend(w), kb.extend(value(i)));
  });
}

/// Copies every element of `from` into `to` (same shape), unless they are
/// the same buffer.
void emitCopy(KernelBuilder &kb, Value from, Value to) {
  if (from == to)
    return;
  memref::CopyOp::create(kb.builder(), kb.location(), from, to);
}

//===----------------------------------------------------------------------===//
// Pools
//===----------------------------------------------------------------------===//

/// A pool being updated: priorities and positions [rows, M] at row `row`,
/// and its count [rows] at `row`.
struct PoolView {
  Value priorities, positions, count, row;
  int64_t size; ///< M
};

/// Spec section 2 (b): puts a note of `score` at `position` into the pool if
/// it enters, and calls `write(slot)` for the slot it takes.
void emitInsert(KernelBuilder &kb, const PoolView &pool, EvictionPolicy policy,
                Value score, Value position,
                const std::function<void(Value)> &write) {
  Value count = kb.toIndex(kb.load(pool.count, {pool.row}));
  Value poolSize = kb.index(pool.size);
  Value hasRoom = kb.cmpi(CmpIPredicate::slt, count, poolSize);
  Type indexType = kb.builder().getIndexType();
  Value slot = kb.ifElse(
      hasRoom, {indexType},
      [&]() -> SmallVector<Value> {
        kb.store(kb.toI32(kb.addi(count, kb.index(1))), pool.count, {pool.row});
        return {count};
      },
      [&]() -> SmallVector<Value> {
        if (policy == EvictionPolicy::fifo) {
          // Replace the oldest position.
          Value oldest = kb.loop(
              kb.index(1), poolSize, {kb.index(0)},
              [&](Value j, ValueRange carried) -> SmallVector<Value> {
                Value older = kb.cmpi(
                    CmpIPredicate::slt, kb.load(pool.positions, {pool.row, j}),
                    kb.load(pool.positions, {pool.row, carried[0]}));
                return {kb.select(older, j, carried[0])};
              })[0];
          return {oldest};
        }
        // The lowest priority; on a tie the most recent position.
        Value lowest = kb.loop(
            kb.index(1), poolSize, {kb.index(0)},
            [&](Value j, ValueRange carried) -> SmallVector<Value> {
              Value pj = kb.load(pool.priorities, {pool.row, j});
              Value pl = kb.load(pool.priorities, {pool.row, carried[0]});
              Value later = kb.cmpi(
                  CmpIPredicate::sgt, kb.load(pool.positions, {pool.row, j}),
                  kb.load(pool.positions, {pool.row, carried[0]}));
              Value lower =
                  kb.ori(kb.flt(pj, pl), kb.andi(kb.feq(pj, pl), later));
              return {kb.select(lower, j, carried[0])};
            })[0];
        // A new note is later than every note in the pool: it enters only
        // with a strictly higher score.
        Value enters =
            kb.fgt(score, kb.load(pool.priorities, {pool.row, lowest}));
        return {kb.select(enters, lowest, kb.index(-1))};
      })[0];
  kb.ifThen(kb.cmpi(CmpIPredicate::sge, slot, kb.index(0)), [&] {
    kb.store(score, pool.priorities, {pool.row, slot});
    kb.store(position, pool.positions, {pool.row, slot});
    write(slot);
  });
}

/// The largest position in row `row` of a pool's positions (-1 if empty):
/// notes of the chunk get later positions than every note already there.
Value emitLastPosition(KernelBuilder &kb, Value positions, Value row,
                       Value count) {
  return kb.loop(kb.index(0), kb.toIndex(count), {kb.i32(-1)},
                 [&](Value j, ValueRange carried) -> SmallVector<Value> {
                   Value p = kb.load(positions, {row, j});
                   return {kb.select(kb.cmpi(CmpIPredicate::sgt, p, carried[0]),
                                     p, carried[0])};
                 })[0];
}

/// A pool copied into scratch for one sequence: what the attentions read.
/// Its notes are the raw summaries, not their keys and values: the
/// attention applies the key and value weights to the token's side
/// (AttentionRows), so that a step does not project every slot again.
struct AttentionPool {
  PoolView view;      ///< scratch [1, M] priorities/positions, [1] count
  Value notes;        ///< [M, S] scratch: the slots' summaries
  Value summaries;    ///< [B, T, S]: the chunk's summaries, noted into it
  Value b;            ///< the sequence
  Value nextPosition; ///< first position given to the chunk's notes
};

/// Copies the pool of sequence `b` into scratch.
AttentionPool emitAttentionPool(KernelBuilder &kb, Value b, Value slots,
                                Value priorities, Value positions, Value count,
                                Value summaries) {
  int64_t m = staticDim(slots, 1), s = staticDim(slots, 2);
  Type f32 = kb.builder().getF32Type(), i32 = kb.builder().getI32Type();
  AttentionPool pool;
  pool.view = {kb.scratchBuffer({1, m}, f32), kb.scratchBuffer({1, m}, i32),
               kb.stackBuffer({1}, i32), kb.index(0), m};
  Value zero = kb.index(0);
  kb.loop(0, kb.index(m), [&](Value j) {
    kb.store(kb.load(priorities, {b, j}), pool.view.priorities, {zero, j});
    kb.store(kb.load(positions, {b, j}), pool.view.positions, {zero, j});
  });
  Value n = kb.load(count, {b});
  kb.store(n, pool.view.count, {zero});
  // The valid notes' summaries: no slot past them is read before a note
  // fills it.
  pool.notes = kb.scratchBuffer({m, s}, f32);
  kb.loop(kb.index(0), kb.toIndex(n), [&](Value j) {
    kb.loop(0, kb.index(s), [&](Value i) {
      kb.store(kb.load(slots, {b, j, i}), pool.notes, {j, i});
    });
  });
  pool.nextPosition = kb.addi(emitLastPosition(kb, positions, b, n), kb.i32(1));
  pool.summaries = summaries;
  pool.b = b;
  return pool;
}

/// Notes token t of the chunk into a scratch pool (its summary follows it
/// into the slot).
void emitNoteIntoPool(KernelBuilder &kb, AttentionPool &pool,
                      EvictionPolicy policy, double threshold, Value score,
                      Value t) {
  kb.ifThen(kb.fgt(score, kb.f32(threshold)), [&] {
    Value position = kb.addi(pool.nextPosition, kb.toI32(t));
    emitInsert(kb, pool.view, policy, score, position, [&](Value slot) {
      kb.loop(0, kb.dim(pool.notes, 1), [&](Value i) {
        kb.store(kb.load(pool.summaries, {pool.b, t, i}), pool.notes,
                 {slot, i});
      });
    });
  });
}

/// The attention of spec section 2 (a) over the valid notes of `pools`:
/// out[b, t, :] = Wo concat_h(softmax(q_h K_h^T / sqrt(S / heads)) V_h),
/// with q = Wq u[b, t], K = notes Wk^T, V = notes Wv^T, zeros when every
/// pool is empty. Computed with the weights moved to the token's side, a
/// reassociation of the same sums: q_h . (Wk n_j)_h = (Wk_h^T q_h) . n_j,
/// and sum_j a_j (Wv n_j)_h = Wv_h (sum_j a_j n_j): per token 2 S^2 + 2
/// heads M S products instead of projecting the M notes' keys and values
/// (2 M S^2, 410K at M = 50, S = 64: most of a decode step's memory path,
/// on one thread). Only the softmax and the weighted sums read the pools,
/// which change from token to token; the projections do not, so they run
/// for every token in parallel before and after the sequential pass
/// (AttentionRows). Their sums may be reassociated (fastSum, as the matrix
/// products': vectorised, not a chain of dependent adds); nothing the pools
/// decide depends on them. Each phase is a loop over the sequences of its
/// own: a GPU launches the parallel ones and runs the sequential pass on one
/// thread (mm-offload-to-gpu), as before.
struct AttentionRows {
  Value keyed;    ///< [B, T, heads, S]: Wk_h^T (Wq u[b, t])_h
  Value weighted; ///< [B, T, heads, S]: sum_j softmax_j n_j, per head
  Value contexts; ///< [B, T, S]: scratch of the last phase
  Value read;     ///< [B, T] i32: 1 where the token read the pools
};

/// The queries of every token, with the key weight applied (the first
/// phase).
AttentionRows emitAttentionQueries(KernelBuilder &kb, Value input,
                                   Value queryWeight, Value keyWeight,
                                   int64_t heads) {
  Type f32 = kb.builder().getF32Type(), i32 = kb.builder().getI32Type();
  int64_t s = staticDim(queryWeight, 0), d = staticDim(queryWeight, 1),
          headSize = s / heads;
  Value batch = kb.dim(input, 0), time = kb.dim(input, 1);
  int64_t dynamic = ShapedType::kDynamic;
  AttentionRows rows;
  rows.keyed = kb.alloc({dynamic, dynamic, heads, s}, f32, {batch, time});
  rows.weighted = kb.alloc({dynamic, dynamic, heads, s}, f32, {batch, time});
  rows.contexts = kb.alloc({dynamic, dynamic, s}, f32, {batch, time});
  rows.read = kb.alloc({dynamic, dynamic}, i32, {batch, time});
  kb.loop(0, batch, [&](Value b) {
    kb.parallelLoop(kb.index(0), time, 1, [&](Value t) {
      // q into the contexts' row (free until the last phase).
      kb.loop(0, kb.index(s), [&](Value o) {
        kb.store(kb.fastSum(kb.index(0), kb.index(d), kb.f32(0),
                            [&](Value i) {
                              return kb.mul(kb.load(queryWeight, {o, i}),
                                            kb.load(input, {b, t, i}));
                            }),
                 rows.contexts, {b, t, o});
      });
      kb.loop(0, kb.index(heads), [&](Value h) {
        Value offset = kb.muli(h, kb.index(headSize));
        kb.loop(0, kb.index(s), [&](Value r) {
          kb.store(kb.fastSum(kb.index(0), kb.index(headSize), kb.f32(0),
                              [&](Value i) {
                                Value c = kb.addi(offset, i);
                                return kb.mul(
                                    kb.load(keyWeight, {c, r}),
                                    kb.load(rows.contexts, {b, t, c}));
                              }),
                   rows.keyed, {b, t, h, r});
        });
      });
    });
  });
  return rows;
}

/// Token t's weighted notes over the pools as they stand (the sequential
/// phase); `reads` false (when given) or every pool empty marks the token
/// as reading nothing.
void emitAttentionContext(KernelBuilder &kb,
                          llvm::ArrayRef<AttentionPool> pools,
                          const AttentionRows &rows, Value b, Value t,
                          Value reads, int64_t heads) {
  Type f32 = kb.builder().getF32Type();
  int64_t s = staticDim(pools.front().notes, 1),
          m = staticDim(pools.front().notes, 0), headSize = s / heads;
  Value zero = kb.index(0);
  SmallVector<Value> counts;
  Value total = kb.index(0);
  for (const AttentionPool &pool : pools) {
    counts.push_back(kb.toIndex(kb.load(pool.view.count, {zero})));
    total = kb.addi(total, counts.back());
  }
  Value any = kb.cmpi(CmpIPredicate::sgt, total, kb.index(0));
  if (reads)
    any = kb.andi(reads, any);
  kb.store(kb.select(any, kb.i32(1), kb.i32(0)), rows.read, {b, t});
  Value scores =
      kb.scratchBuffer({static_cast<int64_t>(pools.size()) * m}, f32);
  kb.ifThen(any, [&] {
    Value scale = kb.f32(1.0 / std::sqrt(static_cast<double>(headSize)));
    // The heads in a loop, not unrolled: a config may have thousands.
    kb.loop(0, kb.index(heads), [&](Value h) {
      // Scores and their maximum over every valid note of every pool.
      Value maxScore = kb.f32(-INFINITY);
      for (auto [p, pool] : llvm::enumerate(pools)) {
        Value base = kb.index(static_cast<int64_t>(p) * m);
        maxScore =
            kb.loop(kb.index(0), counts[p], {maxScore},
                    [&](Value j, ValueRange carried) -> SmallVector<Value> {
                      Value dot = kb.fastSum(
                          kb.index(0), kb.index(s), kb.f32(0), [&](Value r) {
                            return kb.mul(kb.load(rows.keyed, {b, t, h, r}),
                                          kb.load(pool.notes, {j, r}));
                          });
                      Value score = kb.mul(dot, scale);
                      kb.store(score, scores, {kb.addi(base, j)});
                      return {kb.maxf(carried[0], score)};
                    })[0];
      }
      // exp(score - max) and their sum.
      Value sum = kb.f32(0);
      for (auto [p, pool] : llvm::enumerate(pools)) {
        Value base = kb.index(static_cast<int64_t>(p) * m);
        sum = kb.loop(kb.index(0), counts[p], {sum},
                      [&](Value j, ValueRange carried) -> SmallVector<Value> {
                        Value at = kb.addi(base, j);
                        Value e =
                            kb.exp(kb.sub(kb.load(scores, {at}), maxScore));
                        kb.store(e, scores, {at});
                        return {kb.add(carried[0], e)};
                      })[0];
      }
      // The notes weighted by this head's softmax.
      kb.loop(0, kb.index(s), [&](Value r) {
        Value acc = kb.f32(0);
        for (auto [p, pool] : llvm::enumerate(pools)) {
          Value base = kb.index(static_cast<int64_t>(p) * m);
          acc = kb.sum(kb.index(0), counts[p], acc, [&](Value j) {
            return kb.mul(kb.load(scores, {kb.addi(base, j)}),
                          kb.load(pool.notes, {j, r}));
          });
        }
        kb.store(kb.div(acc, sum), rows.weighted, {b, t, h, r});
      });
    });
  });
}

/// out[b, t, :] = Wo concat_h(Wv_h weighted_h[b, t]) for the tokens that
/// read, zeros for the others (the last phase, in parallel); frees the
/// rows.
void emitAttentionOutputs(KernelBuilder &kb, const AttentionRows &rows,
                          Value valueWeight, Value outputWeight, int64_t heads,
                          Value out) {
  int64_t d = staticDim(outputWeight, 0), s = staticDim(outputWeight, 1),
          headSize = s / heads;
  kb.loop(0, kb.dim(out, 0), [&](Value b) {
    kb.parallelLoop(kb.index(0), kb.dim(out, 1), 1, [&](Value t) {
      Value read =
          kb.cmpi(CmpIPredicate::ne, kb.load(rows.read, {b, t}), kb.i32(0));
      kb.ifThenElse(
          read,
          [&] {
            kb.loop(0, kb.index(s), [&](Value c) {
              Value h = arith::DivUIOp::create(kb.builder(), kb.location(), c,
                                               kb.index(headSize));
              kb.store(kb.fastSum(kb.index(0), kb.index(s), kb.f32(0),
                                  [&](Value r) {
                                    return kb.mul(
                                        kb.load(valueWeight, {c, r}),
                                        kb.load(rows.weighted, {b, t, h, r}));
                                  }),
                       rows.contexts, {b, t, c});
            });
            kb.loop(0, kb.index(d), [&](Value o) {
              kb.store(kb.fastSum(kb.index(0), kb.index(s), kb.f32(0),
                                  [&](Value i) {
                                    return kb.mul(
                                        kb.load(outputWeight, {o, i}),
                                        kb.load(rows.contexts, {b, t, i}));
                                  }),
                       out, {b, t, o});
            });
          },
          [&] {
            kb.loop(0, kb.index(d), [&](Value o) {
              kb.store(kb.f32(0), out, {b, t, o});
            });
          });
    });
  });
  kb.dealloc(rows.keyed);
  kb.dealloc(rows.weighted);
  kb.dealloc(rows.contexts);
  kb.dealloc(rows.read);
}

//===----------------------------------------------------------------------===//
// Emitters
//===----------------------------------------------------------------------===//

LogicalResult emit(EmbedOp op, KernelBuilder &kb, BufferMap buffer) {
  Value tokens = buffer(op.getTokens()), table = buffer(op.getTable()),
        out = buffer(op.getResult());
  kb.loop(0, kb.dim(tokens, 0), [&](Value b) {
    kb.loop(0, kb.dim(tokens, 1), [&](Value t) {
      Value id = kb.toIndex(kb.load(tokens, {b, t}));
      kb.loop(0, kb.dim(table, 1), [&](Value d) {
        kb.store(kb.widen(kb.load(table, {id, d})), out, {b, t, d});
      });
    });
  });
  return success();
}

/// RMSNorm of [B, T, D] rows into `out`: x / sqrt(mean(x^2) + eps) * w, in
/// f64 as the reference. `produce(b, t, d)` gives x and may also store it
/// (a fused residual): it runs once per element, in the first pass.
void emitNormRows(KernelBuilder &kb, RMSNormOp op, Value x, Value w, Value out,
                  const std::function<Value(Value, Value, Value)> &produce) {
  Value width = kb.dim(out, 2);
  // Rows are independent: the tokens of a sequence in parallel (on a GPU
  // one thread per row, not one thread for the whole norm).
  kb.loop(0, kb.dim(out, 0), [&](Value b) {
    kb.parallelLoop(kb.index(0), kb.dim(out, 1), 1, [&](Value t) {
      Value squares = kb.sum(kb.index(0), width, kb.f64(0), [&](Value d) {
        Value v = kb.extend(produce(b, t, d));
        return kb.mul(v, v);
      });
      Value inverse = mm::rmsInverse(kb, op, squares, width);
      kb.loop(0, width, [&](Value d) {
        kb.store(
            mm::rmsScaled(kb, kb.load(x, {b, t, d}), inverse, kb.load(w, {d})),
            out, {b, t, d});
      });
    });
  });
}

LogicalResult emit(RMSNormOp op, KernelBuilder &kb, BufferMap buffer) {
  Value x = buffer(op.getInput());
  if (cast<MemRefType>(x.getType()).getRank() != 3)
    return op.emitOpError() << "the host lowering expects [B, T, D]";
  emitNormRows(kb, op, x, buffer(op.getWeight()), buffer(op.getResult()),
               [&](Value b, Value t, Value d) {
                 return kb.load(x, {b, t, d});
               });
  return success();
}

LogicalResult emit(LinearOp op, KernelBuilder &kb, BufferMap buffer,
                   FusionAttr strategy) {
  if (op.getInput().getType().getRank() != 3)
    return op.emitOpError() << "the host lowering expects [B, T, K]";
  emitLinearRows(kb, buffer(op.getInput()), buffer(op.getWeight()),
                 op.getBias() ? buffer(op.getBias()) : Value(),
                 buffer(op.getResult()), GemmTiles::of(strategy));
  return success();
}

LogicalResult emit(LMHeadOp op, KernelBuilder &kb, BufferMap buffer,
                   FusionAttr strategy) {
  emitLinearRows(kb, buffer(op.getInput()), buffer(op.getWeight()), Value(),
                 buffer(op.getResult()), GemmTiles::of(strategy));
  return success();
}

/// The input at extended position p of channel e of a causal conv: the
/// window for p < K-1, else the chunk at p - (K-1).
Value convInputAt(KernelBuilder &kb, Value x, Value window, int64_t k, Value b,
                  Value e, Value p) {
  if (k == 1)
    return kb.load(x, {b, p, e});
  Value inWindow = kb.cmpi(CmpIPredicate::slt, p, kb.index(k - 1));
  return kb.ifElse(
      inWindow, {kb.builder().getF32Type()},
      [&]() -> SmallVector<Value> {
        return {kb.load(window, {b, e, p})};
      },
      [&]() -> SmallVector<Value> {
        return {kb.load(x, {b, kb.subi(p, kb.index(k - 1)), e})};
      })[0];
}

LogicalResult emit(CausalConv1dOp op, KernelBuilder &kb, BufferMap buffer,
                   FusionAttr strategy) {
  Value x = buffer(op.getInput()), w = buffer(op.getWeight()),
        window = buffer(op.getWindow()), out = buffer(op.getResult()),
        windowOut = buffer(op.getWindowOut());
  Value bias = op.getBias() ? buffer(op.getBias()) : Value();
  Value lengths = op.getLengths() ? buffer(op.getLengths()) : Value();
  int64_t k = staticDim(w, 2);
  if (ShapedType::isDynamic(k))
    return op.emitOpError() << "the host lowering needs a static kernel width";
  int64_t perTask = strategy ? strategy.getParam("channels", 1) : 1;
  Value time = kb.dim(x, 1), channels = kb.dim(x, 2);
  kb.loop(0, kb.dim(x, 0), [&](Value b) {
    // Channels are independent: blocks of them run in parallel.
    kb.parallelLoop(kb.index(0), channels, perTask, [&](Value e0) {
      Value e1 = kb.mini(kb.addi(e0, kb.index(perTask)), channels);
      auto inputAt = [&](Value e, Value p) {
        return convInputAt(kb, x, window, k, b, e, p);
      };
      // Time outside, the block's channels inside: they share cache lines.
      // The first K-1 steps read the window; the rest only the chunk, with
      // no test in the loop.
      // The taps are unrolled up to kMaxUnrolledTaps (real models have
      // K = 4); a wider kernel loops over them, so that compile time does not
      // grow with K. Both add the taps in the same order.
      auto step = [&](Value t, bool steady) {
        kb.loop(e0, e1, [&](Value e) {
          auto term = [&](Value tap) {
            Value p = kb.addi(t, tap);
            Value input = steady
                              ? kb.load(x, {b, kb.subi(p, kb.index(k - 1)), e})
                              : inputAt(e, p);
            return kb.mul(kb.load(w, {e, kb.index(0), tap}), input);
          };
          Value acc = bias ? kb.load(bias, {e}) : kb.f32(0);
          if (k <= kMaxUnrolledTaps) {
            for (int64_t tap = 0; tap < k; ++tap)
              acc = kb.add(acc, term(kb.index(tap)));
          } else {
            acc = kb.sum(kb.index(0), kb.index(k), acc, term);
          }
          kb.store(op.getSilu() ? kb.silu(acc) : acc, out, {b, t, e});
        });
      };
      Value warm = kb.mini(kb.index(k - 1), time);
      kb.loop(kb.index(0), warm, [&](Value t) { step(t, false); });
      kb.loop(warm, time, [&](Value t) { step(t, true); });
      kb.loop(e0, e1, [&](Value e) {
        emitConvWindowOut(kb, x, window, lengths, windowOut, k, b, e);
      });
    });
  });
  return success();
}

/// The selective scan, writing y to `out`; with `gate` (z of a fused
/// mm.gate), y * silu(z) instead. Each parallel task runs `channels`
/// consecutive channels.
/// - On the host, in three passes over its time steps so that every exp is
///   computed in vector form: dt = softplus(delta + bias) of its channels,
///   an elementwise loop over contiguous channels that LLVM vectorises (exp
///   and log1p are arithmetic on the host: mm-expand-host-math); the
///   recurrence, each channel's N states one vector (exp(dt A) of all of
///   them at once, y = h . C a reassociated vector sum); y * silu(z),
///   elementwise again.
/// - On a GPU, where this runs a thread per channel (--scan-kernels=false),
///   in one pass: dt, a loop over the states and the gate per step, with
///   no buffer of dt between passes.
LogicalResult emitScan(SelectiveScanOp op, KernelBuilder &kb, BufferMap buffer,
                       Value gate, Value out, int64_t channelsPerTask,
                       const TargetInfo &target) {
  const bool hostVectors = !target.isGpu();
  Value u = buffer(op.getU()), delta = buffer(op.getDelta()),
        aLog = buffer(op.getALog()), bIn = buffer(op.getB()),
        cIn = buffer(op.getC()), skip = buffer(op.getD());
  Value deltaBias = op.getDeltaBias() ? buffer(op.getDeltaBias()) : Value();
  Value initial = op.getInitialState() ? buffer(op.getInitialState()) : Value();
  Value final = op.getFinalState() ? buffer(op.getFinalState()) : Value();
  Value lengths = op.getLengths() ? buffer(op.getLengths()) : Value();
  int64_t n = staticDim(aLog, 1);
  if (ShapedType::isDynamic(n))
    return op.emitOpError() << "the host lowering needs a static state size";
  if (!final)
    return op.emitOpError() << "the host lowering needs the final state";
  OpBuilder &builder = kb.builder();
  Location loc = op.getLoc();
  Type f32 = builder.getF32Type();
  auto stateVector = VectorType::get({n}, f32);
  auto loadStates = [&](Value memref, ValueRange indices) {
    return vector::LoadOp::create(builder, loc, stateVector, memref, indices)
        .getResult();
  };
  auto splat = [&](Value scalar) {
    return vector::BroadcastOp::create(builder, loc, stateVector, scalar)
        .getResult();
  };
  Value batch = kb.dim(u, 0), time = kb.dim(u, 1), states = kb.index(n),
        channels = kb.dim(u, 2);
  // A = -exp(A_log), once per call, shared by the parallel channels.
  Value a = kb.alloc({ShapedType::kDynamic, n}, f32, {channels});
  kb.loop(0, channels, [&](Value e) {
    kb.loop(0, states, [&](Value i) {
      kb.store(kb.neg(kb.exp(kb.load(aLog, {e, i}))), a, {e, i});
    });
  });
  // On the host, dt of every step and channel between the passes (the
  // chunk's, so bounded by it).
  Value dts = hostVectors
                  ? kb.alloc({ShapedType::kDynamic, ShapedType::kDynamic,
                              ShapedType::kDynamic},
                             f32, {batch, time, channels})
                  : Value();
  Value zero = kb.index(0);
  auto stepDt = [&](Value b, Value t, Value e) {
    Value dt = kb.load(delta, {b, t, e});
    if (deltaBias)
      dt = kb.add(dt, kb.load(deltaBias, {e}));
    return op.getDeltaSoftplus() ? kb.softplus(dt) : dt;
  };
  auto gated = [&](Value y, Value b, Value t, Value e) {
    return gate ? kb.mul(y, kb.silu(kb.load(gate, {b, t, e}))) : y;
  };
  // h = exp(dt A) h + dt x B_t; y = h . C_t + D x
  auto recurrence = [&](Value b, Value t, Value e, Value dt) {
    Value xv = kb.load(u, {b, t, e});
    Value dtx = kb.mul(dt, xv);
    Value y;
    if (hostVectors) {
      Value decay = kb.exp(kb.mul(splat(dt), loadStates(a, {e, zero})));
      Value next = kb.add(kb.mul(decay, loadStates(final, {b, e, zero})),
                          kb.mul(splat(dtx), loadStates(bIn, {b, t, zero})));
      vector::StoreOp::create(builder, loc, next, final,
                              ValueRange{b, e, zero});
      y = vector::ReductionOp::create(
              builder, loc, vector::CombiningKind::ADD,
              kb.mul(next, loadStates(cIn, {b, t, zero})),
              arith::FastMathFlags::reassoc)
              .getResult();
    } else {
      y = kb.sum(zero, states, kb.f32(0), [&](Value i) {
        Value next = kb.add(kb.mul(kb.exp(kb.mul(dt, kb.load(a, {e, i}))),
                                   kb.load(final, {b, e, i})),
                            kb.mul(dtx, kb.load(bIn, {b, t, i})));
        kb.store(next, final, {b, e, i});
        return kb.mul(next, kb.load(cIn, {b, t, i}));
      });
    }
    return kb.add(y, kb.mul(kb.load(skip, {e}), xv));
  };
  kb.loop(0, batch, [&](Value b) {
    // Channels are independent: they run in parallel, each keeping its state
    // h in its own row of the final state (which may be the initial state's
    // buffer: each row is read before it is written).
    kb.parallelLoop(zero, channels, channelsPerTask, [&](Value e0) {
      Value e1 = kb.mini(kb.addi(e0, kb.index(channelsPerTask)), channels);
      kb.loop(e0, e1, [&](Value e) {
        kb.loop(0, states, [&](Value i) {
          kb.store(initial ? kb.load(initial, {b, e, i}) : kb.f32(0), final,
                   {b, e, i});
        });
      });
      // Time outside, the task's channels inside: the channels of a task
      // share the cache lines of u, delta, z and the output at each step
      // (with one channel per pass over time, a long prompt would evict
      // those lines before the next channel reads them). A sequence of a
      // right-padded batch stops at its length; its padding's outputs are
      // zero.
      Value length = kb.sequenceLength(lengths, b, time);
      kb.loop(length, time, [&](Value t) {
        kb.loop(e0, e1, [&](Value e) { kb.store(kb.f32(0), out, {b, t, e}); });
      });
      auto eachStep = [&](auto body) {
        kb.loop(0, length, [&](Value t) {
          kb.loop(e0, e1, [&](Value e) { body(t, e); });
        });
      };
      if (!hostVectors) {
        eachStep([&](Value t, Value e) {
          kb.store(gated(recurrence(b, t, e, stepDt(b, t, e)), b, t, e), out,
                   {b, t, e});
        });
        return;
      }
      eachStep([&](Value t, Value e) {
        kb.store(stepDt(b, t, e), dts, {b, t, e});
      });
      eachStep([&](Value t, Value e) {
        kb.store(recurrence(b, t, e, kb.load(dts, {b, t, e})), out, {b, t, e});
      });
      if (gate)
        eachStep([&](Value t, Value e) {
          kb.store(gated(kb.load(out, {b, t, e}), b, t, e), out, {b, t, e});
        });
    });
  });
  if (dts)
    kb.dealloc(dts);
  kb.dealloc(a);
  return success();
}

LogicalResult emit(SelectiveScanOp op, KernelBuilder &kb, BufferMap buffer,
                   FusionAttr strategy, const TargetInfo &target) {
  return emitScan(op, kb, buffer, Value(), buffer(op.getResult()),
                  strategy ? strategy.getParam("channels", 1) : 1, target);
}

/// out = f(inputs...) elementwise over [B, T, X].
void emitElementwise(KernelBuilder &kb, Value out,
                     const std::function<Value(Value, Value, Value)> &f) {
  kb.loop(0, kb.dim(out, 0), [&](Value b) {
    kb.loop(0, kb.dim(out, 1), [&](Value t) {
      kb.loop(0, kb.dim(out, 2), [&](Value x) {
        kb.store(f(b, t, x), out, {b, t, x});
      });
    });
  });
}

LogicalResult emit(GateOp op, KernelBuilder &kb, BufferMap buffer) {
  Value y = buffer(op.getInput()), z = buffer(op.getGate());
  emitElementwise(kb, buffer(op.getResult()), [&](Value b, Value t, Value e) {
    return kb.mul(kb.load(y, {b, t, e}), kb.silu(kb.load(z, {b, t, e})));
  });
  return success();
}

} // namespace

std::function<Value(Value, Value, Value)>
mm::residualElement(ResidualOp op, KernelBuilder &kb, BufferMap buffer) {
  auto optional = [&](Value v) { return v ? buffer(v) : Value(); };
  Value x = buffer(op.getInput()), m = buffer(op.getMixer()),
        ctok = optional(op.getTokenContext()),
        gtok = optional(op.getTokenGate()),
        clay = optional(op.getLayerContext()),
        glay = optional(op.getLayerGate());
  return [=, &kb](Value b, Value t, Value d) {
    Value sum = kb.add(kb.load(x, {b, t, d}), kb.load(m, {b, t, d}));
    if (ctok)
      sum = kb.add(sum, kb.mul(kb.sigmoid(kb.load(gtok, {d})),
                               kb.load(ctok, {b, t, d})));
    if (clay)
      sum = kb.add(sum, kb.mul(kb.sigmoid(kb.load(glay, {d})),
                               kb.load(clay, {b, t, d})));
    return sum;
  };
}

Value mm::rmsInverse(KernelBuilder &kb, RMSNormOp op, Value squares,
                     Value width) {
  Value epsilon = kb.f64(op.getEpsilon().convertToDouble());
  Value widthF = kb.extend(kb.toF32(kb.toI32(width)));
  return kb.div(kb.f64(1.0), kb.sqrt(kb.add(kb.div(squares, widthF), epsilon)));
}

Value mm::rmsScaled(KernelBuilder &kb, Value x, Value inverse, Value w) {
  return kb.truncate(kb.mul(kb.mul(kb.extend(x), inverse), kb.extend(w)));
}

namespace {

LogicalResult emit(ResidualOp op, KernelBuilder &kb, BufferMap buffer) {
  emitElementwise(kb, buffer(op.getResult()), residualElement(op, kb, buffer));
  return success();
}

/// The state operations with independent elements: a loop nest over the
/// result, each element from stateElement.
LogicalResult emitStateElements(Operation *op, KernelBuilder &kb,
                                BufferMap buffer) {
  Value out = buffer(op->getResult(0));
  kb.forEachElement(out, [&](ValueRange indices) {
    kb.store(stateElement(op, kb, buffer, indices), out, indices);
  });
  return success();
}

LogicalResult emit(NoteOp op, KernelBuilder &kb, BufferMap buffer) {
  Value u = buffer(op.getInput()), ws = buffer(op.getScoreWeight()),
        bs = buffer(op.getScoreBias()), wn = buffer(op.getSummaryWeight()),
        score = buffer(op.getScore()), summary = buffer(op.getSummary());
  Value width = kb.dim(u, 2);
  kb.loop(0, kb.dim(u, 0), [&](Value b) {
    // Scores and summaries of all tokens in bulk: tokens in parallel.
    kb.parallelLoop(kb.index(0), kb.dim(u, 1), 1, [&](Value t) {
      // sigma = sigmoid(note_score . u + b), in f64 as the reference.
      Value dot = dot64(kb, ws, kb.index(0), width, [&](Value d) {
        return kb.load(u, {b, t, d});
      });
      Value sigma =
          kb.sigmoid(kb.add(dot, kb.extend(kb.load(bs, {kb.index(0)}))));
      kb.store(kb.truncate(sigma), score, {b, t});
      // s = W_N u
      kb.loop(0, kb.dim(wn, 0), [&](Value s) {
        Value acc = kb.fastSum(kb.index(0), width, kb.f32(0), [&](Value d) {
          return kb.mul(kb.load(wn, {s, d}), kb.load(u, {b, t, d}));
        });
        kb.store(acc, summary, {b, t, s});
      });
    });
  });
  return success();
}

LogicalResult emit(ReadTriggerOp op, KernelBuilder &kb, BufferMap buffer) {
  Value m = buffer(op.getMixer()), previous = buffer(op.getPrevious()),
        w = buffer(op.getWeight()), bias = buffer(op.getBias()),
        out = buffer(op.getResult());
  Value width = kb.dim(m, 2);
  Type f32 = kb.builder().getF32Type();
  kb.loop(0, kb.dim(m, 0), [&](Value b) {
    // Every token's trigger in bulk: tokens in parallel.
    kb.parallelLoop(kb.index(0), kb.dim(m, 1), 1, [&](Value t) {
      // The mixer output of the previous token: the state's at t = 0.
      Value first = kb.cmpi(CmpIPredicate::eq, t, kb.index(0));
      Value dot = dot64(kb, w, kb.index(0), width, [&](Value d) {
        return kb.ifElse(
            first, {f32},
            [&]() -> SmallVector<Value> {
              return {kb.load(previous, {b, d})};
            },
            [&]() -> SmallVector<Value> {
              return {kb.load(m, {b, kb.subi(t, kb.index(1)), d})};
            })[0];
      });
      Value r =
          kb.sigmoid(kb.add(dot, kb.extend(kb.load(bias, {kb.index(0)}))));
      kb.store(kb.truncate(r), out, {b, t});
    });
  });
  return success();
}

LogicalResult emit(PoolUpdateOp op, KernelBuilder &kb, BufferMap buffer) {
  Value score = buffer(op.getScore()), summary = buffer(op.getSummary()),
        position = buffer(op.getPosition());
  Value slots = buffer(op.getSlotsOut()),
        priorities = buffer(op.getPrioritiesOut()),
        positions = buffer(op.getPositionsOut()),
        count = buffer(op.getCountOut());
  emitCopy(kb, buffer(op.getSlots()), slots);
  emitCopy(kb, buffer(op.getPriorities()), priorities);
  emitCopy(kb, buffer(op.getPositions()), positions);
  emitCopy(kb, buffer(op.getCount()), count);
  Value lengths = op.getLengths() ? buffer(op.getLengths()) : Value();
  int64_t m = staticDim(slots, 1);
  double threshold = op.getNoteThreshold().convertToDouble();
  kb.loop(0, kb.dim(score, 0), [&](Value b) {
    PoolView pool{priorities, positions, count, b, m};
    Value start = kb.load(position, {b});
    kb.loop(0, kb.sequenceLength(lengths, b, kb.dim(score, 1)), [&](Value t) {
      Value sigma = kb.load(score, {b, t});
      kb.ifThen(kb.fgt(sigma, kb.f32(threshold)), [&] {
        emitInsert(
            kb, pool, op.getEviction(), sigma, kb.addi(start, kb.toI32(t)),
            [&](Value slot) {
              kb.loop(0, kb.dim(slots, 2), [&](Value s) {
                kb.store(kb.load(summary, {b, t, s}), slots, {b, slot, s});
              });
            });
      });
    });
  });
  return success();
}

LogicalResult emit(PoolAttentionOp op, KernelBuilder &kb, BufferMap buffer) {
  Value input = buffer(op.getInput()), trigger = buffer(op.getTrigger()),
        score = buffer(op.getScore()), out = buffer(op.getResult());
  double noteThreshold = op.getNoteThreshold().convertToDouble();
  double readThreshold = op.getReadThreshold().convertToDouble();
  Value time = kb.dim(input, 1);
  AttentionRows rows =
      emitAttentionQueries(kb, input, buffer(op.getQueryWeight()),
                           buffer(op.getKeyWeight()), op.getHeads());
  kb.loop(0, kb.dim(input, 0), [&](Value b) {
    AttentionPool pool =
        emitAttentionPool(kb, b, buffer(op.getSlots()),
                          buffer(op.getPriorities()), buffer(op.getPositions()),
                          buffer(op.getCount()), buffer(op.getSummary()));
    kb.loop(0, time, [&](Value t) {
      // (a) Read the pool as it stood before t, if the trigger fires...
      Value fires = kb.fgt(kb.load(trigger, {b, t}), kb.f32(readThreshold));
      emitAttentionContext(kb, {pool}, rows, b, t, fires, op.getHeads());
      // ... then (b) note t, for the tokens after it.
      emitNoteIntoPool(kb, pool, op.getEviction(), noteThreshold,
                       kb.load(score, {b, t}), t);
    });
  });
  emitAttentionOutputs(kb, rows, buffer(op.getValueWeight()),
                       buffer(op.getOutputWeight()), op.getHeads(), out);
  return success();
}

LogicalResult emit(CrossLayerAttentionOp op, KernelBuilder &kb,
                   BufferMap buffer) {
  Value input = buffer(op.getInput()), out = buffer(op.getResult());
  double noteThreshold = op.getNoteThreshold().convertToDouble();
  Value time = kb.dim(input, 1);
  AttentionRows rows =
      emitAttentionQueries(kb, input, buffer(op.getQueryWeight()),
                           buffer(op.getKeyWeight()), op.getHeads());
  kb.loop(0, kb.dim(input, 0), [&](Value b) {
    SmallVector<AttentionPool> pools;
    for (size_t j = 0; j < op.getScores().size(); ++j)
      pools.push_back(emitAttentionPool(
          kb, b, buffer(op.getSlots()[j]), buffer(op.getPriorities()[j]),
          buffer(op.getPositions()[j]), buffer(op.getCounts()[j]),
          buffer(op.getSummaries()[j])));
    kb.loop(0, time, [&](Value t) {
      // The source pools as they stand after their layers processed t.
      for (size_t j = 0; j < pools.size(); ++j)
        emitNoteIntoPool(kb, pools[j], op.getEviction(), noteThreshold,
                         kb.load(buffer(op.getScores()[j]), {b, t}), t);
      emitAttentionContext(kb, pools, rows, b, t, /*reads=*/Value(),
                           op.getHeads());
    });
  });
  emitAttentionOutputs(kb, rows, buffer(op.getValueWeight()),
                       buffer(op.getOutputWeight()), op.getHeads(), out);
  return success();
}

} // namespace

void mm::emitConvWindowOut(KernelBuilder &kb, Value x, Value window,
                           Value lengths, Value windowOut, int64_t k, Value b,
                           Value e) {
  // Entry j reads extended position length + j >= j, never an entry
  // already written: the new window may be the old one's buffer.
  Value length = kb.sequenceLength(lengths, b, kb.dim(x, 1));
  auto shift = [&](Value j) {
    kb.store(convInputAt(kb, x, window, k, b, e, kb.addi(length, j)), windowOut,
             {b, e, j});
  };
  if (k <= kMaxUnrolledTaps) {
    for (int64_t j = 0; j + 1 < k; ++j)
      shift(kb.index(j));
  } else {
    kb.loop(0, kb.index(k - 1), shift);
  }
}

LogicalResult mm::emitLoops(Operation *op, KernelBuilder &kb, BufferMap buffer,
                            const TargetInfo &target, FusionAttr strategy) {
  KernelBuilder::LocationScope where(kb, op->getLoc());
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<LinearOp, LMHeadOp, CausalConv1dOp>(
          [&](auto concrete) { return emit(concrete, kb, buffer, strategy); })
      .Case<SelectiveScanOp>([&](SelectiveScanOp scan) {
        return emit(scan, kb, buffer, strategy, target);
      })
      .Case<TakeLastOp, AdvancePositionOp, InitStateOp>([&](Operation *state) {
        return emitStateElements(state, kb, buffer);
      })
      .Case<EmbedOp, RMSNormOp, GateOp, ResidualOp, NoteOp, ReadTriggerOp,
            PoolUpdateOp, PoolAttentionOp, CrossLayerAttentionOp>(
          [&](auto concrete) { return emit(concrete, kb, buffer); })
      .Default([](Operation *other) {
        return other->emitOpError() << "has no host lowering";
      });
}

bool mm::isElementwiseState(Operation *op) {
  return isa<TakeLastOp, AdvancePositionOp, InitStateOp>(op);
}

Value mm::stateElement(Operation *op, KernelBuilder &kb, BufferMap buffer,
                       ValueRange indices) {
  // take_last: result[b, x] (or [b, 0, x]) = input[b, T - 1, x]; in a
  // right-padded batch input[b, length - 1, x], or for a sequence with no
  // tokens previous[b, x] (it may be the result's buffer: the same element)
  // or, without previous, input[b, 0, x].
  if (auto take = dyn_cast<TakeLastOp>(op)) {
    Value in = buffer(take.getInput());
    Value time = kb.dim(in, 1);
    Value row = indices.front(), column = indices.back();
    if (!take.getLengths())
      return kb.load(in, {row, kb.subi(time, kb.index(1)), column});
    Value length = kb.sequenceLength(buffer(take.getLengths()), row, time);
    if (!take.getPrevious())
      return kb.load(
          in,
          {row, kb.subi(kb.maxi(length, kb.index(1)), kb.index(1)), column});
    Type f32 = kb.builder().getF32Type();
    return kb.ifElse(
        kb.cmpi(CmpIPredicate::sgt, length, kb.index(0)), {f32},
        [&]() -> SmallVector<Value> {
          return {kb.load(in, {row, kb.subi(length, kb.index(1)), column})};
        },
        [&]() -> SmallVector<Value> {
          return {kb.load(buffer(take.getPrevious()), indices)};
        })[0];
  }
  // advance_position: position[b] + T (+ its length in a right-padded
  // batch).
  if (auto advance = dyn_cast<AdvancePositionOp>(op)) {
    Value time = kb.dim(buffer(advance.getTokens()), 1);
    Value lengths =
        advance.getLengths() ? buffer(advance.getLengths()) : Value();
    Value steps = kb.toI32(kb.sequenceLength(lengths, indices[0], time));
    return kb.addi(kb.load(buffer(advance.getPosition()), indices), steps);
  }
  // init_state: zero, or -1 (an empty slot) for pool positions.
  auto init = cast<InitStateOp>(op);
  if (init.getType().getElementType().isF32())
    return kb.f32(0);
  return kb.i32(init.getKind() == StateKind::pool_positions ? -1 : 0);
}

LogicalResult mm::emitFusedLoops(FusionAttr strategy, Block &body,
                                 KernelBuilder &kb, BufferMap buffer,
                                 Allocator allocate, const TargetInfo &target) {
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  if (ops.empty())
    return success();
  // A fused pair is one loop nest: it carries its first operation's place.
  KernelBuilder::LocationScope where(kb, ops.front()->getLoc());
  auto bufferOrNew = [&](Value value) {
    Value existing = buffer(value);
    return existing ? existing : allocate(value);
  };
  // A scan and its gate: y * silu(z) in the scan's loop, y never stored.
  if (ops.size() == 2)
    if (auto scan = dyn_cast<SelectiveScanOp>(ops[0]))
      if (auto gate = dyn_cast<GateOp>(ops[1]);
          gate && gate.getInput() == scan.getResult()) {
        bufferOrNew(scan.getFinalState());
        return emitScan(scan, kb, buffer, buffer(gate.getGate()),
                        bufferOrNew(gate.getResult()),
                        strategy.getParam("channels", 1), target);
      }
  // A residual and the RMSNorm of its result: one pass computes, stores and
  // sums the squares of each token's residual, a second normalises it.
  if (ops.size() == 2)
    if (auto residual = dyn_cast<ResidualOp>(ops[0]))
      if (auto norm = dyn_cast<RMSNormOp>(ops[1]);
          norm && norm.getInput() == residual.getResult()) {
        Value h = bufferOrNew(residual.getResult());
        auto element = residualElement(residual, kb, buffer);
        emitNormRows(kb, norm, h, buffer(norm.getWeight()),
                     bufferOrNew(norm.getResult()),
                     [&](Value b, Value t, Value d) {
                       Value v = element(b, t, d);
                       kb.store(v, h, {b, t, d});
                       return v;
                     });
        return success();
      }
  // Otherwise the operations' loops run back to back.
  for (Operation *op : ops) {
    for (Value result : op->getResults())
      bufferOrNew(result);
    if (failed(emitLoops(op, kb, buffer, target, strategy)))
      return failure();
  }
  return success();
}
