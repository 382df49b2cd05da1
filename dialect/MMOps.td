//===- MMOps.td - mm operations ----------------------------*- tablegen -*-===//
//
// One operation per step of spec/MEMMAMBA.md, plus the per-layer composite
// that the importer emits and `mm-decompose-layers` expands. Shapes use the
// spec's letters: B batch, T time, D hidden, E inner, N state, K conv kernel,
// R dt rank, V vocabulary, M pool slots, S summary size (d_s).
//
//===----------------------------------------------------------------------===//

#ifndef MM_DIALECT_MMOPS_TD
#define MM_DIALECT_MMOPS_TD

include "dialect/MMDialect.td"
include "dialect/MMAttrs.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def MM_F32Tensor : RankedTensorOf<[F32]>;
// A weight: f32, or bf16 / f16 where a reduced precision stores it so
// (mm-reduce-precision): the matrix products' weights and the embedding.
def MM_WeightTensor : RankedTensorOf<[F32, BF16, F16]>;
def MM_I32Tensor : RankedTensorOf<[I32]>;

class MM_PureOp<string mnemonic, list<Trait> traits = []>
    : MM_Op<mnemonic, !listconcat([Pure], traits)> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Weights and model structure
//===----------------------------------------------------------------------===//

def MM_WeightOp : MM_PureOp<"weight"> {
  let summary = "a checkpoint tensor, bound by name at load time";
  let description = [{
    Refers to the tensor `name` of the checkpoint (spec sections 1 and 2).
    Weights are never baked in: the runtime binds them by name, and the set of
    `mm.weight` operations of a module is its manifest. `fallback` names the
    tensor used when `name` is absent (an untied `lm_head.weight` falls back
    to the embedding). Files may store f32, f16 or bf16; the runtime converts
    each tensor once, at load, to the element type the IR gives it: f32, or
    bf16 / f16 for the weights of matrix products and the embedding under a
    reduced precision (mm-reduce-precision).

    Example:
    ```mlir
    %w = mm.weight "backbone.layers.0.mixer.A_log" : tensor<128x16xf32>
    %h = mm.weight "lm_head.weight" or "backbone.embeddings.weight"
        : tensor<256x64xf32>
    %p = mm.weight "backbone.layers.0.mixer.in_proj.weight"
        : tensor<256x64xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrAttr>:$fallback);
  let results = (outs MM_WeightTensor:$result);
  let assemblyFormat = "$name (`or` $fallback^)? attr-dict `:` type($result)";
}

def MM_StateLayoutOp : MM_Op<"state_layout", [Symbol]> {
  let summary = "the fields of the per-sequence state";
  let description = [{
    Lists, in order, the fields that entry points take and return: for each
    layer the conv window (E x (K-1)) and SSM state (E x N), and with memory
    the previous mixer output (D), the pool (slots M x S, priorities M,
    positions M, count), plus the model-wide token position. Everything is
    constant in sequence length.

    Example:
    ```mlir
    mm.state_layout @state [
      #mm.state_field<name = "layers.0.conv_window", kind = conv_window,
                      layer = 0, type = tensor<128x3xf32>>,
      #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state,
                      layer = 0, type = tensor<128x16xf32>>]
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypedArrayAttrBase<MM_StateFieldAttr,
                                          "state fields">:$fields);
  let assemblyFormat = "$sym_name $fields attr-dict";
  let hasVerifier = 1;
}

def MM_InitStateOp : MM_PureOp<"init_state"> {
  let summary = "the initial value of one state field for a batch";
  let description = [{
    Creates `batch` copies of the initial value of a state field: zero for
    every kind except `pool_positions`, which is -1 (an empty slot).

    Example:
    ```mlir
    %c = mm.init_state conv_window, %batch : tensor<?x128x3xf32>
    ```
  }];
  let arguments = (ins MM_StateKind:$kind, Index:$batch);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind `,` $batch attr-dict `:` type($result)";
}

def MM_AdvancePositionOp : MM_PureOp<"advance_position",
                                     [AllTypesMatch<["position", "result"]>]> {
  let summary = "the token position after a chunk";
  let description = [{
    `position + T`, per sequence: where the next chunk starts. With
    `lengths` [B] (a batch of sequences of different lengths, right-padded
    to T), `position + lengths`.

    Example:
    ```mlir
    %p1 = mm.advance_position %p0, %tokens
        : tensor<?xi32>, tensor<?x?xi32>
    ```
  }];
  let arguments = (ins MM_I32Tensor:$position, MM_I32Tensor:$tokens,
                       Optional<MM_I32Tensor>:$lengths);
  let results = (outs MM_I32Tensor:$result);
  let assemblyFormat = [{
    $position `,` $tokens (`lengths` $lengths^ `:` type($lengths))? attr-dict
    `:` type($position) `,` type($tokens)
  }];
}

//===----------------------------------------------------------------------===//
// Backbone
//===----------------------------------------------------------------------===//

def MM_EmbedOp : MM_PureOp<"embed"> {
  let summary = "token embedding lookup";
  let description = [{
    `result[b, t] = table[tokens[b, t]]`, tokens [B, T] i32, table [V, D];
    a bf16 or f16 table is widened to f32 (exactly).

    Example:
    ```mlir
    %x = mm.embed %tokens, %table
        : tensor<?x?xi32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins MM_I32Tensor:$tokens, MM_WeightTensor:$table);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` type($tokens) `,` type($table) `->`
    type($result)
  }];
}

def MM_RMSNormOp : MM_PureOp<"rms_norm", [AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the last dimension, times a weight";
  let description = [{
    `x / sqrt(mean(x^2) + epsilon) * weight`, over the last dimension D.

    Example:
    ```mlir
    %u = mm.rms_norm %x, %w {epsilon = 1.0e-05 : f64}
        : tensor<?x?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_F32Tensor:$weight,
                       F64Attr:$epsilon);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
}

def MM_LinearOp : MM_PureOp<"linear"> {
  let summary = "x W^T (+ bias) over the last dimension";
  let description = [{
    `result[..., n] = sum_k input[..., k] * weight[n, k] (+ bias[n])`, with the
    weight stored as PyTorch stores it ([out, in]). With a bf16 or f16
    weight the input is rounded to the weight's type and the products
    accumulate in f32 (a reduced precision, common/Precision.h).

    Example:
    ```mlir
    %xz = mm.linear %u, %w : tensor<?x?x64xf32>, tensor<256x64xf32>
        -> tensor<?x?x256xf32>
    %y = mm.linear %u, %w, %b : tensor<?x?x64xf32>, tensor<256x64xf32>,
        tensor<256xf32> -> tensor<?x?x256xf32>
    %r = mm.linear %u, %wr : tensor<?x?x64xf32>, tensor<256x64xbf16>
        -> tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_WeightTensor:$weight,
                       Optional<MM_F32Tensor>:$bias);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
}

def MM_SplitOp : MM_PureOp<"split"> {
  let summary = "split the last dimension into consecutive parts";
  let description = [{
    Splits the last dimension into parts of the given sizes, in order (e.g.
    in_proj's output into xi and z; x_proj's into the dt input, B and C).

    Example:
    ```mlir
    %xi, %z = mm.split %xz [128, 128]
        : tensor<?x?x256xf32> -> tensor<?x?x128xf32>, tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<MM_F32Tensor>:$results);
  let assemblyFormat = [{
    $input $sizes attr-dict `:` type($input) `->` type($results)
  }];
}

def MM_CausalConv1dOp : MM_PureOp<"causal_conv1d",
                                  [AttrSizedOperandSegments]> {
  let summary = "causal depthwise convolution over time, with its window";
  let description = [{
    `result[b, t, e] = act(bias[e] + sum_k weight[e, 0, k] * x[b, t - K + 1 + k, e])`
    where the inputs before the chunk come from `window` [B, E, K-1] (oldest
    first; zeros at the start of a sequence). `act` is SiLU when `silu` is
    set. Also returns the window after the chunk: its last K-1 inputs.
    With `lengths` [B] (a batch right-padded to T), sequence b's chunk is
    its first lengths[b] steps: its window after the chunk is the K-1
    inputs before step lengths[b] (the old window when that is 0), and its
    results past its length are padding that nothing reads.

    Example:
    ```mlir
    %xc, %win1 = mm.causal_conv1d %xi, %w bias %b window %win0 {silu}
        : (tensor<?x?x128xf32>, tensor<128x1x4xf32>, tensor<128xf32>,
           tensor<?x128x3xf32>) -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_F32Tensor:$weight,
                       Optional<MM_F32Tensor>:$bias, MM_F32Tensor:$window,
                       Optional<MM_I32Tensor>:$lengths, UnitAttr:$silu);
  let results = (outs MM_F32Tensor:$result, MM_F32Tensor:$window_out);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? `window` $window
    (`lengths` $lengths^)? attr-dict `:` functional-type(operands, results)
  }];
}

def MM_SelectiveScanOp : MM_PureOp<"selective_scan",
                                   [AttrSizedOperandSegments]> {
  let summary = "the S6 selective scan (discretisation, recurrence, output)";
  let description = [{
    With `delta` [B, T, E] (plus `delta_bias` [E], then softplus when
    `delta_softplus` is set), A = -exp(A_log) [E, N], B and C [B, T, N]:
    ```
    h_t = exp(delta_t * A) * h_{t-1} + (delta_t * u_t) B_t
    y_t = h_t . C_t + D * u_t
    ```
    from `initial_state` [B, E, N] (zero when absent). `final_state` is
    returned when the op has a second result. With `lengths` [B] (a batch
    right-padded to T), sequence b's final state is h after its first
    lengths[b] steps (its initial state when that is 0), and its results
    past its length are padding that nothing reads.

    Example:
    ```mlir
    %y, %h1 = mm.selective_scan %u, %dt, %A_log, %B, %C, %D
        delta_bias %dt_bias initial_state %h0 {delta_softplus}
        : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>,
           tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<128xf32>,
           tensor<128xf32>, tensor<?x128x16xf32>)
        -> (tensor<?x?x128xf32>, tensor<?x128x16xf32>)
    ```
  }];
  let arguments = (ins MM_F32Tensor:$u, MM_F32Tensor:$delta,
                       MM_F32Tensor:$A_log, MM_F32Tensor:$B, MM_F32Tensor:$C,
                       MM_F32Tensor:$D, Optional<MM_F32Tensor>:$delta_bias,
                       Optional<MM_F32Tensor>:$initial_state,
                       Optional<MM_I32Tensor>:$lengths,
                       UnitAttr:$delta_softplus);
  let results = (outs MM_F32Tensor:$result,
                      Optional<MM_F32Tensor>:$final_state);
  let assemblyFormat = [{
    $u `,` $delta `,` $A_log `,` $B `,` $C `,` $D
    (`delta_bias` $delta_bias^)? (`initial_state` $initial_state^)?
    (`lengths` $lengths^)? attr-dict `:` functional-type(operands, results)
  }];
}

def MM_GateOp : MM_PureOp<"gate", [SameOperandsAndResultType]> {
  let summary = "gated output: y * SiLU(z)";
  let description = [{
    Example:
    ```mlir
    %g = mm.gate %y, %z : tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_F32Tensor:$gate);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = "$input `,` $gate attr-dict `:` type($result)";
}

def MM_ResidualOp : MM_PureOp<"residual", [AttrSizedOperandSegments]> {
  let summary = "fused residual: x + m + gated memory contributions";
  let description = [{
    `x + mixer + sigmoid(token_gate) * token_context
        + sigmoid(layer_gate) * layer_context` (spec section 2 (d)); each
    context comes with its gate [D] and may be absent (plain Mamba has none).

    Example:
    ```mlir
    %x1 = mm.residual %x, %m token(%ctok, %gtok) layer(%clay, %glay)
        : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>,
           tensor<64xf32>, tensor<?x?x64xf32>, tensor<64xf32>)
        -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_F32Tensor:$mixer,
                       Optional<MM_F32Tensor>:$token_context,
                       Optional<MM_F32Tensor>:$token_gate,
                       Optional<MM_F32Tensor>:$layer_context,
                       Optional<MM_F32Tensor>:$layer_gate);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $mixer
    (`token` `(` $token_context^ `,` $token_gate `)`)?
    (`layer` `(` $layer_context^ `,` $layer_gate `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasCanonicalizer = 1;
}

def MM_TakeLastOp : MM_PureOp<"take_last", [AttrSizedOperandSegments]> {
  let summary = "the last time step of each sequence";
  let description = [{
    `result[b] = input[b, T - 1]`: the mixer output a layer keeps as
    `previous_mixer` for the next chunk. With `lengths` [B] (a batch
    right-padded to T), `input[b, lengths[b] - 1]`, or `previous[b]` (the
    value before the chunk) when lengths[b] is 0; without `previous`, such a
    sequence takes `input[b, 0]` (a padding row: the last logits of a
    `prefill_last` entry, which nothing reads for a sequence without tokens).
    The result is [B, X], or [B, 1, X]: the last steps as one-step sequences.

    Example:
    ```mlir
    %m_last = mm.take_last %m : tensor<?x?x64xf32> -> tensor<?x64xf32>
    %h_last = mm.take_last %h lengths %n : tensor<?xi32>
        : tensor<?x?x64xf32> -> tensor<?x1x64xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, Optional<MM_I32Tensor>:$lengths,
                       Optional<MM_F32Tensor>:$previous);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input (`lengths` $lengths^ (`previous` $previous^)? `:` type($lengths)
    (`,` type($previous)^)?)? attr-dict `:` type($input) `->` type($result)
  }];
}

def MM_LMHeadOp : MM_PureOp<"lm_head"> {
  let summary = "logits from the final normalised residual stream";
  let description = [{
    `logits[b, t, v] = sum_d input[b, t, d] * weight[v, d]` (weight [V, D]; the
    embedding when tied). A bf16 or f16 weight rounds the input as
    `mm.linear` does.

    Example:
    ```mlir
    %logits = mm.lm_head %xn, %w
        : tensor<?x?x64xf32>, tensor<256x64xf32> -> tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_WeightTensor:$weight);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->`
    type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Memory path
//===----------------------------------------------------------------------===//

def MM_NoteOp : MM_PureOp<"note"> {
  let summary = "note block: importance score and 64-dim summary per token";
  let description = [{
    `score[b, t] = sigmoid(score_weight . u[b, t] + score_bias)` (I_token) and
    `summary[b, t] = summary_weight u[b, t]` [S], for every token; whether a
    token is noted (score > note_threshold) is decided where the pool is
    updated or read.

    Example:
    ```mlir
    %sigma, %s = mm.note %u, %ws, %bs, %wn
        : (tensor<?x?x64xf32>, tensor<1x64xf32>, tensor<1xf32>,
           tensor<64x64xf32>) -> (tensor<?x?xf32>, tensor<?x?x64xf32>)
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_F32Tensor:$score_weight,
                       MM_F32Tensor:$score_bias, MM_F32Tensor:$summary_weight);
  let results = (outs MM_F32Tensor:$score, MM_F32Tensor:$summary);
  let assemblyFormat = [{
    $input `,` $score_weight `,` $score_bias `,` $summary_weight attr-dict `:`
    functional-type(operands, results)
  }];
}

def MM_ReadTriggerOp : MM_PureOp<"read_trigger"> {
  let summary = "read trigger I_state from the previous mixer output";
  let description = [{
    `result[b, t] = sigmoid(weight . m[b, t-1] + bias)`, where m[b, -1] is
    `previous` [B, D] (the last mixer output of the previous chunk, zero at
    the start of a sequence).

    Example:
    ```mlir
    %r = mm.read_trigger %m, %m_prev, %wr, %br
        : (tensor<?x?x64xf32>, tensor<?x64xf32>, tensor<1x64xf32>,
           tensor<1xf32>) -> tensor<?x?xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$mixer, MM_F32Tensor:$previous,
                       MM_F32Tensor:$weight, MM_F32Tensor:$bias);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $mixer `,` $previous `,` $weight `,` $bias attr-dict `:`
    functional-type(operands, results)
  }];
}

def MM_PoolUpdateOp : MM_PureOp<"pool_update"> {
  let summary = "write the noted tokens of a chunk into the pool";
  let description = [{
    For t = 0 .. T-1 in order: if `score[b, t] > note_threshold`, the note
    (summary[b, t], score, position[b] + t) enters the pool: into a free slot
    while count < M; when full, `priority` eviction replaces the slot with the
    lowest priority (ties: the most recent position) if the new score is
    higher, and `fifo` replaces the oldest position. The pool is four
    tensors: slots [B, M, S], priorities [B, M], positions [B, M] i32 and
    count [B] i32; the results are the pool after the chunk. With `lengths`
    [B] (a batch right-padded to T), sequence b notes only its first
    lengths[b] tokens.

    Example:
    ```mlir
    %slots1, %prio1, %pos1, %count1 = mm.pool_update %sigma, %s
        into(%slots, %prio, %pos, %count) at %position
        {eviction = #mm.eviction<priority>, note_threshold = 5.0e-01 : f64}
        : (tensor<?x?xf32>, tensor<?x?x64xf32>, tensor<?x50x64xf32>,
           tensor<?x50xf32>, tensor<?x50xi32>, tensor<?xi32>, tensor<?xi32>)
        -> (tensor<?x50x64xf32>, tensor<?x50xf32>, tensor<?x50xi32>,
            tensor<?xi32>)
    ```
  }];
  let arguments = (ins MM_F32Tensor:$score, MM_F32Tensor:$summary,
                       MM_F32Tensor:$slots, MM_F32Tensor:$priorities,
                       MM_I32Tensor:$positions, MM_I32Tensor:$count,
                       MM_I32Tensor:$position, Optional<MM_I32Tensor>:$lengths,
                       F64Attr:$note_threshold,
                       MM_EvictionPolicyAttr:$eviction);
  let results = (outs MM_F32Tensor:$slots_out, MM_F32Tensor:$priorities_out,
                      MM_I32Tensor:$positions_out, MM_I32Tensor:$count_out);
  let assemblyFormat = [{
    $score `,` $summary `into` `(` $slots `,` $priorities `,` $positions `,`
    $count `)` `at` $position (`lengths` $lengths^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def MM_PoolAttentionOp : MM_PureOp<"pool_attention"> {
  let summary = "cross-token attention over the pool as it stood before t";
  let description = [{
    For each token t: the pool before t is the input pool updated (as by
    `mm.pool_update`) with the noted tokens before t of this chunk. If that
    pool is not empty and `trigger[b, t] > read_threshold`:
    ```
    q = Wq u_t; K = Wk S; V = Wv S          (S: the valid summaries)
    result_t = Wo concat_h(softmax(q_h K_h^T / sqrt(S/heads)) V_h)
    ```
    else zero. Weights: Wq [S, D], Wk [S, S], Wv [S, S], Wo [D, S].

    Example:
    ```mlir
    %ctok = mm.pool_attention %u, %r, %sigma, %s
        pool(%slots, %prio, %pos, %count) weights(%wq, %wk, %wv, %wo)
        {eviction = #mm.eviction<priority>, heads = 1 : i64,
         note_threshold = 5.0e-01 : f64, read_threshold = 3.0e-01 : f64}
        : (...) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input, MM_F32Tensor:$trigger,
                       MM_F32Tensor:$score, MM_F32Tensor:$summary,
                       MM_F32Tensor:$slots, MM_F32Tensor:$priorities,
                       MM_I32Tensor:$positions, MM_I32Tensor:$count,
                       MM_F32Tensor:$query_weight, MM_F32Tensor:$key_weight,
                       MM_F32Tensor:$value_weight,
                       MM_F32Tensor:$output_weight,
                       F64Attr:$note_threshold, F64Attr:$read_threshold,
                       MM_EvictionPolicyAttr:$eviction, I64Attr:$heads);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $trigger `,` $score `,` $summary
    `pool` `(` $slots `,` $priorities `,` $positions `,` $count `)`
    `weights` `(` $query_weight `,` $key_weight `,` $value_weight `,`
    $output_weight `)` attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// The trigger can never exceed read_threshold (a sigmoid is at most 1),
    /// so the result is always zero.
    bool neverReads() { return getReadThreshold().convertToDouble() >= 1.0; }
  }];
}

def MM_CrossLayerAttentionOp : MM_PureOp<"cross_layer_attention",
                                         [AttrSizedOperandSegments]> {
  let summary = "attention over the pools of the layers below";
  let description = [{
    For each token t, S' is the union of the valid summaries of the source
    pools as they stand after their layers processed t: source j's input pool
    updated with its noted tokens up to and including t. If S' is not empty,
    the same attention form as `mm.pool_attention` (with the layer_attn
    weights) over S'; else zero. Each source is given by its chunk notes
    (score, summary) and its pool before the chunk, one entry per source in
    each group.

    Example:
    ```mlir
    %clay = mm.cross_layer_attention %u
        scores(%sigma0, %sigma1) summaries(%s0, %s1)
        slots(%sl0, %sl1) priorities(%p0, %p1) positions(%q0, %q1)
        counts(%c0, %c1) weights(%wq, %wk, %wv, %wo)
        {eviction = #mm.eviction<priority>, heads = 1 : i64,
         note_threshold = 5.0e-01 : f64} : (...) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins MM_F32Tensor:$input,
                       Variadic<MM_F32Tensor>:$scores,
                       Variadic<MM_F32Tensor>:$summaries,
                       Variadic<MM_F32Tensor>:$slots,
                       Variadic<MM_F32Tensor>:$priorities,
                       Variadic<MM_I32Tensor>:$positions,
                       Variadic<MM_I32Tensor>:$counts,
                       MM_F32Tensor:$query_weight, MM_F32Tensor:$key_weight,
                       MM_F32Tensor:$value_weight,
                       MM_F32Tensor:$output_weight,
                       F64Attr:$note_threshold,
                       MM_EvictionPolicyAttr:$eviction, I64Attr:$heads);
  let results = (outs MM_F32Tensor:$result);
  let assemblyFormat = [{
    $input `scores` `(` $scores `)` `summaries` `(` $summaries `)`
    `slots` `(` $slots `)` `priorities` `(` $priorities `)`
    `positions` `(` $positions `)` `counts` `(` $counts `)`
    `weights` `(` $query_weight `,` $key_weight `,` $value_weight `,`
    $output_weight `)` attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Composite
//===----------------------------------------------------------------------===//

def MM_LayerOp : MM_PureOp<"layer", [AttrSizedOperandSegments]> {
  let summary = "one MemMamba layer, before decomposition";
  let description = [{
    Layer `index` of the model described by `config`, on a chunk x [B, T, D],
    with its state (spec section 2, in order: mixer, (a) cross-token read,
    (b) note write, (c) cross-layer attention, (d) fused residual). Its
    weights are the checkpoint tensors "backbone.layers.{index}.*".

    Operands: x, the sequences' lengths when a batch is right-padded to
    its longest (as on mm.selective_scan), conv window, SSM state; with memory, the previous mixer
    output, the pool (slots, priorities, positions, count) and the token
    position; on layers with cross-layer attention, one source per layer read
    (its chunk notes and its pool before the chunk, as in
    `mm.cross_layer_attention`). Results: x after the layer, the new conv
    window and SSM state; with memory, the new previous mixer output and
    pool, and the chunk's note scores and summaries (the sources of the
    layers above).

    `mm-decompose-layers` expands it into the primitive operations.

    Example (plain Mamba):
    ```mlir
    %x1, %conv1, %ssm1 = mm.layer 0 (%x) state(%conv0, %ssm0)
        {config = #mm.config<...>}
        : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
        -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
    ```
  }];
  let arguments = (ins I64Attr:$index, MM_ModelConfigAttr:$config,
                       MM_F32Tensor:$input, Optional<MM_I32Tensor>:$lengths,
                       MM_F32Tensor:$conv_window,
                       MM_F32Tensor:$ssm_state,
                       Optional<MM_F32Tensor>:$previous_mixer,
                       Optional<MM_F32Tensor>:$pool_slots,
                       Optional<MM_F32Tensor>:$pool_priorities,
                       Optional<MM_I32Tensor>:$pool_positions,
                       Optional<MM_I32Tensor>:$pool_count,
                       Optional<MM_I32Tensor>:$position,
                       Variadic<MM_F32Tensor>:$source_scores,
                       Variadic<MM_F32Tensor>:$source_summaries,
                       Variadic<MM_F32Tensor>:$source_slots,
                       Variadic<MM_F32Tensor>:$source_priorities,
                       Variadic<MM_I32Tensor>:$source_positions,
                       Variadic<MM_I32Tensor>:$source_counts);
  // The results are one variadic group (their presence follows the config);
  // the accessors below name them.
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let extraClassDeclaration = [{
    /// Number of results without and with memory.
    static constexpr unsigned kNumMambaResults = 3;
    static constexpr unsigned kNumMemoryResults = 10;
    ::mlir::Value getOutput() { return getResults()[0]; }
    ::mlir::Value getConvWindowOut() { return getResults()[1]; }
    ::mlir::Value getSsmStateOut() { return getResults()[2]; }
    ::mlir::Value getPreviousMixerOut() { return memoryResult(3); }
    ::mlir::Value getPoolSlotsOut() { return memoryResult(4); }
    ::mlir::Value getPoolPrioritiesOut() { return memoryResult(5); }
    ::mlir::Value getPoolPositionsOut() { return memoryResult(6); }
    ::mlir::Value getPoolCountOut() { return memoryResult(7); }
    ::mlir::Value getNoteScores() { return memoryResult(8); }
    ::mlir::Value getNoteSummaries() { return memoryResult(9); }

  private:
    ::mlir::Value memoryResult(unsigned index) {
      return getNumResults() == kNumMemoryResults ? getResults()[index]
                                                  : ::mlir::Value();
    }
  public:
  }];
  let assemblyFormat = [{
    $index ` ` `(` $input `)` (`lengths` $lengths^)?
    `state` `(` $conv_window `,` $ssm_state `)`
    (`memory` `(` $previous_mixer^ `,` $pool_slots `,` $pool_priorities `,`
     $pool_positions `,` $pool_count `,` $position `)`)?
    (`sources` `scores` `(` $source_scores^ `)` `summaries` `(`
     $source_summaries `)` `slots` `(` $source_slots `)` `priorities` `(`
     $source_priorities `)` `positions` `(` $source_positions `)` `counts` `(`
     $source_counts `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

def MM_FusedOp : MM_Op<"fused", [IsolatedFromAbove, SingleBlock,
                                 RecursiveMemoryEffects]> {
  let summary = "operations that become one kernel";
  let description = [{
    A fusion group: the mm operations of its body become one kernel, shaped
    by `strategy` (#mm.fusion: its kind and tunable sizes). The group is
    isolated from above: its inputs are the kernel's arguments (activations,
    state fields, weights), its results the values used after it, yielded by
    `mm.yield`. `mm-fuse-kernels` forms the groups; every backend lowers one
    group as one kernel (the host lowering fuses the loops of the kinds it
    knows, such as a scan with its gate, and runs the others back to back).

    Example:
    ```mlir
    %y, %h = mm.fused #mm.fusion<scan, {channels = 1 : i64}>
        (%u, %dt, %a, %b, %c, %d, %z, %h0) : (...) -> (...) {
    ^bb0(%u1: tensor<?x?x128xf32>, ...):
      %s, %h1 = mm.selective_scan ...
      %g = mm.gate %s, %z1 : tensor<?x?x128xf32>
      mm.yield %g, %h1 : tensor<?x?x128xf32>, tensor<?x128x16xf32>
    }
    ```
  }];
  let arguments = (ins MM_FusionAttr:$strategy,
                       Variadic<AnyTypeOf<[AnyRankedTensor, Index]>>:$inputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $strategy ` ` `(` $inputs `)` attr-dict `:`
    functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    FusionKind getKind() { return getStrategy().getKind(); }
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def MM_YieldOp : MM_Op<"yield", [Pure, Terminator, ReturnLike,
                                 HasParent<"FusedOp">]> {
  let summary = "the results of a fusion group";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // MM_DIALECT_MMOPS_TD
