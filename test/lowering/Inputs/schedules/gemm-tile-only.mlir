// A user schedule for gemm kernels: only tiles the contraction (8 x 32),
// leaving its body scalar, then bufferises (the linalg emitters give a
// gemm schedule tensors; it leaves buffers).
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed}) {
    %matmul = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "matmul"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %tile, %loops:2 = transform.structured.tile_using_for %matmul
        tile_sizes [0, 8, 32, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)
    %buffers = transform.bufferization.one_shot_bufferize %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
}
