// GEMMs whose K leaves the gemm schedule's 16-wide partial sums partly
// empty (dt_proj of a small model: K = dt_rank = 4; K = 20: one full step
// and a peeled step of 4) in a decode step (one static token), and the
// outer-product form of K = 20 over the tokens, for the schedule tests
// (mm-test-linalg-kernels wraps each into a kernel).
func.func @linear_k4(%x: tensor<?x1x4xf32>, %w: tensor<64x4xf32>) -> tensor<?x1x64xf32> {
  %y = mm.linear %x, %w : tensor<?x1x4xf32>, tensor<64x4xf32> -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}
func.func @linear_k20(%x: tensor<?x1x20xf32>, %w: tensor<64x20xf32>) -> tensor<?x1x64xf32> {
  %y = mm.linear %x, %w : tensor<?x1x20xf32>, tensor<64x20xf32> -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}
func.func @linear_k20_tokens(%x: tensor<?x?x20xf32>, %w: tensor<64x20xf32>) -> tensor<?x?x64xf32> {
  %y = mm.linear %x, %w : tensor<?x?x20xf32>, tensor<64x20xf32> -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}
