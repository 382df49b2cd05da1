//===- Passes.td - lowering passes --------------------------*- tablegen -*-===//

#ifndef MM_LOWERING_PASSES_TD
#define MM_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToLoops : Pass<"mm-lower-to-loops", "mlir::ModuleOp"> {
  let summary = "Lower the mm entry points to loops over buffers (host ABI)";
  let description = [{
    Rewrites each entry point (mm.entry) into a function over buffers with
    the artifact's calling convention, and each mm operation into loops
    (lowering/LoopEmitters):

      mm_prefill(weights: memref<?xf32>, state: memref<?xi8>,
                 tokens: memref<?x?xi32>, logits: memref<?x?xVxf32>)
      mm_decode(weights, state, tokens: memref<?x1xi32>,
                logits: memref<?x1xVxf32>)
      mm_prefill_last(weights, state, tokens, lengths,
                      logits: memref<?x1xVxf32>)
      mm_init_state(state: memref<?xi8>, batch: index)

    Each kernel function (mm-outline-kernels) becomes a function over
    buffers, `mm_<kernel>(batch, time, inputs..., outputs...)`, built once
    for all its calls by the lowering its kind and the module's `mm.target`
    select (lowering/KernelLowering.h), and every call a call of it; it
    records the lowering as `mm.lowering`: `linalg` for the kinds that have
    a transform schedule for the target (lowering/Schedules.h: the defaults
    of lowering/schedules/<target>/, and `schedule=KIND:FILE`), which
    mm-apply-schedules then tiles and vectorises; `gemm` for GEMM kernels;
    else `loops`. An mm operation outside any kernel function is emitted in
    place.

    Weights live in one f32 buffer at the offsets of the manifest; the state
    of a batch of B sequences is one byte buffer holding each field as a
    [B, ...] array at B times the field's per-sequence offset. State updates
    happen in place where the updating operation is the last reader of the
    old value; otherwise into a fresh buffer copied back at the end.
    Intermediate buffers are freed after their last use. The manifest
    (weights, state layout, config) is attached to the module as the JSON
    string attribute `mm.manifest`.
  }];
  let options = [
    Option<"gemmKernels", "gemm-kernels", "bool", /*default=*/"true",
           "On GPU targets, linear and lm_head kernels as GEMM kernels "
           "(lowering/GemmKernels.h; the default), else the loop emitters">,
    Option<"scanKernels", "scan-kernels", "bool", /*default=*/"true",
           "On GPU targets, the selective scan as the block-level scan "
           "kernel (lowering/ScanKernels.h; the default), else the loop "
           "emitters">,
    Option<"convKernels", "conv-kernels", "bool", /*default=*/"true",
           "On GPU targets, the causal conv as the conv kernel "
           "(lowering/ConvKernels.h; the default), unless the user "
           "schedules conv">,
    Option<"normKernels", "norm-kernels", "bool", /*default=*/"true",
           "On GPU targets, RMSNorm (with the residual it normalises) as "
           "the norm kernel, a block per row (lowering/NormKernels.h; the "
           "default), unless the user schedules norm">,
    Option<"memoryKernels", "memory-kernels", "bool", /*default=*/"true",
           "On GPU targets, the memory block and the cross-layer attention "
           "in their parallel form (lowering/MemoryKernels.h; the "
           "default), else the loop emitters">,
    ListOption<"scheduleFiles", "schedule", "std::string",
               "KIND:FILE: a user schedule of KIND (mm-apply-schedules "
               "applies it); KIND is then lowered through linalg. "
               "KIND:loops: the loop emitters, whatever the defaults">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    // The GEMM's linalg form works on tensors of its buffers.
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::tensor::TensorDialect",
    // The GPU kernels some lowerings build (GemmKernels.h).
    "::mlir::gpu::GPUDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::amdgpu::AMDGPUDialect", "::mlir::vector::VectorDialect"
  ];
  let statistics = [
    Statistic<"numKernels", "num-kernels",
              "Number of kernel calls and operations lowered">,
    Statistic<"numKernelFunctions", "num-kernel-functions",
              "Number of kernel functions over buffers built">,
    Statistic<"numInPlace", "num-in-place",
              "Number of state updates done in place">
  ];
}

def OffloadToGpu : Pass<"mm-offload-to-gpu", "mlir::ModuleOp"> {
  let summary = "Launch the host loop kernels on a GPU";
  let description = [{
    Rewrites the entry points built by mm-lower-to-loops so that every
    kernel runs on a GPU and every buffer lives in device memory: each
    scf.parallel (of any rank: a GPU schedule's thread tiles) becomes a
    gpu.launch with one thread per iteration, numbered with the last
    dimension fastest (`threads-per-block` per block), each run of
    sequential loop nests a one-thread launch, memref.copy a copy kernel,
    memref.alloc/dealloc gpu.alloc/gpu.dealloc. Host loops around parallel
    loops stay on the host.
    Stack buffers move into the launches that use them; heap buffers of a
    sequential nest are allocated before its launch. The ABI buffers
    (weights, state, tokens, logits) are device pointers from the runtime.
    Constants the kernels use are defined in them, not passed. Run
    gpu-kernel-outlining next.
  }];
  let options = [
    Option<"threadsPerBlock", "threads-per-block", "int64_t",
           /*default=*/"128", "Threads per block of the parallel launches">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
  let statistics = [
    Statistic<"numLaunches", "num-launches", "Number of kernel launches built">
  ];
}

def LowerGpuMath : Pass<"mm-lower-gpu-math", "mlir::gpu::GPUModuleOp"> {
  let summary = "Math in GPU kernels without a device library";
  let description = [{
    Rewrites the math operations of the loop kernels in a gpu.module so that
    the device code calls no vendor math library (libdevice, ocml): exp as
    2^(x log2 e) through the target's exp2 instruction (f32) or a range
    reduction and polynomial within a few ulp (f64), log1p by its series near
    0 and through the target's log2 instruction elsewhere, sqrt through
    llvm.sqrt.
  }];
  let options = [
    Option<"targetSpec", "target", "std::string",
           /*default=*/"\"cuda:sm_90\"",
           "The GPU target (cuda:sm_90, hip:gfx942, ...)">
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def SimulatorKernels : Pass<"mm-simulator-kernels", "mlir::ModuleOp"> {
  let summary = "Host copies of the GPU kernels, for the simulator device";
  let description = [{
    Adds to the host module, for each kernel of its gpu.modules (taken just
    before the vendor conversion), a host function that runs the kernel for
    one simulated thread (common/SimKernelAbi.h): ids and sizes read
    from the simulator's thread record, workgroup memory as views of the
    block's shared memory, barriers and shuffles as calls into the
    simulator (collectives first rewritten by upstream's patterns), the
    matrix instructions (nvgpu.mma_sync, nvgpu.ldmatrix, amdgpu.mfma) as
    warp-collective calls, asynchronous copies (nvgpu.device_async_copy)
    as immediate copies (groups and waits dropped), every
    memref access bounds-checked, every shared access reported to the
    simulator's race and initialisation checks, and inline counters of
    global bytes and floating-point operations. The kernels themselves are
    left unchanged. Run mm-simulator-kernel-table after the host lowering.
  }];
  let options = [
    Option<"targetSpec", "target", "std::string",
           /*default=*/"\"cuda:sm_90\"",
           "The GPU target the kernels are for (its warp width)">,
    Option<"dropDeviceCode", "drop-device-code", "bool", /*default=*/"false",
           "Erase the gpu.modules after copying their kernels (for running "
           "kernels on the simulator only)">
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
  let statistics = [
    Statistic<"numKernels", "num-kernels", "Number of kernels copied">
  ];
}

def SimulatorKernelTable
    : Pass<"mm-simulator-kernel-table", "mlir::ModuleOp"> {
  let summary = "Entry points and the mm_sim_kernels table of the host "
                "copies";
  let description = [{
    On the LLVM dialect, after the host lowering: gives each host copy of a
    kernel (from mm-simulator-kernels) the entry point the simulator calls,
    `void __mmsim_K(void **params, MMSimThread *thread)`, which unpacks the
    launch's kernelParams, and adds the exported JSON string
    `mm_sim_kernels` describing the kernels, their parameters and the check
    sites (docs/artifact.md).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ExpandHostBF16 : Pass<"mm-expand-host-bf16", "mlir::ModuleOp"> {
  let summary = "bf16 conversions of host code as integer operations";
  let description = [{
    Rewrites every `arith.truncf` to bf16 and `arith.extf` from bf16 outside
    gpu.modules (the host code, and the kernels' host copies the simulator
    runs) into integer operations (upstream's bf16 expansion: round to
    nearest even, NaN kept quiet). LLVM lowers a bf16 truncation on x86
    CPUs without AVX512-BF16 to a call of `__truncsfbf2`, which an artifact
    loaded on such a machine cannot resolve; the integer form runs
    everywhere and computes the same bits. Kernels in gpu.modules keep the
    conversions their target has (cvt.rn.bf16.f32). A module without bf16
    is unchanged.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def ExpandHostMath : Pass<"mm-expand-host-math", "mlir::ModuleOp"> {
  let summary = "f32 exp and log1p of host code as polynomials";
  let description = [{
    Rewrites every f32 `math.exp`, `math.log1p` and `math.log` outside
    gpu.modules (scalar or vector) into upstream's polynomial approximations
    (a range reduction and a polynomial, within a few ulp of libm). LLVM
    would call libm's expf and log1pf one element at a time, which keeps
    the loops around them from vectorising; as arithmetic they vectorise
    with the rest of the loop. f64 operations and kernels in gpu.modules
    (mm-lower-gpu-math) are unchanged.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def PrefetchStreams : Pass<"mm-prefetch-streams", "mlir::ModuleOp"> {
  let summary = "Software prefetches ahead of the weight rows a loop streams";
  let description = [{
    In each scf.for of host code marked `mm.prefetch_bytes = D` (the CPU
    GEMM schedule marks the K loops of matrix-vector products: decode
    reads every weight once per token, from memory), inserts before each
    read of the loop body from a buffer of at least `min-bytes` a
    `memref.prefetch` D bytes further along the read's contiguous
    dimension, one per 64-byte cache line the read covers. A row's stream
    runs into the next row's, which the loop reads next. The hardware
    prefetchers alone leave a two-core decode at about 60% of the read
    bandwidth (bench/results). Reads that do not change with the loop, and
    buffers of dynamic shape (the activations), get none.
  }];
  let options = [
    Option<"minBytes", "min-bytes", "int64_t", /*default=*/"65536",
           "The smallest buffer (bytes, static shape) whose reads are "
           "prefetched: smaller ones stay in the L1 and L2 caches">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def LowerBF16MmaSync
    : Pass<"mm-lower-bf16-mma-sync", "mlir::gpu::GPUModuleOp"> {
  let summary = "nvgpu.mma.sync of bf16 operands as nvvm.mma.sync";
  let description = [{
    convert-nvgpu-to-nvvm (MLIR 22) cannot deduce the PTX type of bf16
    fragments (NVVM passes them as i32 registers). This pass rewrites each
    bf16 nvgpu.mma.sync m16n8k16 with f32 accumulators into nvvm.mma.sync
    with its PTX types given: fragments bitcast to i32 pairs, the result
    struct back into a vector<2x2xf32>. Run before convert-nvgpu-to-nvvm.
  }];
  let dependentDialects = [
    "::mlir::NVVM::NVVMDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def TestGemmKernels : Pass<"mm-test-gemm-kernels", "mlir::ModuleOp"> {
  let summary = "Adds one GEMM kernel (lowering/GemmKernels.h) to the module";
  let description = [{
    For tests and benchmarks of the GEMM kernel generator: adds a
    gpu.module @gemm_kernels holding the kernel for the options' shape,
    types, strategy and tiles, and records in the module attribute
    `mm.test.gemm_launch` the mm-sim-kernel flags of a launch for `m` rows
    (`--grid=X,Y --block=T --shared-bytes=S`), and in
    `mm.test.gemm_minimum_bytes` the least global bytes read and written
    with those tiles. Bad parameters are an error naming the parameter.
  }];
  let options = [
    Option<"targetSpec", "target", "std::string", /*default=*/"\"cuda:sm_80\"",
           "The GPU target (cuda:sm_80, hip:gfx942, ...)">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"gemm\"",
           "The kernel's name">,
    Option<"n", "n", "int64_t", /*default=*/"0", "Rows of W (outputs)">,
    Option<"k", "k", "int64_t", /*default=*/"0", "Columns of A and W">,
    Option<"m", "m", "int64_t", /*default=*/"1",
           "Rows of A of the launch recorded">,
    Option<"aType", "a", "std::string", /*default=*/"\"f32\"",
           "A's element type: f32, bf16 or f16">,
    Option<"wType", "w", "std::string", /*default=*/"\"f32\"",
           "W's element type: f32, bf16 or f16">,
    Option<"strategy", "strategy", "std::string", /*default=*/"\"auto\"",
           "auto, simt, mma (NVIDIA), mfma (AMD) or gemv">,
    Option<"blockM", "block-m", "int64_t", /*default=*/"0",
           "Rows of A per block (0: the strategy's default)">,
    Option<"blockN", "block-n", "int64_t", /*default=*/"0",
           "Rows of W per block">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"0",
           "Depth of K staged at once">,
    Option<"warpsM", "warps-m", "int64_t", /*default=*/"0",
           "Warps per block along M (mma, mfma)">,
    Option<"warpsN", "warps-n", "int64_t", /*default=*/"0",
           "Warps per block along N (mma, mfma)">,
    Option<"threadM", "thread-m", "int64_t", /*default=*/"0",
           "Outputs per thread along M (simt)">,
    Option<"threadN", "thread-n", "int64_t", /*default=*/"0",
           "Outputs per thread along N (simt)">,
    Option<"stages", "stages", "int64_t", /*default=*/"0",
           "Shared-memory buffers in flight (mma: 2 or more)">,
    Option<"lanes", "lanes", "int64_t", /*default=*/"0",
           "Lanes sharing one output column (gemv)">,
    Option<"fewRows", "few-rows", "bool", /*default=*/"false",
           "The defaults for few rows of A (a decode step)">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::amdgpu::AMDGPUDialect"
  ];
}

def TestScanKernels : Pass<"mm-test-scan-kernels", "mlir::ModuleOp"> {
  let summary = "Adds one selective-scan kernel (lowering/ScanKernels.h) to "
                "the module";
  let description = [{
    For tests and benchmarks of the scan kernel generator: adds a gpu.module
    @scan_kernels holding the kernel for the options' shape and sizes (with
    a delta bias and softplus, an initial state and the gate; row-major
    buffers u, delta, A_log, B, C, D, bias, initial state, z, final state,
    output), and records in the module attribute `mm.test.scan_launch` the
    mm-sim-kernel flags of a launch for `batch` sequences
    (`--grid=X,Y --block=T --shared-bytes=S`), in
    `mm.test.scan_minimum_bytes` the least global bytes read and written for
    `tokens` tokens each, and in `mm.test.scan_config` the resolved sizes.
  }];
  let options = [
    Option<"targetSpec", "target", "std::string", /*default=*/"\"cuda:sm_90\"",
           "The GPU target (cuda:sm_90, hip:gfx942, ...)">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"scan\"",
           "The kernel's name">,
    Option<"channels", "channels", "int64_t", /*default=*/"0",
           "E, the channels">,
    Option<"states", "states", "int64_t", /*default=*/"0", "N, the states">,
    Option<"blockChannels", "block-channels", "int64_t", /*default=*/"0",
           "Channels per block (0: the default)">,
    Option<"chunk", "chunk", "int64_t", /*default=*/"0",
           "Tokens per chunk (0: the default)">,
    Option<"step", "step", "bool", /*default=*/"false",
           "The step form (a decode step: one token)">,
    Option<"batch", "batch", "int64_t", /*default=*/"1",
           "Sequences of the launch recorded">,
    Option<"tokens", "tokens", "int64_t", /*default=*/"1",
           "Tokens per sequence of the minimum recorded">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def KernelContext : Pass<"mm-kernel-context", "mlir::ModuleOp"> {
  let summary = "Kernels loaded by the runtime and launched through a "
                "context argument, without synchronisation";
  let description = [{
    On the LLVM dialect, after gpu-to-llvm and gpu-module-to-binary, instead
    of gpu.binary's translation (a global constructor that loads the module,
    and a stream created, synchronised and destroyed around every launch):

    - the gpu.binary becomes data the runtime loads when a model is loaded
      on a device: the exported `mm_kernel_module` (MMKernelModule in
      common/KernelContextAbi.h: the image, its format, and the names
      of the kernels the host code launches), and no constructor;
    - every function that launches kernels or uses a stream, the entry
      points and, transitively, their callers take an `!llvm.ptr` to the
      runtime's MMKernelContext as a new first argument, passed on by
      every call;
    - each gpu.launch_func becomes a call of mgpuLaunchKernel with the
      context's function handle for its kernel and the context's stream;
    - the streams the host code creates (mgpuStreamCreate) are the
      context's stream, not destroyed, and not synchronised
      (mgpuStreamSynchronize is dropped, except in functions that copy
      memory, where the host may read what it copied): launches and
      temporaries (mgpuMemAlloc, mgpuMemFree) are ordered on the one
      stream, and the runtime synchronises once per call.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
  let statistics = [
    Statistic<"numLaunches", "num-launches", "Number of launches rewritten">,
    Statistic<"numSynchronisations", "num-synchronisations-dropped",
              "Number of stream synchronisations dropped">
  ];
}

def ApplySchedules : Pass<"mm-apply-schedules", "mlir::ModuleOp"> {
  let summary = "Tile and vectorise the linalg kernels by transform schedules";
  let description = [{
    For each kernel function (a func.func carrying `mm.fusion`) applies the
    transform schedule of its kind (gemm, norm, elementwise, embed, conv) for the
    module's target with upstream's transform interpreter. The target is the
    module's `mm.target` string attribute, else the `target` option. The
    default schedules are the .mlir files of lowering/schedules/<target>/
    <kind>.mlir (for GPU targets without a file of their own,
    lowering/schedules/gpu/), built into the binary; each holds one
    `transform.named_sequence @schedule(%kernel: !transform.any_op
    {transform.readonly})`, applied to the kernel function.

    `schedule=KIND:FILE` (repeatable, or comma-separated) replaces the
    default of KIND by FILE; `schedule=KIND:loops` leaves kernels of KIND
    alone (mm-lower-to-loops then lowers them with the loop emitters). A
    file that cannot be read or parsed, that lacks
    `@schedule`, or whose schedule fails on a kernel is an error naming the
    file and the kind. A kernel of a kind without a schedule is left as it
    is, and so is a kernel function mm-lower-to-loops built with a lowering
    other than `linalg` (its `mm.lowering`). The schedule of each kind
    applied is recorded in the module's manifest (`mm.manifest`, if any) as
    fusion.schedules.KIND = {file, xxh3}.

    Heap buffers a schedule's bufferisation leaves in a kernel are freed
    after it by upstream's buffer deallocation pipeline (ownership-based
    deallocation), run on each scheduled kernel.
  }];
  let options = [
    Option<"targetSpec", "target", "std::string", /*default=*/"\"cpu\"",
           "The target when the module has no mm.target attribute">,
    ListOption<"scheduleFiles", "schedule", "std::string",
               "KIND:FILE: a schedule replacing the default of KIND; "
               "KIND:loops: none">
  ];
  let statistics = [
    Statistic<"numScheduled", "num-scheduled",
              "Number of kernel functions scheduled">
  ];
}

def TestLinalgKernels : Pass<"mm-test-linalg-kernels", "mlir::ModuleOp"> {
  let summary = "Test: wrap each mm operation into a kernel over buffers";
  let description = [{
    A test vehicle for the linalg emitters and the schedules until fusion
    groups are outlined: every function whose body holds mm operations on
    tensors is replaced by one kernel function per operation,

      func.func @<function>_<n>(%batch: index, %time: index,
                                <operand memrefs>, <result memrefs>)
          attributes {mm.fusion = #mm.fusion<kind, {}>}

    (fully static tensors, the weights, become views strided<[..., 1],
    offset: ?> as in the weight buffer; the others identity memrefs), its
    body emitted by lowering/LinalgEmitters (`emitter=linalg`) or
    lowering/LoopEmitters (`emitter=loops`), so that the two can be compared
    and timed. With `c-interface`, each kernel gets llvm.emit_c_interface.
  }];
  let options = [
    Option<"emitter", "emitter", "std::string", /*default=*/"\"linalg\"",
           "linalg or loops">,
    Option<"cInterface", "c-interface", "bool", /*default=*/"false",
           "Mark the kernels llvm.emit_c_interface">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

#endif // MM_LOWERING_PASSES_TD
