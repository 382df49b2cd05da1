// RUN: mm-opt %s --mm-decompose-layers --split-input-file | FileCheck %s

// A Mamba layer (no memory, biases on): the mixer of spec section 1 in order,
// with weights named as in the checkpoint.

#plain = #mm.config<hidden_size = 64, num_layers = 3, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = true, use_conv_bias = true>

// CHECK-LABEL: func.func @mamba_layer
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[CONV:.*]]: tensor<?x128x3xf32>, %[[SSM:.*]]: tensor<?x128x16xf32>)
func.func @mamba_layer(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>) {
  // CHECK-NOT: mm.layer
  // CHECK: %[[NORM:.*]] = mm.weight "backbone.layers.2.norm.weight" : tensor<64xf32>
  // CHECK: %[[U:.*]] = mm.rms_norm %[[X]], %[[NORM]] {epsilon = 1.000000e-05 : f64}
  // CHECK: %[[INW:.*]] = mm.weight "backbone.layers.2.mixer.in_proj.weight" : tensor<256x64xf32>
  // CHECK: %[[INB:.*]] = mm.weight "backbone.layers.2.mixer.in_proj.bias" : tensor<256xf32>
  // CHECK: %[[XZ:.*]] = mm.linear %[[U]], %[[INW]], %[[INB]] {{.*}} -> tensor<?x?x256xf32>
  // CHECK: %[[SPLIT:.*]]:2 = mm.split %[[XZ]] [128, 128]
  // CHECK: %[[CW:.*]] = mm.weight "backbone.layers.2.mixer.conv1d.weight" : tensor<128x1x4xf32>
  // CHECK: %[[CB:.*]] = mm.weight "backbone.layers.2.mixer.conv1d.bias" : tensor<128xf32>
  // CHECK: %[[XC:.*]], %[[WIN:.*]] = mm.causal_conv1d %[[SPLIT]]#0, %[[CW]] bias %[[CB]] window %[[CONV]] {silu}
  // CHECK: %[[XP:.*]] = mm.weight "backbone.layers.2.mixer.x_proj.weight" : tensor<36x128xf32>
  // CHECK: %[[DBC:.*]] = mm.linear %[[XC]], %[[XP]] : {{.*}} -> tensor<?x?x36xf32>
  // CHECK: %[[PARTS:.*]]:3 = mm.split %[[DBC]] [4, 16, 16]
  // CHECK: %[[DTW:.*]] = mm.weight "backbone.layers.2.mixer.dt_proj.weight" : tensor<128x4xf32>
  // CHECK: %[[DT:.*]] = mm.linear %[[PARTS]]#0, %[[DTW]] : {{.*}} -> tensor<?x?x128xf32>
  // CHECK: %[[ALOG:.*]] = mm.weight "backbone.layers.2.mixer.A_log" : tensor<128x16xf32>
  // CHECK: %[[D:.*]] = mm.weight "backbone.layers.2.mixer.D" : tensor<128xf32>
  // CHECK: %[[DTB:.*]] = mm.weight "backbone.layers.2.mixer.dt_proj.bias" : tensor<128xf32>
  // CHECK: %[[Y:.*]], %[[H:.*]] = mm.selective_scan %[[XC]], %[[DT]], %[[ALOG]], %[[PARTS]]#1, %[[PARTS]]#2, %[[D]] delta_bias %[[DTB]] initial_state %[[SSM]] {delta_softplus}
  // CHECK: %[[G:.*]] = mm.gate %[[Y]], %[[SPLIT]]#1
  // CHECK: %[[OUTW:.*]] = mm.weight "backbone.layers.2.mixer.out_proj.weight" : tensor<64x128xf32>
  // CHECK: %[[OUTB:.*]] = mm.weight "backbone.layers.2.mixer.out_proj.bias" : tensor<64xf32>
  // CHECK: %[[M:.*]] = mm.linear %[[G]], %[[OUTW]], %[[OUTB]]
  // CHECK: %[[NEXT:.*]] = mm.residual %[[X]], %[[M]] :
  // CHECK: return %[[NEXT]], %[[WIN]], %[[H]]
  %y:3 = mm.layer 2 (%x) state(%conv, %ssm) {config = #plain}
      : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
      -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>)
  return %y#0, %y#1, %y#2 : tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>
}

// -----

// Two MemMamba layers, p = 1, w = 1: layer 0 has (a) read, (b) write, (d)
// fusion; layer 1 also (c) cross-layer attention over layer 0's pool.

#memory = #mm.config<hidden_size = 64, num_layers = 2, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = false, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = fifo, heads = 2>>

// CHECK-LABEL: func.func @memory_layers
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x?x64xf32>, %[[CONV:[^:]*]]: tensor<?x128x3xf32>, %[[SSM:[^:]*]]: tensor<?x128x16xf32>, %[[PREV:[^:]*]]: tensor<?x64xf32>, %[[SLOTS:[^:]*]]: tensor<?x8x16xf32>, %[[PRIO:[^:]*]]: tensor<?x8xf32>, %[[POS:[^:]*]]: tensor<?x8xi32>, %[[COUNT:[^:]*]]: tensor<?xi32>, %[[POSITION:[^:]*]]: tensor<?xi32>)
func.func @memory_layers(%x: tensor<?x?x64xf32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>,
                         %m: tensor<?x64xf32>, %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>,
                         %pos: tensor<?x8xi32>, %count: tensor<?xi32>, %position: tensor<?xi32>)
    -> (tensor<?x?x64xf32>, tensor<?x8x16xf32>, tensor<?x64xf32>) {
  // Layer 0.
  // CHECK: %[[U0:.*]] = mm.rms_norm %[[X]]
  // CHECK-NOT: conv1d.bias
  // CHECK: mm.causal_conv1d {{.*}} window %[[CONV]] {silu}
  // CHECK: %[[M0:.*]] = mm.linear {{.*}} -> tensor<?x?x64xf32>
  // (a) The read trigger reads the previous token's mixer output.
  // CHECK: mm.weight "backbone.layers.0.memory.read_score.weight" : tensor<1x64xf32>
  // CHECK: %[[R0:.*]] = mm.read_trigger %[[M0]], %[[PREV]]
  // CHECK: mm.weight "backbone.layers.0.memory.note_summary.weight" : tensor<16x64xf32>
  // CHECK: %[[SIGMA0:.*]], %[[SUM0:.*]] = mm.note %[[U0]]
  // CHECK: mm.weight "backbone.layers.0.memory.token_attn.q.weight" : tensor<16x64xf32>
  // CHECK: mm.weight "backbone.layers.0.memory.token_attn.o.weight" : tensor<64x16xf32>
  // CHECK: %[[CTOK0:.*]] = mm.pool_attention %[[U0]], %[[R0]], %[[SIGMA0]], %[[SUM0]] pool(%[[SLOTS]], %[[PRIO]], %[[POS]], %[[COUNT]])
  // CHECK-SAME: eviction = #mm.eviction<fifo>, heads = 2 : i64, note_threshold = 5.000000e-01 : f64, read_threshold = 3.000000e-01 : f64
  // (b) The note block writes after the read.
  // CHECK: %[[PSLOTS0:[^,]*]], %{{.*}}, %{{.*}}, %{{.*}} = mm.pool_update %[[SIGMA0]], %[[SUM0]] into(%[[SLOTS]], %[[PRIO]], %[[POS]], %[[COUNT]]) at %[[POSITION]]
  // CHECK-NOT: mm.cross_layer_attention
  // CHECK: %[[GATE0:.*]] = mm.weight "backbone.layers.0.memory.token_gate" : tensor<64xf32>
  // CHECK: %[[X1:.*]] = mm.residual %[[X]], %[[M0]] token(%[[CTOK0]], %[[GATE0]]) :
  // CHECK: %[[LAST0:.*]] = mm.take_last %[[M0]]
  %y0:10 = mm.layer 0 (%x) state(%conv, %ssm) memory(%m, %slots, %prio, %pos, %count, %position)
      {config = #memory}
      : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>,
         tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>)
      -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>,
          tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>,
          tensor<?x?xf32>, tensor<?x?x16xf32>)
  // Layer 1.
  // CHECK: %[[U1:.*]] = mm.rms_norm %[[X1]]
  // CHECK: %[[CTOK1:.*]] = mm.pool_attention %[[U1]]
  // CHECK: mm.pool_update
  // (c) Cross-layer attention reads layer 0's notes of this chunk and its pool
  // before the chunk.
  // CHECK: mm.weight "backbone.layers.1.memory.layer_attn.q.weight" : tensor<16x64xf32>
  // CHECK: %[[CLAY:.*]] = mm.cross_layer_attention %[[U1]] scores(%[[SIGMA0]]) summaries(%[[SUM0]]) slots(%[[SLOTS]]) priorities(%[[PRIO]]) positions(%[[POS]]) counts(%[[COUNT]])
  // CHECK: %[[LGATE:.*]] = mm.weight "backbone.layers.1.memory.layer_gate" : tensor<64xf32>
  // CHECK: %[[TGATE:.*]] = mm.weight "backbone.layers.1.memory.token_gate" : tensor<64xf32>
  // (d) Fusion.
  // CHECK: %[[X2:.*]] = mm.residual %[[X1]], %{{.*}} token(%[[CTOK1]], %[[TGATE]]) layer(%[[CLAY]], %[[LGATE]])
  // CHECK: return %[[X2]], %[[PSLOTS0]], %[[LAST0]]
  %y1:10 = mm.layer 1 (%y0#0) state(%conv, %ssm) memory(%m, %slots, %prio, %pos, %count, %position)
      sources scores(%y0#8) summaries(%y0#9) slots(%slots) priorities(%prio) positions(%pos) counts(%count)
      {config = #memory}
      : (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>,
         tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>,
         tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>)
      -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>,
          tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>,
          tensor<?x?xf32>, tensor<?x?x16xf32>)
  return %y1#0, %y0#4, %y0#3 : tensor<?x?x64xf32>, tensor<?x8x16xf32>, tensor<?x64xf32>
}

// -----

// A batch right-padded to its longest sequence: the layer's lengths reach
// every operation that leaves state (the conv window, the SSM state, the
// pool, the previous mixer output, which keeps its old value for a sequence
// with no tokens).

#memory = #mm.config<hidden_size = 64, num_layers = 1, state_size = 16, conv_kernel = 4, intermediate_size = 128, dt_rank = 4, vocab_size = 256, layer_norm_epsilon = 1.0e-05, use_bias = false, use_conv_bias = false, memory = #mm.memory<pool_size = 8, summary_dim = 16, note_threshold = 0.5, read_threshold = 0.3, cross_layer_period = 1, cross_layer_window = 1, eviction = fifo, heads = 2>>

// CHECK-LABEL: func.func @lengths
// CHECK-SAME: (%[[X:[^:]*]]: tensor<?x?x64xf32>, %[[N:[^:]*]]: tensor<?xi32>, %[[CONV:[^:]*]]: tensor<?x128x3xf32>, %[[SSM:[^:]*]]: tensor<?x128x16xf32>, %[[PREV:[^:]*]]: tensor<?x64xf32>
func.func @lengths(%x: tensor<?x?x64xf32>, %n: tensor<?xi32>, %conv: tensor<?x128x3xf32>, %ssm: tensor<?x128x16xf32>,
                   %m: tensor<?x64xf32>, %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>,
                   %pos: tensor<?x8xi32>, %count: tensor<?xi32>, %position: tensor<?xi32>)
    -> (tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>) {
  // CHECK: mm.causal_conv1d {{.*}} window %[[CONV]] lengths %[[N]] {silu}
  // CHECK: mm.selective_scan {{.*}} initial_state %[[SSM]] lengths %[[N]] {delta_softplus}
  // CHECK: %[[M:.*]] = mm.linear {{.*}} -> tensor<?x?x64xf32>
  // CHECK: mm.pool_update {{.*}} at %{{.*}} lengths %[[N]]
  // CHECK: mm.take_last %[[M]] lengths %[[N]] previous %[[PREV]]
  %y:10 = mm.layer 0 (%x) lengths %n state(%conv, %ssm) memory(%m, %slots, %prio, %pos, %count, %position)
      {config = #memory}
      : (tensor<?x?x64xf32>, tensor<?xi32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>,
         tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>)
      -> (tensor<?x?x64xf32>, tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>,
          tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>,
          tensor<?x?xf32>, tensor<?x?x16xf32>)
  return %y#1, %y#2, %y#3, %y#4 : tensor<?x128x3xf32>, tensor<?x128x16xf32>, tensor<?x64xf32>, tensor<?x8x16xf32>
}
