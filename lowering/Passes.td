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
      mm_init_state(state: memref<?xi8>, batch: index)

    Weights live in one f32 buffer at the offsets of the manifest; the state
    of a batch of B sequences is one byte buffer holding each field as a
    [B, ...] array at B times the field's per-sequence offset. State updates
    happen in place where the updating operation is the last reader of the
    old value; otherwise into a fresh buffer copied back at the end.
    Intermediate buffers are freed after their last use. The manifest
    (weights, state layout, config) is attached to the module as the JSON
    string attribute `mm.manifest`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
  let statistics = [
    Statistic<"numKernels", "num-kernels", "Number of operations lowered">,
    Statistic<"numInPlace", "num-in-place",
              "Number of state updates done in place">
  ];
}

#endif // MM_LOWERING_PASSES_TD
