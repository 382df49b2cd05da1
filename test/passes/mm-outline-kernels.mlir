// RUN: mm-opt %s --mm-fuse-kernels --mm-outline-kernels="target=cuda:sm_90" | FileCheck %s
// RUN: mm-opt %s --mm-fuse-kernels --mm-outline-kernels | FileCheck %s --check-prefix=CPU
// RUN: mm-opt %s --mm-fuse-kernels --mm-outline-kernels --mm-outline-kernels | FileCheck %s --check-prefix=TWICE

// Two layers of the same shape on different weights: each group becomes a
// call, and the groups of the second layer call the kernels of the first.
// The kernel keeps the group's strategy; the module records its target.

// CHECK: module attributes {{{.*}}mm.target = "cuda:sm_90"}
// CHECK-LABEL: func.func @two_layers(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x8xf32>
// CHECK: %[[W0:.*]] = mm.weight "l0.in"
// CHECK: %[[P0:.*]] = call @gemm_0(%[[X]], %[[W0]]) : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
// CHECK: %[[N0:.*]] = mm.weight "l0.norm"
// CHECK: %[[R0:.*]]:2 = call @norm_0(%{{.*}}, %{{.*}}, %[[N0]])
// CHECK: %[[W1:.*]] = mm.weight "l1.in"
// CHECK: call @gemm_0(%[[R0]]#1, %[[W1]])
// CHECK: %[[N1:.*]] = mm.weight "l1.norm"
// CHECK: call @norm_0(
// CHECK: %[[W2:.*]] = mm.weight "wide"
// A product of another shape is another kernel.
// CHECK: call @gemm_1(%{{.*}}, %[[W2]]) : (tensor<?x?x8xf32>, tensor<32x8xf32>) -> tensor<?x?x32xf32>
// CHECK-NOT: mm.fused
// CHECK: return

// CHECK-LABEL: func.func private @gemm_0(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<?x?x8xf32>, %[[B:[a-z0-9]+]]: tensor<16x8xf32>) -> tensor<?x?x16xf32>
// CHECK-SAME: mm.fusion = #mm.fusion<gemm, {rows = 64 : i64, rows_at_once = 4 : i64, tokens = 8 : i64}>
// CHECK-NEXT: %[[L:.*]] = mm.linear %[[A]], %[[B]]
// CHECK-NEXT: return %[[L]]
// CHECK-LABEL: func.func private @norm_0(
// CHECK-SAME: mm.fusion = #mm.fusion<norm, {}>
// CHECK: mm.residual
// CHECK: mm.rms_norm
// CHECK-LABEL: func.func private @gemm_1(
// CHECK-SAME: tensor<32x8xf32>
// CHECK-NOT: func.func private @gemm_2

// CPU: module attributes {{{.*}}mm.target = "cpu"}

// Five groups, three distinct kernels; outlining an outlined module changes
// nothing.
// TWICE-COUNT-3: func.func private
// TWICE-NOT: func.func private

func.func @two_layers(%x: tensor<?x?x8xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>) {
  %w0 = mm.weight "l0.in" : tensor<16x8xf32>
  %p0 = mm.linear %x, %w0 : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  %a0, %b0 = mm.split %p0 [8, 8] : tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %r0 = mm.residual %x, %a0 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n0w = mm.weight "l0.norm" : tensor<8xf32>
  %n0 = mm.rms_norm %r0, %n0w {epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %w1 = mm.weight "l1.in" : tensor<16x8xf32>
  %p1 = mm.linear %n0, %w1 : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  %a1, %b1 = mm.split %p1 [8, 8] : tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %r1 = mm.residual %r0, %a1 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n1w = mm.weight "l1.norm" : tensor<8xf32>
  %n1 = mm.rms_norm %r1, %n1w {epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %w2 = mm.weight "wide" : tensor<32x8xf32>
  %out = mm.linear %n1, %w2 : tensor<?x?x8xf32>, tensor<32x8xf32> -> tensor<?x?x32xf32>
  return %out, %r1 : tensor<?x?x32xf32>, tensor<?x?x8xf32>
}
