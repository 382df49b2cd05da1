func.func @linear_bf16(%x: tensor<?x?x64xf32>, %w: tensor<96x64xbf16>) -> tensor<?x?x96xf32> {
  %y = mm.linear %x, %w : tensor<?x?x64xf32>, tensor<96x64xbf16> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}
func.func @embed_f16(%t: tensor<?x?xi32>, %table: tensor<256x64xf16>) -> tensor<?x?x64xf32> {
  %e = mm.embed %t, %table : tensor<?x?xi32>, tensor<256x64xf16> -> tensor<?x?x64xf32>
  return %e : tensor<?x?x64xf32>
}
