// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules | FileCheck %s
// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules --mm-host-kernels-pipeline | FileCheck %s --check-prefix=LLVM
// RUN: mm-opt %S/Inputs/gemm-long-k.mlir --mm-test-linalg-kernels --mm-apply-schedules | FileCheck %s --check-prefix=LONG
// RUN: mm-opt %S/Inputs/gemm-long-k.mlir --mm-test-linalg-kernels --mm-apply-schedules --mm-host-kernels-pipeline | FileCheck %s --check-prefix=LONG-LLVM
// RUN: mm-opt %S/Inputs/gemm-short-k.mlir --mm-test-linalg-kernels --mm-apply-schedules | FileCheck %s --check-prefix=SHORT

// Each default CPU schedule: thread tiles as scf.forall, vectors of 16.

// The gemm schedule (on tensors, bufferised in the schedule). K = 64 over
// the tokens takes the emitter's outer-product form: the weight transposed
// once into a [K, N] buffer (a linalg operation on buffers, which the host
// pipeline lowers to loops), then blocks of 64 channels on the threads and
// register tiles of 4 tokens x 16 channels that start from the bias and
// add one outer product per step of K (4 broadcasts of x, a row of the
// transposed weight, multiplies and adds that keep their fastmath flags,
// so that LLVM fuses them), then 4 stores of 16 outputs. The second block
// (96 = 64 + 32) is dynamic: its channel loop is peeled, and so is the
// token loop (the token count is dynamic).
// CHECK-LABEL: func.func @linear(
// CHECK: %[[WT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<64x112xf32>
// CHECK: outs(%{{.*}} : memref<64x96xf32, strided<[112, 1]>>) attrs = {mm.linalg = "weight_transpose"}
// CHECK-NOT: bufferization.
// CHECK: scf.forall
// CHECK: scf.for {{.*}} step %c1
// CHECK: scf.for {{.*}} step %c4
// CHECK: scf.for {{.*}} step %c16
// CHECK: %[[BIAS:.*]] = vector.load {{.*}} vector<16xf32>
// CHECK-COUNT-4: vector.store %[[BIAS]]
// CHECK: %[[SUMS:.*]] = scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args({{.*}}) -> (vector<4x16xf32>)
// CHECK-COUNT-4: memref.load
// CHECK: vector.load {{.*}} vector<16xf32>
// CHECK: arith.mulf {{.*}} fastmath<reassoc,contract> : vector<4x16xf32>
// CHECK: arith.addf {{.*}} fastmath<reassoc,contract> : vector<4x16xf32>
// CHECK: } {gemm_k_loop}
// CHECK: vector.extract %[[SUMS]][0]
// CHECK-COUNT-4: vector.store {{.*}} vector<16xf32>
// CHECK-NOT: linalg.
// CHECK-NOT: tensor
// CHECK: memref.dealloc %[[WT]]
// CHECK-LABEL: func.func @lm_head(
// CHECK: mm.linalg = "weight_transpose"
// CHECK: scf.forall
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4x16xf32>)
// CHECK-NOT: linalg.
// CHECK-NOT: tensor

// CHECK-LABEL: func.func @rms_norm(
// CHECK: scf.forall
// CHECK: vector.reduction <add>, {{.*}} : vector<16xf64> into f64
// CHECK: scf.forall
// CHECK: math.sqrt {{.*}} : vector<16xf64>
// CHECK-NOT: linalg.generic

// CHECK-LABEL: func.func @gate(
// CHECK: scf.forall
// CHECK: math.exp {{.*}} : vector<16xf32>
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @residual(
// CHECK: scf.forall
// CHECK: math.exp {{.*}} : vector<16xf32>
// CHECK-NOT: linalg.generic

// The gather is only tiled.
// CHECK-LABEL: func.func @embed(
// CHECK: scf.forall
// CHECK: linalg.generic {{.*}}mm.linalg = "gather"

// The conv: two parts, each blocks of (sequence, 16 channels) on the
// threads; in a block, tiles of 8 steps: one read of 8 + K-1 = 11 input
// rows and K = 4 FMAs of [8, 16] (LLVM takes them as 8 rows), the bias
// loaded and SiLU applied in the tile; the peeled remainder one step at a
// time (4 FMAs). The
// concatenations bufferise to copies (linalg.copy), the new window is
// transposed into window_out after the window was copied.
// CHECK-LABEL: func.func @conv(
// CHECK: linalg.transpose {{.*}}mm.linalg = "conv_window"
// CHECK: linalg.copy
// CHECK: scf.forall
// CHECK: scf.for {{.*}} step %c8
// CHECK-COUNT-11: vector.load {{.*}} vector<16xf32>
// CHECK-COUNT-4: vector.fma {{.*}} : vector<8x16xf32>
// CHECK: math.exp {{.*}} : vector<8x16xf32>
// CHECK: scf.for {{.*}} step %c1
// CHECK-COUNT-4: vector.fma {{.*}} : vector<16xf32>
// CHECK: scf.forall
// CHECK: scf.for {{.*}} step %c8
// CHECK: linalg.transpose ins({{.*}}) outs(%arg7 {{.*}}mm.linalg = "conv_window"
// CHECK-NOT: tensor
// CHECK-NOT: linalg.depthwise

// Down to LLVM through OpenMP like the loop kernels.
// LLVM-LABEL: llvm.func @linear(
// LLVM: omp.parallel
// LLVM-NOT: = vector.
// LLVM-LABEL: llvm.func @embed(

// K above 64: tiles of 4 tokens x 3 channels of 8-lane partial sums (12
// accumulators, one AVX2 register each; 7 loads per 12 FMAs). The token
// count is dynamic and N = 320 makes blocks of 64 channels, not a multiple
// of 3: both loops are peeled, their remainders in tiles of one channel,
// one token, or both.
// LONG-DAG: #[[$TOKEN_BLOCKS:.*]] = affine_map<()[s0] -> (s0 ceildiv 32)>
// LONG-LABEL: func.func @linear_long_k(
// LONG: scf.forall (%{{.*}}) in (5)
// LONG: scf.for {{.*}} step %c4
// LONG: scf.for %{{.*}} = %c0 to %c63 step %c3
// LONG: %[[SUMS:.*]] = scf.for {{.*}} step %c8 iter_args({{.*}}) -> (vector<1x4x3x8xf32>)
// LONG-COUNT-7: vector.load {{.*}} vector<8xf32>
// LONG: arith.mulf {{.*}} fastmath<reassoc,contract> : vector<4x3x8xf32>
// LONG: arith.addf {{.*}} fastmath<reassoc,contract> : vector<4x3x8xf32>
// LONG: } {gemm_k_loop}
// LONG: vector.extract %[[SUMS]]
// LONG-COUNT-4: vector.store {{.*}} vector<3xf32>
// LONG: iter_args({{.*}}) -> (vector<1x4x1x8xf32>)
// LONG: iter_args({{.*}}) -> (vector<1x1x3x8xf32>)
// LONG: iter_args({{.*}}) -> (vector<1x1x1x8xf32>)
// LONG-NOT: linalg.
// LONG-NOT: tensor

// 80 channels (x_proj's) would make one block of 64 and one of 16: the
// threads take blocks of 32 tokens instead, each over all 80 channels.
// LONG-LABEL: func.func @linear_few_channels(
// LONG: %[[BLOCKS:.*]] = affine.apply #[[$TOKEN_BLOCKS]]()[%{{.*}}]
// LONG: scf.forall (%[[BLOCK:.*]]) in (%[[BLOCKS]])
// LONG: %[[FIRST:.*]] = affine.apply #{{.*}}(%[[BLOCK]])
// LONG: memref.subview %{{.*}}[0, %[[FIRST]], 0] [%{{.*}}, %{{.*}}, 128]
// LONG: memref.subview %{{.*}}[0, %[[FIRST]], 0] [%{{.*}}, %{{.*}}, 80]
// LONG: scf.for %{{.*}} = %c0 to %c78 step %c3
// LONG: iter_args({{.*}}) -> (vector<1x4x3x8xf32>)
// LONG: iter_args({{.*}}) -> (vector<1x4x1x8xf32>)
// LONG-NOT: linalg.
// LONG-NOT: tensor

// One static token: a row at a time, 32 partial sums across K (the loop
// marked for mm-prefetch-streams), summed by one vector.reduction, which
// the host lowering reassociates into a tree; the weights' stream gets a
// prefetch a kilobyte (256 f32) ahead, two per 128-byte read.
// LONG-LABEL: func.func @matvec_long_k(
// LONG: scf.forall
// LONG: scf.for {{.*}} step %c1
// LONG: scf.for {{.*}} step %c1
// LONG: %[[ROW:.*]] = scf.for {{.*}} step %c32 iter_args({{.*}}) -> (vector<1x1x1x32xf32>)
// LONG-COUNT-2: vector.load {{.*}} vector<32xf32>
// LONG: arith.mulf {{.*}} fastmath<reassoc,contract> : vector<32xf32>
// LONG: } {gemm_k_loop, mm.prefetch_bytes = 1024 : i64}
// LONG: %[[LANES:.*]] = vector.extract %[[ROW]][0, 0, 0]
// LONG: vector.reduction <add>, %[[LANES]]
// LONG: vector.store {{.*}} vector<1xf32>
// LONG-NOT: linalg.
// LONG-NOT: tensor
// LONG-LLVM-LABEL: llvm.func @linear_long_k(
// LONG-LLVM-NOT: llvm.intr.prefetch
// LONG-LLVM-LABEL: llvm.func @matvec_long_k(
// LONG-LLVM-COUNT-2: llvm.intr.prefetch
// LONG-LLVM: llvm.intr.vector.reduce.fadd{{.*}}fastmath<reassoc>

// In a decode step (one static token) a short K keeps the dot-product
// form: a K that leaves its 16 partial sums partly empty keeps them in a
// heap buffer per register tile (bufferisation cannot forward a partial
// write into registers); upstream's deallocation frees it in the same
// tile, so a call leaks nothing (an unfreed buffer here leaked 300 MB in
// the sanitizer tests).
// SHORT-LABEL: func.func @linear_k4(
// SHORT: scf.for {{.*}} step %c16
// SHORT: %[[K4:.*]] = memref.alloc() {{.*}} : memref<1x1x16x16xf32>
// SHORT: memref.dealloc %[[K4]]
// SHORT-NEXT: }
// SHORT-LABEL: func.func @linear_k20(
// SHORT: %[[K20:.*]] = memref.alloc() {{.*}} : memref<1x1x16x16xf32>
// SHORT: memref.dealloc %[[K20]]
// SHORT-NEXT: }
// Over the tokens, the outer-product form: one step of K at a time, so no
// step is partial and the only buffer is the transposed weight, freed at
// the end.
// SHORT-LABEL: func.func @linear_k20_tokens(
// SHORT: %[[WT:.*]] = memref.alloc() {{.*}} : memref<20x80xf32>
// SHORT: mm.linalg = "weight_transpose"
// SHORT-NOT: memref.alloc
// SHORT: scf.for %{{.*}} = %c0 to %c20 step %c1 iter_args({{.*}}) -> (vector<4x16xf32>)
// SHORT-NOT: memref.alloc
// SHORT: memref.dealloc %[[WT]]
// SHORT-NEXT: return
