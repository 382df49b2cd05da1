module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    transform.no_such_op %kernel
  }
}
