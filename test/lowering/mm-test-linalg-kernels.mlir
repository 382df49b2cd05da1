// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels | FileCheck %s
// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels=emitter=loops | FileCheck %s --check-prefix=LOOPS
// RUN: not mm-opt %s --split-input-file --mm-test-linalg-kernels 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: mm-opt %S/Inputs/regular-ops-bf16.mlir --mm-test-linalg-kernels | FileCheck %s --check-prefix=REDUCED
// RUN: mm-opt %S/Inputs/gemm-long-k.mlir --mm-test-linalg-kernels | FileCheck %s --check-prefix=DOT
// RUN: mm-opt %S/Inputs/gemm-short-k.mlir --mm-test-linalg-kernels | FileCheck %s --check-prefix=DOT-DECODE

// The linalg form of each regular operation, in the kernel contract
// (batch, time, operand buffers, result buffers; weights as views).

// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %{{.*}}: index, %{{.*}}: index, %[[X:.*]]: memref<?x?x64xf32>, %[[W:.*]]: memref<96x64xf32, strided<[64, 1], offset: ?>>, %[[B:.*]]: memref<96xf32, strided<[1], offset: ?>>, %[[OUT:.*]]: memref<?x?x96xf32>)
// CHECK-SAME: mm.fusion = #mm.fusion<gemm, {}>
// A K of at most 64 over the tokens (this one's 64): the outer-product
// form, the weight transposed once into an f32 [K, N] buffer freed after
// the product, whose loops are (b, t, k, n). Its rows are an odd number of
// cache lines apart (96 columns, 6 lines: 7), so that a tile's reads down
// K spread over the L1 cache's sets.
// CHECK: %[[WTB:.*]] = memref.alloc() {alignment = 64 : i64} : memref<64x112xf32>
// CHECK: %[[WTV:.*]] = memref.subview %[[WTB]][0, 0] [64, 96] [1, 1] : memref<64x112xf32> to memref<64x96xf32, strided<[112, 1]>>
// CHECK: linalg.generic {{.*}} ins(%[[W]] : {{.*}}) outs(%[[WTV]] : memref<64x96xf32, strided<[112, 1]>>) attrs = {mm.linalg = "weight_transpose"}
// The GEMM on tensors of its buffers (for the schedule's split reduction),
// its result materialised into the output buffer.
// CHECK: %[[XT:.*]] = bufferization.to_tensor %[[X]] restrict : {{.*}} to tensor<?x?x64xf32>
// CHECK: %[[WT:.*]] = bufferization.to_tensor %[[WTV]] restrict : {{.*}} to tensor<64x96xf32>
// CHECK: %[[OUTT:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : {{.*}} to tensor<?x?x96xf32>
// CHECK: %[[BT:.*]] = bufferization.to_tensor %[[B]] restrict : {{.*}} to tensor<96xf32>
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[BT]] : {{.*}}) outs(%[[OUTT]] : {{.*}}) attrs = {mm.linalg = "bias"}
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[XT]], %[[WT]] : {{.*}}) outs(%[[INIT]] : {{.*}}) attrs = {mm.linalg = "matmul"}
// CHECK: arith.mulf {{.*}} fastmath<reassoc,contract>
// CHECK: arith.addf {{.*}} fastmath<reassoc,contract>
// CHECK: bufferization.materialize_in_destination %[[Y]] in restrict writable %[[OUT]]
// CHECK: memref.dealloc %[[WTB]]

// K above 64 (a dot product along K per output, the weight as it is,
// loops (b, t, n, k)), or any K in a decode step (one static token: the
// transposition would cost as much as the product).
// DOT-LABEL: func.func @linear_long_k(
// DOT-NOT: weight_transpose
// DOT: iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}}tensor<320x128xf32>{{.*}}mm.linalg = "matmul"
// DOT-DECODE-LABEL: func.func @linear_k4(
// DOT-DECODE-NOT: weight_transpose
// DOT-DECODE: iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}}tensor<64x4xf32>{{.*}}mm.linalg = "matmul"
// DOT-DECODE-LABEL: func.func @linear_k20_tokens(
// DOT-DECODE: weight_transpose

// CHECK-LABEL: func.func @lm_head(
// CHECK: linalg.fill {mm.linalg = "bias"} {{.*}} -> tensor<?x?x256xf32>
// CHECK: mm.linalg = "matmul"
// CHECK: bufferization.materialize_in_destination

// RMSNorm: f64 sums of squares into a scratch, then the f64 scaling.
// CHECK-LABEL: func.func @rms_norm(
// CHECK-SAME: mm.fusion = #mm.fusion<norm, {}>
// CHECK: %[[SUMS:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?xf64>
// CHECK: linalg.fill {mm.linalg = "norm_init"}
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}}outs(%[[SUMS]] : memref<?x?xf64>) attrs = {mm.linalg = "norm_sum"}
// CHECK: arith.extf {{.*}} : f32 to f64
// CHECK: mm.linalg = "norm_scale"
// CHECK: math.sqrt {{.*}} : f64
// CHECK: arith.truncf {{.*}} : f64 to f32
// CHECK: memref.dealloc %[[SUMS]]

// CHECK-LABEL: func.func @gate(
// CHECK-SAME: mm.fusion = #mm.fusion<elementwise, {}>
// CHECK: mm.linalg = "elementwise"
// CHECK: math.exp

// CHECK-LABEL: func.func @residual(
// CHECK-SAME: mm.fusion = #mm.fusion<elementwise, {}>
// CHECK: mm.linalg = "elementwise"
// CHECK-COUNT-2: math.exp

// CHECK-LABEL: func.func @embed(
// CHECK-SAME: mm.fusion = #mm.fusion<embed, {}>
// CHECK: mm.linalg = "gather"
// CHECK: linalg.index 2
// CHECK: memref.load

// Reduced precision (docs/precision.md): the weights stay 16-bit, the
// product's input is rounded to their type once, into an f32 buffer freed
// after the product, which widens the weights and accumulates in f32; the
// embedding widens. This K (64) over the tokens is the outer-product form,
// whose transposition widens the weights once per call.
// REDUCED-LABEL: func.func @linear_bf16(
// REDUCED-SAME: memref<96x64xbf16, strided<[64, 1], offset: ?>>
// REDUCED: %[[WTB:.*]] = memref.alloc() {alignment = 64 : i64} : memref<64x112xf32>
// REDUCED: outs(%{{.*}} : memref<64x96xf32, strided<[112, 1]>>) attrs = {mm.linalg = "weight_transpose"}
// REDUCED-NEXT: ^bb0(%[[WIN:.*]]: bf16, %{{.*}}: f32):
// REDUCED-NEXT: %[[WIDE:.*]] = arith.extf %[[WIN]] : bf16 to f32
// REDUCED-NEXT: linalg.yield %[[WIDE]] : f32
// REDUCED: %[[ROUNDED:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// REDUCED: ins(%{{.*}} : memref<?x?x64xf32>) outs(%[[ROUNDED]] : memref<?x?x64xf32>) attrs = {mm.linalg = "round_input"}
// REDUCED-NEXT: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// REDUCED-NEXT: %[[XR:.*]] = arith.truncf %[[IN]] : f32 to bf16
// REDUCED-NEXT: %[[XW:.*]] = arith.extf %[[XR]] : bf16 to f32
// REDUCED-NEXT: linalg.yield %[[XW]] : f32
// REDUCED: bufferization.to_tensor %[[ROUNDED]] restrict
// REDUCED: mm.linalg = "matmul"
// REDUCED: ^bb0(%[[XI:.*]]: f32, %[[WI:.*]]: f32, %[[ACC:.*]]: f32):
// REDUCED-NEXT: %[[P:.*]] = arith.mulf %[[XI]], %[[WI]] fastmath<reassoc,contract> : f32
// REDUCED-NEXT: arith.addf %[[ACC]], %[[P]] fastmath<reassoc,contract> : f32
// REDUCED: memref.dealloc %[[ROUNDED]]
// REDUCED: memref.dealloc %[[WTB]]
// REDUCED-LABEL: func.func @embed_f16(
// REDUCED: mm.linalg = "gather"
// REDUCED: memref.load {{.*}} : memref<256x64xf16
// REDUCED-NEXT: arith.extf {{.*}} : f16 to f32

// The causal conv on tensors: the filter to [K, E] and the window to
// [B, K-1, E] (one read of the window, before any write: window_out may be
// the same memory); the head (min(T, K-1) outputs) convolves a
// concatenation of the window and the chunk's first rows, the rest the chunk
// itself; each part bias, conv, SiLU; the new window from a second
// concatenation, transposed back into window_out.
// CHECK-LABEL: func.func @conv(
// CHECK-SAME: mm.fusion = #mm.fusion<conv, {}>
// CHECK: linalg.transpose {{.*}} permutation = [1, 0]  {mm.linalg = "conv_filter"}
// CHECK: %[[ROWS:.*]] = linalg.transpose {{.*}} permutation = [0, 2, 1]  {mm.linalg = "conv_window"}
// CHECK: %[[X:.*]] = bufferization.to_tensor %arg2 restrict
// CHECK: %[[HEAD:.*]] = arith.minsi %{{.*}}, %c3
// CHECK: %[[FIRST:.*]] = tensor.extract_slice %[[X]][0, 0, 0] [%{{.*}}, %[[HEAD]], 128]
// CHECK: %[[CAT:.*]] = tensor.concat dim(1) %[[ROWS]], %[[FIRST]]
// CHECK: mm.linalg = "conv_bias"
// CHECK: linalg.depthwise_conv_1d_nwc_wc {{.*}}mm.linalg = "conv"{{.*}} ins(%[[CAT]],
// CHECK: mm.linalg = "conv_act"
// CHECK: math.exp
// CHECK: mm.linalg = "conv_bias"
// CHECK: linalg.depthwise_conv_1d_nwc_wc {{.*}}mm.linalg = "conv"{{.*}} ins(%[[X]],
// CHECK: mm.linalg = "conv_act"
// CHECK: bufferization.materialize_in_destination {{.*}} in restrict writable %arg6
// CHECK: tensor.concat dim(1) %[[ROWS]],
// CHECK: linalg.transpose {{.*}} permutation = [0, 2, 1]  {mm.linalg = "conv_window"}
// CHECK: bufferization.materialize_in_destination {{.*}} in restrict writable %arg7

// The loop emitters fill the same kernels (for comparisons).
// LOOPS-LABEL: func.func @linear(
// LOOPS: scf.parallel
// LOOPS-NOT: linalg.

func.func @split(%xz: tensor<?x?x16xf32>) -> tensor<?x?x8xf32> {
  // ERR: error: 'mm.split' op is not a regular operation
  %x, %z = mm.split %xz [8, 8] : tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>
  return %x : tensor<?x?x8xf32>
}

// -----

func.func @conv_width_1(%x: tensor<?x?x8xf32>, %w: tensor<8x1x1xf32>, %win: tensor<?x8x0xf32>) -> (tensor<?x?x8xf32>, tensor<?x8x0xf32>) {
  // ERR: error: 'mm.causal_conv1d' op the linalg lowering expects [B, T, E] with a static E and a static kernel width of 2 or more
  %y, %wout = mm.causal_conv1d %x, %w window %win
      : (tensor<?x?x8xf32>, tensor<8x1x1xf32>, tensor<?x8x0xf32>)
      -> (tensor<?x?x8xf32>, tensor<?x8x0xf32>)
  return %y, %wout : tensor<?x?x8xf32>, tensor<?x8x0xf32>
}
