// The default CPU schedule of the embedding gather: blocks of 32 tokens run
// on the threads. The table row of a token is a load in the body, which the
// vectoriser does not take on buffers; LLVM vectorises the row copy.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %gather = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "gather"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %gather
        tile_sizes [1, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
