// RUN: mm-opt %s --mm-fuse-kernels="scan-step-delta=true" --split-input-file | FileCheck %s
// RUN: mm-opt %s --mm-fuse-kernels --split-input-file | FileCheck %s --check-prefix=OFF

// With scan-step-delta (the GPU pipelines set it), a decode step's scan
// joins the linear computing its delta (dt_proj), and its gate follows: one
// scan kernel, whose step form computes delta. Without it the linear is a
// GEMM kernel of its own.

// CHECK-LABEL: func.func @step
// CHECK: mm.fused <scan, {channels = 1 : i64}>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.linear
// CHECK-NEXT: mm.selective_scan
// CHECK-NEXT: mm.gate
// CHECK-NEXT: mm.yield
// OFF-LABEL: func.func @step
// OFF: mm.fused <gemm
// OFF-NEXT: ^bb0
// OFF-NEXT: mm.linear
// OFF-NEXT: mm.yield
// OFF: mm.fused <scan
// OFF-NEXT: ^bb0
// OFF-NEXT: mm.selective_scan
// OFF-NEXT: mm.gate
func.func @step(%u: tensor<?x1x16xf32>, %x: tensor<?x1x2xf32>, %b: tensor<?x1x4xf32>, %c: tensor<?x1x4xf32>, %z: tensor<?x1x16xf32>, %h0: tensor<?x16x4xf32>)
    -> (tensor<?x1x16xf32>, tensor<?x16x4xf32>) {
  %w = mm.weight "dt_proj.weight" : tensor<16x2xf32>
  %bias = mm.weight "dt_proj.bias" : tensor<16xf32>
  %alog = mm.weight "A_log" : tensor<16x4xf32>
  %d = mm.weight "D" : tensor<16xf32>
  %dt = mm.linear %x, %w : tensor<?x1x2xf32>, tensor<16x2xf32> -> tensor<?x1x16xf32>
  %y, %h1 = mm.selective_scan %u, %dt, %alog, %b, %c, %d delta_bias %bias initial_state %h0 {delta_softplus} : (tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<16x4xf32>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<?x16x4xf32>) -> (tensor<?x1x16xf32>, tensor<?x16x4xf32>)
  %g = mm.gate %y, %z : tensor<?x1x16xf32>
  return %g, %h1 : tensor<?x1x16xf32>, tensor<?x16x4xf32>
}

// -----

// Prefill (T dynamic) keeps dt_proj a GEMM: the scan kernel's chunked form
// reads delta.

// CHECK-LABEL: func.func @prefill
// CHECK: mm.fused <gemm
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.linear
// CHECK-NEXT: mm.yield
// CHECK: mm.fused <scan
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.selective_scan
func.func @prefill(%u: tensor<?x?x16xf32>, %x: tensor<?x?x2xf32>, %b: tensor<?x?x4xf32>, %c: tensor<?x?x4xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x16x4xf32>) {
  %w = mm.weight "dt_proj.weight" : tensor<16x2xf32>
  %alog = mm.weight "A_log" : tensor<16x4xf32>
  %d = mm.weight "D" : tensor<16xf32>
  %dt = mm.linear %x, %w : tensor<?x?x2xf32>, tensor<16x2xf32> -> tensor<?x?x16xf32>
  %y, %h1 = mm.selective_scan %u, %dt, %alog, %b, %c, %d : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x16x4xf32>)
  return %y, %h1 : tensor<?x?x16xf32>, tensor<?x16x4xf32>
}

// -----

// A delta read elsewhere too, or a linear with a bias, stays a GEMM.

// CHECK-LABEL: func.func @delta_read_twice
// CHECK: mm.fused <gemm
// CHECK: mm.fused <scan
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.selective_scan
func.func @delta_read_twice(%u: tensor<?x1x16xf32>, %x: tensor<?x1x2xf32>, %b: tensor<?x1x4xf32>, %c: tensor<?x1x4xf32>)
    -> (tensor<?x1x16xf32>, tensor<?x16x4xf32>, tensor<?x1x16xf32>) {
  %w = mm.weight "dt_proj.weight" : tensor<16x2xf32>
  %alog = mm.weight "A_log" : tensor<16x4xf32>
  %d = mm.weight "D" : tensor<16xf32>
  %dt = mm.linear %x, %w : tensor<?x1x2xf32>, tensor<16x2xf32> -> tensor<?x1x16xf32>
  %y, %h1 = mm.selective_scan %u, %dt, %alog, %b, %c, %d : (tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<16x4xf32>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<16xf32>) -> (tensor<?x1x16xf32>, tensor<?x16x4xf32>)
  return %y, %h1, %dt : tensor<?x1x16xf32>, tensor<?x16x4xf32>, tensor<?x1x16xf32>
}

// CHECK-LABEL: func.func @delta_with_bias
// CHECK: mm.fused <gemm
// CHECK: mm.fused <scan
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.selective_scan
func.func @delta_with_bias(%u: tensor<?x1x16xf32>, %x: tensor<?x1x2xf32>, %b: tensor<?x1x4xf32>, %c: tensor<?x1x4xf32>)
    -> (tensor<?x1x16xf32>, tensor<?x16x4xf32>) {
  %w = mm.weight "dt_proj.weight" : tensor<16x2xf32>
  %bias = mm.weight "dt_proj.bias" : tensor<16xf32>
  %alog = mm.weight "A_log" : tensor<16x4xf32>
  %d = mm.weight "D" : tensor<16xf32>
  %dt = mm.linear %x, %w, %bias : tensor<?x1x2xf32>, tensor<16x2xf32>, tensor<16xf32> -> tensor<?x1x16xf32>
  %y, %h1 = mm.selective_scan %u, %dt, %alog, %b, %c, %d : (tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<16x4xf32>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<16xf32>) -> (tensor<?x1x16xf32>, tensor<?x16x4xf32>)
  return %y, %h1 : tensor<?x1x16xf32>, tensor<?x16x4xf32>
}
