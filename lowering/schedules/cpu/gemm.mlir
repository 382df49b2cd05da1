// The default CPU schedule of linear and lm_head: out[b, t, n] =
// sum_k x[b, t, k] w[n, k]. The bias (or zero) initialisation in blocks of
// 32 rows and blocks of 64 output channels of the contraction run on the
// threads (as emitLinearRows' parallel loop). Within a block, each token
// meets 16 channels over steps of 16 inputs: one vector.contract, lowered to
// 16-wide products and horizontal sums (w is [N, K], K contiguous in both
// operands). Correct, but far slower than emitLinearRows
// (bench/linalg/README.md): the sums are horizontal at every step, where the hand
// tiling keeps vector partial sums over all of K.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %init = transform.structured.match attributes {"mm.linalg" = "bias"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %init_blocks, %f0 = transform.structured.tile_using_forall %init
        tile_sizes [1, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %matmul = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "matmul"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %matmul
        tile_sizes [0, 0, 64, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %tile, %loops:4 = transform.structured.tile_using_for %blocks
        tile_sizes [1, 1, 16, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    %function = transform.get_parent_op %tile {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    transform.structured.vectorize %tile vector_sizes [1, 1, 16, 16] : !transform.any_op
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.lower_masked_transfers
      transform.apply_patterns.vector.reduction_to_contract
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %hoisted = transform.structured.hoist_redundant_vector_transfers %function
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %hoisted {
      transform.apply_patterns.vector.lower_contraction lowering_strategy = "outerproduct"
      transform.apply_patterns.vector.lower_masks
      transform.apply_patterns.vector.rank_reducing_subview_patterns
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %hoisted {
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerparallel"
      transform.apply_patterns.vector.lower_transpose lowering_strategy = "shuffle_16x16"
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.vector.lower_broadcast
      transform.apply_patterns.vector.lower_outerproduct
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.yield
  }
}
