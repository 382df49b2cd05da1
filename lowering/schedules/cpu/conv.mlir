// The default CPU schedule of the causal conv (lowering/LinalgEmitters.cpp):
// two parts, each a bias (or zero) initialisation, a
// linalg.depthwise_conv_1d_nwc_wc and the activation; the head (the first
// min(T, K-1) outputs) reads a small concatenation of the window and the
// chunk, the rest the chunk in place.
//
// - Threads: blocks of (sequence, 16 channels) (scf.forall); a block runs
//   through time, the initialisation and the conv fused into the
//   activation's tiles, so that the sums stay in registers from the bias
//   to the store.
// - Tiles of 8 time steps x 16 channels: upstream's conv vectoriser reads
//   the 8 + K-1 inputs once and takes the taps as K vector FMAs, in the
//   order the loop emitter adds them. It takes static tiles only: the time
//   and channel loops are peeled, their remainders tiled by 1 step or 1
//   channel (still vectorised: [1, 16] or [8, 1] tiles).
// - Bufferised in place into the kernel's buffers; the concatenations
//   (K-1 + min(T, K-1) rows) become copies as linalg.copy, which
//   ConvertLinalgToLoops lowers (memref.copy of views would call MLIR's
//   runtime, which artifacts do not link), as do the small transposes of
//   the window and the filter.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @tile_part(%act: !transform.any_op {transform.consumed}) {
    %conv = transform.get_producer_of_operand %act[0]
        : (!transform.any_op) -> !transform.any_op
    %init = transform.get_producer_of_operand %conv[2]
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %act
        tile_sizes [1, 0, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %conv_blocks, %with_conv = transform.structured.fuse_into_containing_op %conv into %forall
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %init_blocks, %block_loop = transform.structured.fuse_into_containing_op %init into %with_conv
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %tiles, %time_loop, %channel_loop = transform.structured.fuse %blocks
        tile_sizes [0, 8, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)
    // A channel count that 16 does not divide: the last block's channels
    // one at a time. Peeling fails on a loop that divides; that failure is
    // suppressed and the loop stays as it is.
    %channel_for = transform.cast %channel_loop : !transform.any_op to !transform.op<"scf.for">
    transform.sequence %channel_for : !transform.op<"scf.for"> failures(suppress) {
    ^bb0(%loop: !transform.op<"scf.for">):
      %whole, %rest = transform.loop.peel %loop
          : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
      transform.foreach %rest : !transform.any_op {
      ^bb0(%rest_loop: !transform.any_op):
        %rest_tiles = transform.structured.match attributes {"mm.linalg" = "conv_act"} in %rest_loop
            : (!transform.any_op) -> !transform.any_op
        %one_channel, %one_channel_loop = transform.structured.fuse %rest_tiles
            tile_sizes [0, 0, 1] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
      }
    }
    // The last time steps (T - the head is dynamic) one at a time.
    %time_for = transform.cast %time_loop : !transform.any_op to !transform.op<"scf.for">
    transform.sequence %time_for : !transform.op<"scf.for"> failures(suppress) {
    ^bb0(%loop: !transform.op<"scf.for">):
      %whole, %rest = transform.loop.peel %loop
          : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
      transform.foreach %rest : !transform.any_op {
      ^bb0(%rest_loop: !transform.any_op):
        %rest_tiles = transform.structured.match attributes {"mm.linalg" = "conv_act"} in %rest_loop
            : (!transform.any_op) -> !transform.any_op
        %one_step, %one_step_loop = transform.structured.fuse %rest_tiles
            tile_sizes [0, 1, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
      }
    }
    // Folds the peeled loops' bounds: the tiles become static.
    transform.apply_patterns to %block_loop {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %steps = transform.structured.match
        ops{["linalg.generic", "linalg.fill", "linalg.depthwise_conv_1d_nwc_wc"]}
        in %block_loop : (!transform.any_op) -> !transform.any_op
    transform.structured.vectorize %steps : !transform.any_op
    transform.yield
  }

  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed}) {
    %acts = transform.structured.match attributes {"mm.linalg" = "conv_act"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %acts : !transform.any_op {
    ^bb0(%act: !transform.any_op):
      transform.include @tile_part failures(propagate) (%act)
          : (!transform.any_op) -> ()
    }
    transform.apply_patterns to %kernel {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %buffers = transform.bufferization.one_shot_bufferize %kernel
        {memcpy_op = "linalg.copy"} : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    // 1-D vectors: [8, 16] tiles as eight rows of 16, unrolled without a
    // stack buffer.
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.transfer_to_scf max_transfer_rank = 1 full_unroll = true
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.rank_reducing_subview_patterns
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    transform.yield
  }
}
