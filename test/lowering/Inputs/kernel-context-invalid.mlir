// Inputs of mm-kernel-context that it refuses (mm-kernel-context.mlir).

module attributes {gpu.container_module} {
  gpu.module @mm_kernels {
    gpu.func @k() kernel {
      gpu.return
    }
  }
  llvm.func @run() {
    %c1 = llvm.mlir.constant(1 : index) : i64
    // expected-error @+1 {{mm-kernel-context: a kernel launch without a gpu.binary (run gpu-module-to-binary first)}}
    gpu.launch_func @mm_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64
    llvm.return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.binary @mm_kernels [#gpu.object<#nvvm.target, "A">]
  // expected-error @+1 {{mm-kernel-context: the runtime loads one kernel module per artifact; found a second gpu.binary}}
  gpu.binary @more_kernels [#gpu.object<#nvvm.target, "B">]
}

// -----

module attributes {gpu.container_module} {
  gpu.binary @mm_kernels [#gpu.object<#nvvm.target, "A">]
  llvm.func @run() {
    %c1 = llvm.mlir.constant(1 : index) : i64
    // expected-error @+1 {{mm-kernel-context: thread block clusters are not supported}}
    gpu.launch_func @mm_kernels::@k clusters in (%c1, %c1, %c1) blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64
    llvm.return
  }
}
