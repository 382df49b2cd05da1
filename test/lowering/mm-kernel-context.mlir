// RUN: mm-opt %s --mm-kernel-context | FileCheck %s
// RUN: mm-opt %s --mm-kernel-context | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=IR
// RUN: mm-opt %S/Inputs/kernel-context-invalid.mlir --mm-kernel-context --split-input-file --verify-diagnostics

// Host code as gpu-to-llvm leaves it (made from func.func with gpu.alloc,
// gpu.launch_func and gpu.dealloc by upstream's passes): an entry point that
// calls a function that launches twice, an entry point that launches
// nothing, and a function that neither launches nor is called by one that
// does. The kernels become the exported mm_kernel_module; every function on
// a path to a launch takes the kernel context first and passes it on;
// launches use the context's function handles and stream; no stream is
// created, synchronised or destroyed.

// CHECK: module attributes {gpu.container_module, mm.kernel_binaries = {mm_kernels = [#gpu.object<#nvvm.target<O = 3, chip = "sm_90">, properties = {O = 3 : i32}, assembly = "FAKE PTX">]}}
// CHECK-NOT: gpu.binary
// CHECK: llvm.mlir.global internal constant @mm_kernel_image("FAKE PTX\00") {{.*}}alignment = 64
// CHECK: llvm.mlir.global internal constant @mm_kernel_names("scale\00shift\00")
// CHECK: llvm.mlir.global external constant @mm_kernel_module()
// Version 1, assembly (1), JIT level 3, the image, 9 bytes, 2 kernels, the names.
// CHECK-DAG: %[[V1:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-DAG: %[[O3:.*]] = llvm.mlir.constant(3 : i64) : i64
// CHECK-DAG: %[[SIZE:.*]] = llvm.mlir.constant(9 : i64) : i64
// CHECK-DAG: %[[COUNT:.*]] = llvm.mlir.constant(2 : i64) : i64

// CHECK-LABEL: llvm.func @layer(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: !llvm.ptr, %arg3: i64, %arg4: i64, %arg5: i64, %arg6: i64)
// CHECK-NOT: mgpuStreamCreate
// CHECK: %[[STREAM:.*]] = llvm.load %arg0 : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @mgpuMemAlloc(%{{.*}}, %[[STREAM]], %{{.*}})
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: %[[S1:.*]] = llvm.load %arg0 : !llvm.ptr -> !llvm.ptr
// CHECK: %[[FIELD1:.*]] = llvm.getelementptr %arg0[8] : (!llvm.ptr) -> !llvm.ptr, i8
// CHECK: %[[FUNCTIONS1:.*]] = llvm.load %[[FIELD1]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[SLOT1:.*]] = llvm.getelementptr %[[FUNCTIONS1]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[SCALE:.*]] = llvm.load %[[SLOT1]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @mgpuLaunchKernel(%[[SCALE]], {{.*}}, %[[S1]], %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK: %[[SLOT2:.*]] = llvm.getelementptr %{{.*}}[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[SHIFT:.*]] = llvm.load %[[SLOT2]]
// CHECK: llvm.call @mgpuLaunchKernel(%[[SHIFT]],
// CHECK: %[[S3:.*]] = llvm.load %arg0 : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @mgpuMemFree(%{{.*}}, %[[S3]])
// CHECK-NOT: mgpuStream
// CHECK: llvm.return

// CHECK-LABEL: llvm.func @mm_prefill(%arg0: !llvm.ptr, %arg1: !llvm.ptr,
// CHECK: llvm.call @layer(%arg0, %arg1,
// CHECK: llvm.call @layer(%arg0, %arg1,
// CHECK-LABEL: llvm.func @_mlir_ciface_mm_prefill(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64)
// CHECK: llvm.call @mm_prefill(%arg0,
// The entry points take the context whether they launch or not.
// CHECK-LABEL: llvm.func @mm_init_state(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: !llvm.ptr, %arg3: i64, %arg4: i64, %arg5: i64)
// CHECK-LABEL: llvm.func @_mlir_ciface_mm_init_state(%arg0: !llvm.ptr, %arg1: !llvm.ptr)
// CHECK: llvm.call @mm_init_state(%arg0,
// CHECK-LABEL: llvm.func @helper(%arg0: i64) -> i64

// No constructor loads anything; the module is data the runtime reads.
// IR-NOT: llvm.global_ctors
// IR-NOT: mgpuModuleLoad
// IR: @mm_kernel_module = constant { i64, i64, i64, ptr, i64, i64, ptr } { i64 1, i64 1, i64 3, ptr @mm_kernel_image, i64 9, i64 2, ptr @mm_kernel_names }
// IR-NOT: llvm.global_ctors
// IR-NOT: mgpuModuleLoad

module attributes {gpu.container_module} {
  gpu.binary @mm_kernels <#gpu.select_object<0 : i64>> [#gpu.object<#nvvm.target<O = 3, chip = "sm_90">, properties = {O = 3 : i32}, assembly = "FAKE PTX">]
  llvm.func @layer(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: i64, %arg5: i64) attributes {sym_visibility = "private"} {
    %0 = llvm.mlir.constant(2 : index) : i64
    %1 = llvm.mlir.constant(1 : index) : i64
    %2 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
    %3 = llvm.insertvalue %arg0, %2[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %4 = llvm.insertvalue %arg1, %3[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %5 = llvm.insertvalue %arg2, %4[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %6 = llvm.insertvalue %arg3, %5[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %7 = llvm.insertvalue %arg4, %6[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %8 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
    %9 = llvm.mlir.constant(1 : index) : i64
    %10 = llvm.mlir.zero : !llvm.ptr
    %11 = llvm.getelementptr %10[%arg5] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %12 = llvm.ptrtoint %11 : !llvm.ptr to i64
    %13 = llvm.mlir.zero : !llvm.ptr
    %14 = llvm.mlir.constant(0 : i8) : i8
    %15 = llvm.call @mgpuMemAlloc(%12, %8, %14) : (i64, !llvm.ptr, i8) -> !llvm.ptr
    %16 = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
    %17 = llvm.insertvalue %15, %16[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %18 = llvm.insertvalue %15, %17[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %19 = llvm.mlir.constant(0 : index) : i64
    %20 = llvm.insertvalue %19, %18[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %21 = llvm.insertvalue %arg5, %20[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %22 = llvm.insertvalue %9, %21[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    llvm.call @mgpuStreamSynchronize(%8) : (!llvm.ptr) -> ()
    llvm.call @mgpuStreamDestroy(%8) : (!llvm.ptr) -> ()
    %23 = llvm.extractvalue %7[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %24 = llvm.extractvalue %7[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %25 = llvm.extractvalue %7[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %26 = llvm.extractvalue %7[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %27 = llvm.extractvalue %7[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %28 = llvm.extractvalue %22[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %29 = llvm.extractvalue %22[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %30 = llvm.extractvalue %22[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %31 = llvm.extractvalue %22[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %32 = llvm.extractvalue %22[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    gpu.launch_func  @mm_kernels::@scale blocks in (%0, %1, %1) threads in (%arg5, %1, %1) : i64 args(%23 : !llvm.ptr, %24 : !llvm.ptr, %25 : i64, %26 : i64, %27 : i64, %28 : !llvm.ptr, %29 : !llvm.ptr, %30 : i64, %31 : i64, %32 : i64)
    %33 = llvm.extractvalue %22[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %34 = llvm.extractvalue %22[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %35 = llvm.extractvalue %22[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %36 = llvm.extractvalue %22[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %37 = llvm.extractvalue %22[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    gpu.launch_func  @mm_kernels::@shift blocks in (%1, %1, %1) threads in (%1, %1, %1) : i64 args(%33 : !llvm.ptr, %34 : !llvm.ptr, %35 : i64, %36 : i64, %37 : i64)
    %38 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
    %39 = llvm.extractvalue %22[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    llvm.call @mgpuMemFree(%39, %38) : (!llvm.ptr, !llvm.ptr) -> ()
    llvm.call @mgpuStreamSynchronize(%38) : (!llvm.ptr) -> ()
    llvm.call @mgpuStreamDestroy(%38) : (!llvm.ptr) -> ()
    llvm.return
  }
  llvm.func @mm_prefill(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: i64, %arg5: i64) attributes {llvm.emit_c_interface} {
    llvm.call @layer(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5) : (!llvm.ptr, !llvm.ptr, i64, i64, i64, i64) -> ()
    llvm.call @layer(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5) : (!llvm.ptr, !llvm.ptr, i64, i64, i64, i64) -> ()
    llvm.return
  }
  llvm.func @_mlir_ciface_mm_prefill(%arg0: !llvm.ptr, %arg1: i64) attributes {llvm.emit_c_interface} {
    %0 = llvm.load %arg0 : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
    %1 = llvm.extractvalue %0[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %2 = llvm.extractvalue %0[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %3 = llvm.extractvalue %0[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %4 = llvm.extractvalue %0[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %5 = llvm.extractvalue %0[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    llvm.call @mm_prefill(%1, %2, %3, %4, %5, %arg1) : (!llvm.ptr, !llvm.ptr, i64, i64, i64, i64) -> ()
    llvm.return
  }
  llvm.func @mm_init_state(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: i64) attributes {llvm.emit_c_interface} {
    llvm.return
  }
  llvm.func @_mlir_ciface_mm_init_state(%arg0: !llvm.ptr) attributes {llvm.emit_c_interface} {
    %0 = llvm.load %arg0 : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
    %1 = llvm.extractvalue %0[0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %2 = llvm.extractvalue %0[1] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %3 = llvm.extractvalue %0[2] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %4 = llvm.extractvalue %0[3, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    %5 = llvm.extractvalue %0[4, 0] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> 
    llvm.call @mm_init_state(%1, %2, %3, %4, %5) : (!llvm.ptr, !llvm.ptr, i64, i64, i64) -> ()
    llvm.return
  }
  llvm.func @helper(%arg0: i64) -> i64 {
    llvm.return %arg0 : i64
  }
  llvm.func @mgpuStreamCreate() -> !llvm.ptr
  llvm.func @mgpuMemAlloc(i64, !llvm.ptr, i8) -> !llvm.ptr
  llvm.func @mgpuStreamSynchronize(!llvm.ptr)
  llvm.func @mgpuStreamDestroy(!llvm.ptr)
  llvm.func @mgpuMemFree(!llvm.ptr, !llvm.ptr)
}

