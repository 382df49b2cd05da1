// RUN: mm-opt %s -split-input-file -verify-diagnostics --mm-reduce-precision
// RUN: not mm-opt %s --mm-reduce-precision="precision=f8" 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// UNKNOWN: error: mm-reduce-precision: unknown precision 'f8' (expected f32, bf16 or f16)

// After fusion the weights are arguments of the groups: too late.
func.func @grouped(%x: tensor<?x?x8xf32>) -> tensor<?x?x16xf32> {
  %w = mm.weight "w" : tensor<16x8xf32>
  // expected-error @+1 {{is a fusion group: run mm-reduce-precision before mm-fuse-kernels}}
  %y = mm.fused #mm.fusion<gemm, {rows = 64 : i64, rows_at_once = 4 : i64, tokens = 8 : i64}> (%x, %w) : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32> {
  ^bb0(%a: tensor<?x?x8xf32>, %b: tensor<16x8xf32>):
    %p = mm.linear %a, %b : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
    mm.yield %p : tensor<?x?x16xf32>
  }
  return %y : tensor<?x?x16xf32>
}
