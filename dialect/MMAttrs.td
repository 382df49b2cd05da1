//===- MMAttrs.td - mm attributes and enums ----------------*- tablegen -*-===//

#ifndef MM_DIALECT_MMATTRS_TD
#define MM_DIALECT_MMATTRS_TD

include "dialect/MMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def MM_EvictionPolicy : I32EnumAttr<"EvictionPolicy",
    "what a full note pool does with a new note", [
      I32EnumAttrCase<"priority", 0>,
      I32EnumAttrCase<"fifo", 1>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mm";
}
def MM_EvictionPolicyAttr : EnumAttr<MM_Dialect, MM_EvictionPolicy, "eviction"> {
  let assemblyFormat = "`<` $value `>`";
}

def MM_StateKind : I32EnumAttr<"StateKind",
    "the role of one field of the per-sequence state", [
      I32EnumAttrCase<"conv_window", 0>,
      I32EnumAttrCase<"ssm_state", 1>,
      I32EnumAttrCase<"previous_mixer", 2>,
      I32EnumAttrCase<"pool_slots", 3>,
      I32EnumAttrCase<"pool_priorities", 4>,
      I32EnumAttrCase<"pool_positions", 5>,
      I32EnumAttrCase<"pool_count", 6>,
      I32EnumAttrCase<"position", 7>
    ]> {
  // An integer-backed attribute: it prints as a bare keyword in op formats
  // (mm.init_state conv_window, ...).
  let cppNamespace = "::mm";
}

def MM_EntryKind : I32EnumAttr<"EntryKind",
    "which entry point of a compiled model a function is", [
      I32EnumAttrCase<"prefill", 0>,
      I32EnumAttrCase<"decode", 1>,
      I32EnumAttrCase<"init_state", 2>,
      // Prefill that returns each sequence's last logits only, [B, 1, V]:
      // the language-model head on one row per sequence, not all T.
      I32EnumAttrCase<"prefill_last", 3>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mm";
}
def MM_EntryKindAttr : EnumAttr<MM_Dialect, MM_EntryKind, "entry"> {
  let assemblyFormat = "`<` $value `>`";
}

def MM_FusionKind : I32EnumAttr<"FusionKind",
    "what one kernel (fusion group) computes", [
      I32EnumAttrCase<"embed", 0>,
      I32EnumAttrCase<"norm", 1>,
      I32EnumAttrCase<"gemm", 2>,
      I32EnumAttrCase<"conv", 3>,
      I32EnumAttrCase<"scan", 4>,
      I32EnumAttrCase<"memory", 5>,
      I32EnumAttrCase<"cross_layer", 6>,
      I32EnumAttrCase<"elementwise", 7>,
      I32EnumAttrCase<"state", 8>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mm";
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class MM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

/// A double printed in its shortest round-tripping form (0.5, 1e-05).
def MM_F64Parameter : APFloatParameter<"a 64-bit float"> {
  let parser = [{ ::mm::parseF64Parameter($_parser) }];
  let printer = [{ $_printer.printFloat($_self) }];
}

def MM_MemoryConfigAttr : MM_Attr<"MemoryConfig", "memory"> {
  let summary = "the memory section of a MemMamba config";
  let description = [{
    The `memory` object of config.json (spec section 2). A cross-layer period
    or window of 0 disables cross-layer attention.

    Example:
    ```mlir
    #mm.memory<pool_size = 50, summary_dim = 64, note_threshold = 0.5,
               read_threshold = 0.3, cross_layer_period = 4,
               cross_layer_window = 4, eviction = priority, heads = 1>
    ```
  }];
  let parameters = (ins
    "int64_t":$pool_size,
    "int64_t":$summary_dim,
    MM_F64Parameter:$note_threshold,
    MM_F64Parameter:$read_threshold,
    "int64_t":$cross_layer_period,
    "int64_t":$cross_layer_window,
    EnumParameter<MM_EvictionPolicy>:$eviction,
    "int64_t":$heads
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def MM_ModelConfigAttr : MM_Attr<"ModelConfig", "config"> {
  let summary = "the configuration of a MemMamba (or plain Mamba) model";
  let description = [{
    Every size of spec section 1, read by the importer from config.json: D
    (`hidden_size`), L (`num_layers`), N (`state_size`), K (`conv_kernel`),
    E (`intermediate_size`), R (`dt_rank`), V (`vocab_size`, already padded),
    the RMSNorm epsilon, the bias flags, and the optional memory section.

    Example:
    ```mlir
    #mm.config<hidden_size = 64, num_layers = 2, state_size = 16,
               conv_kernel = 4, intermediate_size = 128, dt_rank = 4,
               vocab_size = 256, layer_norm_epsilon = 1e-05,
               use_bias = false, use_conv_bias = true>
    ```
  }];
  let parameters = (ins
    "int64_t":$hidden_size,
    "int64_t":$num_layers,
    "int64_t":$state_size,
    "int64_t":$conv_kernel,
    "int64_t":$intermediate_size,
    "int64_t":$dt_rank,
    "int64_t":$vocab_size,
    MM_F64Parameter:$layer_norm_epsilon,
    "::mlir::BoolAttr":$use_bias,
    "::mlir::BoolAttr":$use_conv_bias,
    OptionalParameter<"::mm::MemoryConfigAttr">:$memory
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The config as the MLIR-free struct the runtime and importer share.
    ::mm::ModelConfig getModelConfig() const;
    static ModelConfigAttr get(::mlir::MLIRContext *context,
                               const ::mm::ModelConfig &config);
  }];
}

def MM_StateFieldAttr : MM_Attr<"StateField", "state_field"> {
  let summary = "one field of the per-sequence state";
  let description = [{
    A field of an `mm.state_layout`: its name (also its key in state
    snapshots), its role, the layer it belongs to (-1 for model-wide fields)
    and its type for one sequence (entry points add a leading batch
    dimension).

    Example:
    ```mlir
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0,
                    type = tensor<128x16xf32>>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"the field's name">:$name,
    EnumParameter<MM_StateKind>:$kind,
    "int64_t":$layer,
    "::mlir::RankedTensorType":$type
  );
  let assemblyFormat = "`<` struct(params) `>`";
}

def MM_FusionAttr : MM_Attr<"Fusion", "fusion"> {
  let summary = "the strategy of one fusion group (one future kernel)";
  let description = [{
    What an `mm.fused` group computes and how its kernel is shaped. `params`
    holds the tunable sizes of its kind (positive integers; a kind accepts
    only its own keys):

    - gemm: `rows` (weight rows per block of outputs), `tokens` (input rows
      per tile), `rows_at_once` (weight rows sharing each load of an input)
      for the CPU's loops; on a GPU, the tiles of its GEMM kernel
      (lowering/GemmKernels.h): `block_m`, `block_n`, `block_k`, `warps_m`,
      `warps_n`, `thread_m`, `thread_n`, `stages`, each taking the
      strategy's default when absent;
    - scan and conv: `channels` (channels per task, advancing through time
      together, on the CPU); a scan on a GPU also `block_channels` (channels
      per block of its kernel, lowering/ScanKernels.h) and `chunk` (tokens
      per chunk), each taking the kernel's default when absent;
    - the other kinds take no parameters.

    Example:
    ```mlir
    #mm.fusion<gemm, {rows = 64 : i64, rows_at_once = 4 : i64, tokens = 8 : i64}>
    #mm.fusion<scan, {channels = 1 : i64}>
    #mm.fusion<memory, {}>
    ```
  }];
  let parameters = (ins EnumParameter<MM_FusionKind>:$kind,
                        "::mlir::DictionaryAttr":$params);
  let assemblyFormat = "`<` $kind `,` $params `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The integer parameter `name`, or `fallback` when absent.
    int64_t getParam(::llvm::StringRef name, int64_t fallback) const;
    /// The parameter names a kind accepts.
    static ::llvm::ArrayRef<::llvm::StringRef> paramNames(FusionKind kind);
  }];
}

#endif // MM_DIALECT_MMATTRS_TD
