// The operations bench/linalg/run.sh compiles twice, as kernels over
// buffers (mm-test-linalg-kernels): the loop emitters' and the linalg
// emitters' under the default schedules. The GEMMs are mamba-130m's (N x K:
// in_proj 3072x768, x_proj 80x1536, dt_proj 1536x48, out_proj 768x1536).
func.func @in_proj(%x: tensor<?x?x768xf32>, %w: tensor<3072x768xf32>) -> tensor<?x?x3072xf32> {
  %y = mm.linear %x, %w : tensor<?x?x768xf32>, tensor<3072x768xf32> -> tensor<?x?x3072xf32>
  return %y : tensor<?x?x3072xf32>
}
func.func @x_proj(%x: tensor<?x?x1536xf32>, %w: tensor<80x1536xf32>) -> tensor<?x?x80xf32> {
  %y = mm.linear %x, %w : tensor<?x?x1536xf32>, tensor<80x1536xf32> -> tensor<?x?x80xf32>
  return %y : tensor<?x?x80xf32>
}
func.func @dt_proj(%x: tensor<?x?x48xf32>, %w: tensor<1536x48xf32>, %b: tensor<1536xf32>) -> tensor<?x?x1536xf32> {
  %y = mm.linear %x, %w, %b : tensor<?x?x48xf32>, tensor<1536x48xf32>, tensor<1536xf32> -> tensor<?x?x1536xf32>
  return %y : tensor<?x?x1536xf32>
}
func.func @out_proj(%x: tensor<?x?x1536xf32>, %w: tensor<768x1536xf32>) -> tensor<?x?x768xf32> {
  %y = mm.linear %x, %w : tensor<?x?x1536xf32>, tensor<768x1536xf32> -> tensor<?x?x768xf32>
  return %y : tensor<?x?x768xf32>
}
func.func @lm_head(%x: tensor<?x?x64xf32>, %w: tensor<100x64xf32>) -> tensor<?x?x100xf32> {
  %y = mm.lm_head %x, %w : tensor<?x?x64xf32>, tensor<100x64xf32> -> tensor<?x?x100xf32>
  return %y : tensor<?x?x100xf32>
}
func.func @rms_norm(%x: tensor<?x?x768xf32>, %w: tensor<768xf32>) -> tensor<?x?x768xf32> {
  %y = mm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x?x768xf32>, tensor<768xf32>
  return %y : tensor<?x?x768xf32>
}
func.func @gate(%y: tensor<?x?x1536xf32>, %z: tensor<?x?x1536xf32>) -> tensor<?x?x1536xf32> {
  %g = mm.gate %y, %z : tensor<?x?x1536xf32>
  return %g : tensor<?x?x1536xf32>
}
func.func @residual(%x: tensor<?x?x768xf32>, %m: tensor<?x?x768xf32>, %c: tensor<?x?x768xf32>, %g: tensor<768xf32>, %c2: tensor<?x?x768xf32>, %g2: tensor<768xf32>) -> tensor<?x?x768xf32> {
  %r = mm.residual %x, %m token(%c, %g) layer(%c2, %g2) : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<768xf32>, tensor<?x?x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  return %r : tensor<?x?x768xf32>
}
func.func @embed(%t: tensor<?x?xi32>, %table: tensor<1000x768xf32>) -> tensor<?x?x768xf32> {
  %e = mm.embed %t, %table : tensor<?x?xi32>, tensor<1000x768xf32> -> tensor<?x?x768xf32>
  return %e : tensor<?x?x768xf32>
}
// The causal conv of mamba-130m (E = 1536, K = 4, bias, SiLU), and one
// that no tile divides (E = 40, K = 3) without bias or activation.
func.func @conv(%x: tensor<?x?x1536xf32>, %w: tensor<1536x1x4xf32>, %b: tensor<1536xf32>, %win: tensor<?x1536x3xf32>) -> (tensor<?x?x1536xf32>, tensor<?x1536x3xf32>) {
  %y, %win1 = mm.causal_conv1d %x, %w bias %b window %win {silu} : (tensor<?x?x1536xf32>, tensor<1536x1x4xf32>, tensor<1536xf32>, tensor<?x1536x3xf32>) -> (tensor<?x?x1536xf32>, tensor<?x1536x3xf32>)
  return %y, %win1 : tensor<?x?x1536xf32>, tensor<?x1536x3xf32>
}
func.func @odd_conv(%x: tensor<?x?x40xf32>, %w: tensor<40x1x3xf32>, %win: tensor<?x40x2xf32>) -> (tensor<?x?x40xf32>, tensor<?x40x2xf32>) {
  %y, %win1 = mm.causal_conv1d %x, %w window %win : (tensor<?x?x40xf32>, tensor<40x1x3xf32>, tensor<?x40x2xf32>) -> (tensor<?x?x40xf32>, tensor<?x40x2xf32>)
  return %y, %win1 : tensor<?x?x40xf32>, tensor<?x40x2xf32>
}
// Shapes that divide by none of the tiles (N = 37, K = 40; K = 4, under one
// step of K, as memmamba-tiny's dt_proj), and reduced precision (bf16
// weights, x rounded to bf16, f32 sums) at small odd sizes.
func.func @odd_proj(%x: tensor<?x?x40xf32>, %w: tensor<37x40xf32>, %b: tensor<37xf32>) -> tensor<?x?x37xf32> {
  %y = mm.linear %x, %w, %b : tensor<?x?x40xf32>, tensor<37x40xf32>, tensor<37xf32> -> tensor<?x?x37xf32>
  return %y : tensor<?x?x37xf32>
}
func.func @tiny_dt_proj(%x: tensor<?x?x4xf32>, %w: tensor<128x4xf32>, %b: tensor<128xf32>) -> tensor<?x?x128xf32> {
  %y = mm.linear %x, %w, %b : tensor<?x?x4xf32>, tensor<128x4xf32>, tensor<128xf32> -> tensor<?x?x128xf32>
  return %y : tensor<?x?x128xf32>
}
func.func @bf16_proj(%x: tensor<?x?x24xf32>, %w: tensor<50x24xbf16>) -> tensor<?x?x50xf32> {
  %y = mm.linear %x, %w : tensor<?x?x24xf32>, tensor<50x24xbf16> -> tensor<?x?x50xf32>
  return %y : tensor<?x?x50xf32>
}
