// RUN: mm-opt %s --canonicalize --split-input-file | FileCheck %s

// Parts of the memory path that their thresholds disable fold away. A sigmoid
// never exceeds 1 and thresholds compare strictly, so a threshold of 1 or more
// can never be crossed.

// CHECK-LABEL: func.func @pool_update_never_notes
// CHECK-SAME: (%{{.*}}: tensor<?x?xf32>, %{{.*}}: tensor<?x?x16xf32>, %[[SLOTS:.*]]: tensor<?x8x16xf32>, %[[PRIO:.*]]: tensor<?x8xf32>, %[[POS:.*]]: tensor<?x8xi32>, %[[COUNT:.*]]: tensor<?xi32>)
// CHECK-NOT: mm.pool_update
// CHECK: return %[[SLOTS]], %[[PRIO]], %[[POS]], %[[COUNT]]
func.func @pool_update_never_notes(%sigma: tensor<?x?xf32>, %s: tensor<?x?x16xf32>, %slots: tensor<?x8x16xf32>,
                                   %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>, %count: tensor<?xi32>)
    -> (tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>) {
  %a, %b, %c, %d = mm.pool_update %sigma, %s into(%slots, %prio, %pos, %count) at %count
      {eviction = #mm.eviction<priority>, note_threshold = 1.0 : f64}
      : (tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>)
      -> (tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>)
  return %a, %b, %c, %d : tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>
}

// -----

// CHECK-LABEL: func.func @pool_update_may_note
// CHECK: mm.pool_update
func.func @pool_update_may_note(%sigma: tensor<?x?xf32>, %s: tensor<?x?x16xf32>, %slots: tensor<?x8x16xf32>,
                                %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>, %count: tensor<?xi32>)
    -> (tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>) {
  %a, %b, %c, %d = mm.pool_update %sigma, %s into(%slots, %prio, %pos, %count) at %count
      {eviction = #mm.eviction<priority>, note_threshold = 0.999 : f64}
      : (tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<?xi32>)
      -> (tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>)
  return %a, %b, %c, %d : tensor<?x8x16xf32>, tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>
}

// -----

// CHECK-LABEL: func.func @never_read
// CHECK-SAME: (%[[U:[^:]*]]: tensor<?x?x64xf32>, %[[M:[^:]*]]: tensor<?x?x64xf32>
// CHECK-NOT: mm.pool_attention
// CHECK-NOT: mm.read_trigger
// CHECK: %[[X:.*]] = mm.residual %[[U]], %[[M]] layer(
// CHECK-NOT: token(
// CHECK: return %[[X]]
func.func @never_read(%u: tensor<?x?x64xf32>, %m: tensor<?x?x64xf32>, %m_prev: tensor<?x64xf32>,
                      %ws: tensor<1x64xf32>, %bs: tensor<1xf32>, %s: tensor<?x?x16xf32>,
                      %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>, %pos: tensor<?x8xi32>,
                      %count: tensor<?xi32>, %wq: tensor<16x64xf32>, %wk: tensor<16x16xf32>,
                      %wo: tensor<64x16xf32>, %gate: tensor<64xf32>, %clay: tensor<?x?x64xf32>)
    -> tensor<?x?x64xf32> {
  %r = mm.read_trigger %m, %m_prev, %ws, %bs
      : (tensor<?x?x64xf32>, tensor<?x64xf32>, tensor<1x64xf32>, tensor<1xf32>) -> tensor<?x?xf32>
  %ctok = mm.pool_attention %u, %r, %r, %s pool(%slots, %prio, %pos, %count) weights(%wq, %wk, %wk, %wo)
      {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 0.5 : f64, read_threshold = 1.0 : f64}
      : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>,
         tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<16x64xf32>, tensor<16x16xf32>,
         tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  %x = mm.residual %u, %m token(%ctok, %gate) layer(%clay, %gate)
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>,
         tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %x : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @may_read
// CHECK: %[[CTOK:.*]] = mm.pool_attention
// CHECK: mm.residual %{{.*}}, %{{.*}} token(%[[CTOK]]
func.func @may_read(%u: tensor<?x?x64xf32>, %m: tensor<?x?x64xf32>, %r: tensor<?x?xf32>,
                    %s: tensor<?x?x16xf32>, %slots: tensor<?x8x16xf32>, %prio: tensor<?x8xf32>,
                    %pos: tensor<?x8xi32>, %count: tensor<?xi32>, %wq: tensor<16x64xf32>,
                    %wk: tensor<16x16xf32>, %wo: tensor<64x16xf32>, %gate: tensor<64xf32>)
    -> tensor<?x?x64xf32> {
  %ctok = mm.pool_attention %u, %r, %r, %s pool(%slots, %prio, %pos, %count) weights(%wq, %wk, %wk, %wo)
      {eviction = #mm.eviction<priority>, heads = 1 : i64, note_threshold = 0.5 : f64, read_threshold = 0.99 : f64}
      : (tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>, tensor<?x8x16xf32>,
         tensor<?x8xf32>, tensor<?x8xi32>, tensor<?xi32>, tensor<16x64xf32>, tensor<16x16xf32>,
         tensor<16x16xf32>, tensor<64x16xf32>) -> tensor<?x?x64xf32>
  %x = mm.residual %u, %m token(%ctok, %gate)
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %x : tensor<?x?x64xf32>
}
