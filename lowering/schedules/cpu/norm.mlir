// The default CPU schedule of RMSNorm: blocks of 32 rows on the threads for
// the f64 sums of squares and for the scaling, each row in
// vectors of 16 (one AVX-512 register of f32), the last one masked.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %sum = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_sum"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %scale = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_scale"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %function = transform.get_parent_op %sum {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    %sum_blocks, %f0 = transform.structured.tile_using_forall %sum
        tile_sizes [1, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %sum_rows, %l0:3 = transform.structured.tile_using_for %sum_blocks
        tile_sizes [1, 1, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.structured.vectorize %sum_rows vector_sizes [1, 1, 16] : !transform.any_op
    %scale_blocks, %f1 = transform.structured.tile_using_forall %scale
        tile_sizes [1, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %scale_rows, %l1:3 = transform.structured.tile_using_for %scale_blocks
        tile_sizes [1, 1, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.structured.vectorize %scale_rows vector_sizes [1, 1, 16] : !transform.any_op
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
