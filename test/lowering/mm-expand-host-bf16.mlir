// RUN: mm-opt %s --mm-expand-host-bf16 | FileCheck %s

// Host code rounds to bf16 and widens from it with integer operations (no
// __truncsfbf2 on CPUs without AVX512-BF16); a kernel in a gpu.module keeps
// its conversions for its target; f32 and f16 conversions are left alone.

// CHECK-LABEL: func.func @host_round
// CHECK-NOT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NOT: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shrui
// CHECK: arith.bitcast %{{.*}} : i16 to bf16
// CHECK: arith.bitcast %{{.*}} : bf16 to i16
// CHECK: arith.shli
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: return
func.func @host_round(%x: f32) -> (f32, f16) {
  %r = arith.truncf %x : f32 to bf16
  %w = arith.extf %r : bf16 to f32
  %h = arith.truncf %x : f32 to f16
  return %w, %h : f32, f16
}

// CHECK-LABEL: gpu.module @kernels
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: arith.extf %{{.*}} : bf16 to f32
gpu.module @kernels {
  gpu.func @round(%x: f32, %out: memref<1xf32>) kernel {
    %c0 = arith.constant 0 : index
    %r = arith.truncf %x : f32 to bf16
    %w = arith.extf %r : bf16 to f32
    memref.store %w, %out[%c0] : memref<1xf32>
    gpu.return
  }
}
