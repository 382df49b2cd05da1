// RUN: mm-opt %s --mm-prefetch-streams | FileCheck %s
// RUN: mm-opt %s --mm-prefetch-streams=min-bytes=1000000000 | FileCheck %s --check-prefix=LARGE

// A loop a schedule marks with mm.prefetch_bytes (decode's matrix-vector
// products) gets a prefetch that far ahead of each read from a large
// buffer, one per 64-byte line the read covers, along the contiguous
// dimension; reads of small or dynamically shaped buffers (activations)
// and reads the loop repeats get none, nor do unmarked loops. The mark is
// consumed.

// CHECK-LABEL: func.func @matvec_row
// CHECK: scf.for %[[K:[a-z0-9]+]] =
// CHECK: %[[ROW:.*]] = memref.subview %{{.*}}[%{{.*}}, %[[K]]] [1, 32]
// CHECK: %[[C512:.*]] = arith.constant 512 : index
// CHECK: %[[AHEAD:.*]] = arith.addi %{{.*}}, %[[C512]] : index
// CHECK: memref.prefetch %[[ROW]][%{{.*}}, %[[AHEAD]]], read, locality<3>, data
// CHECK-NEXT: vector.load %[[ROW]]
// CHECK-NOT: memref.prefetch
// CHECK: scf.yield
// CHECK-NOT: mm.prefetch_bytes
// LARGE-LABEL: func.func @matvec_row
// LARGE-NOT: memref.prefetch
func.func @matvec_row(%w: memref<4096x768xbf16>, %x: memref<?x768xf32>,
                      %r: index) -> vector<32xf32> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c768 = arith.constant 768 : index
  %zero = arith.constant dense<0.0> : vector<32xf32>
  %sum = scf.for %k = %c0 to %c768 step %c32 iter_args(%acc = %zero) -> (vector<32xf32>) {
    %row = memref.subview %w[%r, %k] [1, 32] [1, 1]
        : memref<4096x768xbf16> to memref<1x32xbf16, strided<[768, 1], offset: ?>>
    %wv = vector.load %row[%c0, %c0]
        : memref<1x32xbf16, strided<[768, 1], offset: ?>>, vector<32xbf16>
    %xv = vector.load %x[%c0, %k] : memref<?x768xf32>, vector<32xf32>
    %wf = arith.extf %wv : vector<32xbf16> to vector<32xf32>
    %p = arith.mulf %wf, %xv : vector<32xf32>
    %next = arith.addf %acc, %p : vector<32xf32>
    scf.yield %next : vector<32xf32>
  } {mm.prefetch_bytes = 1024 : i64}
  return %sum : vector<32xf32>
}

// f32 reads of 128 bytes: two lines, 256 and 272 elements ahead. The
// 3 KiB vector and the loop-invariant read get none.
// CHECK-LABEL: func.func @f32_rows
// CHECK: scf.for %[[K:[a-z0-9]+]] =
// CHECK: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[A0:.*]] = arith.addi %[[K]], %[[C256]] : index
// CHECK: memref.prefetch %{{.*}}[%{{.*}}, %[[A0]]], read, locality<3>, data
// CHECK: %[[C272:.*]] = arith.constant 272 : index
// CHECK: %[[A1:.*]] = arith.addi %[[K]], %[[C272]] : index
// CHECK: memref.prefetch %{{.*}}[%{{.*}}, %[[A1]]], read, locality<3>, data
// CHECK-NEXT: vector.load %{{.*}} : memref<1024x768xf32>, vector<32xf32>
// CHECK-NOT: memref.prefetch
// CHECK: scf.yield
func.func @f32_rows(%w: memref<1024x768xf32>, %x: memref<768xf32>,
                    %bias: memref<1024x768xf32>, %r: index) -> vector<32xf32> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c768 = arith.constant 768 : index
  %zero = arith.constant dense<0.0> : vector<32xf32>
  %sum = scf.for %k = %c0 to %c768 step %c32 iter_args(%acc = %zero) -> (vector<32xf32>) {
    %wv = vector.load %w[%r, %k] : memref<1024x768xf32>, vector<32xf32>
    %xv = vector.load %x[%k] : memref<768xf32>, vector<32xf32>
    %bv = vector.load %bias[%r, %c0] : memref<1024x768xf32>, vector<32xf32>
    %p = arith.mulf %wv, %xv : vector<32xf32>
    %q = arith.addf %p, %bv : vector<32xf32>
    %next = arith.addf %acc, %q : vector<32xf32>
    scf.yield %next : vector<32xf32>
  } {mm.prefetch_bytes = 1024 : i64}
  return %sum : vector<32xf32>
}

// CHECK-LABEL: func.func @unmarked
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @unmarked(%w: memref<1024x768xf32>, %r: index) -> vector<32xf32> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c768 = arith.constant 768 : index
  %zero = arith.constant dense<0.0> : vector<32xf32>
  %sum = scf.for %k = %c0 to %c768 step %c32 iter_args(%acc = %zero) -> (vector<32xf32>) {
    %wv = vector.load %w[%r, %k] : memref<1024x768xf32>, vector<32xf32>
    %next = arith.addf %acc, %wv : vector<32xf32>
    scf.yield %next : vector<32xf32>
  }
  return %sum : vector<32xf32>
}
