// RUN: mm-opt %s --pass-pipeline="builtin.module(gpu.module(mm-lower-gpu-math{target=cuda:sm_90}))" | FileCheck %s --check-prefix=CUDA
// RUN: mm-opt %s --pass-pipeline="builtin.module(gpu.module(mm-lower-gpu-math{target=hip:gfx942}))" | FileCheck %s --check-prefix=HIP

// Kernel math without a device library: exp and exp2 on the exp2
// instruction (f32; exp scaled by log2 e),
// f64 exp by range reduction and a polynomial, log1p on the log2
// instruction, sqrt on llvm.sqrt. On the vectors of a scheduled kernel's
// tiles, element by element.

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // CUDA-LABEL: gpu.func @math
    // CUDA: %[[SCALED:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
    // CUDA: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"(%[[SCALED]]) : (f32) -> f32
    // CUDA: arith.fptosi {{.*}} : f64 to i64
    // CUDA: arith.shli
    // CUDA: arith.bitcast {{.*}} : i64 to f64
    // CUDA: llvm.call_intrinsic "llvm.nvvm.lg2.approx.ftz.f"
    // CUDA: llvm.call_intrinsic "llvm.sqrt.f64"
    // CUDA: %[[TWO:.*]] = llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"(%arg0) : (f32) -> f32
    // CUDA: memref.store %[[TWO]]
    // CUDA-NOT: math.
    // HIP-LABEL: gpu.func @math
    // HIP: llvm.call_intrinsic "llvm.amdgcn.exp2.f32"
    // HIP: llvm.call_intrinsic "llvm.amdgcn.log.f32"
    // HIP: llvm.call_intrinsic "llvm.amdgcn.exp2.f32"(%arg0)
    // HIP-NOT: math.
    gpu.func @math(%x: f32, %y: f64, %out: memref<4xf32>, %out64: memref<2xf64>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %e = math.exp %x : f32
      %e64 = math.exp %y : f64
      %l = math.log1p %x : f32
      %s = math.sqrt %y : f64
      %two = math.exp2 %x : f32
      %c2 = arith.constant 2 : index
      memref.store %two, %out[%c2] : memref<4xf32>
      memref.store %e, %out[%c0] : memref<4xf32>
      memref.store %l, %out[%c1] : memref<4xf32>
      memref.store %e64, %out64[%c0] : memref<2xf64>
      memref.store %s, %out64[%c1] : memref<2xf64>
      gpu.return
    }

    // CUDA-LABEL: gpu.func @vector_math
    // CUDA: vector.extract %{{.*}}[0] : f32 from vector<2xf32>
    // CUDA: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
    // CUDA: vector.insert %{{.*}}, %{{.*}} [0] : f32 into vector<2xf32>
    // CUDA: vector.extract %{{.*}}[1] : f32 from vector<2xf32>
    // CUDA: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
    // CUDA: vector.insert %{{.*}}, %{{.*}} [1] : f32 into vector<2xf32>
    // CUDA-COUNT-2: llvm.call_intrinsic "llvm.sqrt.f64"
    // CUDA-NOT: math.
    // HIP-LABEL: gpu.func @vector_math
    // HIP-COUNT-2: llvm.call_intrinsic "llvm.amdgcn.exp2.f32"
    // HIP-NOT: math.
    gpu.func @vector_math(%x: f32, %y: f64, %out: memref<2xf32>, %out64: memref<2xf64>) kernel {
      %c0 = arith.constant 0 : index
      %vx = vector.broadcast %x : f32 to vector<2xf32>
      %vy = vector.broadcast %y : f64 to vector<2xf64>
      %e = math.exp %vx : vector<2xf32>
      %s = math.sqrt %vy : vector<2xf64>
      vector.store %e, %out[%c0] : memref<2xf32>, vector<2xf32>
      vector.store %s, %out64[%c0] : memref<2xf64>, vector<2xf64>
      gpu.return
    }
  }
}
