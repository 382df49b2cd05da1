// A probe, not a kernel of the compiler: the first draft of the causal
// conv's linalg form, kept to show what upstream does with it alone.
// LinalgEmitters now emits the conv without concatenating the whole chunk
// (lowering/schedules/cpu/conv.mlir says how).
//
//   mlir-opt-22 bench/linalg/conv-probe.mlir --transform-interpreter
//
// The window [B, E, K-1] transposed before x ([B, K-1+T, E], tensor.concat),
// the filter transposed to [K, E] (as linalg.depthwise_conv_1d_nwc_wc takes
// it), a bias-initialised output, SiLU as a generic. Blocks of (sequence, 16
// channels) on the threads; time in static steps of 8, peeled (the conv
// vectoriser takes no dynamic or masked time tile: "Attempted to vectorize,
// but failed" without the peel). Result on 2026-12-03, MLIR 22: the peeled
// tiles' conv becomes a [1, 11, 16] read of the input, four [1, 8, 16]
// vector.fma with the taps in order (the loop emitter's order), the bias
// init and SiLU fused in the tile. Left: the remainder's single steps, the
// new window (an extract_slice of the concatenation), bufferisation with
// the window possibly the window_out buffer, and the extra pass over x that
// the concatenation costs.
// x: [B, T, E], window: [B, E, K-1] (K = 4), filter [K, E] (transposed), bias [E]
func.func @conv(%x: tensor<?x?x128xf32>, %win: tensor<?x128x3xf32>, %f: tensor<4x128xf32>, %bias: tensor<128xf32>, %out: tensor<?x?x128xf32>) -> tensor<?x?x128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x128xf32>
  %t = tensor.dim %x, %c1 : tensor<?x?x128xf32>
  %wt0 = tensor.empty(%b) : tensor<?x3x128xf32>
  %wt = linalg.transpose ins(%win : tensor<?x128x3xf32>) outs(%wt0 : tensor<?x3x128xf32>) permutation = [0, 2, 1]
  %ext = tensor.concat dim(1) %wt, %x : (tensor<?x3x128xf32>, tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  %init = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%bias : tensor<128xf32>) outs(%out : tensor<?x?x128xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  } -> tensor<?x?x128xf32>
  %conv = linalg.depthwise_conv_1d_nwc_wc {dilations = dense<1> : tensor<1xi64>, strides = dense<1> : tensor<1xi64>} ins(%ext, %f : tensor<?x?x128xf32>, tensor<4x128xf32>) outs(%init : tensor<?x?x128xf32>) -> tensor<?x?x128xf32>
  %silu = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} outs(%conv : tensor<?x?x128xf32>) {
  ^bb0(%v: f32):
    %n = arith.negf %v : f32
    %e = math.exp %n : f32
    %one = arith.constant 1.0 : f32
    %d = arith.addf %e, %one : f32
    %s = arith.divf %v, %d : f32
    linalg.yield %s : f32
  } -> tensor<?x?x128xf32>
  return %silu : tensor<?x?x128xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %silu = transform.structured.match ops{["linalg.generic"]} in %root : (!transform.any_op) -> !transform.any_op
    %s2:2 = transform.split_handle %silu : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %conv = transform.structured.match ops{["linalg.depthwise_conv_1d_nwc_wc"]} in %root : (!transform.any_op) -> !transform.any_op
    %tiled, %forall = transform.structured.tile_using_forall %s2#1 tile_sizes [1, 0, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %c2, %f2 = transform.structured.fuse_into_containing_op %conv into %forall : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %i2, %f3 = transform.structured.fuse_into_containing_op %s2#0 into %forall : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %t2, %l = transform.structured.fuse %tiled tile_sizes [0, 8, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %for = transform.cast %l : !transform.any_op to !transform.op<"scf.for">
    %whole, %rest = transform.loop.peel %for : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
    %fn = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %fn { transform.apply_patterns.canonicalization } : !transform.any_op
    %convs = transform.structured.match ops{["linalg.depthwise_conv_1d_nwc_wc"]} in %whole : (!transform.any_op) -> !transform.any_op
    transform.structured.vectorize %convs : !transform.any_op
    transform.yield
  }
}
