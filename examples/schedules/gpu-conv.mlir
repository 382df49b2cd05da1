// A GPU schedule of the causal conv, for `--schedule=conv:FILE` on a GPU
// target (docs/schedules.md). Not the default: GPU targets keep the conv on
// the loop emitter, whose one launch per call (two in prefill) suits the
// decode step, where this schedule's parts are nine small launches; issue
// 13 fuses the conv into the scan kernel. In prefill it reads 3.9x fewer
// bytes than the loop emitter (simulator counters, memmamba-tiny, 256
// tokens) with a thread per (sequence, channel) tiled over time.
//
// The conv (lowering/LinalgEmitters.cpp) is emitted in two parts, each a
// bias (or zero) initialisation, a linalg.depthwise_conv_1d_nwc_wc and the
// activation; the head, the first min(T, K-1) outputs, reads a small
// concatenation of the window and the chunk, the rest the chunk in place.
// mm-offload-to-gpu launches each
// scf.forall with a thread per iteration, the last dimension fastest:
//
// - a thread per (sequence, channel), as the loop emitter, so that a warp
//   reads 32 neighbouring channels of a row; the thread runs through time
//   in tiles of 8 steps that upstream's conv vectoriser turns into K FMAs
//   over one read of 8 + K-1 inputs, the bias and SiLU fused in the tile
//   (the sums in registers from the bias to the store); the last steps
//   (T - the head is dynamic) one at a time, peeled;
// - the small transposes (filter, window) and, after one-shot
//   bufferisation, the concatenations' copies a thread per 4 elements of a
//   row.
//
// The conv reads a row of the state window once, into its transposed copy,
// before anything is written: window and new window may be the same
// buffer.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @tile_part(%act: !transform.any_op {transform.consumed}) {
    %conv = transform.get_producer_of_operand %act[0]
        : (!transform.any_op) -> !transform.any_op
    %init = transform.get_producer_of_operand %conv[2]
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %act
        tile_sizes [1, 0, 1] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %conv_blocks, %with_conv = transform.structured.fuse_into_containing_op %conv into %forall
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %init_blocks, %block_loop = transform.structured.fuse_into_containing_op %init into %with_conv
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %tiles, %time_loop = transform.structured.fuse %blocks
        tile_sizes [0, 8, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
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
    // The transposes and (after bufferisation) the copies in parallel: left
    // alone, each would become a one-thread launch.
    %filter = transform.structured.match attributes {"mm.linalg" = "conv_filter"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %filter_tiles, %filter_forall = transform.structured.tile_using_forall %filter
        tile_sizes [1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %windows = transform.structured.match attributes {"mm.linalg" = "conv_window"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %windows : !transform.any_op {
    ^bb0(%window: !transform.any_op):
      %window_tiles, %window_forall = transform.structured.tile_using_forall %window
          tile_sizes [1, 1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    }
    %buffers = transform.bufferization.one_shot_bufferize %kernel
        {memcpy_op = "linalg.copy"} : (!transform.any_op) -> !transform.any_op
    %copies = transform.structured.match ops{["linalg.copy"]} in %buffers
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %copies : !transform.any_op {
    ^bb0(%copy: !transform.any_op):
      %copy_tiles, %copy_forall = transform.structured.tile_using_forall %copy
          tile_sizes [1, 1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    }
    transform.apply_patterns to %buffers {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    // [8, 1] tiles as eight single-element rows (a channel's steps are a
    // row apart), unrolled without a stack buffer.
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
