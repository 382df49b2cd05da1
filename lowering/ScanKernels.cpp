//===- ScanKernels.cpp - the selective scan as a block-level GPU kernel ---===//

#include "lowering/ScanKernels.h"

#include "lowering/DeviceKernels.h"
#include "lowering/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/Twine.h"

#include <cmath>

using namespace mlir;
using namespace mm;

namespace {

/// Shared bytes of a configuration: B and C of a chunk, A log2(e) of the
/// block's channels, their states in two buffers, their D and delta bias.
int64_t sharedBytesOf(int64_t chunk, int64_t blockChannels, int64_t states) {
  return 4 * (2 * chunk * states + 3 * blockChannels * states +
              2 * blockChannels);
}

/// The default tokens per lane: four keep a lane's loads of B and C one
/// 16-byte vector and its registers few, while the shuffles (log2(warp)
/// per state and chunk) are spread over four tokens.
constexpr int64_t kDefaultItems = 4;
/// The default channels per block: B and C are then read once per 64
/// channels, under a fifth of the traffic of u, delta, z and the output.
constexpr int64_t kDefaultBlockChannels = 64;
/// Tokens per lane at most (its registers: a, b and the output per token).
constexpr int64_t kMaxItems = 32;
/// The step form: sequences per block. A thread keeps its channel's A in
/// registers (up to kMaxRegisterStates states) across them, so that A_log
/// is read, and exponentiated, once per block rather than per sequence.
constexpr int64_t kStepSequences = 8;
constexpr int64_t kMaxRegisterStates = 32;
/// The step form with delta's projection keeps the channel's weight row in
/// registers up to this rank (dt_rank is D / 16: 48 for a 768-wide model);
/// beyond, it reads the row again per sequence.
constexpr int64_t kMaxRegisterRank = 64;

} // namespace

llvm::Expected<ScanConfig> mm::resolveScanConfig(const ScanKernelSpec &spec,
                                                 const TargetInfo &target) {
  if (!target.isGpu())
    return kernelError("scan kernels are built for GPU targets, not '" +
                     target.spec() + "'");
  if (spec.channels <= 0 || spec.states <= 0)
    return kernelError("scan sizes must be static and positive: channels = " +
                     llvm::Twine(spec.channels) +
                     ", states = " + llvm::Twine(spec.states));
  ScanConfig config;
  config.channels = spec.channels;
  config.states = spec.states;
  config.deltaBias = spec.deltaBias;
  config.deltaSoftplus = spec.deltaSoftplus;
  config.initialState = spec.initialState;
  config.gate = spec.gate;
  config.warpWidth = target.subgroupWidth;
  config.step = spec.step;
  config.deltaProjection = spec.deltaProjection;
  config.rank = spec.rank;
  config.lengths = spec.lengths;
  int64_t warp = config.warpWidth;
  if (spec.step && spec.lengths)
    return kernelError("a scan step (one token per sequence) takes no "
                       "lengths");
  if (spec.deltaProjection && (!spec.step || spec.rank <= 0))
    return kernelError("a scan computes its delta's projection only in its "
                       "step form, with a positive rank (got " +
                       llvm::Twine(spec.rank) + ")");
  if (spec.step) {
    // A thread per channel; the chunk does not apply.
    config.blockChannels = spec.blockChannels
                               ? spec.blockChannels
                               : std::min(target.threadsPerBlock,
                                          ceilDiv(spec.channels, warp) * warp);
    config.threadsPerBlock = ceilDiv(config.blockChannels, warp) * warp;
    if (config.threadsPerBlock > 1024)
      return kernelError("a scan step block of " +
                       llvm::Twine(config.blockChannels) +
                       " channels needs more than 1024 threads");
    config.warps = config.threadsPerBlock / warp;
    config.items = 1;
    config.sequencesPerBlock = kStepSequences;
    config.sharedBytes =
        4 * (2 * spec.states + spec.rank) * config.sequencesPerBlock;
    if (config.sharedBytes > target.sharedMemoryBytes)
      return kernelError("a scan step with " + llvm::Twine(spec.states) +
                       " states needs more shared memory than " +
                       target.spec() + " has");
    return config;
  }

  if (spec.chunk && (spec.chunk % warp || spec.chunk / warp > kMaxItems))
    return kernelError("scan chunk must be a multiple of the warp width " +
                     llvm::Twine(warp) + " of " + target.spec() + " up to " +
                     llvm::Twine(warp * kMaxItems) + ", got " +
                     llvm::Twine(spec.chunk));
  config.blockChannels =
      spec.blockChannels ? spec.blockChannels
                         : std::min(kDefaultBlockChannels, spec.channels);
  config.chunk = spec.chunk ? spec.chunk : warp * kDefaultItems;
  // Defaults give way to a small shared memory (many states): fewer tokens
  // per chunk first, then fewer channels per block.
  auto fits = [&] {
    return sharedBytesOf(config.chunk, config.blockChannels, config.states) <=
           target.sharedMemoryBytes;
  };
  while (!fits() && !spec.chunk && config.chunk > warp)
    config.chunk = std::max(warp, config.chunk / 2 / warp * warp);
  while (!fits() && !spec.blockChannels && config.blockChannels > 1)
    config.blockChannels /= 2;
  if (!fits())
    return kernelError(
        "a scan block of " + llvm::Twine(config.blockChannels) +
        " channels, chunks of " + llvm::Twine(config.chunk) + " tokens and " +
        llvm::Twine(config.states) + " states needs " +
        llvm::Twine(sharedBytesOf(config.chunk, config.blockChannels,
                                  config.states)) +
        " bytes of shared memory; " + target.spec() + " has " +
        llvm::Twine(target.sharedMemoryBytes));
  config.items = config.chunk / warp;
  // A warp per channel at most: more would idle.
  config.warps = std::max<int64_t>(
      1, std::min(target.threadsPerBlock / warp, config.blockChannels));
  config.threadsPerBlock = config.warps * warp;
  config.sharedBytes =
      sharedBytesOf(config.chunk, config.blockChannels, config.states);
  return config;
}

int64_t mm::scanBlocks(const ScanConfig &config) {
  return ceilDiv(config.channels, config.blockChannels);
}

int64_t mm::scanBatchBlocks(const ScanConfig &config, int64_t batch) {
  return ceilDiv(batch, config.sequencesPerBlock);
}

std::pair<int64_t, int64_t> mm::scanMinimumBytes(const ScanConfig &config,
                                                 int64_t batch,
                                                 int64_t tokens) {
  int64_t e = config.channels, n = config.states;
  int64_t perElement = config.gate ? 3 : 2;
  int64_t read = 4 * (batch * tokens * (perElement * e + 2 * n) + e * n + e +
                      (config.deltaBias ? e : 0) +
                      (config.initialState ? batch * e * n : 0));
  int64_t written = 4 * (batch * tokens * e + batch * e * n);
  return {read, written};
}

namespace {

class ScanEmitter {
public:
  ScanEmitter(const ScanConfig &config, gpu::GPUFuncOp function)
      : config(config), function(function), b(function.getContext()),
        loc(function.getLoc()), kb(b, loc) {}

  void emit();

private:
  Value index(int64_t value) { return kb.index(value); }
  Value less(Value x, Value y) {
    return kb.cmpi(arith::CmpIPredicate::ult, x, y);
  }
  Value divi(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, index(y));
  }
  Value remi(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, index(y));
  }
  /// `value` of lane `lane - offset` (mode UP) or of lane `offset` (IDX).
  Value shuffle(Value value, int32_t offset, gpu::ShuffleMode mode) {
    return gpu::ShuffleOp::create(b, loc, value, offset,
                                  int32_t(config.warpWidth), mode)
        .getShuffleResult();
  }
  /// memref[indices] where `valid`, else `fallback`.
  Value loadIf(Value valid, Value memref, ValueRange indices, Value fallback) {
    return kb
        .ifElse(
            valid, {b.getF32Type()},
            [&] { return SmallVector<Value>{kb.load(memref, indices)}; },
            [&] { return SmallVector<Value>{fallback}; })
        .front();
  }

  /// The step size of (sequence, token, channel): delta, plus the bias
  /// (null: none), through softplus where the scan asks for it. `dt` is
  /// delta where the kernel computed it (its projection), else null.
  Value stepSize(Value seq, Value t, Value e, Value bias, Value dt = {}) {
    if (!dt)
      dt = kb.load(delta, {seq, t, e});
    if (bias)
      dt = kb.add(dt, bias);
    return config.deltaSoftplus ? kb.softplus(dt) : dt;
  }

  void allocateShared();
  /// The step form: a thread per channel, one token.
  void emitStep();
  /// Stages B and C of the chunk starting at t0 (zeros past the end).
  void stageChunk(Value t0);
  /// Scans channel `c` of the block over the chunk starting at t0: the
  /// state enters from carry[parity] and leaves to carry[1 - parity].
  void scanChannel(Value c, Value t0, Value parity);

  const ScanConfig &config;
  gpu::GPUFuncOp function;
  OpBuilder b;
  Location loc;
  KernelBuilder kb;
  Value u, delta, deltaWeight, aLog, bIn, cIn, skip, deltaBias, initial,
      lengths, gate, final, out;
  /// The block's sequence, the chunk's time and the sequence's length (its
  /// tokens before the padding of a right-padded batch; `time` without
  /// lengths).
  Value batch, time, length, thread, lane, warp, channel0;
  /// Shared: B and C [state][token], A log2 e [channel][state], the states
  /// [2][channel][state], D and the delta bias [channel] (read once per
  /// block: a per-channel value every lane loaded from global memory would
  /// be a load per lane, chunk and channel).
  Value sharedB, sharedC, sharedA, carry, sharedD, sharedBias;
};

void ScanEmitter::allocateShared() {
  Value bytes = dynamicSharedBytes(b, loc);
  Type f32 = b.getF32Type();
  int64_t n = config.states, g = config.blockChannels;
  auto view = [&](ArrayRef<int64_t> shape, int64_t offset) {
    return sharedView(b, loc, bytes, shape, f32, offset);
  };
  int64_t chunkBytes = 4 * n * config.chunk;
  sharedB = view({n, config.chunk}, 0);
  sharedC = view({n, config.chunk}, chunkBytes);
  sharedA = view({g, n}, 2 * chunkBytes);
  carry = view({2, g, n}, 2 * chunkBytes + 4 * g * n);
  sharedD = view({g}, 2 * chunkBytes + 12 * g * n);
  sharedBias = view({g}, 2 * chunkBytes + 12 * g * n + 4 * g);
}

void ScanEmitter::stageChunk(Value t0) {
  int64_t n = config.states, elements = config.chunk * n;
  // Thread j stages element j, j + threads, ...: token j / N, state j % N,
  // so that a warp reads whole rows of B and C (contiguous in N).
  kb.loop(thread, index(elements), config.threadsPerBlock, [&](Value j) {
    Value token = divi(j, n), state = remi(j, n);
    Value t = kb.addi(t0, token);
    Value valid = less(t, length);
    Value zero = kb.f32(0);
    kb.store(loadIf(valid, bIn, {batch, t, state}, zero), sharedB,
             {state, token});
    kb.store(loadIf(valid, cIn, {batch, t, state}, zero), sharedC,
             {state, token});
  });
}

void ScanEmitter::scanChannel(Value c, Value t0, Value parity) {
  int64_t items = config.items;
  Type f32 = b.getF32Type();
  Value e = kb.addi(channel0, c);
  Value first = kb.addi(t0, kb.muli(lane, index(items)));
  Value zero = kb.f32(0), one = kb.f32(1);

  // The lane's tokens: dt (0 past the end: an identity step), dt x, x, z
  // (all zero there, which makes the padding's outputs zero).
  SmallVector<Value> dt, dtx, x, z;
  Value bias = config.deltaBias ? kb.load(sharedBias, {c}) : Value();
  for (int64_t i = 0; i < items; ++i) {
    Value t = kb.addi(first, index(i));
    Value valid = less(t, length);
    SmallVector<Value> loaded = kb.ifElse(
        valid, {f32, f32, f32},
        [&] {
          Value d = stepSize(batch, t, e, bias);
          Value xv = kb.load(u, {batch, t, e});
          Value zv = config.gate ? kb.load(gate, {batch, t, e}) : zero;
          return SmallVector<Value>{d, xv, zv};
        },
        [&] { return SmallVector<Value>{zero, zero, zero}; });
    dt.push_back(loaded[0]);
    x.push_back(loaded[1]);
    z.push_back(loaded[2]);
    dtx.push_back(kb.mul(loaded[0], loaded[1]));
  }

  auto tokensType = VectorType::get({items}, f32);
  Value tokenOffset = kb.muli(lane, index(items));
  Value other = kb.subi(index(1), parity);
  SmallVector<Value> initialY(items, zero);
  SmallVector<Value> y = kb.loop(
      index(0), index(config.states), initialY,
      [&](Value s, ValueRange sums) -> SmallVector<Value> {
        Value a2 = kb.load(sharedA, {c, s});
        Value entering = kb.load(carry, {parity, c, s});
        Value bs = vector::LoadOp::create(b, loc, tokensType, sharedB,
                                          ValueRange{s, tokenOffset});
        Value cs = vector::LoadOp::create(b, loc, tokensType, sharedC,
                                          ValueRange{s, tokenOffset});
        // The lane's steps h -> a h + b, composed in order into P h + S.
        SmallVector<Value> a(items), bb(items);
        Value p = one, sum = zero;
        for (int64_t i = 0; i < items; ++i) {
          a[i] = math::Exp2Op::create(b, loc, kb.mul(dt[i], a2));
          bb[i] = kb.mul(dtx[i], vector::ExtractOp::create(b, loc, bs, i));
          sum = kb.add(kb.mul(a[i], sum), bb[i]);
          p = kb.mul(p, a[i]);
        }
        // Inclusive scan of the compositions over the lanes: after the
        // step with offset k, a lane holds the composition of lanes
        // l - 2k + 1 .. l (lanes below k keep theirs).
        for (int32_t offset = 1; offset < config.warpWidth; offset *= 2) {
          Value pBefore = shuffle(p, offset, gpu::ShuffleMode::UP);
          Value sBefore = shuffle(sum, offset, gpu::ShuffleMode::UP);
          Value has = kb.cmpi(arith::CmpIPredicate::uge, lane,
                              index(offset));
          sum = kb.select(has, kb.add(kb.mul(p, sBefore), sum), sum);
          p = kb.select(has, kb.mul(p, pBefore), p);
        }
        // The state entering the lane's first token: the lanes before it
        // applied to the state entering the chunk.
        Value pBefore = shuffle(p, 1, gpu::ShuffleMode::UP);
        Value sBefore = shuffle(sum, 1, gpu::ShuffleMode::UP);
        Value isFirst = kb.cmpi(arith::CmpIPredicate::eq, lane, index(0));
        Value h = kb.select(isFirst, entering,
                            kb.add(kb.mul(pBefore, entering), sBefore));
        SmallVector<Value> next;
        for (int64_t i = 0; i < items; ++i) {
          h = kb.add(kb.mul(a[i], h), bb[i]);
          next.push_back(kb.add(
              sums[i], kb.mul(h, vector::ExtractOp::create(b, loc, cs, i))));
        }
        // The state leaving the chunk is the last lane's.
        Value leaving =
            shuffle(h, int32_t(config.warpWidth - 1), gpu::ShuffleMode::IDX);
        kb.ifThen(isFirst, [&] { kb.store(leaving, carry, {other, c, s}); });
        return next;
      });

  Value d = kb.load(sharedD, {c});
  for (int64_t i = 0; i < items; ++i) {
    Value t = kb.addi(first, index(i));
    kb.ifThen(less(t, time), [&] {
      Value result = kb.add(y[i], kb.mul(d, x[i]));
      if (config.gate)
        result = kb.mul(result, kb.silu(z[i]));
      kb.store(result, out, {batch, t, e});
    });
  }
}

void ScanEmitter::emitStep() {
  int64_t n = config.states, sequences = config.sequencesPerBlock;
  Value bytes = dynamicSharedBytes(b, loc);
  sharedB = sharedView(b, loc, bytes, {sequences, n}, b.getF32Type(), 0);
  sharedC = sharedView(b, loc, bytes, {sequences, n}, b.getF32Type(),
                       4 * sequences * n);
  // With delta's projection: its inputs of each sequence, rounded to the
  // weight's type as mm.linear rounds them.
  int64_t r = config.rank;
  Value sharedX;
  Type weightElement;
  if (config.deltaProjection) {
    sharedX = sharedView(b, loc, bytes, {sequences, r}, b.getF32Type(),
                         8 * sequences * n);
    weightElement = cast<MemRefType>(deltaWeight.getType()).getElementType();
  }
  // The block's sequences: [first, first + sequences) below the batch
  // (`batch` is the block's index along y).
  Value first = kb.muli(batch, index(sequences));
  Value batchSize = kb.dim(u, 0);
  Value t = index(0);
  kb.loop(thread, index(sequences * n), config.threadsPerBlock, [&](Value j) {
    Value s = divi(j, n), state = remi(j, n);
    Value seq = kb.addi(first, s);
    Value valid = less(seq, batchSize);
    Value zero = kb.f32(0);
    kb.store(loadIf(valid, bIn, {seq, t, state}, zero), sharedB, {s, state});
    kb.store(loadIf(valid, cIn, {seq, t, state}, zero), sharedC, {s, state});
  });
  if (config.deltaProjection)
    kb.loop(thread, index(sequences * r), config.threadsPerBlock, [&](Value j) {
      Value s = divi(j, r), k = remi(j, r);
      Value seq = kb.addi(first, s);
      Value x = loadIf(less(seq, batchSize), delta, {seq, t, k}, kb.f32(0));
      kb.store(kb.roundTo(weightElement, x), sharedX, {s, k});
    });
  gpu::BarrierOp::create(b, loc);
  Value e = kb.addi(channel0, thread);
  Value inside = kb.andi(less(thread, index(config.blockChannels)),
                         less(e, index(config.channels)));
  kb.ifThen(inside, [&] {
    // A = -exp(A_log) of the channel, in registers for the block's
    // sequences where N is small; else again per sequence.
    bool registers = n <= kMaxRegisterStates;
    auto aAt = [&](Value state) {
      return kb.neg(kb.exp(kb.load(aLog, {e, state})));
    };
    SmallVector<Value> a;
    if (registers)
      for (int64_t i = 0; i < n; ++i)
        a.push_back(aAt(index(i)));
    Value bias = deltaBias ? kb.load(deltaBias, {e}) : Value();
    Value d = kb.load(skip, {e});
    // The channel's row of delta's weight, in registers where it is short.
    auto weightAt = [&](Value k) {
      return kb.widen(kb.load(deltaWeight, {e, k}));
    };
    bool weightRegisters = config.deltaProjection && r <= kMaxRegisterRank;
    SmallVector<Value> w;
    if (weightRegisters)
      for (int64_t k = 0; k < r; ++k)
        w.push_back(weightAt(index(k)));
    kb.loop(index(0), index(sequences), [&](Value s) {
      Value seq = kb.addi(first, s);
      kb.ifThen(less(seq, batchSize), [&] {
        // delta = x W_e^T, summed in order over the rank.
        Value projected;
        if (weightRegisters) {
          projected = kb.f32(0);
          for (int64_t k = 0; k < r; ++k)
            projected = kb.add(projected,
                               kb.mul(kb.load(sharedX, {s, index(k)}), w[k]));
        } else if (config.deltaProjection) {
          projected = kb.sum(index(0), index(r), kb.f32(0), [&](Value k) {
            return kb.mul(kb.load(sharedX, {s, k}), weightAt(k));
          });
        }
        Value dt = stepSize(seq, t, e, bias, projected);
        Value x = kb.load(u, {seq, t, e});
        Value dtx = kb.mul(dt, x);
        // h = exp(dt A) h + dt x B, y = h . C; the state is read before it
        // is written (the final state may be the initial state's buffer).
        auto update = [&](Value state, Value aValue) {
          Value h = initial ? kb.load(initial, {seq, e, state}) : kb.f32(0);
          h = kb.add(kb.mul(kb.exp(kb.mul(dt, aValue)), h),
                     kb.mul(dtx, kb.load(sharedB, {s, state})));
          kb.store(h, final, {seq, e, state});
          return kb.mul(h, kb.load(sharedC, {s, state}));
        };
        Value y = kb.f32(0);
        if (registers) {
          for (int64_t i = 0; i < n; ++i)
            y = kb.add(y, update(index(i), a[i]));
        } else {
          y = kb.sum(index(0), index(n), y,
                     [&](Value state) { return update(state, aAt(state)); });
        }
        Value result = kb.add(y, kb.mul(d, x));
        if (config.gate)
          result = kb.mul(result, kb.silu(kb.load(gate, {seq, t, e})));
        kb.store(result, out, {seq, t, e});
      });
    });
  });
}

void ScanEmitter::emit() {
  Block &entry = function.getBody().front();
  b.setInsertionPointToStart(&entry);
  unsigned next = 0;
  auto argument = [&] { return function.getArgument(next++); };
  u = argument();
  delta = argument();
  deltaWeight = config.deltaProjection ? argument() : Value();
  aLog = argument();
  bIn = argument();
  cIn = argument();
  skip = argument();
  deltaBias = config.deltaBias ? argument() : Value();
  initial = config.initialState ? argument() : Value();
  lengths = config.lengths ? argument() : Value();
  gate = config.gate ? argument() : Value();
  final = argument();
  out = argument();

  int64_t n = config.states, g = config.blockChannels;
  int64_t warpWidth = config.warpWidth;
  thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  lane = remi(thread, warpWidth);
  warp = divi(thread, warpWidth);
  channel0 = kb.muli(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                     index(g));
  batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  time = kb.dim(u, 1);
  if (config.step) {
    length = time;
    emitStep();
    gpu::ReturnOp::create(b, loc);
    return;
  }
  allocateShared();
  length = kb.sequenceLength(lengths, batch, time);

  // A log2(e) and the initial states of the block's channels (zeros for
  // channels past E, which no warp scans).
  kb.loop(thread, index(g * n), config.threadsPerBlock, [&](Value j) {
    Value c = divi(j, n), s = remi(j, n);
    Value e = kb.addi(channel0, c);
    Value inside = less(e, index(config.channels));
    Value zero = kb.f32(0);
    Value a2 = kb.ifElse(inside, {b.getF32Type()}, [&] {
                 Value a = kb.neg(kb.exp(kb.load(aLog, {e, s})));
                 return SmallVector<Value>{kb.mul(a, kb.f32(M_LOG2E))};
               }, [&] { return SmallVector<Value>{zero}; }).front();
    kb.store(a2, sharedA, {c, s});
    Value h0 = initial ? loadIf(inside, initial, {batch, e, s}, zero) : zero;
    kb.store(h0, carry, {index(0), c, s});
  });
  kb.loop(thread, index(g), config.threadsPerBlock, [&](Value c) {
    Value e = kb.addi(channel0, c);
    Value inside = less(e, index(config.channels));
    Value zero = kb.f32(0);
    kb.store(loadIf(inside, skip, {e}, zero), sharedD, {c});
    if (deltaBias)
      kb.store(loadIf(inside, deltaBias, {e}, zero), sharedBias, {c});
  });

  // Chunks up to the sequence's length (a right-padded batch's padding past
  // it is not scanned; its outputs are zero, as those of the identity steps
  // in the last chunk are).
  Value chunks =
      arith::CeilDivUIOp::create(b, loc, length, index(config.chunk));
  if (lengths) {
    Value scanned = kb.mini(kb.muli(chunks, index(config.chunk)), time);
    Value rest = kb.muli(kb.subi(time, scanned), index(g));
    kb.loop(thread, rest, config.threadsPerBlock, [&](Value j) {
      Value t = kb.addi(scanned, divi(j, g));
      Value e = kb.addi(channel0, remi(j, g));
      kb.ifThen(less(e, index(config.channels)), [&] {
        kb.store(kb.f32(0), out, {batch, t, e});
      });
    });
  }
  kb.loop(index(0), chunks, [&](Value k) {
    Value t0 = kb.muli(k, index(config.chunk));
    Value parity = remi(k, 2);
    // The previous chunk's readers of B and C (and writers of the states)
    // are done before they are overwritten.
    gpu::BarrierOp::create(b, loc);
    stageChunk(t0);
    gpu::BarrierOp::create(b, loc);
    kb.loop(warp, index(g), config.warps, [&](Value c) {
      // Whole warps skip channels past E: the shuffles stay warp-uniform.
      kb.ifThen(less(kb.addi(channel0, c), index(config.channels)),
                [&] { scanChannel(c, t0, parity); });
    });
  });
  gpu::BarrierOp::create(b, loc);

  // The final states: those the last chunk left (the initial ones when
  // there were no tokens).
  Value last = remi(chunks, 2);
  kb.loop(thread, index(g * n), config.threadsPerBlock, [&](Value j) {
    Value c = divi(j, n), s = remi(j, n);
    Value e = kb.addi(channel0, c);
    kb.ifThen(less(e, index(config.channels)), [&] {
      kb.store(kb.load(carry, {last, c, s}), final, {batch, e, s});
    });
  });
  gpu::ReturnOp::create(b, loc);
}

} // namespace

llvm::Expected<gpu::GPUFuncOp>
mm::buildScanKernel(gpu::GPUModuleOp module, const ScanKernelSpec &spec,
                    TypeRange arguments, const TargetInfo &target) {
  llvm::Expected<ScanConfig> config = resolveScanConfig(spec, target);
  if (!config)
    return config.takeError();
  size_t expected = 8 + spec.deltaProjection + spec.deltaBias +
                    spec.initialState + spec.lengths + spec.gate;
  if (arguments.size() != expected)
    return kernelError("a scan kernel with these operands takes " +
                     llvm::Twine(expected) + " buffers, got " +
                     llvm::Twine(arguments.size()));
  const size_t lengthsArgument =
      spec.lengths
          ? 6 + spec.deltaProjection + spec.deltaBias + spec.initialState
          : expected;
  for (auto [index, type] : llvm::enumerate(arguments)) {
    auto memref = dyn_cast<MemRefType>(type);
    // Delta's weight (argument 2 with its projection) may be reduced.
    bool weight = spec.deltaProjection && index == 2;
    Type element = memref ? memref.getElementType() : Type();
    bool fits =
        index == lengthsArgument
            ? memref && element.isInteger(32)
            : memref && (element.isF32() ||
                         (weight && (element.isBF16() || element.isF16())));
    if (!fits)
      return kernelError("scan kernel buffers must be f32 memrefs (delta's "
                         "weight also bf16 or f16, the lengths i32)");
  }
  MLIRContext *context = module.getContext();
  context->loadDialect<arith::ArithDialect, math::MathDialect,
                       memref::MemRefDialect, scf::SCFDialect,
                       vector::VectorDialect>();
  llvm::Expected<gpu::GPUFuncOp> function = createDeviceKernel(
      module, spec.name, arguments, config->threadsPerBlock);
  if (function)
    ScanEmitter(*config, *function).emit();
  return function;
}
