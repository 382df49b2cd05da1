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

#endif // MM_PASSES_PASSES_TD
