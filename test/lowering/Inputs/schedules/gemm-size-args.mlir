// A user gemm schedule that reads the kernel's sizes: it tiles the
// contraction by `tokens` x `rows` of the kernel's #mm.fusion (a kernel
// without them takes 2 x 8), then bufferises.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed},
      %tokens: !transform.param<i64> {transform.readonly, mm.size = "tokens", mm.default = 2 : i64},
      %rows: !transform.param<i64> {transform.readonly, mm.size = "rows", mm.default = 8 : i64}) {
    %matmul = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "matmul"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %tile, %loops:2 = transform.structured.tile_using_for %matmul
        tile_sizes [0, %tokens, %rows, 0]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>) -> (!transform.any_op, !transform.any_op, !transform.any_op)
    %buffers = transform.bufferization.one_shot_bufferize %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
}
