// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules | FileCheck %s
// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules --mm-host-kernels-pipeline | FileCheck %s --check-prefix=LLVM

// Each default CPU schedule: thread tiles as scf.forall, vectors of 16.

// The gemm schedule (on tensors, bufferised in the schedule): blocks of 64
// channels on the threads, the bias copied in by rows; register tiles of 4
// tokens x 4 channels keep 16 partial sums per output across K
// (loop-carried vectors, summed once after the loop); the token and channel
// remainders (the token count is dynamic, N = 96 leaves 32) in tiles of one
// token or one channel.
// CHECK-LABEL: func.func @linear(
// CHECK-NOT: bufferization.
// CHECK: scf.forall
// CHECK: vector.maskedload {{.*}} vector<64xf32>
// CHECK: vector.maskedstore
// CHECK: scf.for {{.*}} step %c4
// CHECK: scf.for {{.*}} step %c4
// CHECK: %[[SUMS:.*]] = scf.for {{.*}} step %c16 iter_args({{.*}}) -> (vector<1x4x4x16xf32>)
// CHECK-COUNT-8: vector.load {{.*}} vector<16xf32>
// CHECK: arith.mulf {{.*}} fastmath<reassoc,contract> : vector<1x4x4x16xf32>
// CHECK: arith.addf {{.*}} fastmath<reassoc,contract> : vector<1x4x4x16xf32>
// CHECK: scf.yield {{.*}} : vector<1x4x4x16xf32>
// CHECK: vector.extract %[[SUMS]]
// CHECK: vector.store {{.*}} vector<4xf32>
// CHECK: iter_args({{.*}}) -> (vector<1x4x1x16xf32>)
// CHECK: iter_args({{.*}}) -> (vector<1x1x4x16xf32>)
// CHECK: iter_args({{.*}}) -> (vector<1x1x1x16xf32>)
// CHECK-NOT: linalg.
// CHECK-NOT: tensor
// CHECK-LABEL: func.func @lm_head(
// CHECK: scf.forall
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<1x4x4x16xf32>)
// CHECK-NOT: linalg.
// CHECK-NOT: tensor

// CHECK-LABEL: func.func @rms_norm(
// CHECK: scf.forall
// CHECK: vector.reduction <add>, {{.*}} : vector<16xf64> into f64
// CHECK: scf.forall
// CHECK: math.sqrt {{.*}} : vector<1x1x16xf64>
// CHECK-NOT: linalg.generic

// CHECK-LABEL: func.func @gate(
// CHECK: scf.forall
// CHECK: math.exp {{.*}} : vector<1x1x16xf32>
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @residual(
// CHECK: scf.forall
// CHECK: math.exp {{.*}} : vector<1x1x16xf32>
// CHECK-NOT: linalg.generic

// The gather is only tiled.
// CHECK-LABEL: func.func @embed(
// CHECK: scf.forall
// CHECK: linalg.generic {{.*}}mm.linalg = "gather"

// Down to LLVM through OpenMP like the loop kernels.
// LLVM-LABEL: llvm.func @linear(
// LLVM: omp.parallel
// LLVM-NOT: = vector.
// LLVM-LABEL: llvm.func @embed(
