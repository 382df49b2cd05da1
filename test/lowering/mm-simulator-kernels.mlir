// RUN: mm-opt %s --mm-simulator-kernels=target=cuda:sm_90 | FileCheck %s
// RUN: mm-opt %s --mm-simulator-kernels=target=hip:gfx942 | FileCheck %s --check-prefix=WAVE64
// RUN: mm-opt %s --mm-simulator-kernels=target=cuda:sm_90 | FileCheck %s --check-prefix=SITES

// The host copy of each kernel for the simulator device: ids from the
// simulator's thread record, workgroup memory as views of the block's
// shared memory, barriers and shuffles as calls, bounds checks and shared
// access reports around every access, inline counters. The kernels stay.

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // CHECK-LABEL: gpu.func @scale
    // CHECK: gpu.thread_id x
    gpu.func @scale(%in: memref<?xf32>, %out: memref<?xf32>, %n: index) kernel
        attributes {known_block_size = array<i32: 64, 1, 1>} {
      %tid = gpu.thread_id x
      %bid = gpu.block_id x
      %dim = gpu.block_dim x
      %base = arith.muli %bid, %dim : index
      %i = arith.addi %base, %tid : index
      %inside = arith.cmpi ult, %i, %n : index
      scf.if %inside {
        %x = memref.load %in[%i] : memref<?xf32>
        %y = arith.mulf %x, %x : f32
        memref.store %y, %out[%i] : memref<?xf32>
      }
      gpu.return
    }

    gpu.func @block_sum(%in: memref<64xf32>, %out: memref<1xf32>)
        workgroup(%partial: memref<64xf32, #gpu.address_space<workgroup>>)
        kernel {
      %c0 = arith.constant 0 : index
      %tid = gpu.thread_id x
      %x = memref.load %in[%tid] : memref<64xf32>
      memref.store %x, %partial[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %first = arith.cmpi eq, %tid, %c0 : index
      scf.if %first {
        %c1 = arith.constant 1 : index
        %c64 = arith.constant 64 : index
        %zero = arith.constant 0.0 : f32
        %sum = scf.for %j = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> f32 {
          %v = memref.load %partial[%j] : memref<64xf32, #gpu.address_space<workgroup>>
          %a = arith.addf %acc, %v : f32
          scf.yield %a : f32
        }
        memref.store %sum, %out[%c0] : memref<1xf32>
      }
      gpu.return
    }

    // Every thread of every block adds 1 to a shared counter atomically,
    // then thread 0 of each block adds the block's count to the global one.
    gpu.func @atomic_count(%out: memref<1xf32>)
        workgroup(%count: memref<1xf32, #gpu.address_space<workgroup>>)
        kernel {
      %c0 = arith.constant 0 : index
      %zero = arith.constant 0.0 : f32
      %one = arith.constant 1.0 : f32
      %tid = gpu.thread_id x
      %first = arith.cmpi eq, %tid, %c0 : index
      scf.if %first {
        memref.store %zero, %count[%c0] : memref<1xf32, #gpu.address_space<workgroup>>
      }
      gpu.barrier
      %old = memref.atomic_rmw addf %one, %count[%c0] : (f32, memref<1xf32, #gpu.address_space<workgroup>>) -> f32
      gpu.barrier
      scf.if %first {
        %block = memref.load %count[%c0] : memref<1xf32, #gpu.address_space<workgroup>>
        %total = memref.atomic_rmw addf %block, %out[%c0] : (f32, memref<1xf32>) -> f32
      }
      gpu.return
    }

    gpu.func @warp_sum(%in: memref<?xf32>, %out: memref<?xf32>) kernel {
      %tid = gpu.thread_id x
      %x = memref.load %in[%tid] : memref<?xf32>
      %sum = gpu.subgroup_reduce add %x : (f32) -> f32
      memref.store %sum, %out[%tid] : memref<?xf32>
      gpu.return
    }
  }
}

// CHECK-LABEL: func.func @__mmsim_impl_scale(
// CHECK-SAME: %[[IN:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[N:[a-z0-9]+]]: index, %[[SHARED:[a-z0-9]+]]: memref<?xi8>, %[[THREAD:[a-z0-9]+]]: !llvm.ptr)
// CHECK-SAME: mmsim.arg_ranks = array<i64: 1, 1, -1>
// CHECK-SAME: mmsim.cooperative = false
// CHECK-SAME: mmsim.kernel = "scale"
// CHECK-SAME: mmsim.known_block_size = array<i32: 64, 1, 1>
// The worker's counters, then the thread and block ids from the thread record.
// CHECK: %[[COUNTERS_SLOT:.*]] = llvm.getelementptr %[[THREAD]][64]
// CHECK: %[[COUNTERS:.*]] = llvm.load %[[COUNTERS_SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.getelementptr %[[THREAD]][0]
// CHECK: llvm.getelementptr %[[THREAD]][12]
// CHECK: llvm.getelementptr %[[THREAD]][24]
// CHECK: scf.if
// A 4-byte global load, a store and one flop, counted where they happen.
// CHECK: llvm.getelementptr %[[COUNTERS]][0]
// CHECK: arith.constant 4 : i64
// CHECK: llvm.getelementptr %[[COUNTERS]][8]
// CHECK: llvm.getelementptr %[[COUNTERS]][16]
// The load runs only inside its memref's bounds; outside, the simulator
// hears of it and the load gives zero.
// CHECK: %[[SIZE:.*]] = memref.dim %[[IN]]
// CHECK: %[[OK:.*]] = arith.cmpi ult, %{{.*}}, %[[SIZE]] : index
// CHECK: scf.if %[[OK]] -> (f32) {
// CHECK:   memref.load %[[IN]]
// CHECK: } else {
// CHECK:   func.call @mmsim_out_of_bounds(%[[THREAD]],
// CHECK:   arith.constant 0.000000e+00 : f32
// CHECK: memref.store
// CHECK: return

// Workgroup memory is a view of the block's shared memory; every access of
// it is reported first, and the barrier is a call.
// CHECK-LABEL: func.func @__mmsim_impl_block_sum(
// CHECK-SAME: %[[SHARED:[a-z0-9]+]]: memref<?xi8>, %[[THREAD:[a-z0-9]+]]: !llvm.ptr)
// CHECK-SAME: mmsim.cooperative = true
// CHECK-SAME: mmsim.shared_bytes = 256
// CHECK: %[[PARTIAL:.*]] = memref.view %[[SHARED]][%{{.*}}][] : memref<?xi8> to memref<64xf32>
// CHECK: %[[GRANTED:.*]] = {{(func.)?}}call @mmsim_shared_access(%[[THREAD]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, i64, i32, i32, i32) -> i32
// CHECK: memref.store %{{.*}}, %[[PARTIAL]]
// CHECK: {{(func.)?}}call @mmsim_barrier(%[[THREAD]], %{{.*}}) : (!llvm.ptr, i32) -> ()
// CHECK-NOT: gpu.

// A subgroup reduction becomes upstream's shuffles, at the target's width.
// CHECK-LABEL: func.func @__mmsim_impl_warp_sum(
// CHECK-SAME: mmsim.cooperative = true
// CHECK-COUNT-5: {{(func.)?}}call @mmsim_shuffle(
// CHECK-NOT: call @mmsim_shuffle(
// CHECK: return
// WAVE64-LABEL: func.func @__mmsim_impl_warp_sum(
// WAVE64-COUNT-6: {{(func.)?}}call @mmsim_shuffle(
// WAVE64-NOT: call @mmsim_shuffle(
// WAVE64: return

// The sites the simulator's errors name.
// SITES: mmsim.sites = [{buffer = "argument 0", kernel = "scale", loc = "{{.*}}mm-simulator-kernels.mlir:23:{{[0-9]+}}", op = "memref.load", type = "memref<?xf32>"}
// SITES-SAME: {kernel = "block_sum", loc = "{{.*}}mm-simulator-kernels.mlir:37:7", op = "gpu.barrier"}
// SITES-SAME: {buffer = "workgroup buffer 0", kernel = "block_sum", loc = "{{.*}}", op = "memref.store", type = "memref<64xf32>"}
// SITES: mmsim.target = "cuda:sm_90"
