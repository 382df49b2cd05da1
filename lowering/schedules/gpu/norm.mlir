// The default GPU schedule of RMSNorm (with the elementwise operations a
// norm kernel starts with: the residual, the memory path's gated mix).
// mm-offload-to-gpu launches each scf.forall with a thread per iteration,
// its last dimension the fastest:
// - the elementwise operations and the scaling: a thread per 4
//   neighbouring elements of a row, vectors of 4 where 4 divides the width
//   (lowering/schedules/gpu/elementwise.mlir);
// - the f64 sum of squares: a thread per row, its initialisation fused
//   into the same launch, the row read in vectors of 4 (a width 4 does not
//   divide ends in a smaller one: no masks), the sum kept in a register.
module attributes {transform.with_named_sequence} {
  // Tiles of static shape (a width 4 divides) as vectors of 4, the row's
  // sum (a norm's scaling) read once per tile; partial tiles (where
  // vectorising fails, suppressed) stay scalar loops: no masks.
  transform.named_sequence @vectors_where_static(%tiles: !transform.any_op {transform.consumed},
                                                 %function: !transform.any_op {transform.readonly}) {
    transform.foreach %tiles : !transform.any_op {
    ^bb0(%tile: !transform.any_op):
      transform.sequence %tile : !transform.any_op failures(suppress) {
      ^bb1(%static_tile: !transform.any_op):
        transform.structured.vectorize %static_tile : !transform.any_op
      }
    }
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.yield
  }

  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.readonly}) {
    %elementwise = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "elementwise"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %elementwise_tiles, %elementwise_forall = transform.structured.tile_using_forall %elementwise
        tile_sizes [1, 1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %init = transform.structured.match ops{["linalg.fill"]}
        attributes {"mm.linalg" = "norm_init"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %sum = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_sum"} in %kernel
        : (!transform.any_op) -> !transform.any_op
    %function = transform.get_parent_op %sum {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    %init_rows, %init_forall = transform.structured.tile_using_forall %init
        tile_sizes [1, 1] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.structured.vectorize %init_rows : !transform.any_op
    %sum_rows, %sum_forall = transform.structured.tile_using_forall %sum
        tile_sizes [1, 1, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    // The row in vectors of 4 (the sums in the loop emitter's order: a
    // vector.reduction without reassociation adds them one by one); a
    // width that 4 does not divide ends in a peeled, smaller vector
    // (peeling fails on a loop that divides: that failure is suppressed).
    %chunks, %chunk_loop = transform.structured.tile_using_for %sum_rows
        tile_sizes [0, 0, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %chunk_for = transform.cast %chunk_loop : !transform.any_op to !transform.op<"scf.for">
    transform.sequence %chunk_for : !transform.op<"scf.for"> failures(suppress) {
    ^bb0(%loop: !transform.op<"scf.for">):
      %whole, %rest = transform.loop.peel %loop
          : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
    }
    transform.apply_patterns to %sum_forall {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %sum_tiles = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_sum"} in %sum_forall
        : (!transform.any_op) -> !transform.any_op
    transform.structured.vectorize %sum_tiles : !transform.any_op
    // The two loops' bounds the same values (the sums' sizes are the
    // input's), then the initialisation's body before the sum's, in the
    // sum's loop.
    transform.apply_patterns to %function {
      transform.apply_patterns.memref.resolve_ranked_shaped_type_result_dims
    } : !transform.any_op
    transform.apply_cse to %function : !transform.any_op
    %rows = transform.loop.fuse_sibling %init_forall into %sum_forall
        : (!transform.any_op, !transform.any_op) -> !transform.any_op
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    // A row's sum in a register across its chunks: the transfers of the
    // sums read their buffer directly (no views; the scaling, which would
    // take views of it, is tiled after), then the read and write of the sum
    // leave the chunk loop.
    transform.apply_patterns to %function {
      transform.apply_patterns.memref.fold_memref_alias_ops
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %hoisted = transform.structured.hoist_redundant_vector_transfers %function
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %hoisted {
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerreduction"
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %scale = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "norm_scale"} in %hoisted
        : (!transform.any_op) -> !transform.any_op
    %scale_tiles, %scale_forall = transform.structured.tile_using_forall %scale
        tile_sizes [1, 1, 4] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %tiles = transform.structured.match ops{["linalg.generic"]}
        attributes {"mm.linalg" = "elementwise"} in %hoisted
        : (!transform.any_op) -> !transform.any_op
    %all_tiles = transform.merge_handles %tiles, %scale_tiles : !transform.any_op
    transform.include @vectors_where_static failures(propagate) (%all_tiles, %hoisted)
        : (!transform.any_op, !transform.any_op) -> ()
    transform.yield
  }
}
