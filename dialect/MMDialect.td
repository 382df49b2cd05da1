//===- MMDialect.td - the mm dialect -----------------------*- tablegen -*-===//
//
// The model-level dialect of memmamba-mlir: a MemMamba model (spec/MEMMAMBA.md)
// as operations on tensors, before fusion and lowering.
//
//===----------------------------------------------------------------------===//

#ifndef MM_DIALECT_MMDIALECT_TD
#define MM_DIALECT_MMDIALECT_TD

include "mlir/IR/OpBase.td"

def MM_Dialect : Dialect {
  let name = "mm";
  let cppNamespace = "::mm";
  let summary = "MemMamba models: Mamba-1 layers with a note pool and memory "
                "attention";
  let description = [{
    The `mm` dialect describes a MemMamba model at the level of
    spec/MEMMAMBA.md: embedding, RMSNorm, linear maps, the causal depthwise
    convolution, the selective scan, the note block and its pool, the
    cross-token and cross-layer attentions, the fused residual and the LM
    head. Values are tensors; activations have a leading batch dimension B and
    a time dimension T (`tensor<?x?xD x f32>`), so that one prefill chunk, a
    decode step (T = 1) and a batch of sequences are the same operations.

    Weights are `mm.weight` operations that name their checkpoint tensor, so
    the manifest of a compiled model is read off the IR. Per-sequence state is
    explicit: every stateful operation takes the state as it stands before the
    chunk and returns it as it stands after, and a module's entry points
    (functions carrying `mm.entry`) take and return the fields of an
    `mm.state_layout`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Module attribute holding the #mm.config of the model.
    static constexpr ::llvm::StringLiteral kConfigAttrName = "mm.config";
    /// Function attribute marking an entry point (#mm.entry<...>).
    static constexpr ::llvm::StringLiteral kEntryAttrName = "mm.entry";
    /// Function attribute naming the mm.state_layout of an entry point.
    static constexpr ::llvm::StringLiteral kStateLayoutAttrName =
        "mm.state_layout";
    /// Module attribute holding the manifest (JSON) of a lowered model.
    static constexpr ::llvm::StringLiteral kManifestAttrName = "mm.manifest";
    /// On a module, the fusion strategy and its sizes (a dictionary with a
    /// "strategy" string and integer sizes); on a kernel function (from
    /// mm-outline-kernels), its #mm.fusion: the kernel's kind and sizes.
    static constexpr ::llvm::StringLiteral kFusionAttrName = "mm.fusion";
    /// Module attribute naming the target the kernels are lowered for
    /// ("cpu", "cuda:sm_90", "hip:gfx942", ...): it selects each kernel's
    /// lowering and schedule (mm-apply-schedules).
    static constexpr ::llvm::StringLiteral kTargetAttrName = "mm.target";
    /// Attribute of a kernel function over buffers (mm-lower-to-loops):
    /// the name of the lowering that built its body ("loops", ...).
    static constexpr ::llvm::StringLiteral kLoweringAttrName = "mm.lowering";
    /// Attribute on the loop nests of a lowered fusion group: its kind
    /// ("scan", "gemm", ...); GPU kernels are named after it.
    static constexpr ::llvm::StringLiteral kKernelKindAttrName = "mm.kernel";
    /// Attribute on the linalg operations of a kernel (lowering/
    /// LinalgEmitters.h): their role ("matmul", "norm_sum", ...), which the
    /// transform schedules match on.
    static constexpr ::llvm::StringLiteral kLinalgRoleAttrName = "mm.linalg";
    /// Attribute a CPU schedule sets on a loop that streams weights from
    /// memory: how many bytes ahead mm-prefetch-streams prefetches its reads.
    static constexpr ::llvm::StringLiteral kPrefetchBytesAttrName =
        "mm.prefetch_bytes";

  private:
    void registerAttributes();
  }];
}

class MM_Op<string mnemonic, list<Trait> traits = []>
    : Op<MM_Dialect, mnemonic, traits>;

#endif // MM_DIALECT_MMDIALECT_TD
