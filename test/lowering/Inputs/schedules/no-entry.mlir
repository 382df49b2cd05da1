module attributes {transform.with_named_sequence} {
  transform.named_sequence @other(%kernel: !transform.any_op {transform.readonly}) {
    transform.yield
  }
}
