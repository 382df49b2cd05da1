//===- MemoryKernels.h - the memory path as GPU kernels ---------*- C++ -*-===//
//
// The MemMamba memory block (read trigger, Note Block, cross-token attention,
// pool update) and the cross-layer attention on GPU targets in their
// parallel form (spec section 2; ARCHITECTURE.md section 5). The pool each
// token reads is a function of the scores before it, so:
//
//   - the scores (I_token, I_state) of every token are computed in bulk, a
//     thread per token, in f64 exactly as the reference computes them (the
//     notes' decisions follow from them bit for bit);
//   - the summaries, queries and attention outputs are bulk GEMMs
//     (GemmKernels.h) launched by the lowering;
//   - pool membership is resolved by one sequential pass per (sequence,
//     pool): a warp walks the tokens in order, each lane owning the slots
//     lane, lane + warp, ...; a noted token finds its slot by a butterfly of
//     shuffles over the lanes (lowest priority, ties the most recent, or
//     the oldest for FIFO). Each change of the pool appends a row (the
//     source of every slot: a token of the chunk or a slot of the pool
//     before it) to a table, and each token records the row it reads;
//   - the attentions run with tokens in parallel, a warp per token, over the
//     rows they recorded. Keys and values are never materialised: a score
//     is (W_k^T q_h) . s and a head's output W_v (sum_j a_j s_j), so the
//     kernel reads each summary where it lies (the chunk's summaries or the
//     pool's slots);
//   - a last kernel writes the summaries of the pool after the chunk, once
//     the attention has read the pool before it (the slots may be updated
//     in place).
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_MEMORYKERNELS_H
#define MM_LOWERING_MEMORYKERNELS_H

#include "dialect/MMDialect.h"
#include "lowering/TargetInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mm {

/// The scores of every token: I_token = sigmoid(w . u + b) and, with
/// `trigger`, I_state = sigmoid(w' . m[t-1] + b') (m[-1] = the previous
/// chunk's last mixer output), each dot product summed in f64 in order.
struct NoteScoresKernelSpec {
  std::string name = "note_scores";
  int64_t width = 0; ///< D
  bool trigger = false;
};

/// Arguments: u [B, T, D], w [1, D], b [1], the scores [B, T]; with the
/// trigger also m [B, T, D], previous [B, D], w' [1, D], b' [1] and the
/// triggers [B, T]. Grid (ceil(T / threads), B); returns the threads.
llvm::Expected<mlir::gpu::GPUFuncOp>
buildNoteScoresKernel(mlir::gpu::GPUModuleOp module,
                      const NoteScoresKernelSpec &spec,
                      mlir::TypeRange arguments, const TargetInfo &target);
int64_t noteScoresThreads(const TargetInfo &target);

/// The sequential pass over one pool's notes.
struct PoolMembershipKernelSpec {
  std::string name = "pool_membership";
  int64_t poolSize = 0; ///< M
  double noteThreshold = 0.5;
  EvictionPolicy eviction = EvictionPolicy::priority;
  /// Each token records the pool after it (the cross-layer attention reads
  /// the sources as they stand after their layers processed the token), or
  /// before it (the cross-token attention).
  bool after = false;
  /// Takes the chunk's first position [B] and writes the pool's priorities,
  /// positions and count after the chunk (mm.pool_update); otherwise
  /// positions after the pool's last stand for the chunk's.
  bool update = false;
  /// With `update`: takes each sequence's length [B] (a batch right-padded
  /// to its longest sequence), past which no token enters the pool.
  bool lengths = false;
};

/// Arguments: scores [B, T], priorities [B, M], positions [B, M] (i32),
/// count [B] (i32), the first position [B] (i32, with `update`), the
/// lengths [B] (i32, with `lengths`), then the
/// outputs: rows [B, T + 1, M] (i32: the source of each slot, t >= 0 the
/// chunk's token t, -1 - k the pool's slot k), the valid slots of each row
/// [B, T + 1] (i32), the row of each token [B, T] (i32), the last row [B]
/// (i32) and, with `update`, the priorities, positions and count after the
/// chunk (which may be the inputs' buffers). Grid (B): a warp per sequence.
llvm::Expected<mlir::gpu::GPUFuncOp>
buildPoolMembershipKernel(mlir::gpu::GPUModuleOp module,
                          const PoolMembershipKernelSpec &spec,
                          mlir::TypeRange arguments, const TargetInfo &target);
/// Dynamic shared bytes of the membership kernel (its lanes' slots).
int64_t poolMembershipSharedBytes(const PoolMembershipKernelSpec &spec);

/// The attention over the rows the tokens recorded, of one pool
/// (cross-token, with the read trigger) or several (cross-layer).
struct PoolAttentionKernelSpec {
  std::string name = "pool_attention";
  int64_t summary = 0, poolSize = 0, heads = 1, sources = 1; ///< S, M
  /// Reads only where trigger > readThreshold (zeros elsewhere).
  bool trigger = false;
  double readThreshold = 0.3;
};

/// Arguments: q = W_q u [B, T, S], the triggers [B, T] (with `trigger`);
/// per source the row of each token [B, T], the rows [B, T + 1, M], their
/// valid slots [B, T + 1], the chunk's summaries [B, T, S] and the pool's
/// slots [B, M, S]; then W_k [S, S], W_v [S, S] and the output, the heads'
/// outputs before W_o, [B, T, S]. Grid (T, B): a warp per token.
llvm::Expected<mlir::gpu::GPUFuncOp>
buildPoolAttentionKernel(mlir::gpu::GPUModuleOp module,
                         const PoolAttentionKernelSpec &spec,
                         mlir::TypeRange arguments, const TargetInfo &target);
int64_t poolAttentionSharedBytes(const PoolAttentionKernelSpec &spec);

/// The summaries of the pool after the chunk, from its last row.
struct PoolSlotsKernelSpec {
  std::string name = "pool_slots";
  int64_t summary = 0, poolSize = 0;
};

/// Arguments: rows [B, T + 1, M], the last row [B], the chunk's summaries
/// [B, T, S], the slots before [B, M, S] and after (may be the same
/// buffer). Grid (B); returns the threads.
llvm::Expected<mlir::gpu::GPUFuncOp>
buildPoolSlotsKernel(mlir::gpu::GPUModuleOp module,
                     const PoolSlotsKernelSpec &spec, mlir::TypeRange arguments,
                     const TargetInfo &target);
int64_t poolSlotsThreads(const PoolSlotsKernelSpec &spec,
                         const TargetInfo &target);

/// The memory block of one token per sequence, a decode step (T = 1), as
/// one kernel, a block per sequence: the scores (one thread each, in f64 as
/// the reference), the summary and the query (a warp per row of W_N and
/// W_q), the slot the note takes (one thread walks the M slots), the
/// attention over the pool before the token (threads per slot and per
/// dimension), its output projection (a warp per row of W_o) and the pool
/// after the token; instead of the parallel form's seven launches, which
/// at T = 1 are all launch latency.
struct MemoryStepKernelSpec {
  std::string name = "memory_step";
  int64_t width = 0, summary = 0, poolSize = 0, heads = 1; ///< D, S, M
  double noteThreshold = 0.5, readThreshold = 0.3;
  EvictionPolicy eviction = EvictionPolicy::priority;
};

/// Arguments: u [B, 1, D], the note score's w [1, D] and b [1], the mixer
/// output before the token [B, D], the read trigger's w [1, D] and b [1],
/// W_N [S, D], W_q [S, D], W_k [S, S], W_v [S, S], W_o [D, S], the pool's
/// slots [B, M, S], priorities [B, M], positions [B, M] (i32) and count [B]
/// (i32), the token's position [B] (i32); then the outputs: the score
/// [B, 1], the read trigger [B, 1], the summary [B, 1, S], the attention's
/// output [B, 1, D] and the pool after the token (slots, priorities,
/// positions, count; they may be the inputs' buffers). Grid (B).
llvm::Expected<mlir::gpu::GPUFuncOp>
buildMemoryStepKernel(mlir::gpu::GPUModuleOp module,
                      const MemoryStepKernelSpec &spec,
                      mlir::TypeRange arguments, const TargetInfo &target);
/// Its block: wholeWarpThreads(target) threads (DeviceKernels.h).
int64_t memoryStepSharedBytes(const MemoryStepKernelSpec &spec);

/// The cross-layer attention of one token per sequence, a decode step, as
/// one kernel, a block per sequence: the query (a warp per row of W_q),
/// each source pool as it stands after the token (a thread per source
/// redoes the slot choice of its layer's note from the score, as the
/// membership pass would), the attention over them and its output
/// projection; instead of the parallel form's 3 + sources launches.
struct CrossLayerStepKernelSpec {
  std::string name = "cross_layer_step";
  int64_t width = 0, summary = 0, poolSize = 0, heads = 1, sources = 1;
  double noteThreshold = 0.5;
  EvictionPolicy eviction = EvictionPolicy::priority;
};

/// Arguments: u [B, 1, D], W_q [S, D], W_k [S, S], W_v [S, S], W_o [D, S];
/// per source its token's score [B, 1] and summary [B, 1, S] and its pool
/// before the token: slots [B, M, S], priorities [B, M], positions [B, M]
/// (i32), count [B] (i32); then the output [B, 1, D]. Grid (B).
llvm::Expected<mlir::gpu::GPUFuncOp>
buildCrossLayerStepKernel(mlir::gpu::GPUModuleOp module,
                          const CrossLayerStepKernelSpec &spec,
                          mlir::TypeRange arguments, const TargetInfo &target);
int64_t crossLayerStepSharedBytes(const CrossLayerStepKernelSpec &spec);

} // namespace mm

#endif // MM_LOWERING_MEMORYKERNELS_H
