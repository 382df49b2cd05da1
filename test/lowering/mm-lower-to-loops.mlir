// RUN: mm-opt %s --mm-lower-to-loops | FileCheck %s

// A one-layer toy: the entry point takes the artifact's buffers, weights are
// views at manifest offsets, the state is updated in place, the logits are
// written straight into their buffer, intermediates are freed.

// CHECK: module attributes {mm.manifest = "{\22abi_version\22:5,
// CHECK-SAME: \22bytes_per_sequence\22:128
// CHECK-SAME: \22name\22:\22emb\22,\22offset\22:0
// CHECK-SAME: \22name\22:\22proj\22,\22offset\22:128
mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<8x4xf32>>]

// CHECK-LABEL: func.func @mm_prefill(
// CHECK-SAME: %[[W:[^:]*]]: memref<?xf32>, %[[S:[^:]*]]: memref<?xi8>, %[[T:[^:]*]]: memref<?x?xi32>, %[[N:[^:]*]]: memref<?xi32>, %[[L:[^:]*]]: memref<?x?x16xf32>) attributes {llvm.emit_c_interface}
// CHECK: %[[B:.*]] = memref.dim %[[T]], %{{.*}}
// CHECK: %[[H:.*]] = memref.view %[[S]][%{{.*}}][%[[B]]] : memref<?xi8> to memref<?x8x4xf32>
// CHECK: %[[EMB:.*]] = memref.reinterpret_cast %[[W]] to offset: [0], sizes: [16, 8], strides: [8, 1]
// The embedding: a loop over batch, time and width, into a buffer aligned to
// a cache line.
// CHECK: %[[X:.*]] = memref.alloc(%{{.*}}, %{{.*}}) {alignment = 64 : i64} : memref<?x?x8xf32>
// CHECK: scf.for
// CHECK: memref.load %[[T]]
// The projection: output blocks in parallel.
// CHECK: %[[PROJ:.*]] = memref.reinterpret_cast %[[W]] to offset: [128], sizes: [8, 8], strides: [8, 1]
// CHECK: scf.parallel
// A split is two views of one buffer.
// CHECK: memref.subview
// CHECK: memref.subview
// The scan reads and writes the state in place: batch, channel, time, state.
// Each sequence stops at its length (clamped to the chunk); its padding's
// outputs are zero.
// CHECK: scf.for
// CHECK: scf.parallel
// CHECK: memref.load %[[H]]
// CHECK: %[[N0:.*]] = memref.load %[[N]][
// CHECK: %[[N1:.*]] = arith.index_cast %[[N0]]
// CHECK: %[[N2:.*]] = arith.maxsi %[[N1]]
// CHECK: %[[LEN:.*]] = arith.minsi %[[N2]]
// CHECK: scf.for %{{.*}} = %[[LEN]] to
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[LEN]]
// dt = softplus(delta) of every step first (elementwise, vectorisable),
// then the recurrence, each channel's states one vector on the host.
// CHECK: math.log1p
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[LEN]]
// CHECK: math.exp %{{.*}} : vector<4xf32>
// CHECK: vector.load %[[H]]
// CHECK: vector.store %{{.*}}, %[[H]]
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc>
// The logits go straight to their buffer.
// CHECK: memref.store %{{.*}}, %[[L]]
// CHECK-NOT: memref.copy
// CHECK: memref.dealloc
// CHECK: return
func.func @prefill(%tokens: tensor<?x?xi32>, %lengths: tensor<?xi32>, %h: tensor<?x8x4xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x8x4xf32>)
    attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state} {
  %emb = mm.weight "emb" : tensor<16x8xf32>
  %x = mm.embed %tokens, %emb : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %proj = mm.weight "proj" : tensor<8x8xf32>
  %bc = mm.linear %x, %proj : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
  %b, %c = mm.split %bc [4, 4] : tensor<?x?x8xf32> -> tensor<?x?x4xf32>, tensor<?x?x4xf32>
  %a = mm.weight "a" : tensor<8x4xf32>
  %d = mm.weight "d" : tensor<8xf32>
  %y, %h1 = mm.selective_scan %x, %x, %a, %b, %c, %d initial_state %h
      lengths %lengths {delta_softplus}
      : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8x4xf32>, tensor<?x?x4xf32>,
         tensor<?x?x4xf32>, tensor<8xf32>, tensor<?x8x4xf32>, tensor<?xi32>)
      -> (tensor<?x?x8xf32>, tensor<?x8x4xf32>)
  %logits = mm.lm_head %y, %emb : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  return %logits, %h1 : tensor<?x?x16xf32>, tensor<?x8x4xf32>
}
