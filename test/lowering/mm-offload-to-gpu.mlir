// RUN: mm-opt %s --mm-offload-to-gpu="threads-per-block=64" | FileCheck %s

// A lowered entry point: a buffer, a parallel loop, a sequential nest with a
// stack buffer and a heap buffer of its own, a copy. On the GPU: device
// buffers, one thread per parallel iteration (64 per block), one thread for
// the sequential nest with its stack buffer in private memory and its heap
// buffer allocated before the launch, a copy kernel.

// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @mm_prefill(
// CHECK-SAME: %[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>, %[[N:.*]]: index)
// CHECK: %[[T0:.*]] = gpu.wait async
// CHECK: %[[TMP:.*]], %[[T1:.*]] = gpu.alloc async [%[[T0]]] (%[[N]]) : memref<?xf32>
// CHECK: gpu.wait [%[[T1]]]
// The parallel loop: ceil(N / 64) blocks of 64 threads, guarded.
// CHECK: %[[BLOCKS:.*]] = arith.ceildivsi %{{.*}}, %c64
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], %{{.*}}) in (%{{[^ ]*}} = %[[BLOCKS]], {{.*}}) threads(%[[TX:[^,]*]], %{{.*}}) in (%{{[^ ]*}} = %c64, {{.*}}) module(@mm_kernels) function(@mm_prefill_gemm_0)
// CHECK: %[[BASE:.*]] = arith.muli %[[BX]], %c64
// CHECK: arith.addi %[[BASE]], %[[TX]]
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[TMP]]
// CHECK: gpu.terminator
// The sequential nest: its heap buffer first, then one thread.
// CHECK: %[[SCRATCH:.*]], %{{.*}} = gpu.alloc async
// CHECK: gpu.launch blocks({{.*}}) in (%{{[^ ]*}} = %c1{{[_0-9]*}}, {{.*}}) threads({{.*}}) in (%{{[^ ]*}} = %c1{{[_0-9]*}}, {{.*}}) module(@mm_kernels) function(@mm_prefill_memory_1)
// CHECK: %[[STACK:.*]] = memref.alloca() : memref<4xf32, #gpu.address_space<private>>
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[STACK]]
// CHECK: memref.store %{{.*}}, %[[SCRATCH]]
// CHECK: gpu.terminator
// CHECK: gpu.dealloc async [%{{.*}}] %[[SCRATCH]]
// The copy: one thread per leading index.
// CHECK: gpu.launch {{.*}} module(@mm_kernels) function(@mm_prefill_copy_2)
// CHECK: memref.load %[[TMP]]
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: gpu.dealloc async [%{{.*}}] %[[TMP]]
// CHECK: return
func.func @mm_prefill(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) attributes {llvm.emit_c_interface} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %stack = memref.alloca() : memref<4xf32>
  %tmp = memref.alloc(%n) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %tmp[%i] : memref<?xf32>
    scf.reduce
  } {mm.kernel = "gemm"}
  scf.for %i = %c0 to %c4 step %c1 {
    %scratch = memref.alloc(%n) : memref<?xf32>
    %v = memref.load %tmp[%i] : memref<?xf32>
    memref.store %v, %stack[%i] : memref<4xf32>
    memref.store %v, %scratch[%i] : memref<?xf32>
    memref.dealloc %scratch : memref<?xf32>
  } {mm.kernel = "memory"}
  memref.copy %tmp, %y : memref<?xf32> to memref<?xf32>
  memref.dealloc %tmp : memref<?xf32>
  return
}

// A scheduled kernel's thread tiles (scf.forall became a 2-D scf.parallel):
// one launch over rows x 4-wide tiles, a thread per tile numbered with the
// last dimension fastest (the tiles of a row on neighbouring threads), the
// constants the body uses defined in the kernel, not passed to it.
// CHECK-LABEL: func.func private @mm_norm_0(
// CHECK-SAME: %[[ROWS:[^:]*]]: index, %[[OUT:[^:]*]]: memref<?x16xvector<4xf32>>)
// CHECK: %[[ROW_COUNT:.*]] = arith.ceildivsi %{{.*}}, %c1
// CHECK: %[[TILE_COUNT:.*]] = arith.ceildivsi %{{.*}}, %c4
// CHECK: %[[COUNT:.*]] = arith.muli %[[ROW_COUNT]], %[[TILE_COUNT]]
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], %{{.*}}) in {{.*}} threads(%[[TX:[^,]*]], %{{.*}}) in (%{{[^ ]*}} = %c64, {{.*}}) module(@mm_kernels) function(@mm_norm_0_0)
// CHECK: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : vector<4xf32>
// CHECK: %[[FLAT:.*]] = arith.addi %{{.*}}, %[[TX]]
// CHECK: arith.cmpi slt, %[[FLAT]], %[[COUNT]]
// CHECK: %[[TILE:.*]] = arith.remui %[[FLAT]], %[[TILE_COUNT]]
// CHECK: %[[ROW:.*]] = arith.divui %[[FLAT]], %[[TILE_COUNT]]
// CHECK: %[[TILE_STEP:.*]] = arith.muli %[[TILE]], %c4
// CHECK: %[[COLUMN:.*]] = arith.addi %{{.*}}, %[[TILE_STEP]]
// CHECK: %[[ROW_STEP:.*]] = arith.muli %[[ROW]], %c1
// CHECK: %[[ROW_INDEX:.*]] = arith.addi %{{.*}}, %[[ROW_STEP]]
// CHECK: memref.store %[[ONES]], %[[OUT]][%[[ROW_INDEX]], %[[COLUMN]]]
// CHECK: gpu.terminator
func.func private @mm_norm_0(%rows: index, %out: memref<?x16xvector<4xf32>>) attributes {mm.lowering = "linalg"} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %ones = arith.constant dense<1.0> : vector<4xf32>
  scf.parallel (%row, %column) = (%c0, %c0) to (%rows, %c16) step (%c1, %c4) {
    memref.store %ones, %out[%row, %column] : memref<?x16xvector<4xf32>>
    scf.reduce
  } {mm.kernel = "norm"}
  return
}
