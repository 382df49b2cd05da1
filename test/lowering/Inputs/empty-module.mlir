// An empty module: mm-test-gemm-kernels adds the kernel to it.
module {}
