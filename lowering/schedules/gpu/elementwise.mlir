// The default GPU schedule of elementwise kernels (gate, residual) over
// [B, T, D]: a thread per 4 neighbouring elements of a row
// (mm-offload-to-gpu launches the scf.forall, its last dimension the
// fastest, so that a warp's accesses stay within a few lines). Where 4
// divides D the tiles are vectors of 4; otherwise they stay scalar loops
// that LLVM unrolls (a vector tile would need masks at a row's end). LLVM
// splits a vector access whose 16-byte alignment the strided views cannot
// promise into scalar ones on the GPU.
module attributes {transform.with_named_sequence} {
  // Tiles of static shape (a width 4 divides) as vectors of 4, the row's
  // sum (a norm's scaling) read once per tile; partial tiles (where
  // vectorising fails, suppressed) stay scalar loops: no masks.
  transform.named_sequence @vectors_where_static(%tiles: !transform.any_op {transform.consumed},
                                                 %function: !transform.any_op {transform.readonly}) {
    transform.foreach %tiles : !transform.any_op {
    ^bb0(%tile: !transform.any_op):
      transform.sequence %tile : !transform.any_op failures(suppress) {
      ^bb1(%static_tile: !transform.any_op):
        transform.structured.vectorize %static_tile : !transform.any_op
      }
    }
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.yield
  }

  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %ops = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "elementwise"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %function = transform.get_parent_op %ops {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    %tiles, %forall = transform.structured.tile_using_forall %ops
        tile_sizes [1, 1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.include @vectors_where_static failures(propagate) (%tiles, %function)
        : (!transform.any_op, !transform.any_op) -> ()
    transform.yield
  }
}
