//===- Passes.td - transformations on mm -------------------*- tablegen -*-===//

#ifndef MM_PASSES_PASSES_TD
#define MM_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecomposeLayers : Pass<"mm-decompose-layers"> {
  let summary = "Expand each mm.layer into the primitive mm operations";
  let description = [{
    Replaces every `mm.layer` by the operations of spec/MEMMAMBA.md in the
    spec's order: RMSNorm, in_proj, split, causal conv + SiLU, x_proj, split,
    dt_proj, selective scan (softplus and dt bias inside), gate, out_proj;
    with memory, (a) the read trigger and cross-token attention over the
    pool as it stood before each token, (b) the note block and pool update,
    (c) cross-layer attention on layers l > 0 with l % p == 0, (d) the fused
    residual. Weights become `mm.weight` operations named as in the
    checkpoint.
  }];
  let dependentDialects = ["::mm::MMDialect"];
  let statistics = [
    Statistic<"numLayers", "num-layers", "Number of layers decomposed">,
    Statistic<"numWeights", "num-weights", "Number of weights referenced">
  ];
}

def ReducePrecision : Pass<"mm-reduce-precision", "mlir::ModuleOp"> {
  let summary = "Store the matrix products' weights in bf16 or f16";
  let description = [{
    Gives every `mm.weight` that only matrix products read as their weight
    (`mm.linear`, `mm.lm_head`) or `mm.embed` reads as its table the element
    type `precision` (bf16 or f16; f32 changes nothing). The runtime stores
    such a weight in that type, on the host and on the device; a matrix
    product with a bf16 or f16 weight rounds its input to that type and
    accumulates in f32. Everything else (the conv, A_log, D, norms, the scan,
    the state, the memory block) stays f32 (docs/precision.md). A weight that
    is also read by another operation stays f32 and is counted.

    Example (precision=bf16):
    ```mlir
    %w = mm.weight "backbone.layers.0.mixer.in_proj.weight"
        : tensor<256x64xf32>
    %y = mm.linear %u, %w : tensor<?x?x64xf32>, tensor<256x64xf32>
        -> tensor<?x?x256xf32>
    // becomes
    %w = mm.weight "backbone.layers.0.mixer.in_proj.weight"
        : tensor<256x64xbf16>
    %y = mm.linear %u, %w : tensor<?x?x64xf32>, tensor<256x64xbf16>
        -> tensor<?x?x256xf32>
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"bf16\"",
           "The weights' element type: f32, bf16 or f16">
  ];
  let dependentDialects = ["::mm::MMDialect"];
  let statistics = [
    Statistic<"numReduced", "num-reduced",
              "Number of weights stored in the reduced precision">,
    Statistic<"numKeptF32", "num-kept-f32",
              "Number of weights matrix products read that stay f32 because "
              "another operation reads them too">
  ];
}

def FuseKernels : Pass<"mm-fuse-kernels", "mlir::ModuleOp"> {
  let summary = "Group the mm operations of each entry point into kernels";
  let description = [{
    Wraps every operation of the primitive model-level IR (after
    mm-model-pipeline) in an `mm.fused` group: one group per future kernel,
    with its strategy (#mm.fusion: kind and tunable sizes). Weights and
    splits stay outside (they are bindings and views, not kernels).

    Strategies:
    - `unfused`: one kernel per operation (the baseline);
    - `fused` (default): the selective scan with its gate, the whole memory
      block of a layer (read trigger, cross-token attention, note, pool
      update) and each residual with the RMSNorm that reads it become one
      kernel each; the rest stays one kernel per operation. With
      `scan-step-delta`, a decode step's scan also takes in the linear of
      its delta (dt_proj, no bias, read only by the scan).

    The sizes (`gemm-rows`, `gemm-tokens`, `gemm-rows-at-once`,
    `scan-channels`, and for the GPU scan kernel `scan-block-channels` and
    `scan-chunk`) are the tuning knobs of the matrix-product and scan
    kernels, each bounded (dialect/KernelSizes.h: at most 4096, 256, 16 and
    1024; a size out of range is an error naming the option and the limit).
    `kernel-sizes` sets a size for the kernels of one kind only
    (`gemm.tokens=2`), and `unfuse` turns one kind's fusion off under the
    fused strategy (`memory`): the per-kind choices that mm-tune searches and
    a tuning file records (docs/tuning.md).

    The strategy and sizes are recorded on the module as `mm.fusion` and end
    up in the artifact's manifest.
  }];
  let options = [
    Option<"strategy", "strategy", "std::string", /*default=*/"\"fused\"",
           "Fusion strategy: fused or unfused">,
    Option<"gemmRows", "gemm-rows", "int64_t", /*default=*/"64",
           "Weight rows per block of outputs of a matrix product (to 4096)">,
    Option<"gemmTokens", "gemm-tokens", "int64_t", /*default=*/"8",
           "Input rows per tile of a matrix product (to 256)">,
    Option<"gemmRowsAtOnce", "gemm-rows-at-once", "int64_t",
           /*default=*/"4",
           "Weight rows that share each load of an input row (to 16)">,
    Option<"scanChannels", "scan-channels", "int64_t", /*default=*/"1",
           "Channels per task of the scan and the causal conv (to 1024)">,
    Option<"scanBlockChannels", "scan-block-channels", "int64_t",
           /*default=*/"0",
           "Channels per block of the GPU scan kernel (to 1024; 0: the "
           "kernel's default, not recorded)">,
    Option<"scanChunk", "scan-chunk", "int64_t", /*default=*/"0",
           "Tokens per chunk of the GPU scan kernel (to 2048; 0: the "
           "kernel's default, not recorded)">,
    Option<"scanStepDelta", "scan-step-delta", "bool", /*default=*/"false",
           "In a decode step (one token), the linear computing the scan's "
           "delta (dt_proj) joins the scan's kernel, whose step form "
           "computes it (set by the compile pipelines for GPU targets with "
           "scan kernels)">,
    ListOption<"kernelSizes", "kernel-sizes", "std::string",
               "KIND.SIZE=VALUE: a size of the kernels of one kind "
               "(gemm.tokens=2, conv.channels=8, scan.chunk=128, ...), in "
               "place of the option above for that kind (what a tuning file "
               "sets)">,
    ListOption<"unfuse", "unfuse", "std::string",
               "Kinds the fused strategy leaves unfused: scan (the gate, and "
               "in a decode step the delta's linear, stay kernels of their "
               "own), norm (the residual stays apart from the RMSNorm) and "
               "memory (one kernel per memory-block operation)">,
    Option<"tuning", "tuning", "std::string", /*default=*/"\"\"",
           "Where kernel-sizes and unfuse come from (a tuning file), "
           "recorded in the module's mm.fusion summary">
  ];
  let dependentDialects = ["::mm::MMDialect"];
  let statistics = [
    Statistic<"numGroups", "num-groups", "Number of fusion groups (kernels)">,
    Statistic<"numFusedOps", "num-fused-ops",
              "Number of operations in groups of more than one">
  ];
}

def OutlineKernels : Pass<"mm-outline-kernels", "mlir::ModuleOp"> {
  let summary = "Outline each fusion group into a kernel function, once per "
                "distinct kernel";
  let description = [{
    Replaces every `mm.fused` group of the entry points by a `func.call` of a
    private kernel function that holds the group's operations and carries its
    strategy as `mm.fusion = #mm.fusion<...>`, the kernel's lowering
    configuration. The group's inputs (activations, state fields, weights)
    become the function's arguments, so the groups of different layers that
    compute the same thing on different weights are one function: a group
    whose kind, sizes, types and operations equal those of a kernel already
    outlined calls that kernel. Kernels are named after their kind
    (`@gemm_0`, `@scan_0`, ...) in the order they first appear. The module
    records the target its kernels are lowered for as `mm.target`, which
    selects each kernel's lowering with its kind (lowering/KernelLowering.h).

    Example:
    ```mlir
    %y = mm.fused #mm.fusion<gemm, {...}> (%x, %w) : ... { mm.linear ... }
    // becomes
    %y = func.call @gemm_0(%x, %w) : (...) -> ...
    func.func private @gemm_0(%x: ..., %w: ...) -> ...
        attributes {mm.fusion = #mm.fusion<gemm, {...}>} {
      %p = mm.linear %x, %w : ...
      return %p : ...
    }
    ```
  }];
  let options = [
    Option<"targetSpec", "target", "std::string", /*default=*/"\"cpu\"",
           "The target the kernels are lowered for (cpu, cuda:sm_90, "
           "hip:gfx942, ...)">
  ];
  let dependentDialects = ["::mm::MMDialect", "::mlir::func::FuncDialect"];
  let statistics = [
    Statistic<"numGroups", "num-groups", "Number of fusion groups outlined">,
    Statistic<"numKernels", "num-kernels",
              "Number of distinct kernel functions">
  ];
}

#endif // MM_PASSES_PASSES_TD
