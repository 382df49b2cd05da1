// A GEMM with K above 64 (the gemm schedule's 4 x 3 register tiles), for
// the schedule tests (mm-test-linalg-kernels wraps it into a kernel).
func.func @linear_long_k(%x: tensor<?x?x128xf32>, %w: tensor<96x128xf32>) -> tensor<?x?x96xf32> {
  %y = mm.linear %x, %w : tensor<?x?x128xf32>, tensor<96x128xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}
