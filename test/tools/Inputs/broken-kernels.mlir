// Kernels with the bugs the simulator must catch, one per kernel
// (mm-sim-kernel.test), and a large one for the shared-memory limits.
module attributes {gpu.container_module} {
  gpu.module @broken {
    // Thread 63 reads one past the end.
    gpu.func @oob_load(%in: memref<64xf32>, %out: memref<64xf32>) kernel {
      %c1 = arith.constant 1 : index
      %tid = gpu.thread_id x
      %next = arith.addi %tid, %c1 : index
      %x = memref.load %in[%next] : memref<64xf32>
      memref.store %x, %out[%tid] : memref<64xf32>
      gpu.return
    }

    // Each thread writes its slot, then reads its left neighbour's with no
    // barrier between.
    gpu.func @shared_race(%out: memref<64xf32>)
        workgroup(%buf: memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %tid = gpu.thread_id x
      %f = arith.index_cast %tid : index to i32
      %x = arith.sitofp %f : i32 to f32
      memref.store %x, %buf[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
      %has_left = arith.cmpi ne, %tid, %c0 : index
      scf.if %has_left {
        %left = arith.subi %tid, %c1 : index
        %y = memref.load %buf[%left] : memref<64xf32, #gpu.address_space<workgroup>>
        memref.store %y, %out[%tid] : memref<64xf32>
      }
      gpu.return
    }

    // Shared memory read before anything wrote it.
    gpu.func @uninit_shared(%out: memref<64xf32>)
        workgroup(%buf: memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %tid = gpu.thread_id x
      %y = memref.load %buf[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %y, %out[%tid] : memref<64xf32>
      gpu.return
    }

    // Thread 0 skips the barrier the others wait at.
    gpu.func @skipped_barrier(%out: memref<64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %tid = gpu.thread_id x
      %others = arith.cmpi ne, %tid, %c0 : index
      scf.if %others {
        gpu.barrier
      }
      gpu.return
    }

    // Two halves of the block wait at different barriers.
    gpu.func @divergent_barriers(%out: memref<64xf32>) kernel {
      %c32 = arith.constant 32 : index
      %tid = gpu.thread_id x
      %low = arith.cmpi ult, %tid, %c32 : index
      scf.if %low {
        gpu.barrier
      } else {
        gpu.barrier
      }
      gpu.return
    }

    // Only half a warp shuffles.
    gpu.func @divergent_shuffle(%out: memref<64xf32>) kernel {
      %c1 = arith.constant 1 : i32
      %c16 = arith.constant 16 : index
      %width = arith.constant 32 : i32
      %tid = gpu.thread_id x
      %low = arith.cmpi ult, %tid, %c16 : index
      scf.if %low {
        %x = arith.constant 1.0 : f32
        %y, %valid = gpu.shuffle xor %x, %c1, %width : f32
        memref.store %y, %out[%tid] : memref<64xf32>
      }
      gpu.return
    }

    // Writes 4 bytes per thread of dynamic shared memory: 256 bytes for 64
    // threads, more than a launch with 128 gives it.
    gpu.func @dynamic_shared_overflow(%out: memref<64xf32>) kernel {
      %c4 = arith.constant 4 : index
      %tid = gpu.thread_id x
      %x = arith.constant 2.0 : f32
      %bytes = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %c0 = arith.constant 0 : index
      %c64 = arith.constant 64 : index
      %floats = memref.view %bytes[%c0][%c64] : memref<?xi8, #gpu.address_space<workgroup>> to memref<?xf32, #gpu.address_space<workgroup>>
      memref.store %x, %floats[%tid] : memref<?xf32, #gpu.address_space<workgroup>>
      gpu.return
    }

    // 80000 bytes of shared memory: fits an sm_90 block (227 KiB), not a
    // gfx942 one (64 KiB).
    gpu.func @big_shared(%out: memref<64xf32>)
        workgroup(%buf: memref<20000xf32, #gpu.address_space<workgroup>>) kernel {
      %tid = gpu.thread_id x
      %x = arith.constant 3.0 : f32
      memref.store %x, %buf[%tid] : memref<20000xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %y = memref.load %buf[%tid] : memref<20000xf32, #gpu.address_space<workgroup>>
      memref.store %y, %out[%tid] : memref<64xf32>
      gpu.return
    }
  }
}
