// RUN: mm-opt %s -split-input-file --mm-reduce-precision | FileCheck %s
// RUN: mm-opt %s -split-input-file --mm-reduce-precision="precision=f16" | FileCheck %s --check-prefix=F16
// RUN: mm-opt %s -split-input-file --mm-reduce-precision="precision=f32" | FileCheck %s --check-prefix=F32

// The weights that only matrix products (and the embedding) read take the
// reduced type; the norm's weight, the note's, and a weight another
// operation reads too stay f32. Activations stay f32.

// CHECK-LABEL: func.func @mixer
// CHECK: mm.weight "emb" : tensor<16x8xbf16>
// CHECK: mm.embed %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<16x8xbf16> -> tensor<?x?x8xf32>
// CHECK: mm.weight "norm" : tensor<8xf32>
// CHECK: mm.weight "in" : tensor<32x8xbf16>
// CHECK: mm.linear %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<32x8xbf16>, tensor<32xf32> -> tensor<?x?x32xf32>
// CHECK: mm.weight "shared" : tensor<1x8xf32>
// CHECK: mm.weight "head" : tensor<16x8xbf16>
// CHECK: mm.lm_head %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<16x8xbf16> -> tensor<?x?x16xf32>
// F16-LABEL: func.func @mixer
// F16: mm.weight "emb" : tensor<16x8xf16>
// F16: mm.weight "norm" : tensor<8xf32>
// F16: mm.weight "in" : tensor<32x8xf16>
// F16: mm.weight "bias" : tensor<32xf32>
// F16: mm.weight "shared" : tensor<1x8xf32>
// F16: mm.weight "head" : tensor<16x8xf16>
// F32-LABEL: func.func @mixer
// F32-NOT: bf16
// F32-NOT: f16
func.func @mixer(%tokens: tensor<?x?xi32>) -> (tensor<?x?x32xf32>, tensor<?x?x1xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>) {
  %emb = mm.weight "emb" : tensor<16x8xf32>
  %x = mm.embed %tokens, %emb : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %norm = mm.weight "norm" : tensor<8xf32>
  %u = mm.rms_norm %x, %norm {epsilon = 1.0e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %in = mm.weight "in" : tensor<32x8xf32>
  %bias = mm.weight "bias" : tensor<32xf32>
  %xz = mm.linear %u, %in, %bias : tensor<?x?x8xf32>, tensor<32x8xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  // Read by a matrix product and by the note block: stays f32.
  %shared = mm.weight "shared" : tensor<1x8xf32>
  %p = mm.linear %u, %shared : tensor<?x?x8xf32>, tensor<1x8xf32> -> tensor<?x?x1xf32>
  %sb = mm.weight "score_bias" : tensor<1xf32>
  %wn = mm.weight "summary" : tensor<4x8xf32>
  %sigma, %s = mm.note %u, %shared, %sb, %wn : (tensor<?x?x8xf32>, tensor<1x8xf32>, tensor<1xf32>, tensor<4x8xf32>) -> (tensor<?x?xf32>, tensor<?x?x4xf32>)
  %head = mm.weight "head" : tensor<16x8xf32>
  %logits = mm.lm_head %u, %head : tensor<?x?x8xf32>, tensor<16x8xf32> -> tensor<?x?x16xf32>
  return %xz, %p, %sigma, %logits : tensor<?x?x32xf32>, tensor<?x?x1xf32>, tensor<?x?xf32>, tensor<?x?x16xf32>
}
