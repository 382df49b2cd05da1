// RUN: mm-opt %s | mm-opt | FileCheck %s
// RUN: mm-opt %s --mlir-print-op-generic | mm-opt | FileCheck %s

// Round trip of every mm operation, in the custom and the generic form.

// The config of the composite layer below is printed once, as an alias.
// CHECK: #[[$CONFIG:.+]] = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.000000e-05, use_bias = false, use_conv_bias = true>

// CHECK-LABEL: func.func @weights
func.func @weights() -> (tensor<128x16xf32>, tensor<256x64xf32>) {
  // CHECK: mm.weight "backbone.layers.0.mixer.A_log" : tensor<128x16xf32>
  %a = mm.weight "backbone.layers.0.mixer.A_log" : tensor<128x16xf32>
  // CHECK: mm.weight "lm_head.weight" or "backbone.embeddings.weight" : tensor<256x64xf32>
  %h = mm.weight "lm_head.weight" or "backbone.embeddings.weight" : tensor<256x64xf32>
  return %a, %h : tensor<128x16xf32>, tensor<256x64xf32>
}

// Reduced precision (mm-reduce-precision): bf16 or f16 weights of the matrix
// products and the embedding, f32 activations.
// CHECK-LABEL: func.func @reduced_precision
func.func @reduced_precision(%tokens: tensor<?x?xi32>, %u: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
  // CHECK: mm.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
  %table = mm.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
  // CHECK: mm.embed %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<256x64xbf16> -> tensor<?x?x64xf32>
  %x = mm.embed %tokens, %table : tensor<?x?xi32>, tensor<256x64xbf16> -> tensor<?x?x64xf32>
  %w = mm.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<256x64xf16>
  // CHECK: mm.linear %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<256x64xf16> -> tensor<?x?x256xf32>
  %y = mm.linear %u, %w : tensor<?x?x64xf32>, tensor<256x64xf16> -> tensor<?x?x256xf32>
  // CHECK: mm.lm_head %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<256x64xbf16> -> tensor<?x?x256xf32>
  %l = mm.lm_head %u, %table : tensor<?x?x64xf32>, tensor<256x64xbf16> -> tensor<?x?x256xf32>
  return %x, %y, %l : tensor<?x?x64xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>
}

// CHECK-LABEL: func.func @backbone
func.func @backbone(%tokens: tensor<?x?xi32>, %table: tensor<256x64xf32>,
                    %norm: tensor<64xf32>, %in_proj: tensor<256x64xf32>,
                    %in_bias: tensor<256xf32>, %conv_w: tensor<128x1x4xf32>,
                    %conv_b: tensor<128xf32>, %window: tensor<?x128x3xf32>)
    -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x128x3xf32>) {
  // CHECK: %[[X:.*]] = mm.embed %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
  %x = mm.embed %tokens, %table : tensor<?x?xi32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
  // CHECK: %[[U:.*]] = mm.rms_norm %[[X]], %{{.*}} {epsilon = 1.000000e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  %u = mm.rms_norm %x, %norm {epsilon = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  // CHECK: %[[XZ:.*]] = mm.linear %[[U]], %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
  %xz = mm.linear %u, %in_proj, %in_bias : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
  // CHECK: %[[S:.*]]:2 = mm.split %[[XZ]] [128, 128] : tensor<?x?x256xf32> -> tensor<?x?x128xf32>, tensor<?x?x128xf32>
  %xi, %z = mm.split %xz [128, 128] : tensor<?x?x256xf32> -> tensor<?x?x128xf32>, tensor<?x?x128xf32>
  // CHECK: mm.causal_conv1d %[[S]]#0, %{{.*}} bias %{{.*}} window %{{.*}} {silu}
  %xc, %w1 = mm.causal_conv1d %xi, %conv_w bias %conv_b window %window {silu}
      : (tensor<?x?x128xf32>, tensor<128x1x4xf32>, tensor<128xf32>, tensor<?x128x3xf32>)
      -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
  // CHECK: mm.causal_conv1d %[[S]]#0, %{{.*}} window %{{.*}} :
  %xc2, %w2 = mm.causal_conv1d %xi, %conv_w window %window
      : (tensor<?x?x128xf32>, tensor<128x1x4xf32>, tensor<?x128x3xf32>)
      -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
  return %xc, %z, %w1 : tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x128x3xf32>
}

// CHECK-LABEL: func.func @scan
func.func @scan(%u: tensor<?x?x128xf32>, %dt: tensor<?x?x128xf32>,
                %a: tensor<128x16xf32>, %b: tensor<?x?x16xf32>,
                %c: tensor<?x?x16xf32>, %d: tensor<128xf32>,
                %bias: tensor<128xf32>, %h0: tensor<?x128x16xf32>,
                %z: tensor<?x?x128xf32>)
    -> (tensor<?x?x128xf32>, tensor<?x128x16xf32>, tensor<?x?x128xf32>) {
  // CHECK: mm.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} delta_bias %{{.*}} initial_state %{{.*}} {delta_softplus}
  // CHECK-SAME: -> (tensor<?x?x128xf32>, tensor<?x128x16xf32>)
  %y, %h1 = mm.selective_scan %u, %dt, %a, %b, %c, %d delta_bias %bias initial_state %h0 {delta_softplus}
      : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>, tensor<?x?x16xf32>,
         tensor<?x?x16xf32>, tensor<128xf32>, tensor<128xf32>, tensor<?x128x16xf32>)
      -> (tensor<?x?x128xf32>, tensor<?x128x16xf32>)
  // Without optional operands and without the final state.
  // CHECK: mm.selective_scan %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}} :
  // CHECK-SAME: -> tensor<?x?x128xf32>
  %y2 = mm.selective_scan %u, %dt, %a, %b, %c, %d
      : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>, tensor<?x?x16xf32>,
         tensor<?x?x16xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  // CHECK: mm.gate %{{.*}}, %{{.*}} : tensor<?x?x128xf32>
  %g = mm.gate %y2, %z : tensor<?x?x128xf32>
  return %y, %h1, %g : tensor<?x?x128xf32>, tensor<?x128x16xf32>, tensor<?x?x128xf32>
}

// CHECK-LABEL: func.func @memory
func.func @memory(%u: tensor<?x?x64xf32>, %m: tensor<?x?x64xf32>, %m_prev: tensor<?x64xf32>,
                  %ws: tensor<1x64xf32>, %bs: tensor<1xf32>, %wn: tensor<16x64xf32>,
                  %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>,
                  %pos: tensor<?x8xi32>, %count: tensor<?xi32>, %position: tensor<?xi32>,
                  %wq: tensor<16x64xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>,
                  %wo: tensor<64x16xf32>, %gate: tensor<64xf32>, %head: tensor<256x64xf32>,
                  %tokens: tensor<?x?xi32>)
    -> (tensor<?x?x64xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>,
        tensor<?x8xi32>, tensor<?xi32>, tensor<?x?x256xf32>, tensor<?xi32>) {
  // CHECK: %[[R:.*]] = mm.read_trigger
  %r = mm.read_trigger %m, %m_prev, %ws, %bs
      : (tensor<?x?x64xf32>, tensor<?x64xf32>, tensor<1x64xf32>, tensor<1xf32>) -> tensor<?x?xf32>
  // CHECK: %[[SIGMA:.*]], %[[SUM:.*]] = mm.note
  %sigma, %s = mm.note %u, %ws, %bs, %wn
      : (tensor<?x?x64xf32>, tensor<1x64xf32>, tensor<1xf32>, tensor<16x64xf32>)
      -> (tensor<?x?xf32>, tensor<?x?x16xf32>)
  // CHECK: %[[CTOK:.*]] = mm.pool_attention %{{.*}}, %[[R]], %[[SIGMA]], %[[SUM]] pool(%{{[^)]*}}) weights(%{{[^)]*}}) {eviction = #mm.eviction<priority>, heads = 2 : i64
  %ctok = mm.pool_attention %u, %r, %sigma, %s pool(%slots, %prio, %pos, %count)
      weights(%wq, %wk, %wv, %wo)
      {eviction = #mm.eviction<priority>, heads = 2 : i64,
       note_threshold = 5.0e-01 : f64, read_threshold = 3.0e-01 : f64}
      : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>,
         tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>,
         tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>)
      -> tensor<?x?x64xf32>
  // CHECK: mm.pool_update %[[SIGMA]], %[[SUM]] into(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) at %{{.*}} {eviction = #mm.eviction<fifo>
  %s1, %p1, %q1, %c1 = mm.pool_update %sigma, %s into(%slots, %prio, %pos, %count) at %position
      {eviction = #mm.eviction<fifo>, note_threshold = 5.0e-01 : f64}
      : (tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>,
         tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>)
      -> (tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>)
  // CHECK: %[[CLAY:.*]] = mm.cross_layer_attention %{{.*}} scores(%[[SIGMA]], %[[SIGMA]]) summaries(%[[SUM]], %[[SUM]])
  %clay = mm.cross_layer_attention %u scores(%sigma, %sigma) summaries(%s, %s)
      slots(%slots, %slots) priorities(%prio, %prio) positions(%pos, %pos)
      counts(%count, %count) weights(%wq, %wk, %wv, %wo)
      {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 5.0e-01 : f64}
      : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>,
         tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>,
         tensor<?x8xf32>, tensor<?x8xi32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>,
         tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>)
      -> tensor<?x?x64xf32>
  // CHECK: mm.residual %{{.*}}, %{{.*}} token(%[[CTOK]], %{{.*}}) layer(%[[CLAY]], %{{.*}})
  %x1 = mm.residual %u, %m token(%ctok, %gate) layer(%clay, %gate)
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>,
         tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  // CHECK: mm.residual %{{.*}}, %{{.*}} layer(%[[CLAY]], %{{.*}}) :
  %x2 = mm.residual %x1, %m layer(%clay, %gate)
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>)
      -> tensor<?x?x64xf32>
  // CHECK: mm.take_last %{{.*}} : tensor<?x?x64xf32> -> tensor<?x64xf32>
  %last = mm.take_last %m : tensor<?x?x64xf32> -> tensor<?x64xf32>
  // CHECK: mm.lm_head %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<256x64xf32> -> tensor<?x?x256xf32>
  %logits = mm.lm_head %x2, %head : tensor<?x?x64xf32>, tensor<256x64xf32> -> tensor<?x?x256xf32>
  // CHECK: mm.advance_position %{{.*}}, %{{.*}} : tensor<?xi32>, tensor<?x?xi32>
  %next = mm.advance_position %position, %tokens : tensor<?xi32>, tensor<?x?xi32>
  return %x2, %last, %s1, %p1, %q1, %c1, %logits, %next
      : tensor<?x?x64xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>,
        tensor<?x8xi32>, tensor<?xi32>, tensor<?x?x256xf32>, tensor<?xi32>
}

// A batch right-padded to its longest sequence: the state operations take
// each sequence's length.
// CHECK-LABEL: func.func @lengths
func.func @lengths(%x: tensor<?x?x128xf32>, %w: tensor<128x1x4xf32>,
                   %window: tensor<?x128x3xf32>, %a: tensor<128x16xf32>,
                   %bc: tensor<?x?x16xf32>, %d: tensor<128xf32>,
                   %h: tensor<?x128x16xf32>, %m: tensor<?x?x64xf32>,
                   %prev: tensor<?x64xf32>, %sigma: tensor<?x?xf32>,
                   %s: tensor<?x?x16xf32>, %slots: tensor<?x8x16xf32>,
                   %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>,
                   %count: tensor<?xi32>, %position: tensor<?xi32>,
                   %tokens: tensor<?x?xi32>, %n: tensor<?xi32>) {
  // CHECK: mm.causal_conv1d %{{.*}}, %{{.*}} window %{{.*}} lengths %{{.*}} {silu}
  %xc, %w1 = mm.causal_conv1d %x, %w window %window lengths %n {silu}
      : (tensor<?x?x128xf32>, tensor<128x1x4xf32>, tensor<?x128x3xf32>,
         tensor<?xi32>) -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
  // CHECK: mm.selective_scan {{.*}} initial_state %{{.*}} lengths %{{.*}} {delta_softplus}
  %y, %h1 = mm.selective_scan %xc, %xc, %a, %bc, %bc, %d initial_state %h
      lengths %n {delta_softplus}
      : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>,
         tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<128xf32>,
         tensor<?x128x16xf32>, tensor<?xi32>)
      -> (tensor<?x?x128xf32>, tensor<?x128x16xf32>)
  // CHECK: mm.take_last %{{.*}} lengths %{{.*}} previous %{{.*}} : tensor<?xi32>, tensor<?x64xf32> : tensor<?x?x64xf32> -> tensor<?x64xf32>
  %last = mm.take_last %m lengths %n previous %prev : tensor<?xi32>, tensor<?x64xf32>
      : tensor<?x?x64xf32> -> tensor<?x64xf32>
  // The last steps as one-step sequences (prefill_last's head input).
  // CHECK: mm.take_last %{{.*}} lengths %{{.*}} : tensor<?xi32> : tensor<?x?x64xf32> -> tensor<?x1x64xf32>
  %rows = mm.take_last %m lengths %n : tensor<?xi32>
      : tensor<?x?x64xf32> -> tensor<?x1x64xf32>
  // CHECK: mm.pool_update {{.*}} at %{{.*}} lengths %{{.*}} {eviction
  %s1, %p1, %q1, %c1 = mm.pool_update %sigma, %s into(%slots, %prio, %pos, %count)
      at %position lengths %n
      {eviction = #mm.eviction<priority>, note_threshold = 5.0e-01 : f64}
      : (tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>,
         tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>,
         tensor<?xi32>)
      -> (tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>)
  // CHECK: mm.advance_position %{{.*}}, %{{.*}} lengths %{{.*}} : tensor<?xi32> : tensor<?xi32>, tensor<?x?xi32>
  %next = mm.advance_position %position, %tokens lengths %n : tensor<?xi32>
      : tensor<?xi32>, tensor<?x?xi32>
  return
}

// CHECK-LABEL: func.func @composite_layer
func.func @composite_layer(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>,
                           %ssm: tensor<?x128x16xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) {
  // CHECK: mm.layer 1 (%{{.*}}) state(%{{.*}}, %{{.*}}) {config = #[[$CONFIG]]}
  %y:3 = mm.layer 1 (%x) state(%conv, %ssm)
      {config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16,
                           conv_kernel = 4, intermediate_size = 128, dt_rank = 4,
                           vocab_size = 256, layer_norm_epsilon = 1.0e-05,
                           use_bias = false, use_conv_bias = true>}
      : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
      -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
  return %y#0, %y#1, %y#2 : tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>
}

// CHECK-LABEL: mm.state_layout @state
// CHECK-SAME: #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>
// CHECK-SAME: #mm.state_field<name = "position", kind = position, layer = -1, type = tensor<i32>>
mm.state_layout @state [
  #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
  #mm.state_field<name = "position", kind = position, layer = -1, type = tensor<i32>>]

// CHECK-LABEL: func.func @init_state
// CHECK-SAME: attributes {mm.entry = #mm.entry<init_state>, mm.state_layout = @state}
func.func @init_state(%batch: index) -> (tensor<?x128x3xf32>, tensor<?xi32>)
    attributes {mm.entry = #mm.entry<init_state>, mm.state_layout = @state} {
  // CHECK: mm.init_state conv_window, %{{.*}} : tensor<?x128x3xf32>
  %c = mm.init_state conv_window, %batch : tensor<?x128x3xf32>
  // CHECK: mm.init_state position, %{{.*}} : tensor<?xi32>
  %p = mm.init_state position, %batch : tensor<?xi32>
  return %c, %p : tensor<?x128x3xf32>, tensor<?xi32>
}

// CHECK-LABEL: func.func @decode
// CHECK-SAME: attributes {mm.entry = #mm.entry<decode>, mm.state_layout = @state}
func.func @decode(%tokens: tensor<?x1xi32>, %c: tensor<?x128x3xf32>, %p: tensor<?xi32>)
    -> (tensor<?x1x256xf32>, tensor<?x128x3xf32>, tensor<?xi32>)
    attributes {mm.entry = #mm.entry<decode>, mm.state_layout = @state} {
  %head = mm.weight "lm_head.weight" : tensor<256x64xf32>
  %table = mm.weight "backbone.embeddings.weight" : tensor<256x64xf32>
  %x = mm.embed %tokens, %table : tensor<?x1xi32>, tensor<256x64xf32> -> tensor<?x1x64xf32>
  %logits = mm.lm_head %x, %head : tensor<?x1x64xf32>, tensor<256x64xf32> -> tensor<?x1x256xf32>
  return %logits, %c, %p : tensor<?x1x256xf32>, tensor<?x128x3xf32>, tensor<?xi32>
}

// prefill_last: prefill's arguments, one row of logits per sequence.
// CHECK-LABEL: func.func @prefill_last
// CHECK-SAME: attributes {mm.entry = #mm.entry<prefill_last>, mm.state_layout = @state}
func.func @prefill_last(%tokens: tensor<?x?xi32>, %n: tensor<?xi32>,
                        %c: tensor<?x128x3xf32>, %p: tensor<?xi32>)
    -> (tensor<?x1x256xf32>, tensor<?x128x3xf32>, tensor<?xi32>)
    attributes {mm.entry = #mm.entry<prefill_last>, mm.state_layout = @state} {
  %head = mm.weight "lm_head.weight" : tensor<256x64xf32>
  %table = mm.weight "backbone.embeddings.weight" : tensor<256x64xf32>
  %x = mm.embed %tokens, %table : tensor<?x?xi32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
  %last = mm.take_last %x lengths %n : tensor<?xi32> : tensor<?x?x64xf32> -> tensor<?x1x64xf32>
  %logits = mm.lm_head %last, %head : tensor<?x1x64xf32>, tensor<256x64xf32> -> tensor<?x1x256xf32>
  return %logits, %c, %p : tensor<?x1x256xf32>, tensor<?x128x3xf32>, tensor<?xi32>
}

// A fusion group: a kernel's arguments, body and results.
// CHECK-LABEL: func.func @fused_group
// CHECK: %[[R:.*]] = mm.fused <gemm, {rows = 32 : i64, tokens = 4 : i64}> (%{{.*}}, %{{.*}}) : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<16x64xf32>):
// CHECK-NEXT: %[[P:.*]] = mm.linear %[[X]], %[[W]]
// CHECK-NEXT: mm.yield %[[P]] : tensor<?x?x16xf32>
// CHECK: return %[[R]]
func.func @fused_group(%x: tensor<?x?x64xf32>) -> tensor<?x?x16xf32> {
  %w = mm.weight "w" : tensor<16x64xf32>
  %r = mm.fused #mm.fusion<gemm, {rows = 32 : i64, tokens = 4 : i64}> (%x, %w) : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32> {
  ^bb0(%a: tensor<?x?x64xf32>, %b: tensor<16x64xf32>):
    %p = mm.linear %a, %b : tensor<?x?x64xf32>, tensor<16x64xf32> -> tensor<?x?x16xf32>
    mm.yield %p : tensor<?x?x16xf32>
  }
  return %r : tensor<?x?x16xf32>
}
