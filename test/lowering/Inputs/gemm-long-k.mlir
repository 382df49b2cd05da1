// A GEMM with K above 64 (the gemm schedule's 4 x 3 register tiles), for
// the schedule tests (mm-test-linalg-kernels wraps it into a kernel).
func.func @linear_long_k(%x: tensor<?x?x128xf32>, %w: tensor<96x128xf32>) -> tensor<?x?x96xf32> {
  %y = mm.linear %x, %w : tensor<?x?x128xf32>, tensor<96x128xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// One static token (a decode step): a matrix-vector product, whose
// 256 KiB of weights are streamed from memory.
func.func @matvec_long_k(%x: tensor<?x1x128xf32>, %w: tensor<512x128xf32>) -> tensor<?x1x512xf32> {
  %y = mm.linear %x, %w : tensor<?x1x128xf32>, tensor<512x128xf32> -> tensor<?x1x512xf32>
  return %y : tensor<?x1x512xf32>
}
