// A second argument that names no size of the kernel.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed},
      %tokens: !transform.param<i64> {transform.readonly}) {
    transform.yield
  }
}
