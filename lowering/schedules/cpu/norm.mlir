// The default CPU schedule of RMSNorm: blocks of 32 rows on the threads for
// the f64 sums of squares and for the scaling, each row in
// vectors of 16 (one AVX-512 register of f32), the last one masked. The
// elementwise operations a norm kernel starts with (the residual, and the
// memory path's gated mix into it) are tiled and vectorised alike, before
// the sums that read their result.
module attributes {transform.with_named_sequence} {
  // Blocks of 32 rows on the threads, rows in vectors of 16.
  transform.named_sequence @rows_of_16(%op: !transform.any_op {transform.consumed}) {
    %blocks, %forall = transform.structured.tile_using_forall %op
        tile_sizes [1, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %rows, %loops:3 = transform.structured.tile_using_for %blocks
        tile_sizes [1, 1, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.structured.vectorize %rows vector_sizes [1, 1, 16] : !transform.any_op
    transform.yield
  }

  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %elementwise = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "elementwise"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.foreach %elementwise : !transform.any_op {
    ^bb0(%op: !transform.any_op):
      transform.include @rows_of_16 failures(propagate) (%op)
          : (!transform.any_op) -> ()
    }
    %sum = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_sum"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %scale = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_scale"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %function = transform.get_parent_op %sum {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    transform.include @rows_of_16 failures(propagate) (%sum)
        : (!transform.any_op) -> ()
    transform.include @rows_of_16 failures(propagate) (%scale)
        : (!transform.any_op) -> ()
    // 1-D transfers: lowering [1, 1, 16] ones would stage them through a
    // stack buffer in the loop.
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerreduction"
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.yield
  }
}
