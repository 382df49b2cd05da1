// RUN: mm-opt %s --mm-expand-host-math | FileCheck %s

// Host code computes f32 exp, log1p and log as polynomials (vector or
// scalar), which vectorise with their loops, instead of calling libm per
// element; f64 keeps math.exp (libm), and a kernel in a gpu.module keeps its
// math for mm-lower-gpu-math.

// CHECK-LABEL: func.func @host_math
// CHECK-NOT: math.exp %{{.*}} : vector<8xf32>
// CHECK-NOT: math.log1p
// CHECK-NOT: math.log
// CHECK: math.fma %{{.*}} : vector<8xf32>
// CHECK: math.exp %{{.*}} : f64
// CHECK-NOT: math.exp %{{.*}} : f32
// CHECK: return
func.func @host_math(%x: f32, %v: vector<8xf32>, %d: f64) -> (vector<8xf32>, f32, f64) {
  %e = math.exp %v : vector<8xf32>
  %l = math.log1p %x : f32
  %s = math.exp %l : f32
  %f = math.exp %d : f64
  return %e, %s, %f : vector<8xf32>, f32, f64
}

// CHECK-LABEL: gpu.module @kernels
// CHECK: math.exp %{{.*}} : f32
// CHECK: math.log1p %{{.*}} : f32
gpu.module @kernels {
  gpu.func @softplus(%x: f32, %out: memref<1xf32>) kernel {
    %c0 = arith.constant 0 : index
    %e = math.exp %x : f32
    %l = math.log1p %e : f32
    memref.store %l, %out[%c0] : memref<1xf32>
    gpu.return
  }
}
