// GEMMs with K above 64 (the gemm schedule's 4 x 3 register tiles), for
// the schedule tests (mm-test-linalg-kernels wraps each into a kernel):
// over more than 256 output channels (blocks of channels on the threads)
// and over fewer (x_proj's 80: blocks of tokens).
func.func @linear_long_k(%x: tensor<?x?x128xf32>, %w: tensor<320x128xf32>) -> tensor<?x?x320xf32> {
  %y = mm.linear %x, %w : tensor<?x?x128xf32>, tensor<320x128xf32> -> tensor<?x?x320xf32>
  return %y : tensor<?x?x320xf32>
}
func.func @linear_few_channels(%x: tensor<?x?x128xf32>, %w: tensor<80x128xf32>) -> tensor<?x?x80xf32> {
  %y = mm.linear %x, %w : tensor<?x?x128xf32>, tensor<80x128xf32> -> tensor<?x?x80xf32>
  return %y : tensor<?x?x80xf32>
}

// One static token (a decode step): a matrix-vector product, whose
// 256 KiB of weights are streamed from memory.
func.func @matvec_long_k(%x: tensor<?x1x128xf32>, %w: tensor<512x128xf32>) -> tensor<?x1x512xf32> {
  %y = mm.linear %x, %w : tensor<?x1x128xf32>, tensor<512x128xf32> -> tensor<?x1x512xf32>
  return %y : tensor<?x1x512xf32>
}
