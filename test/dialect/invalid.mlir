// RUN: mm-opt %s -split-input-file -verify-diagnostics

// Every verifier of the mm dialect, one case per section.

func.func @weight_empty_name() {
  // expected-error @+1 {{weight name must not be empty}}
  %w = mm.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_dynamic(%x: tensor<?xf32>) {
  // expected-error @+1 {{weight 'w' must have a static shape, got 'tensor<?xf32>'}}
  %w = mm.weight "w" : tensor<?xf32>
  return
}

// -----

func.func @embed_width(%t: tensor<?x?xi32>, %table: tensor<256x64xf32>) {
  // expected-error @+1 {{'result' dimension 2 (D in [B, T, D]) is 32, but D = 64 from 'table'}}
  %x = mm.embed %t, %table : tensor<?x?xi32>, tensor<256x64xf32> -> tensor<?x?x32xf32>
  return
}

// -----

func.func @rms_norm_weight(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'weight' dimension 0 (D in [D]) is 32, but D = 64 from 'input'}}
  %u = mm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @linear_in(%x: tensor<?x?x64xf32>, %w: tensor<128x32xf32>) {
  // expected-error @+1 {{'weight' dimension 1 (K in [N, K]) is 32, but K = 64 from 'input'}}
  %y = mm.linear %x, %w : tensor<?x?x64xf32>, tensor<128x32xf32> -> tensor<?x?x128xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'bias' dimension 0 (N in [N]) is 64, but N = 128 from 'weight'}}
  %y = mm.linear %x, %w, %b : tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<64xf32> -> tensor<?x?x128xf32>
  return
}

// -----

func.func @linear_leading(%x: tensor<2x?x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{'result' dimension 0 (d0 in [d0, d1, N]) is 3, but d0 = 2 from 'input'}}
  %y = mm.linear %x, %w : tensor<2x?x64xf32>, tensor<128x64xf32> -> tensor<3x?x128xf32>
  return
}

// -----

func.func @split_sum(%x: tensor<?x?x36xf32>) {
  // expected-error @+1 {{split sizes add up to 35 but the last dimension of 'input' is 36}}
  %a:3 = mm.split %x [4, 16, 15] : tensor<?x?x36xf32> -> tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x15xf32>
  return
}

// -----

func.func @split_count(%x: tensor<?x?x32xf32>) {
  // expected-error @+1 {{has 2 sizes but 1 results}}
  %a = mm.split %x [16, 16] : tensor<?x?x32xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<?x?x128xf32>, %w: tensor<64x1x4xf32>, %win: tensor<?x128x3xf32>) {
  // expected-error @+1 {{'weight' dimension 0 (E in [E, 1, K]) is 64, but E = 128 from 'input'}}
  %y, %w1 = mm.causal_conv1d %x, %w window %win : (tensor<?x?x128xf32>, tensor<64x1x4xf32>, tensor<?x128x3xf32>) -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
  return
}

// -----

func.func @conv_depthwise(%x: tensor<?x?x128xf32>, %w: tensor<128x2x4xf32>, %win: tensor<?x128x3xf32>) {
  // expected-error @+1 {{'weight' dimension 1 must be 1 (shape [E, 1, K]), got 'tensor<128x2x4xf32>'}}
  %y, %w1 = mm.causal_conv1d %x, %w window %win : (tensor<?x?x128xf32>, tensor<128x2x4xf32>, tensor<?x128x3xf32>) -> (tensor<?x?x128xf32>, tensor<?x128x3xf32>)
  return
}

// -----

func.func @conv_window_vs_kernel(%x: tensor<?x?x128xf32>, %w: tensor<128x1x4xf32>, %win: tensor<?x128x4xf32>) {
  // expected-error @+1 {{'window' dimension 2 (K-1 in [B, E, K-1]) is 4, but K-1 = 3 from the kernel width K = 4 of 'weight'}}
  %y, %w1 = mm.causal_conv1d %x, %w window %win : (tensor<?x?x128xf32>, tensor<128x1x4xf32>, tensor<?x128x4xf32>) -> (tensor<?x?x128xf32>, tensor<?x128x4xf32>)
  return
}

// -----

func.func @scan_state_size(%u: tensor<?x?x128xf32>, %a: tensor<128x16xf32>, %b: tensor<?x?x8xf32>,
                           %c: tensor<?x?x16xf32>, %d: tensor<128xf32>) {
  // expected-error @+1 {{'B' dimension 2 (N in [B, T, N]) is 8, but N = 16 from 'A_log'}}
  %y = mm.selective_scan %u, %u, %a, %b, %c, %d : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>, tensor<?x?x8xf32>, tensor<?x?x16xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @scan_c(%u: tensor<?x?x128xf32>, %a: tensor<128x16xf32>, %b: tensor<?x?x16xf32>,
                  %c: tensor<?x?x32xf32>, %d: tensor<128xf32>) {
  // expected-error @+1 {{'C' dimension 2 (N in [B, T, N]) is 32, but N = 16 from 'A_log'}}
  %y = mm.selective_scan %u, %u, %a, %b, %c, %d : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>, tensor<?x?x16xf32>, tensor<?x?x32xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @scan_initial_state(%u: tensor<?x?x128xf32>, %a: tensor<128x16xf32>, %b: tensor<?x?x16xf32>,
                              %d: tensor<128xf32>, %h: tensor<?x128x8xf32>) {
  // expected-error @+1 {{'initial_state' dimension 2 (N in [B, E, N]) is 8, but N = 16 from 'A_log'}}
  %y = mm.selective_scan %u, %u, %a, %b, %b, %d initial_state %h : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<128xf32>, tensor<?x128x8xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @scan_skip(%u: tensor<?x?x128xf32>, %a: tensor<128x16xf32>, %b: tensor<?x?x16xf32>,
                     %d: tensor<64xf32>) {
  // expected-error @+1 {{'D' dimension 0 (E in [E]) is 64, but E = 128 from 'u'}}
  %y = mm.selective_scan %u, %u, %a, %b, %b, %d : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<128x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<64xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @gate_type(%y: tensor<?x?x128xf32>, %z: tensor<?x?x64xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %g = "mm.gate"(%y, %z) : (tensor<?x?x128xf32>, tensor<?x?x64xf32>) -> tensor<?x?x128xf32>
  return
}

// -----

func.func @residual_gate_missing(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{each memory context needs its gate}}
  %y = "mm.residual"(%x, %x, %x) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>}> : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @residual_gate_size(%x: tensor<?x?x64xf32>, %g: tensor<32xf32>) {
  // expected-error @+1 {{'token_gate' dimension 0 (D in [D]) is 32, but D = 64 from 'input'}}
  %y = mm.residual %x, %x token(%x, %g) : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<32xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @take_last(%m: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'result' dimension 1 (X in [B, X]) is 32, but X = 64 from 'input'}}
  %l = mm.take_last %m : tensor<?x?x64xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @lm_head_vocab(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>) {
  // expected-error @+1 {{'result' dimension 2 (V in [B, T, V]) is 128, but V = 256 from 'weight'}}
  %l = mm.lm_head %x, %w : tensor<?x?x64xf32>, tensor<256x64xf32> -> tensor<?x?x128xf32>
  return
}

// -----

func.func @note_summary(%u: tensor<?x?x64xf32>, %ws: tensor<1x64xf32>, %bs: tensor<1xf32>, %wn: tensor<16x64xf32>) {
  // expected-error @+1 {{'summary' dimension 2 (S in [B, T, S]) is 32, but S = 16 from 'summary_weight'}}
  %sigma, %s = mm.note %u, %ws, %bs, %wn : (tensor<?x?x64xf32>, tensor<1x64xf32>, tensor<1xf32>, tensor<16x64xf32>) -> (tensor<?x?xf32>, tensor<?x?x32xf32>)
  return
}

// -----

func.func @note_score_weight(%u: tensor<?x?x64xf32>, %ws: tensor<2x64xf32>, %bs: tensor<1xf32>, %wn: tensor<16x64xf32>) {
  // expected-error @+1 {{'score_weight' dimension 0 must be 1 (shape [1, D]), got 'tensor<2x64xf32>'}}
  %sigma, %s = mm.note %u, %ws, %bs, %wn : (tensor<?x?x64xf32>, tensor<2x64xf32>, tensor<1xf32>, tensor<16x64xf32>) -> (tensor<?x?xf32>, tensor<?x?x16xf32>)
  return
}

// -----

func.func @read_trigger(%m: tensor<?x?x64xf32>, %prev: tensor<?x32xf32>, %w: tensor<1x64xf32>, %b: tensor<1xf32>) {
  // expected-error @+1 {{'previous' dimension 1 (D in [B, D]) is 32, but D = 64 from 'mixer'}}
  %r = mm.read_trigger %m, %prev, %w, %b : (tensor<?x?x64xf32>, tensor<?x32xf32>, tensor<1x64xf32>, tensor<1xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @pool_summary_dim(%sigma: tensor<?x?xf32>, %s: tensor<?x?x64xf32>, %slots: tensor<?x50x32xf32>,
                            %prio: tensor<?x50xf32>, %pos: tensor<?x50xi32>, %count: tensor<?xi32>) {
  // expected-error @+1 {{'slots' dimension 2 (S in [B, M, S]) is 32, but S = 64 from 'summary'}}
  %a, %b, %c, %d = mm.pool_update %sigma, %s into(%slots, %prio, %pos, %count) at %count {eviction = #mm.eviction<priority>, note_threshold = 5.0e-01 : f64} : (tensor<?x?xf32>, tensor<?x?x64xf32>, tensor<?x50x32xf32>, tensor<?x50xf32>, tensor<?x50xi32>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x50x32xf32>, tensor<?x50xf32>, tensor<?x50xi32>, tensor<?xi32>)
  return
}

// -----

func.func @pool_slots(%sigma: tensor<?x?xf32>, %s: tensor<?x?x64xf32>, %slots: tensor<?x50x64xf32>,
                      %prio: tensor<?x40xf32>, %pos: tensor<?x50xi32>, %count: tensor<?xi32>) {
  // expected-error @+1 {{'priorities' dimension 1 (M in [B, M]) is 40, but M = 50 from 'slots'}}
  %a, %b, %c, %d = mm.pool_update %sigma, %s into(%slots, %prio, %pos, %count) at %count {eviction = #mm.eviction<priority>, note_threshold = 5.0e-01 : f64} : (tensor<?x?xf32>, tensor<?x?x64xf32>, tensor<?x50x64xf32>, tensor<?x40xf32>, tensor<?x50xi32>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x50x64xf32>, tensor<?x40xf32>, tensor<?x50xi32>, tensor<?xi32>)
  return
}

// -----

func.func @pool_attention_heads(%u: tensor<?x?x64xf32>, %r: tensor<?x?xf32>, %s: tensor<?x?x16xf32>,
                                %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>,
                                %count: tensor<?xi32>, %wq: tensor<16x64xf32>, %wk: tensor<16x16xf32>,
                                %wo: tensor<64x16xf32>) {
  // expected-error @+1 {{heads (3) must divide the summary size S = 16}}
  %c = mm.pool_attention %u, %r, %r, %s pool(%slots, %prio, %pos, %count) weights(%wq, %wk, %wk, %wo) {eviction = #mm.eviction<priority>, heads = 3 : i64, note_threshold = 5.0e-01 : f64, read_threshold = 3.0e-01 : f64} : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @pool_attention_query(%u: tensor<?x?x64xf32>, %r: tensor<?x?xf32>, %s: tensor<?x?x16xf32>,
                                %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>,
                                %count: tensor<?xi32>, %wq: tensor<16x32xf32>, %wk: tensor<16x16xf32>,
                                %wo: tensor<64x16xf32>) {
  // expected-error @+1 {{'query_weight' dimension 1 (D in [S, D]) is 32, but D = 64 from 'input'}}
  %c = mm.pool_attention %u, %r, %r, %s pool(%slots, %prio, %pos, %count) weights(%wq, %wk, %wk, %wo) {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 5.0e-01 : f64, read_threshold = 3.0e-01 : f64} : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<16x32xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @cross_layer_groups(%u: tensor<?x?x64xf32>, %r: tensor<?x?xf32>, %s: tensor<?x?x16xf32>,
                              %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>,
                              %count: tensor<?xi32>, %wq: tensor<16x64xf32>, %wk: tensor<16x16xf32>,
                              %wo: tensor<64x16xf32>) {
  // expected-error @+1 {{every source needs scores, summaries, slots, priorities, positions and counts (2 scores given)}}
  %c = mm.cross_layer_attention %u scores(%r, %r) summaries(%s) slots(%slots) priorities(%prio) positions(%pos) counts(%count) weights(%wq, %wk, %wk, %wo) {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 5.0e-01 : f64} : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @cross_layer_empty(%u: tensor<?x?x64xf32>, %wq: tensor<16x64xf32>, %wk: tensor<16x16xf32>,
                             %wo: tensor<64x16xf32>) {
  // expected-error @+1 {{needs at least one source layer}}
  %c = mm.cross_layer_attention %u scores() summaries() slots() priorities() positions() counts() weights(%wq, %wk, %wk, %wo) {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 5.0e-01 : f64} : (tensor<?x?x64xf32>, tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @cross_layer_source_pool(%u: tensor<?x?x64xf32>, %r: tensor<?x?xf32>, %s: tensor<?x?x16xf32>,
                                   %slots: tensor<?x8x16xf32>, %slots2: tensor<?x8x32xf32>,
                                   %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>,
                                   %count: tensor<?xi32>, %wq: tensor<16x64xf32>, %wk: tensor<16x16xf32>,
                                   %wo: tensor<64x16xf32>) {
  // expected-error @+1 {{'source 1 slots' dimension 2 (S in [B, M, S]) is 32, but S = 16 from 'source 0 summary'}}
  %c = mm.cross_layer_attention %u scores(%r, %r) summaries(%s, %s) slots(%slots, %slots2) priorities(%prio, %prio) positions(%pos, %pos) counts(%count, %count) weights(%wq, %wk, %wk, %wo) {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 5.0e-01 : f64} : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8x32xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>, tensor<16x64xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

#plain = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>
func.func @layer_index(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>) {
  // expected-error @+1 {{layer index 2 is outside the 2 layers of the config}}
  %y:3 = mm.layer 2 (%x) state(%conv, %ssm) {config = #plain} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
  return
}

// -----

#plain = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>
func.func @layer_conv_window(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x4xf32>, %ssm: tensor<?x128x16xf32>) {
  // expected-error @+1 {{'conv_window' dimension 2 (K-1 in [B, E, K-1]) is 4, but K-1 = 3 from the config (conv_kernel - 1)}}
  %y:3 = mm.layer 0 (%x) state(%conv, %ssm) {config = #plain} : (tensor<?x?x64xf32>, tensor<?x128x4xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x4xf32>, tensor<?x128x16xf32>)
  return
}

// -----

#plain = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>
func.func @layer_hidden(%x: tensor<?x?x32xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>) {
  // expected-error @+1 {{'input' dimension 2 (D in [B, T, D]) is 32, but D = 64 from the config (hidden_size)}}
  %y:3 = mm.layer 0 (%x) state(%conv, %ssm) {config = #plain} : (tensor<?x?x32xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x32xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
  return
}

// -----

#memory = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = priority, heads = 2>>
func.func @layer_memory_results(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>) {
  // expected-error @+1 {{has 3 results, but a layer with memory returns 10}}
  %y:3 = mm.layer 0 (%x) state(%conv, %ssm) {config = #memory} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
  return
}

// -----

#memory = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = priority, heads = 2>>
func.func @layer_sources(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>,
                         %m: tensor<?x64xf32>, %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>,
                         %pos: tensor<?x8xi32>, %count: tensor<?xi32>) {
  // Layer 1 reads layer 0's pool (p = 1, w = 1) but is given no source.
  // expected-error @+1 {{layer 1 reads 1 source pools by the config, but 0 are given}}
  %y:10 = mm.layer 1 (%x) state(%conv, %ssm) memory(%m, %slots, %prio, %pos, %count, %count) {config = #memory} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?x?xf32>, tensor<?x?x16xf32>)
  return
}

// -----

#memory = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = priority, heads = 2>>
func.func @layer_pool_size(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>,
                           %m: tensor<?x64xf32>, %slots: tensor<?x50x16xf32>, %prio: tensor<?x50xf32>,
                           %pos: tensor<?x50xi32>, %count: tensor<?xi32>) {
  // expected-error @+1 {{'pool_slots' dimension 1 (M in [B, M, S]) is 50, but M = 8 from the config (pool_size)}}
  %y:10 = mm.layer 0 (%x) state(%conv, %ssm) memory(%m, %slots, %prio, %pos, %count, %count) {config = #memory} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x50x16xf32>, tensor<?x50xf32>, tensor<?x50xi32>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x50x16xf32>, tensor<?x50xf32>, tensor<?x50xi32>, tensor<?xi32>, tensor<?x?xf32>, tensor<?x?x16xf32>)
  return
}

// -----

#plain = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>
func.func @layer_memory_operands(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>,
                                 %m: tensor<?x64xf32>, %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>,
                                 %pos: tensor<?x8xi32>, %count: tensor<?xi32>) {
  // expected-error @+1 {{a config without memory takes no memory state operands}}
  %y:3 = mm.layer 0 (%x) state(%conv, %ssm) memory(%m, %slots, %prio, %pos, %count, %count) {config = #plain} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
  return
}

// -----

// expected-error @+1 {{heads (3) must be positive and divide summary_dim (64)}}
#bad = #mm.memory<pool_size = 50, summary_dim = 64, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 4, cross_layer_window = 4, eviction = priority, heads = 3>

// -----

// expected-error @+1 {{hidden_size must be at least 1, got 0}}
#bad = #mm.config<hidden_size = 0, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>

// -----

// expected-error @+1 {{duplicate state field 'layers.0.ssm_state'}}
mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>,
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]

// -----

// expected-error @+1 {{state field 'layers.0.pool_positions' of kind 'pool_positions' must be a rank-1 tensor of i32, got 'tensor<50xf32>'}}
mm.state_layout @state [
  #mm.state_field<name = "layers.0.pool_positions", kind = pool_positions, layer = 0, type = tensor<50xf32>>]

// -----

func.func @init_state_rank(%b: index) {
  // expected-error @+1 {{result of kind 'ssm_state' must be a rank-3 tensor of f32, got 'tensor<?x128xf32>'}}
  %s = mm.init_state ssm_state, %b : tensor<?x128xf32>
  return
}

// -----

// expected-error @+1 {{entry point needs a 'mm.state_layout' symbol reference}}
func.func @prefill(%t: tensor<?x?xi32>) -> tensor<?x?x8xf32> attributes {mm.entry = #mm.entry<prefill>} {
  %w = mm.weight "w" : tensor<8x4xf32>
  %x = mm.embed %t, %w : tensor<?x?xi32>, tensor<8x4xf32> -> tensor<?x?x4xf32>
  %l = mm.lm_head %x, %w : tensor<?x?x4xf32>, tensor<8x4xf32> -> tensor<?x?x8xf32>
  return %l : tensor<?x?x8xf32>
}

// -----

// expected-error @+1 {{'mm.state_layout' names @missing, which is not an mm.state_layout}}
func.func @init_state(%b: index) attributes {mm.entry = #mm.entry<init_state>, mm.state_layout = @missing} {
  return
}

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{entry point 'decode' of layout @state (1 fields) must take 2 and return 2 values, not 1 and 1}}
func.func @decode(%t: tensor<?x1xi32>) -> tensor<?x1x8xf32> attributes {mm.entry = #mm.entry<decode>, mm.state_layout = @state} {
  %w = mm.weight "w" : tensor<8x4xf32>
  %x = mm.embed %t, %w : tensor<?x1xi32>, tensor<8x4xf32> -> tensor<?x1x4xf32>
  %l = mm.lm_head %x, %w : tensor<?x1x4xf32>, tensor<8x4xf32> -> tensor<?x1x8xf32>
  return %l : tensor<?x1x8xf32>
}

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{'decode' takes tokens as 'tensor<?x1xi32>', not 'tensor<?x?xi32>'}}
func.func @decode(%t: tensor<?x?xi32>, %h: tensor<?x128x16xf32>) -> (tensor<?x?x8xf32>, tensor<?x128x16xf32>) attributes {mm.entry = #mm.entry<decode>, mm.state_layout = @state} {
  %w = mm.weight "w" : tensor<8x4xf32>
  %x = mm.embed %t, %w : tensor<?x?xi32>, tensor<8x4xf32> -> tensor<?x?x4xf32>
  %l = mm.lm_head %x, %w : tensor<?x?x4xf32>, tensor<8x4xf32> -> tensor<?x?x8xf32>
  return %l, %h : tensor<?x?x8xf32>, tensor<?x128x16xf32>
}

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{argument 2 must be state field 'layers.0.ssm_state' of type 'tensor<?x128x16xf32>', not 'tensor<?x128x8xf32>'}}
func.func @prefill(%t: tensor<?x?xi32>, %n: tensor<?xi32>, %h: tensor<?x128x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x128x8xf32>) attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state} {
  %w = mm.weight "w" : tensor<8x4xf32>
  %x = mm.embed %t, %w : tensor<?x?xi32>, tensor<8x4xf32> -> tensor<?x?x4xf32>
  %l = mm.lm_head %x, %w : tensor<?x?x4xf32>, tensor<8x4xf32> -> tensor<?x?x8xf32>
  return %l, %h : tensor<?x?x8xf32>, tensor<?x128x8xf32>
}

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{'prefill' takes each sequence's length as 'tensor<?xi32>' after the tokens, not 'tensor<?x128x16xf32>'}}
func.func private @prefill(%t: tensor<?x?xi32>, %h: tensor<?x128x16xf32>, %g: tensor<?x128x16xf32>) -> (tensor<?x?x8xf32>, tensor<?x128x16xf32>) attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state}

// -----

func.func @take_last_previous(%m: tensor<?x?x64xf32>, %p: tensor<?x64xf32>) {
  // expected-error @+1 {{'previous' (the result of a sequence with no tokens in the chunk) needs 'lengths'}}
  %r = "mm.take_last"(%m, %p) {operandSegmentSizes = array<i32: 1, 0, 1>} : (tensor<?x?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @take_last_rows(%m: tensor<?x?x64xf32>, %n: tensor<?xi32>) {
  // expected-error @+1 {{'result' dimension 1 must be 1 (shape [B, 1, X]), got 'tensor<?x2x64xf32>'}}
  %r = mm.take_last %m lengths %n : tensor<?xi32> : tensor<?x?x64xf32> -> tensor<?x2x64xf32>
  return
}

// -----

func.func @scan_lengths(%u: tensor<2x?x8xf32>, %a: tensor<8x4xf32>, %b: tensor<2x?x4xf32>, %d: tensor<8xf32>, %n: tensor<3xi32>) {
  // expected-error @+1 {{'lengths' dimension 0 (B in [B]) is 3, but B = 2 from 'u'}}
  %y = mm.selective_scan %u, %u, %a, %b, %b, %d lengths %n : (tensor<2x?x8xf32>, tensor<2x?x8xf32>, tensor<8x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<8xf32>, tensor<3xi32>) -> tensor<2x?x8xf32>
  return
}

// -----

func.func @entry_on_op() {
  // expected-error @+1 {{'mm.entry' is only valid on functions}}
  %w = mm.weight "w" {mm.entry = #mm.entry<prefill>} : tensor<8x4xf32>
  return
}

// -----

// expected-error @+1 {{'mm.config' must be an #mm.config}}
module attributes {mm.config = 3 : i64} {
}

// -----

func.func @prefetch_bytes_negative(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'mm.prefetch_bytes' must be a byte count (0 or more) on a loop}}
  scf.for %i = %c0 to %n step %c1 {
  } {mm.prefetch_bytes = -64 : i64}
  return
}

// -----

// expected-error @+1 {{'mm.prefetch_bytes' must be a byte count (0 or more) on a loop}}
func.func @prefetch_bytes_not_a_loop() attributes {mm.prefetch_bytes = 1024 : i64} {
  return
}

// -----

// expected-error @+1 {{unknown mm attribute 'mm.colour'}}
module attributes {mm.colour = 3 : i64} {
}

// -----

func.func @weight_empty_fallback() {
  // expected-error @+1 {{fallback name must not be empty}}
  %w = mm.weight "lm_head.weight" or "" : tensor<4x4xf32>
  return
}

// -----

func.func @embed_tokens(%t: tensor<?xi32>, %table: tensor<256x64xf32>) {
  // expected-error @+1 {{'tokens' must have shape [B, T], got 'tensor<?xi32>'}}
  %x = mm.embed %t, %table : tensor<?xi32>, tensor<256x64xf32> -> tensor<?x?x64xf32>
  return
}

// -----

func.func @advance_position(%p: tensor<4xi32>, %t: tensor<2x?xi32>) {
  // expected-error @+1 {{'tokens' dimension 0 (B in [B, T]) is 2, but B = 4 from 'position'}}
  %n = mm.advance_position %p, %t : tensor<4xi32>, tensor<2x?xi32>
  return
}

// -----

// expected-error @+1 {{state field 'position' has layer -2 (expected -1 or a layer index)}}
mm.state_layout @state [
  #mm.state_field<name = "position", kind = position, layer = -2, type = tensor<i32>>]

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{'prefill' returns logits [B, T, V] f32 with T = ?, not 'tensor<?x8xf32>'}}
func.func private @prefill(%t: tensor<?x?xi32>, %n: tensor<?xi32>, %h: tensor<?x128x16xf32>) -> (tensor<?x8xf32>, tensor<?x128x16xf32>) attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state}

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{'prefill_last' returns logits [B, T, V] f32 with T = 1, not 'tensor<?x?x8xf32>'}}
func.func private @prefill_last(%t: tensor<?x?xi32>, %n: tensor<?xi32>, %h: tensor<?x128x16xf32>) -> (tensor<?x?x8xf32>, tensor<?x128x16xf32>) attributes {mm.entry = #mm.entry<prefill_last>, mm.state_layout = @state}

// -----

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
// expected-error @+1 {{init_state takes the batch size (index)}}
func.func private @init_state(%b: i32) -> tensor<?x128x16xf32> attributes {mm.entry = #mm.entry<init_state>, mm.state_layout = @state}

// -----

func.func @fusion_param_of_another_kind(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{a scan group has no parameter 'rows' (it takes channels, block_channels, chunk)}}
  %r = mm.fused #mm.fusion<scan, {rows = 4 : i64}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @fusion_param_not_positive(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{fusion parameter 'tokens' must be in [1, 256], got 0}}
  %r = mm.fused #mm.fusion<gemm, {tokens = 0 : i64}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @fused_arguments_differ(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{body arguments 'tensor<?x?x32xf32>' do not match the inputs 'tensor<?x?x64xf32>'}}
  %r = mm.fused #mm.fusion<norm, {}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x32xf32>):
    mm.yield %x : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @fused_yield_differs(%x: tensor<?x?x64xf32>) -> tensor<?x?x32xf32> {
  // expected-error @+1 {{yields 'tensor<?x?x64xf32>' but its results are 'tensor<?x?x32xf32>'}}
  %r = mm.fused #mm.fusion<norm, {}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x32xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x32xf32>
}

// -----

func.func @weight_inside_a_group(%x: tensor<?x?x64xf32>) -> tensor<?x?x16xf32> {
  %r = mm.fused #mm.fusion<gemm, {}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x16xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    // expected-error @+1 {{cannot be part of a fusion group}}
    %w = mm.weight "w" : tensor<16x64xf32>
    %p = mm.linear %a, %w : tensor<?x?x64xf32>, tensor<16x64xf32> -> tensor<?x?x16xf32>
    mm.yield %p : tensor<?x?x16xf32>
  }
  return %r : tensor<?x?x16xf32>
}

//===----------------------------------------------------------------------===//
// Limits of the kernel sizes and of the config
//===----------------------------------------------------------------------===//

// -----

// Each gemm row at once is one more unrolled accumulator.
func.func @fusion_rows_at_once(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{fusion parameter 'rows_at_once' must be in [1, 16], got 1000}}
  %r = mm.fused #mm.fusion<gemm, {rows_at_once = 1000 : i64}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @fusion_rows(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{fusion parameter 'rows' must be in [1, 4096], got 100000}}
  %r = mm.fused #mm.fusion<gemm, {rows = 100000 : i64}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @fusion_channels(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{fusion parameter 'channels' must be in [1, 1024], got 4096}}
  %r = mm.fused #mm.fusion<conv, {channels = 4096 : i64}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @fusion_param_not_integer(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{fusion parameter 'channels' must be an integer}}
  %r = mm.fused #mm.fusion<scan, {channels = "16"}> (%x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>):
    mm.yield %a : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

// expected-error @+1 {{'mm.fusion' gemm_rows_at_once must be in [1, 16], got 1000}}
module attributes {mm.fusion = {strategy = "fused", gemm_rows_at_once = 1000 : i64}} {
}

// -----

// expected-error @+1 {{'mm.fusion' scan_channels must be in [1, 1024], got 0}}
module attributes {mm.fusion = {strategy = "fused", scan_channels = 0 : i64}} {
}

// -----

// expected-error @+1 {{conv_kernel is 1000, the limit is 64}}
module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 1000, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
}

// -----

// expected-error @+1 {{num_layers is 100000, the limit is 1024}}
module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 100000, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
}

// -----

// expected-error @+2 {{pool_size is 20000, the limit is 4096}}
// expected-error @+1 {{failed to parse MM_ModelConfigAttr parameter 'memory'}}
module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true, memory = #mm.memory<pool_size = 20000, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = priority, heads = 2>>} {
}

// -----

// expected-error @+1 {{#mm.config: the model has}}
module attributes {mm.config = #mm.config<hidden_size = 65536, num_layers = 1024, state_size = 16, conv_kernel = 4, intermediate_size = 262144, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
}

//===----------------------------------------------------------------------===//
// A module against its config
//===----------------------------------------------------------------------===//

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{state field 'layers.0.ssm_state' is 'tensor<128x8xf32>', but the module's mm.config makes it 'tensor<128x16xf32>' ([intermediate_size, state_size])}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x8xf32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{state field 'layers.0.conv_window' is 'tensor<128x5xf32>', but the module's mm.config makes it 'tensor<128x3xf32>' ([intermediate_size, conv_kernel - 1])}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x5xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{has no field 'layers.1.conv_window' (the module's mm.config has 2 layers)}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{state field 'layers.1.ssm_state' is for layer 1, but the module's mm.config has 1 layers (num_layers)}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>,
    #mm.state_field<name = "layers.1.ssm_state", kind = ssm_state, layer = 1, type = tensor<128x16xf32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{field 0 is 'layers.0.ssm_state', but the state's order puts 'layers.0.conv_window' there}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>,
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{the ssm_state field of layer 0 must be named 'layers.0.ssm_state', not 'layers.0.h'}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.h", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{state field 'layers.0.pool_count' (pool_count) needs memory, but the module's mm.config has none}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>,
    #mm.state_field<name = "layers.0.pool_count", kind = pool_count, layer = 0, type = tensor<i32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = priority, heads = 2>>} {
  // expected-error @+1 {{state field 'layers.0.pool_slots' is 'tensor<16x16xf32>', but the module's mm.config makes it 'tensor<8x16xf32>' ([pool_size, summary_dim])}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>,
    #mm.state_field<name = "layers.0.previous_mixer", kind = previous_mixer, layer = 0, type = tensor<64xf32>>,
    #mm.state_field<name = "layers.0.pool_slots", kind = pool_slots, layer = 0, type = tensor<16x16xf32>>,
    #mm.state_field<name = "layers.0.pool_priorities", kind = pool_priorities, layer = 0, type = tensor<8xf32>>,
    #mm.state_field<name = "layers.0.pool_positions", kind = pool_positions, layer = 0, type = tensor<8xi32>>,
    #mm.state_field<name = "layers.0.pool_count", kind = pool_count, layer = 0, type = tensor<i32>>,
    #mm.state_field<name = "position", kind = position, layer = -1, type = tensor<i32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = priority, heads = 2>>} {
  // expected-error @+1 {{has no field 'position' (the module's mm.config has memory)}}
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>,
    #mm.state_field<name = "layers.0.previous_mixer", kind = previous_mixer, layer = 0, type = tensor<64xf32>>,
    #mm.state_field<name = "layers.0.pool_slots", kind = pool_slots, layer = 0, type = tensor<8x16xf32>>,
    #mm.state_field<name = "layers.0.pool_priorities", kind = pool_priorities, layer = 0, type = tensor<8xf32>>,
    #mm.state_field<name = "layers.0.pool_positions", kind = pool_positions, layer = 0, type = tensor<8xi32>>,
    #mm.state_field<name = "layers.0.pool_count", kind = pool_count, layer = 0, type = tensor<i32>>]
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  func.func @f() {
    // expected-error @+1 {{weight 'backbone.layers.0.mixer.A_log' is 'tensor<128x8xf32>', but the module's mm.config makes it 'tensor<128x16xf32>'}}
    %a = mm.weight "backbone.layers.0.mixer.A_log" : tensor<128x8xf32>
    return
  }
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  func.func @f() {
    // expected-error @+1 {{weight 'backbone.layers.1.mixer.A_log' is not a weight of the model the module's mm.config describes}}
    %a = mm.weight "backbone.layers.1.mixer.A_log" : tensor<128x16xf32>
    return
  }
}

// -----

// A reduced precision (mm-reduce-precision) stores only the matrix products'
// weights and the embedding in bf16 or f16, all in one type.

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  func.func @f() {
    // expected-error @+1 {{weight 'backbone.layers.0.mixer.A_log' is 'tensor<128x16xbf16>': only the weights of matrix products and the embedding may be bf16 or f16}}
    %a = mm.weight "backbone.layers.0.mixer.A_log" : tensor<128x16xbf16>
    return
  }
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  func.func @f() {
    %e = mm.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
    // expected-error @+1 {{weight 'backbone.layers.0.mixer.in_proj.weight' is 'tensor<256x64xf16>', but another weight of the module is 'bf16': one reduced precision per module}}
    %p = mm.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<256x64xf16>
    return
  }
}

// -----

func.func @rms_norm_reduced_weight(%x: tensor<?x?x64xf32>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit float values}}
  %u = mm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xbf16>
  return
}

// -----

func.func @linear_reduced_input(%x: tensor<?x?x64xbf16>, %w: tensor<256x64xbf16>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float values}}
  %y = mm.linear %x, %w : tensor<?x?x64xbf16>, tensor<256x64xbf16> -> tensor<?x?x256xf32>
  return
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  mm.state_layout @state [
    #mm.state_field<name = "layers.0.conv_window", kind = conv_window, layer = 0, type = tensor<128x3xf32>>,
    #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<128x16xf32>>]
  // expected-error @+1 {{'prefill' returns logits 'tensor<?x?x100xf32>', but the module's mm.config has vocab_size 256}}
  func.func private @prefill(tensor<?x?xi32>, tensor<?xi32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x100xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state}
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  func.func @f(%x: tensor<?x?x64xf32>, %c: tensor<?x128x3xf32>, %h: tensor<?x128x8xf32>) {
    // expected-error @+1 {{has a config other than the module's: state_size 8 here vs 16 in the module's mm.config}}
    %y:3 = mm.layer 0 (%x) state(%c, %h) {config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 8, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x8xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x8xf32>)
    return
  }
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  // expected-error @+1 {{has no mm.layer 1, but the module's mm.config has 2 layers (num_layers)}}
  func.func @f(%x: tensor<?x?x64xf32>, %c: tensor<?x128x3xf32>, %h: tensor<?x128x16xf32>) {
    %y:3 = mm.layer 0 (%x) state(%c, %h) {config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
    return
  }
}

// -----

module attributes {mm.config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} {
  func.func @f(%x: tensor<?x?x64xf32>, %c: tensor<?x128x3xf32>, %h: tensor<?x128x16xf32>) {
    %y:3 = mm.layer 0 (%x) state(%c, %h) {config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
    // expected-error @+1 {{is a second layer 0 here}}
    %z:3 = mm.layer 0 (%y#0) state(%c, %h) {config = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = true>} : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
    return
  }
}
