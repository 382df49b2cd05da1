// The default GPU schedule of the embedding gather: a thread per 4
// neighbouring elements of a token's row (mm-offload-to-gpu launches the
// scf.forall, its last dimension the fastest, so that a warp copies whole
// lines of the table row).
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %gather = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "gather"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %tiles, %forall = transform.structured.tile_using_forall %gather
        tile_sizes [1, 1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
