// RUN: mm-opt %s --mm-simulator-kernels=target=cuda:sm_90 -split-input-file -verify-diagnostics

// What the simulator has no model of is a compile error naming the kernel,
// never code that runs unchecked.

module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @f16_accumulators(%a: vector<4x2xf16>, %b: vector<2x2xf16>,
                               %c: vector<2x2xf16>, %out: memref<2x2xf16>) kernel {
      // expected-error @+1 {{the simulator has no model of this matrix instruction's shape, types or modifiers yet (kernel f16_accumulators)}}
      %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 16]}
          : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf16>) -> vector<2x2xf16>
      %c0 = arith.constant 0 : index
      %x = vector.extract %d[0, 0] : f16 from vector<2x2xf16>
      memref.store %x, %out[%c0, %c0] : memref<2x2xf16>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @transfer(%in: memref<8xf32>, %out: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %pad = arith.constant 0.0 : f32
      // expected-error @+1 {{the simulator does not check this access yet (kernel transfer)}}
      %v = vector.transfer_read %in[%c0], %pad : memref<8xf32>, vector<8xf32>
      vector.store %v, %out[%c0] : memref<8xf32>, vector<8xf32>
      gpu.return
    }
  }
}
