// One regular operation per function, the input of the linalg emitter and
// schedule tests (mm-test-linalg-kernels wraps each into a kernel).
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %b: tensor<96xf32>) -> tensor<?x?x96xf32> {
  %y = mm.linear %x, %w, %b : tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}
func.func @lm_head(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>) -> tensor<?x?x256xf32> {
  %y = mm.lm_head %x, %w : tensor<?x?x64xf32>, tensor<256x64xf32> -> tensor<?x?x256xf32>
  return %y : tensor<?x?x256xf32>
}
func.func @rms_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %y = mm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  return %y : tensor<?x?x64xf32>
}
func.func @gate(%y: tensor<?x?x128xf32>, %z: tensor<?x?x128xf32>) -> tensor<?x?x128xf32> {
  %g = mm.gate %y, %z : tensor<?x?x128xf32>
  return %g : tensor<?x?x128xf32>
}
func.func @residual(%x: tensor<?x?x64xf32>, %m: tensor<?x?x64xf32>, %c: tensor<?x?x64xf32>, %g: tensor<64xf32>, %c2: tensor<?x?x64xf32>, %g2: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %r = mm.residual %x, %m token(%c, %g) layer(%c2, %g2) : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %r : tensor<?x?x64xf32>
}
func.func @embed(%t: tensor<?x?xi32>, %table: tensor<256x64xf32>) -> tensor<?x?x64xf32> {
  %e = mm.embed %t, %table : tensor<?x?xi32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
  return %e : tensor<?x?x64xf32>
}
func.func @conv(%x: tensor<?x?x128xf32>, %w: tensor<128x1x4xf32>, %b: tensor<128xf32>, %win: tensor<?x128x3xf32>) -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>) {
  %y, %win1 = mm.causal_conv1d %x, %w bias %b window %win {silu} : (tensor<?x?x128xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<?x128x3xf32>) -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
  return %y, %win1 : tensor<?x?x128xf32>, tensor<?x128x3xf32>
}
