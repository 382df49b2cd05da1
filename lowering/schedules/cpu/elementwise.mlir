// The default CPU schedule of elementwise kernels (gate, residual) over
// [B, T, D]: blocks of 32 rows run on the threads, each row in
// vectors of 16 (one AVX-512 register of f32), the last one masked.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %ops = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "elementwise"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %function = transform.get_parent_op %ops {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %ops
        tile_sizes [1, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %rows, %loops:3 = transform.structured.tile_using_for %blocks
        tile_sizes [1, 1, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.structured.vectorize %rows vector_sizes [1, 1, 16] : !transform.any_op
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
