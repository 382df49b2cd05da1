// RUN: mm-opt %s --mm-fuse-kernels --split-input-file | FileCheck %s
// RUN: mm-opt %s --mm-fuse-kernels="strategy=unfused gemm-rows=16 scan-channels=4" --split-input-file | FileCheck %s --check-prefix=UNFUSED
// RUN: not mm-opt %s --mm-fuse-kernels="strategy=greedy" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not mm-opt %s --mm-fuse-kernels="gemm-rows=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not mm-opt %s --mm-fuse-kernels="gemm-rows-at-once=1000" --split-input-file 2>&1 | FileCheck %s --check-prefix=AT-ONCE
// RUN: not mm-opt %s --mm-fuse-kernels="gemm-rows=5000" --split-input-file 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not mm-opt %s --mm-fuse-kernels="gemm-tokens=257" --split-input-file 2>&1 | FileCheck %s --check-prefix=TOKENS
// RUN: not mm-opt %s --mm-fuse-kernels="scan-channels=100000" --split-input-file 2>&1 | FileCheck %s --check-prefix=CHANNELS
// RUN: mm-opt %s --mm-fuse-kernels="kernel-sizes=conv.channels=8,gemm.tokens=2,gemm.block_m=64,scan.chunk=64 unfuse=scan,norm tuning=t.json" --split-input-file | FileCheck %s --check-prefix=PER-KIND
// RUN: not mm-opt %s --mm-fuse-kernels="kernel-sizes=gemm.tokens" --split-input-file 2>&1 | FileCheck %s --check-prefix=SIZE-SYNTAX
// RUN: not mm-opt %s --mm-fuse-kernels="kernel-sizes=norm.rows=2" --split-input-file 2>&1 | FileCheck %s --check-prefix=SIZE-KIND
// RUN: not mm-opt %s --mm-fuse-kernels="kernel-sizes=conv.rows=2" --split-input-file 2>&1 | FileCheck %s --check-prefix=SIZE-NAME
// RUN: not mm-opt %s --mm-fuse-kernels="kernel-sizes=gemm.tokens=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=SIZE-RANGE
// RUN: not mm-opt %s --mm-fuse-kernels="unfuse=gemm" --split-input-file 2>&1 | FileCheck %s --check-prefix=UNFUSE-KIND

// BAD: unknown fusion strategy 'greedy' (expected fused or unfused)
// ZERO: fusion option gemm-rows must be in [1, 4096], got 0
// Every size is bounded (dialect/KernelSizes.h): the rows at once are
// unrolled, the others size tasks and tiles.
// AT-ONCE: fusion option gemm-rows-at-once must be in [1, 16], got 1000
// ROWS: fusion option gemm-rows must be in [1, 4096], got 5000
// TOKENS: fusion option gemm-tokens must be in [1, 256], got 257
// CHANNELS: fusion option scan-channels must be in [1, 1024], got 100000

// Sizes and fusion per kind (what a tuning file sets): the conv's channels
// apart from the scan's, the scan and the norm unfused, each recorded.
// SIZE-SYNTAX: kernel-sizes entry 'gemm.tokens': expected KIND.SIZE=VALUE (gemm.tokens=2)
// SIZE-KIND: kernel-sizes entry 'norm.rows=2': no kind 'norm' takes sizes (gemm, conv and scan do)
// SIZE-NAME: kernel-sizes entry 'conv.rows=2': a conv kernel has no size 'rows' (it takes channels)
// SIZE-RANGE: kernel-sizes entry 'gemm.tokens=0': tokens must be in [1, 256], got 0
// UNFUSE-KIND: unfuse: 'gemm' is not a kind that fuses (scan, norm or memory)

// PER-KIND: module attributes {mm.fusion = {gemm_rows = 64 : i64, gemm_rows_at_once = 4 : i64, gemm_tokens = 8 : i64, kernel_sizes = "conv.channels=8,gemm.block_m=64,gemm.tokens=2,scan.chunk=64", scan_channels = 1 : i64, strategy = "fused", tuning = "t.json", unfused = "norm,scan"}}
// PER-KIND-LABEL: func.func @mixer
// PER-KIND: mm.fused <gemm, {block_m = 64 : i64, rows = 64 : i64, rows_at_once = 4 : i64, tokens = 2 : i64}>
// PER-KIND: mm.fused <conv, {channels = 8 : i64}>
// PER-KIND: mm.fused <scan, {channels = 1 : i64, chunk = 64 : i64}>
// PER-KIND-NEXT: ^bb0
// PER-KIND-NEXT: mm.selective_scan
// PER-KIND-NEXT: mm.yield
// PER-KIND: mm.fused <elementwise, {}>
// PER-KIND-NEXT: ^bb0
// PER-KIND-NEXT: mm.gate
// PER-KIND: mm.fused <elementwise, {}>
// PER-KIND-NEXT: ^bb0
// PER-KIND-NEXT: mm.residual
// PER-KIND: mm.fused <norm, {}>
// PER-KIND-NEXT: ^bb0
// PER-KIND-NEXT: mm.rms_norm

// The mixer of one layer, then the residual and the next RMSNorm. Fused: the
// scan takes its gate, the residual takes the norm; weights and splits stay
// outside the groups; the module records the strategy.

// CHECK: module attributes {mm.fusion = {gemm_rows = 64 : i64, gemm_rows_at_once = 4 : i64, gemm_tokens = 8 : i64, scan_channels = 1 : i64, strategy = "fused"}}
// CHECK-LABEL: func.func @mixer
// CHECK: mm.weight "in"
// CHECK: %[[XZ:.*]] = mm.fused <gemm, {rows = 64 : i64, rows_at_once = 4 : i64, tokens = 8 : i64}> (%{{.*}}, %{{.*}})
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<?x?x8xf32>, %[[W:.*]]: tensor<32x8xf32>):
// CHECK-NEXT: %[[P:.*]] = mm.linear %[[X]], %[[W]]
// CHECK-NEXT: mm.yield %[[P]] : tensor<?x?x32xf32>
// CHECK: %[[S:.*]]:2 = mm.split %[[XZ]] [16, 16]
// CHECK: %[[CONV:.*]]:2 = mm.fused <conv, {channels = 1 : i64}>
// CHECK: mm.causal_conv1d
// CHECK: %[[SCAN:.*]]:2 = mm.fused <scan, {channels = 1 : i64}> (%[[CONV]]#0, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[S]]#1)
// CHECK: %[[Y:.*]], %[[H:.*]] = mm.selective_scan
// CHECK-NEXT: %[[G:.*]] = mm.gate %[[Y]], %{{.*}}
// CHECK-NEXT: mm.yield %[[H]], %[[G]]
// CHECK: %[[N:.*]]:2 = mm.fused <norm, {}>
// CHECK: %[[R:.*]] = mm.residual
// CHECK-NEXT: %[[NORM:.*]] = mm.rms_norm %[[R]]
// CHECK-NEXT: mm.yield %[[R]], %[[NORM]]
// CHECK: return %[[N]]#1, %[[N]]#0, %[[CONV]]#1, %[[SCAN]]#0

// UNFUSED: module attributes {mm.fusion = {gemm_rows = 16 : i64, gemm_rows_at_once = 4 : i64, gemm_tokens = 8 : i64, scan_channels = 4 : i64, strategy = "unfused"}}
// UNFUSED-LABEL: func.func @mixer
// UNFUSED: mm.fused <gemm, {rows = 16 : i64, rows_at_once = 4 : i64, tokens = 8 : i64}>
// UNFUSED: mm.fused <scan, {channels = 4 : i64}>
// UNFUSED-NEXT: ^bb0
// UNFUSED-NEXT: mm.selective_scan
// UNFUSED-NEXT: mm.yield
// UNFUSED: mm.fused <elementwise, {}>
// UNFUSED-NEXT: ^bb0
// UNFUSED-NEXT: mm.gate
// UNFUSED: mm.fused <elementwise, {}>
// UNFUSED-NEXT: ^bb0
// UNFUSED-NEXT: mm.residual
// UNFUSED: mm.fused <norm, {}>
// UNFUSED-NEXT: ^bb0
// UNFUSED-NEXT: mm.rms_norm
func.func @mixer(%x: tensor<?x?x8xf32>, %window: tensor<?x16x3xf32>, %h0: tensor<?x16x4xf32>, %b: tensor<?x?x4xf32>, %c: tensor<?x?x4xf32>, %dt: tensor<?x?x16xf32>)
    -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x16x3xf32>, tensor<?x16x4xf32>) {
  %win = mm.weight "in" : tensor<32x8xf32>
  %xz = mm.linear %x, %win : tensor<?x?x8xf32>, tensor<32x8xf32> -> tensor<?x?x32xf32>
  %parts:2 = mm.split %xz [16, 16] : tensor<?x?x32xf32> -> tensor<?x?x16xf32>, tensor<?x?x16xf32>
  %cw = mm.weight "conv" : tensor<16x1x4xf32>
  %u, %window_out = mm.causal_conv1d %parts#0, %cw window %window {silu} : (tensor<?x?x16xf32>, tensor<16x1x4xf32>, tensor<?x16x3xf32>) -> (tensor<?x?x16xf32>, tensor<?x16x3xf32>)
  %alog = mm.weight "A_log" : tensor<16x4xf32>
  %d = mm.weight "D" : tensor<16xf32>
  %y, %h1 = mm.selective_scan %u, %dt, %alog, %b, %c, %d initial_state %h0 {delta_softplus} : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<16xf32>, tensor<?x16x4xf32>) -> (tensor<?x?x16xf32>, tensor<?x16x4xf32>)
  %g = mm.gate %y, %parts#1 : tensor<?x?x16xf32>
  %wout = mm.weight "out" : tensor<8x16xf32>
  %m = mm.linear %g, %wout : tensor<?x?x16xf32>, tensor<8x16xf32> -> tensor<?x?x8xf32>
  %r = mm.residual %x, %m : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %nw = mm.weight "norm" : tensor<8xf32>
  %n = mm.rms_norm %r, %nw {epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  return %n, %r, %window_out, %h1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x16x3xf32>, tensor<?x16x4xf32>
}

// -----

// A scan output read by something other than its gate keeps the gate out of
// the scan's kernel.

// CHECK-LABEL: func.func @scan_read_twice
// CHECK: mm.fused <scan, {channels = 1 : i64}>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.selective_scan
// CHECK-NEXT: mm.yield
// CHECK: mm.fused <elementwise, {}>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: mm.gate
func.func @scan_read_twice(%u: tensor<?x?x16xf32>, %dt: tensor<?x?x16xf32>, %b: tensor<?x?x4xf32>, %c: tensor<?x?x4xf32>, %z: tensor<?x?x16xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x16x4xf32>) {
  %alog = mm.weight "A_log" : tensor<16x4xf32>
  %d = mm.weight "D" : tensor<16xf32>
  %y, %h1 = mm.selective_scan %u, %dt, %alog, %b, %c, %d : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x16x4xf32>)
  %g = mm.gate %y, %z : tensor<?x?x16xf32>
  return %g, %y, %h1 : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x16x4xf32>
}
