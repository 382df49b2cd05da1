// The host side of a GPU artifact, for MgpuAbiTest: MLIR 22's gpu-to-llvm
// lowering turns it into mgpu* calls (the module load in a global
// constructor, the unload in a destructor). The binary is a module image of
// the fake CUDA driver (test/unit/FakeCudaDriver.h) with one kernel, "scale",
// whose host stand-in the test registers.
module attributes {gpu.container_module} {
  gpu.binary @kernels [#gpu.object<#nvvm.target, "FAKECUBIN scale\0A">]

  // host *= factor on the device (2 blocks of 8 threads), fill[:] = 7 and
  // words[:] = 0x12345678 through device memsets, on two streams joined by
  // events.
  func.func @run(%host: memref<16xf32>, %factor: f32, %fill: memref<8xi16>,
                 %words: memref<4xi32>) attributes {llvm.emit_c_interface} {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c8 = arith.constant 8 : index
    %seven = arith.constant 7 : i16
    %word = arith.constant 305419896 : i32
    %t0 = gpu.wait async
    %dev, %t1 = gpu.alloc async [%t0] () : memref<16xf32>
    %t2 = gpu.memcpy async [%t1] %dev, %host : memref<16xf32>, memref<16xf32>
    %t3 = gpu.launch_func async [%t2] @kernels::@scale
        blocks in (%c2, %c1, %c1) threads in (%c8, %c1, %c1)
        args(%dev : memref<16xf32>, %factor : f32)
    %u0 = gpu.wait async
    %f, %u1 = gpu.alloc async [%u0] () : memref<8xi16>
    %u2 = gpu.memset async [%u1] %f, %seven : memref<8xi16>, i16
    %w, %u3 = gpu.alloc async [%u2] () : memref<4xi32>
    %u4 = gpu.memset async [%u3] %w, %word : memref<4xi32>, i32
    %j = gpu.wait async [%t3, %u4]
    %t4 = gpu.memcpy async [%j] %host, %dev : memref<16xf32>, memref<16xf32>
    %t5 = gpu.memcpy async [%t4] %fill, %f : memref<8xi16>, memref<8xi16>
    %t6 = gpu.memcpy async [%t5] %words, %w : memref<4xi32>, memref<4xi32>
    %t7 = gpu.dealloc async [%t6] %dev : memref<16xf32>
    %t8 = gpu.dealloc async [%t7] %f : memref<8xi16>
    %t9 = gpu.dealloc async [%t8] %w : memref<4xi32>
    gpu.wait [%t9]
    return
  }
}
