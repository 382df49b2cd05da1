// RUN: mm-opt %s --mm-fuse-kernels="gemm-rows=32 gemm-tokens=2 gemm-rows-at-once=3 scan-channels=2" --mm-outline-kernels --mm-lower-to-loops="schedule=gemm:loops,norm:loops,embed:loops" | FileCheck %s

// Fusion groups, outlined into kernel functions, drive the host kernels: the matrix products take the group's
// tile sizes, the scan runs two channels per task and applies its gate in
// its own loop (y is never stored), and the residual stores h and sums its
// squares in one pass before the RMSNorm's second pass.

// CHECK: module attributes {mm.manifest = "{{.*}}\22fusion\22:{\22gemm_rows\22:32,\22gemm_rows_at_once\22:3,\22gemm_tokens\22:2,\22kernel_functions\22:{\22embed\22:1,\22gemm\22:2,\22norm\22:1,\22scan\22:1},\22kernels\22:{\22prefill\22:{\22embed\22:1,\22gemm\22:2,\22norm\22:1,\22scan\22:1}},\22scan_channels\22:2,\22strategy\22:\22fused\22}
// CHECK-NOT: mm.fusion
mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<8x4xf32>>]

// The entry point calls one function over buffers per kernel, weights as
// views at any offset.
// CHECK-LABEL: func.func @mm_prefill(
// CHECK: call @mm_embed_0(
// CHECK: call @mm_gemm_0(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (index, index, memref<?x?x8xf32, strided<[?, 8, 1], offset: ?>>, memref<8x8xf32, strided<[8, 1], offset: ?>>, memref<?x?x8xf32, strided<[?, 8, 1], offset: ?>>) -> ()
// CHECK: call @mm_scan_0(
// CHECK: call @mm_norm_0(
// CHECK: call @mm_gemm_1(
// CHECK: return

// CHECK-LABEL: func.func private @mm_embed_0(
// CHECK-SAME: mm.fusion = #mm.fusion<embed, {}>, mm.lowering = "loops"

// The projection: blocks of 32 output rows in parallel, 2 tokens per tile,
// 3 rows per pass over an input row.
// CHECK-LABEL: func.func private @mm_gemm_0(
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%c32{{(_[0-9]+)?}})
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c2{{(_[0-9]+)?}}
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c3{{(_[0-9]+)?}}
// CHECK: return

// The scan and its gate: the gated output (the function's last argument) is
// the only [B, T, E] buffer the kernel writes.
// CHECK-LABEL: func.func private @mm_scan_0(
// CHECK-SAME: %[[G:[a-z0-9]+]]: memref<?x?x8xf32, strided<[?, 8, 1], offset: ?>>)
// CHECK-NOT: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x8xf32>
// CHECK: scf.parallel (%[[E0:.*]]) = (%{{.*}}) to (%{{.*}}) step (%c2{{(_[0-9]+)?}})
// CHECK: scf.for %{{.*}} = %[[E0]] to
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[G]]
// CHECK: memref.dealloc
// CHECK: return

// The residual and its norm: h is stored while its squares are summed.
// CHECK-LABEL: func.func private @mm_norm_0(
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f64)
// CHECK: arith.addf {{.*}} : f32
// CHECK: memref.store %{{.*}}, %[[H:[a-z_0-9]+]][
// CHECK: arith.mulf {{.*}} : f64
// CHECK: math.sqrt
// CHECK: memref.load %[[H]][
// CHECK: return

// The lm_head is a product of another shape: its own kernel.
// CHECK-LABEL: func.func private @mm_gemm_1(
func.func @prefill(%tokens: tensor<?x?xi32>, %lengths: tensor<?xi32>, %h: tensor<?x8x4xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x8x4xf32>)
    attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state} {
  %emb = mm.weight "emb" : tensor<16x8xf32>
  %x = mm.embed %tokens, %emb : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %proj = mm.weight "proj" : tensor<8x8xf32>
  %bc = mm.linear %x, %proj : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
  %b, %c = mm.split %bc [4, 4] : tensor<?x?x8xf32> -> tensor<?x?x4xf32>, tensor<?x?x4xf32>
  %a = mm.weight "a" : tensor<8x4xf32>
  %d = mm.weight "d" : tensor<8xf32>
  %y, %h1 = mm.selective_scan %x, %x, %a, %b, %c, %d initial_state %h {delta_softplus}
      : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8x4xf32>, tensor<?x?x4xf32>,
         tensor<?x?x4xf32>, tensor<8xf32>, tensor<?x8x4xf32>)
      -> (tensor<?x?x8xf32>, tensor<?x8x4xf32>)
  %g = mm.gate %y, %x : tensor<?x?x8xf32>
  %r = mm.residual %x, %g : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %nw = mm.weight "norm" : tensor<8xf32>
  %n = mm.rms_norm %r, %nw {epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %logits = mm.lm_head %n, %emb : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  return %logits, %h1 : tensor<?x?x16xf32>, tensor<?x8x4xf32>
}
