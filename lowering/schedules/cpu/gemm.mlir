// The default CPU schedule of linear and lm_head: out[b, t, n] =
// sum_k x[b, t, k] w[n, k] (+ bias), emitted on tensors
// (lowering/LinalgEmitters.h). w is [N, K] with K contiguous, as x, so a
// vector along K is a dot product: the schedule keeps one 16-wide partial
// sum per output of a 4 tokens x 4 channels register tile across all of K
// (tile_reduction_using_for: 16 accumulators, 8 loads per 16 FMAs) and sums
// them horizontally once per tile, where a vector.contract per K step would
// sum horizontally at every step (bench/linalg/README.md).
//
// - Threads: blocks of 64 output channels (scf.forall), the bias (or zero)
//   initialisation of the block fused in, vectorised by rows of 64.
// - Register tiles of [1, 4, 4] (b, t, n). The token count is dynamic and N
//   need not divide by 4: the token and channel loops are peeled, and their
//   remainders tiled by 1 token ([1, 1, 4]: the decode case) or 1 channel.
//   Peeling fails on a loop that already divides (a static block of 64
//   channels); that failure is suppressed, the loop stays as it is.
// - The reduction is tiled by 16 with partial sums: a loop over K of
//   elementwise products into a [1, 4, 4, 16] accumulator, then one
//   reduction into the output tile. A K that is not a multiple of 16 has
//   its last step peeled (static and narrower).
// - Vectorised on tensors, the accumulator hoisted out of the K loop into
//   registers, then bufferised in place into the kernel's buffers
//   (one_shot_bufferize) and lowered to 1-D vectors: the final sums as a
//   transpose and vector adds (innerparallel, no ordered horizontal sums).
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed}) {
    %matmuls = transform.structured.match attributes {"mm.linalg" = "matmul"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %matmuls : !transform.any_op {
    ^bb0(%matmul: !transform.any_op):
      // The "bias" operation that initialises the output.
      %init = transform.get_producer_of_operand %matmul[2]
          : (!transform.any_op) -> !transform.any_op
      %blocks, %forall = transform.structured.tile_using_forall %matmul
          tile_sizes [0, 0, 64, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
      %init_blocks, %block_loop = transform.structured.fuse_into_containing_op %init into %forall
          : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
      %function = transform.get_parent_op %block_loop {op_name = "func.func"}
          : (!transform.any_op) -> !transform.any_op
      %init_rows, %init_loops:2 = transform.structured.tile_using_for %init_blocks
          tile_sizes [1, 1, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)
      transform.structured.vectorize %init_rows vector_sizes [1, 1, 64] : !transform.any_op

      %tiles, %batch_loop, %token_loop, %channel_loop = transform.structured.tile_using_for %blocks
          tile_sizes [1, 4, 4, 0]
          : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
      %channel_for = transform.cast %channel_loop : !transform.any_op to !transform.op<"scf.for">
      transform.sequence %channel_for : !transform.op<"scf.for"> failures(suppress) {
      ^bb0(%loop: !transform.op<"scf.for">):
        %whole, %rest = transform.loop.peel %loop
            : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
        transform.foreach %rest : !transform.any_op {
        ^bb0(%rest_loop: !transform.any_op):
          %rest_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %rest_loop
              : (!transform.any_op) -> !transform.any_op
          %one_channel, %one_channel_loop = transform.structured.tile_using_for %rest_tiles
              tile_sizes [0, 0, 1, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
        }
      }
      %token_for = transform.cast %token_loop : !transform.any_op to !transform.op<"scf.for">
      transform.sequence %token_for : !transform.op<"scf.for"> failures(suppress) {
      ^bb0(%loop: !transform.op<"scf.for">):
        %whole, %rest = transform.loop.peel %loop
            : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
        transform.foreach %rest : !transform.any_op {
        ^bb0(%rest_loop: !transform.any_op):
          %rest_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %rest_loop
              : (!transform.any_op) -> !transform.any_op
          %one_token, %one_token_loop = transform.structured.tile_using_for %rest_tiles
              tile_sizes [0, 1, 0, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
        }
      }
      // Folds the peeled loops' bounds: the tiles become static. Inside the
      // block loop only: a single block (N <= 64) would fold it away, and
      // with it this handle.
      transform.apply_patterns to %block_loop {
        transform.apply_patterns.canonicalization
      } : !transform.any_op

      %static_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %block_loop
          : (!transform.any_op) -> !transform.any_op
      %zero, %partial, %final_sum, %k_loops = transform.structured.tile_reduction_using_for %static_tiles
          by tile_sizes = [0, 0, 0, 16]
          : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
      transform.annotate %k_loops "gemm_k_loop" : !transform.any_op
      // A K that is not a multiple of 16: its last step peeled, static too.
      transform.foreach %k_loops : !transform.any_op {
      ^bb0(%k_loop: !transform.any_op):
        %k_for = transform.cast %k_loop : !transform.any_op to !transform.op<"scf.for">
        transform.sequence %k_for : !transform.op<"scf.for"> failures(suppress) {
        ^bb0(%loop: !transform.op<"scf.for">):
          %whole, %rest = transform.loop.peel %loop
              : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
        }
      }
      transform.apply_patterns to %block_loop {
        transform.apply_patterns.canonicalization
      } : !transform.any_op

      // Peeling moved them: found again, with the zeros and final sums that
      // tile_reduction_using_for added (the products lose the role).
      %steps = transform.structured.match
          ops{["linalg.generic", "linalg.fill", "linalg.reduce"]} in %block_loop
          : (!transform.any_op) -> !transform.any_op
      transform.structured.vectorize %steps : !transform.any_op
      // Hoists the constants out of the K loops (the indices of the
      // accumulator's reads and writes must be invariant). On the function:
      // the block loop may fold away now.
      transform.apply_patterns to %function {
        transform.apply_patterns.canonicalization
      } : !transform.any_op
      // The accumulators leave the K loops (with their peeled steps) for
      // registers: loop-carried vectors.
      %k_steps = transform.structured.match ops{["scf.for"]}
          attributes {"gemm_k_loop"} in %function
          : (!transform.any_op) -> !transform.any_op
      transform.loop.hoist_loop_invariant_subsets %k_steps : !transform.any_op
    }

    transform.apply_patterns to %kernel {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %buffers = transform.bufferization.one_shot_bufferize %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.lower_masked_transfers
      transform.apply_patterns.vector.lower_masks
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerparallel"
      transform.apply_patterns.vector.transfer_to_scf max_transfer_rank = 1 full_unroll = true
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.rank_reducing_subview_patterns
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    // Without canonicalization: it would fold the unrolled vectors back
    // into n-D vector.from_elements (and the two would alternate forever).
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.lower_transpose lowering_strategy = "shuffle_16x16"
    } : !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.unroll_from_elements
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    transform.yield
  }
}
