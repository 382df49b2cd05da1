// RUN: mm-opt %s --mm-lower-to-loops | FileCheck %s

// The toy of mm-lower-to-loops.mlir with its embedding (tied to the head) and
// projection in bf16 (mm-reduce-precision): the manifest records the
// precision and each weight's dtype, 16-bit tensors fill half the words; the
// weight buffer is bytes and every weight a view of its own type; a bf16
// table widens, a product with bf16 weights rounds its input to bf16 and
// accumulates in f32.

// CHECK: module attributes {mm.manifest = "{\22abi_version\22:5,
// CHECK-SAME: \22precision\22:\22bf16\22
// CHECK-SAME: \22floats\22:144,
// CHECK-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22emb\22,\22offset\22:0,
// CHECK-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22proj\22,\22offset\22:64,
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22a\22,\22offset\22:96,

// CHECK-LABEL: func.func @mm_prefill(
// CHECK-SAME: %[[W:[^:]*]]: memref<?xi8>, %[[S:[^:]*]]: memref<?xi8>, %{{[^:]*}}: memref<?x?xi32>, %{{[^:]*}}: memref<?xi32>, %{{[^:]*}}: memref<?x?x16xf32>) attributes {llvm.emit_c_interface}
// CHECK: %[[EMB:.*]] = memref.view %[[W]][%{{.*}}][] : memref<?xi8> to memref<16x8xbf16>
// The embedding widens each value.
// CHECK: %[[E:.*]] = memref.load %[[EMB]]
// CHECK-NEXT: arith.extf %[[E]] : bf16 to f32
// The projection at byte 256 (word 64): its input rounded to bf16 and back,
// its weights widened, f32 products and sums.
// CHECK: %[[PROJ:.*]] = memref.view %[[W]][%{{.*}}][] : memref<?xi8> to memref<8x8xbf16>
// CHECK: scf.parallel
// CHECK: %[[X:.*]] = memref.load
// CHECK-NEXT: %[[XR:.*]] = arith.truncf %[[X]] : f32 to bf16
// CHECK-NEXT: %[[XW:.*]] = arith.extf %[[XR]] : bf16 to f32
// CHECK: %[[P:.*]] = memref.load %[[PROJ]]
// CHECK-NEXT: %[[PW:.*]] = arith.extf %[[P]] : bf16 to f32
// CHECK-NEXT: arith.mulf %[[XW]], %[[PW]] fastmath<reassoc,contract> : f32
// The f32 weights are views too.
// CHECK: memref.view %[[W]][%{{.*}}][] : memref<?xi8> to memref<8x4xf32>
// CHECK: memref.view %[[W]][%{{.*}}][] : memref<?xi8> to memref<8xf32>
// The head reads the embedding's view, rounding its input.
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.load %[[EMB]]
// CHECK: return

mm.state_layout @state [
  #mm.state_field<name = "layers.0.ssm_state", kind = ssm_state, layer = 0, type = tensor<8x4xf32>>]

// The embedding: a loop over batch, time and width, into a buffer aligned to
// a cache line.
// The projection: output blocks in parallel.
// A split is two views of one buffer.
// The scan reads and writes the state in place: batch, channel, time, state.
// The logits go straight to their buffer.
func.func @prefill(%tokens: tensor<?x?xi32>, %lengths: tensor<?xi32>, %h: tensor<?x8x4xf32>)
    -> (tensor<?x?x16xf32>, tensor<?x8x4xf32>)
    attributes {mm.entry = #mm.entry<prefill>, mm.state_layout = @state} {
  %emb = mm.weight "emb" : tensor<16x8xbf16>
  %x = mm.embed %tokens, %emb : tensor<?x?xi32>, tensor<16x8xbf16> -> tensor<?x?x8xf32>
  %proj = mm.weight "proj" : tensor<8x8xbf16>
  %bc = mm.linear %x, %proj : tensor<?x?x8xf32>, tensor<8x8xbf16> -> tensor<?x?x8xf32>
  %b, %c = mm.split %bc [4, 4] : tensor<?x?x8xf32> -> tensor<?x?x4xf32>, tensor<?x?x4xf32>
  %a = mm.weight "a" : tensor<8x4xf32>
  %d = mm.weight "d" : tensor<8xf32>
  %y, %h1 = mm.selective_scan %x, %x, %a, %b, %c, %d initial_state %h {delta_softplus}
      : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8x4xf32>, tensor<?x?x4xf32>,
         tensor<?x?x4xf32>, tensor<8xf32>, tensor<?x8x4xf32>)
      -> (tensor<?x?x8xf32>, tensor<?x8x4xf32>)
  %logits = mm.lm_head %y, %emb : tensor<?x?x8xf32>, tensor<16x8xbf16> -> tensor<?x?x16xf32>
  return %logits, %h1 : tensor<?x?x16xf32>, tensor<?x8x4xf32>
}
