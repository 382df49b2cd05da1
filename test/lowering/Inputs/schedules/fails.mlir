// Vectorises an operation the vectoriser refuses (the embedding's gather,
// whose body loads from a buffer).
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %gather = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "gather"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.structured.vectorize %gather : !transform.any_op
    transform.yield
  }
}
