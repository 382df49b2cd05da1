// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules=target=cuda:sm_90 | FileCheck %s
// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules=target=hip:gfx942 | FileCheck %s

// The default GPU schedules (lowering/schedules/gpu/, both vendors): thread
// tiles as scf.forall, which mm-offload-to-gpu launches a thread per
// iteration, the last dimension fastest.

// The GEMM and the conv have no GPU schedule (GemmKernels.h builds the
// GEMMs; the conv stays on the loop emitter): their linalg is untouched.
// CHECK-LABEL: func.func @linear(
// CHECK-NOT: scf.forall
// CHECK: linalg.generic

// RMSNorm: a thread per row for the sum, initialised in the same loop, the
// row in vectors of 4 with the sum carried in a register (read once
// before the chunks, written once after); then a thread per 4 elements of
// a row for the scaling, a vector of 4 (4 divides 64) that reads the sum
// once. (test/e2e/gpu-sim-odd-shapes.test runs widths 4 does not divide.)
// CHECK-LABEL: func.func @rms_norm(
// CHECK: %[[SUMS:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x?xf64>
// CHECK: scf.forall (%[[B:.*]], %[[T:.*]]) in (%{{.*}}, %{{.*}}) {
// CHECK: vector.store %{{.*}}, %[[SUMS]][%[[B]], %[[T]]] : memref<?x?xf64>, vector<1xf64>
// CHECK: %[[START:.*]] = vector.load %[[SUMS]][%[[B]], %[[T]]]
// CHECK: %[[SUM:.*]] = scf.for {{.*}} step %c4 iter_args(%[[ACC:.*]] = %[[START]]) -> (vector<1xf64>)
// CHECK: vector.load {{.*}} vector<4xf32>
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<4xf64> into f64
// CHECK: vector.store %[[SUM]], %[[SUMS]][%[[B]], %[[T]]]
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, %{{.*}}, 16) {
// CHECK: vector.load %{{.*}} : memref<1x1xf64, {{.*}}>, vector<1xf64>
// CHECK: math.sqrt %{{.*}} : vector<4xf64>
// CHECK: vector.store %{{.*}} : memref<1x1x4xf32, {{.*}}>, vector<4xf32>
// CHECK: memref.dealloc %[[SUMS]]

// Elementwise kernels: a thread per 4 elements of a row, vectors of 4.
// CHECK-LABEL: func.func @gate(
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, %{{.*}}, 32) {
// CHECK-COUNT-2: vector.load {{.*}} vector<4xf32>
// CHECK: math.exp %{{.*}} : vector<4xf32>
// CHECK: vector.store {{.*}} vector<4xf32>
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @residual(
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, %{{.*}}, 16) {
// CHECK-COUNT-6: vector.load {{.*}} vector<4xf32>
// CHECK: vector.store {{.*}} vector<4xf32>
// CHECK-NOT: linalg.generic

// The embedding: a thread per 4 elements of a token's row.
// CHECK-LABEL: func.func @embed(
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, %{{.*}}, 16) {
// CHECK: linalg.generic {{.*}} attrs = {mm.linalg = "gather"}

// CHECK-LABEL: func.func @conv(
// CHECK-NOT: scf.forall
// CHECK: linalg.depthwise_conv_1d_nwc_wc
