// Reads a size without a default: a kernel that lacks it cannot be
// scheduled.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed},
      %tokens: !transform.param<i64> {transform.readonly, mm.size = "tokens"}) {
    transform.yield
  }
}
