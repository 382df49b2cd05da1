// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules | FileCheck %s
// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules --mm-host-kernels-pipeline | FileCheck %s --check-prefix=LLVM

// Each default CPU schedule: thread tiles as scf.forall, vectors of 16.

// CHECK-LABEL: func.func @linear(
// CHECK: scf.forall
// CHECK: linalg.generic {{.*}}mm.linalg = "bias"
// CHECK: scf.forall
// CHECK: scf.for
// CHECK: vector.transfer_read {{.*}} vector<16x16xf32>
// CHECK: vector.reduction <add>
// CHECK-NOT: mm.linalg = "matmul"
// CHECK-LABEL: func.func @lm_head(
// CHECK: scf.forall
// CHECK: vector.reduction <add>

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
