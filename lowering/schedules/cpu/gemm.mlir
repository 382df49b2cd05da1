// The default CPU schedule of linear and lm_head: out[b, t, n] =
// sum_k x[b, t, k] w[n, k] (+ bias), emitted on tensors
// (lowering/LinalgEmitters.h). w is [N, K] with K contiguous, as x, so a
// vector along K is a dot product: the schedule keeps one 16-wide partial
// sum per output of a register tile across all of K
// (tile_reduction_using_for) and sums them horizontally once per tile,
// where a vector.contract per K step would sum horizontally at every step
// (bench/linalg/README.md).
//
// - Register tiles by K: above 64 with one static token (decode's
//   matrix-vector products, bound by reading the weights), 1 row of 32
//   lanes with software prefetches (@tile_matvec); above 64 otherwise,
//   tokens x rows_at_once of the kernel's
//   sizes (default 4 tokens x 3 channels: 12 accumulators of 8 lanes, one
//   AVX2 register each, 7 loads per 12 FMAs, no spills: with 16 lanes
//   the 4 x 4 tile needed 32 registers and ran at 40% of the FMA peak);
//   up to 64 over several tokens (dt_proj's K = 48), the emitter's
//   outer-product form (weights transposed to [K, N], loops (b, t, k, n)):
//   tokens x 16 channels accumulated one step of K at a time, no final
//   sums (@tile_outer_products; with dot products along K the final sums
//   of so few steps cost more than the products: 15-26% of the FMA peak);
//   up to 64 with one static token (decode's dt_proj), 1 token x 16
//   channels of 16-lane partial sums, whose 16 x 16 sums are a 2-D
//   transpose that lowers to shuffles.
// - Threads: blocks of `rows` output channels (default 64; scf.forall),
//   or, for long K over at most 256 channels (x_proj's 80: at most 4
//   blocks, too few for the cores or uneven), blocks of 32 tokens; the
//   bias (or zero) initialisation is fused into the register tiles, so
//   that it goes into the final sums instead of through memory.
// - The token count is dynamic and N need not divide by the tile: the
//   token and channel loops are peeled and their remainders tiled by 1
//   token (the decode case) or 1 channel. Peeling fails on a loop that
//   already divides (a static block of 64 channels); that failure is
//   suppressed and the loop stays as it is.
// - The reduction is tiled with partial sums, by 8 for long K (the lanes of
//   an AVX2 register; on AVX-512 the tile leaves registers free) and by 16
//   for short K (the 16 x 16 transpose): a loop over K of elementwise
//   products into a [1, tokens, channels, lanes] accumulator, then one
//   reduction into the output tile. A K that is not a multiple has its last
//   step peeled (static and narrower).
// - Vectorised on tensors, the accumulator hoisted out of the K loop into
//   registers, then bufferised in place into the kernel's buffers
//   (one_shot_bufferize) and lowered to 1-D vectors: the final sums as a
//   transpose and vector adds (innerparallel, no ordered horizontal sums).
module attributes {transform.with_named_sequence} {
  // K of a contraction: 4 loops, the last a reduction.
  transform.named_sequence @contraction_k(%op: !transform.any_op {transform.readonly})
      -> !transform.param<i64> {
    %k = transform.match.structured %op : (!transform.any_op) -> !transform.param<i64> {
    ^bb0(%s: !transform.any_op):
      %rank = transform.match.structured.rank %s : (!transform.any_op) -> !transform.param<i64>
      %four = transform.param.constant 4 : i64 -> !transform.param<i64>
      transform.match.param.cmpi eq %rank, %four : !transform.param<i64>
      %d = transform.match.structured.dim %s[3] {reduction} : (!transform.any_op) -> !transform.param<i64>
      transform.match.structured.yield %d : !transform.param<i64>
    }
    transform.yield %k : !transform.param<i64>
  }
  transform.named_sequence @long_k(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %k = transform.include @contraction_k failures(propagate) (%op)
        : (!transform.any_op) -> !transform.param<i64>
    %limit = transform.param.constant 64 : i64 -> !transform.param<i64>
    transform.match.param.cmpi gt %k, %limit : !transform.param<i64>
    transform.yield %op : !transform.any_op
  }
  // Long K, split by the token count: one static token (decode's
  // matrix-vector products) or more.
  transform.named_sequence @token_count(%op: !transform.any_op {transform.readonly})
      -> !transform.param<i64> {
    %t = transform.match.structured %op : (!transform.any_op) -> !transform.param<i64> {
    ^bb0(%s: !transform.any_op):
      %d = transform.match.structured.dim %s[1] {parallel} : (!transform.any_op) -> !transform.param<i64>
      transform.match.structured.yield %d : !transform.param<i64>
    }
    transform.yield %t : !transform.param<i64>
  }
  transform.named_sequence @long_k_one_token(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %long = transform.include @long_k failures(propagate) (%op)
        : (!transform.any_op) -> !transform.any_op
    %t = transform.include @token_count failures(propagate) (%op)
        : (!transform.any_op) -> !transform.param<i64>
    %one = transform.param.constant 1 : i64 -> !transform.param<i64>
    transform.match.param.cmpi eq %t, %one : !transform.param<i64>
    transform.yield %op : !transform.any_op
  }
  transform.named_sequence @long_k_tokens(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %long = transform.include @long_k failures(propagate) (%op)
        : (!transform.any_op) -> !transform.any_op
    %t = transform.include @token_count failures(propagate) (%op)
        : (!transform.any_op) -> !transform.param<i64>
    %one = transform.param.constant 1 : i64 -> !transform.param<i64>
    transform.match.param.cmpi ne %t, %one : !transform.param<i64>
    transform.yield %op : !transform.any_op
  }
  // Long K over several tokens, split by N: up to 256 output channels
  // (x_proj's 80) make at most 4 blocks of the default 64, too few to share
  // among the cores, or unevenly (80 = 64 + 16: one core idles 3/4 of the
  // time); their blocks are of tokens instead.
  transform.named_sequence @output_channels(%op: !transform.any_op {transform.readonly})
      -> !transform.param<i64> {
    %n = transform.match.structured %op : (!transform.any_op) -> !transform.param<i64> {
    ^bb0(%s: !transform.any_op):
      %d = transform.match.structured.dim %s[2] {parallel} : (!transform.any_op) -> !transform.param<i64>
      transform.match.structured.yield %d : !transform.param<i64>
    }
    transform.yield %n : !transform.param<i64>
  }
  transform.named_sequence @long_k_many_channels(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %long = transform.include @long_k_tokens failures(propagate) (%op)
        : (!transform.any_op) -> !transform.any_op
    %n = transform.include @output_channels failures(propagate) (%op)
        : (!transform.any_op) -> !transform.param<i64>
    %limit = transform.param.constant 256 : i64 -> !transform.param<i64>
    transform.match.param.cmpi gt %n, %limit : !transform.param<i64>
    transform.yield %op : !transform.any_op
  }
  transform.named_sequence @long_k_few_channels(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %long = transform.include @long_k_tokens failures(propagate) (%op)
        : (!transform.any_op) -> !transform.any_op
    %n = transform.include @output_channels failures(propagate) (%op)
        : (!transform.any_op) -> !transform.param<i64>
    %limit = transform.param.constant 256 : i64 -> !transform.param<i64>
    transform.match.param.cmpi le %n, %limit : !transform.param<i64>
    transform.yield %op : !transform.any_op
  }
  transform.named_sequence @short_k(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %k = transform.include @contraction_k failures(propagate) (%op)
        : (!transform.any_op) -> !transform.param<i64>
    %limit = transform.param.constant 64 : i64 -> !transform.param<i64>
    transform.match.param.cmpi le %k, %limit : !transform.param<i64>
    transform.yield %op : !transform.any_op
  }

  // The outer-product form of a short K over several tokens (the emitter's,
  // lowering/LinalgEmitters.cpp): loops (b, t, k, n), the reduction third.
  transform.named_sequence @outer_products(%op: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    transform.match.structured %op : !transform.any_op {
    ^bb0(%s: !transform.any_op):
      %rank = transform.match.structured.rank %s : (!transform.any_op) -> !transform.param<i64>
      %four = transform.param.constant 4 : i64 -> !transform.param<i64>
      transform.match.param.cmpi eq %rank, %four : !transform.param<i64>
      transform.match.structured.dim %s[2] {reduction} : !transform.any_op
      transform.match.structured.dim %s[3] {parallel} : !transform.any_op
    }
    transform.yield %op : !transform.any_op
  }

  // Peels a register-tile loop (dynamic, or not dividing by the tile) into
  // whole tiles and a remainder; returns the remainder's matmul tiles, for
  // the caller to tile by one token or one channel so that every tile is
  // static. A loop that already divides (a static block of 64 channels)
  // fails to peel; that failure is suppressed, the loop stays as it is and
  // the result is empty.
  transform.named_sequence @peel_remainder(%loop: !transform.any_op {transform.readonly})
      -> !transform.any_op {
    %for = transform.cast %loop : !transform.any_op to !transform.op<"scf.for">
    %rest = transform.sequence %for : !transform.op<"scf.for"> -> !transform.any_op failures(suppress) {
    ^bb0(%peeled: !transform.op<"scf.for">):
      %whole, %remainder = transform.loop.peel %peeled
          : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
      transform.yield %remainder : !transform.any_op
    }
    %rest_tiles = transform.foreach %rest : !transform.any_op -> !transform.any_op {
    ^bb0(%rest_loop: !transform.any_op):
      %tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %rest_loop
          : (!transform.any_op) -> !transform.any_op
      transform.yield %tiles : !transform.any_op
    }
    transform.yield %rest_tiles : !transform.any_op
  }

  // Tiles one contraction in register tiles of [1, %tokens, %channels]
  // within blocks of %block_tokens tokens x %block channels (0: the whole
  // dimension); returns the block loop (the tiles are inside it, static)
  // and the function.
  transform.named_sequence @tile_blocks(%matmul: !transform.any_op {transform.consumed},
      %block_tokens: !transform.param<i64> {transform.readonly},
      %block: !transform.param<i64> {transform.readonly},
      %tokens: !transform.param<i64> {transform.readonly},
      %channels: !transform.param<i64> {transform.readonly})
      -> (!transform.any_op, !transform.any_op) {
    // The "bias" operation that initialises the output.
    %init = transform.get_producer_of_operand %matmul[2]
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %matmul
        tile_sizes [0, %block_tokens, %block, 0]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>) -> (!transform.any_op, !transform.any_op)
    %init_blocks, %block_loop = transform.structured.fuse_into_containing_op %init into %forall
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %function = transform.get_parent_op %block_loop {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    // Register tiles, the initialisation fused in: the bias goes into the
    // final sums instead of through memory.
    %tiles, %batch_loop, %token_loop, %channel_loop = transform.structured.fuse %blocks
        tile_sizes [1, %tokens, %channels, 0]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    %channel_rest = transform.include @peel_remainder failures(propagate) (%channel_loop)
        : (!transform.any_op) -> !transform.any_op
    %one_channel, %one_channel_loop = transform.structured.fuse %channel_rest
        tile_sizes [0, 0, 1, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %token_rest = transform.include @peel_remainder failures(propagate) (%token_loop)
        : (!transform.any_op) -> !transform.any_op
    %one_token, %one_token_loop = transform.structured.fuse %token_rest
        tile_sizes [0, 1, 0, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    // Folds the peeled loops' bounds: the tiles become static. Inside the
    // block loop only: a single block (N <= 64) would fold it away, and
    // with it this handle.
    transform.apply_patterns to %block_loop {
      transform.apply_patterns.canonicalization
    } : !transform.any_op

    transform.yield %block_loop, %function : !transform.any_op, !transform.any_op
  }

  // Peels the K loops' last partial step, vectorises the tiles and keeps
  // their accumulators in registers across K.
  transform.named_sequence @vectorize_tiles(%block_loop: !transform.any_op {transform.readonly},
      %function: !transform.any_op {transform.readonly},
      %k_loops: !transform.any_op {transform.readonly}) {
    transform.annotate %k_loops "gemm_k_loop" : !transform.any_op
    // A K that is not a multiple of the step: its last step peeled, static
    // too.
    transform.foreach %k_loops : !transform.any_op {
    ^bb0(%k_loop: !transform.any_op):
      %k_for = transform.cast %k_loop : !transform.any_op to !transform.op<"scf.for">
      transform.sequence %k_for : !transform.op<"scf.for"> failures(suppress) {
      ^bb0(%loop: !transform.op<"scf.for">):
        %whole, %rest = transform.loop.peel %loop
            : (!transform.op<"scf.for">) -> (!transform.any_op, !transform.any_op)
      }
    }
    transform.apply_patterns to %block_loop {
      transform.apply_patterns.canonicalization
    } : !transform.any_op

    // Peeling moved them: found again, with the zeros and final sums that
    // tile_reduction_using_for added (the products lose the role).
    %steps = transform.structured.match
        ops{["linalg.generic", "linalg.fill", "linalg.reduce"]} in %block_loop
        : (!transform.any_op) -> !transform.any_op
    transform.structured.vectorize %steps : !transform.any_op
    // Hoists the constants out of the K loops (the indices of the
    // accumulator's reads and writes must be invariant). On the function:
    // the block loop may fold away now.
    transform.apply_patterns to %function {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    // The accumulators leave the K loops (with their peeled steps) for
    // registers: loop-carried vectors.
    %k_steps = transform.structured.match ops{["scf.for"]}
        attributes {"gemm_k_loop"} in %function
        : (!transform.any_op) -> !transform.any_op
    transform.loop.hoist_loop_invariant_subsets %k_steps : !transform.any_op
    transform.yield
  }

  // The two register tilings, whose K steps (static in
  // tile_reduction_using_for) differ: 8 lanes for long K, 16 for short K.
  transform.named_sequence @tile_matmul_k8(%matmul: !transform.any_op {transform.consumed},
      %block_tokens: !transform.param<i64> {transform.readonly},
      %block: !transform.param<i64> {transform.readonly},
      %tokens: !transform.param<i64> {transform.readonly},
      %channels: !transform.param<i64> {transform.readonly}) {
    %block_loop, %function = transform.include @tile_blocks failures(propagate)
        (%matmul, %block_tokens, %block, %tokens, %channels)
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op)
    %static_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %block_loop
        : (!transform.any_op) -> !transform.any_op
    %zero, %partial, %final_sum, %k_loops = transform.structured.tile_reduction_using_for %static_tiles
        by tile_sizes = [0, 0, 0, 8]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.include @vectorize_tiles failures(propagate) (%block_loop, %function, %k_loops)
        : (!transform.any_op, !transform.any_op, !transform.any_op) -> ()
    transform.yield
  }
  // A matrix-vector product streams each weight row once, from memory:
  // one row at a time (the hardware prefetchers follow one stream per row
  // better than a tile's interleaved rows), 32 lanes of K per step (4 AVX2
  // partial sums, enough in flight to hide the FMA latency), software
  // prefetches 1 KiB ahead of the weight reads (mm-prefetch-streams), and
  // each row's 32 partial sums summed as a tree (a vector.reduction that
  // the host lowering reassociates).
  transform.named_sequence @tile_matvec(%matmul: !transform.any_op {transform.consumed},
      %block: !transform.param<i64> {transform.readonly}) {
    %no_block = transform.param.constant 0 : i64 -> !transform.param<i64>
    %one = transform.param.constant 1 : i64 -> !transform.param<i64>
    %block_loop, %function = transform.include @tile_blocks failures(propagate)
        (%matmul, %no_block, %block, %one, %one)
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op)
    %static_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %block_loop
        : (!transform.any_op) -> !transform.any_op
    %zero, %partial, %final_sum, %k_loops = transform.structured.tile_reduction_using_for %static_tiles
        by tile_sizes = [0, 0, 0, 32]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.include @vectorize_tiles failures(propagate) (%block_loop, %function, %k_loops)
        : (!transform.any_op, !transform.any_op, !transform.any_op) -> ()
    transform.apply_patterns to %function {
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerreduction"
    } : !transform.any_op
    %k_steps = transform.structured.match ops{["scf.for"]}
        attributes {"gemm_k_loop"} in %function
        : (!transform.any_op) -> !transform.any_op
    %distance = transform.param.constant 1024 : i64 -> !transform.param<i64>
    transform.annotate %k_steps "mm.prefetch_bytes" = %distance
        : !transform.any_op, !transform.param<i64>
    transform.yield
  }
  transform.named_sequence @tile_matmul_k16(%matmul: !transform.any_op {transform.consumed},
      %block: !transform.param<i64> {transform.readonly},
      %tokens: !transform.param<i64> {transform.readonly},
      %channels: !transform.param<i64> {transform.readonly}) {
    %no_block = transform.param.constant 0 : i64 -> !transform.param<i64>
    %block_loop, %function = transform.include @tile_blocks failures(propagate)
        (%matmul, %no_block, %block, %tokens, %channels)
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op)
    %static_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %block_loop
        : (!transform.any_op) -> !transform.any_op
    %zero, %partial, %final_sum, %k_loops = transform.structured.tile_reduction_using_for %static_tiles
        by tile_sizes = [0, 0, 0, 16]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.include @vectorize_tiles failures(propagate) (%block_loop, %function, %k_loops)
        : (!transform.any_op, !transform.any_op, !transform.any_op) -> ()
    transform.yield
  }

  // The outer-product form: blocks of %block channels (threads), register
  // tiles of %tokens x 16 channels (with 8-lane registers, 2 x %tokens
  // accumulators), the whole of K one step at a time: per step %tokens
  // broadcasts of x, 2 loads of the transposed weight and 2 x %tokens FMAs.
  // The token and channel remainders are peeled and tiled by 1
  // (@peel_remainder).
  transform.named_sequence @tile_outer_products(%matmul: !transform.any_op {transform.consumed},
      %block: !transform.param<i64> {transform.readonly},
      %tokens: !transform.param<i64> {transform.readonly}) {
    %init = transform.get_producer_of_operand %matmul[2]
        : (!transform.any_op) -> !transform.any_op
    %blocks, %forall = transform.structured.tile_using_forall %matmul
        tile_sizes [0, 0, 0, %block]
        : (!transform.any_op, !transform.param<i64>) -> (!transform.any_op, !transform.any_op)
    %init_blocks, %block_loop = transform.structured.fuse_into_containing_op %init into %forall
        : (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)
    %function = transform.get_parent_op %block_loop {op_name = "func.func"}
        : (!transform.any_op) -> !transform.any_op
    %sixteen = transform.param.constant 16 : i64 -> !transform.param<i64>
    %tiles, %batch_loop, %token_loop, %channel_loop = transform.structured.fuse %blocks
        tile_sizes [1, %tokens, 0, %sixteen]
        : (!transform.any_op, !transform.param<i64>, !transform.param<i64>)
        -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    %channel_rest = transform.include @peel_remainder failures(propagate) (%channel_loop)
        : (!transform.any_op) -> !transform.any_op
    %one_channel, %one_channel_loop = transform.structured.fuse %channel_rest
        tile_sizes [0, 0, 0, 1] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %token_rest = transform.include @peel_remainder failures(propagate) (%token_loop)
        : (!transform.any_op) -> !transform.any_op
    %one_token, %one_token_loop = transform.structured.fuse %token_rest
        tile_sizes [0, 1, 0, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.apply_patterns to %block_loop {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    // K one step at a time: each step an outer product of a column of x and
    // a row of the transposed weight into the tile.
    %static_tiles = transform.structured.match attributes {"mm.linalg" = "matmul"} in %block_loop
        : (!transform.any_op) -> !transform.any_op
    %steps, %k_loops = transform.structured.tile_using_for %static_tiles tile_sizes [0, 0, 1, 0]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    // The step's unit dimensions dropped (the reduction's among them): an
    // elementwise product and sum that keep their fastmath flags, which
    // LLVM fuses into FMAs (vectorised as a reduction over one element,
    // the sum would lose them: a multiply and an add).
    transform.apply_patterns to %k_loops {
      transform.apply_patterns.linalg.fold_unit_extent_dims_via_slices
    } : !transform.any_op
    transform.include @vectorize_tiles failures(propagate) (%block_loop, %function, %k_loops)
        : (!transform.any_op, !transform.any_op, !transform.any_op) -> ()
    transform.yield
  }

  // The kernel's sizes (its #mm.fusion, mm-compile's --gemm-* flags or a
  // tuning file) shape the tiles: rows, the output channels of a block
  // (one thread's task; default 64 on the CPU), and for K above 64 the
  // register tile of tokens x rows_at_once (default 4 x 3). A kernel
  // without sizes (mm-test-linalg-kernels') takes the defaults.
  transform.named_sequence @schedule(%kernel: !transform.any_op {transform.consumed},
      %block: !transform.param<i64> {transform.readonly, mm.size = "rows", mm.default = 64 : i64},
      %tokens: !transform.param<i64> {transform.readonly, mm.size = "tokens", mm.default = 4 : i64},
      %channels: !transform.param<i64> {transform.readonly, mm.size = "rows_at_once", mm.default = 3 : i64}) {
    %vectors = transform.collect_matching @long_k_one_token in %kernel
        : (!transform.any_op) -> !transform.any_op
    %long = transform.collect_matching @long_k_many_channels in %kernel
        : (!transform.any_op) -> !transform.any_op
    %long_few = transform.collect_matching @long_k_few_channels in %kernel
        : (!transform.any_op) -> !transform.any_op
    %short = transform.collect_matching @short_k in %kernel
        : (!transform.any_op) -> !transform.any_op
    %outer = transform.collect_matching @outer_products in %kernel
        : (!transform.any_op) -> !transform.any_op
    %one = transform.param.constant 1 : i64 -> !transform.param<i64>
    %sixteen = transform.param.constant 16 : i64 -> !transform.param<i64>
    %zero = transform.param.constant 0 : i64 -> !transform.param<i64>
    %token_block = transform.param.constant 32 : i64 -> !transform.param<i64>
    transform.foreach %long : !transform.any_op {
    ^bb0(%matmul: !transform.any_op):
      transform.include @tile_matmul_k8 failures(propagate) (%matmul, %zero, %block, %tokens, %channels)
          : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>) -> ()
    }
    transform.foreach %long_few : !transform.any_op {
    ^bb0(%matmul: !transform.any_op):
      transform.include @tile_matmul_k8 failures(propagate) (%matmul, %token_block, %zero, %tokens, %channels)
          : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>) -> ()
    }
    transform.foreach %vectors : !transform.any_op {
    ^bb0(%matmul: !transform.any_op):
      transform.include @tile_matvec failures(propagate) (%matmul, %block)
          : (!transform.any_op, !transform.param<i64>) -> ()
    }
    transform.foreach %outer : !transform.any_op {
    ^bb0(%matmul: !transform.any_op):
      transform.include @tile_outer_products failures(propagate) (%matmul, %block, %tokens)
          : (!transform.any_op, !transform.param<i64>, !transform.param<i64>) -> ()
    }
    transform.foreach %short : !transform.any_op {
    ^bb0(%matmul: !transform.any_op):
      transform.include @tile_matmul_k16 failures(propagate) (%matmul, %block, %one, %sixteen)
          : (!transform.any_op, !transform.param<i64>, !transform.param<i64>, !transform.param<i64>) -> ()
    }

    transform.apply_patterns to %kernel {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    %buffers = transform.bufferization.one_shot_bufferize %kernel
        : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    // [1, 1, 16, 16] sums become 16 x 16: a transpose by shuffles.
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.cast_away_vector_leading_one_dim
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.lower_multi_reduction lowering_strategy = "innerparallel"
      transform.apply_patterns.vector.transfer_to_scf max_transfer_rank = 1 full_unroll = true
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.rank_reducing_subview_patterns
      transform.apply_patterns.canonicalization
    } : !transform.any_op
    // Without canonicalization: it would fold the unrolled vectors back
    // into n-D vector.from_elements (and the two would alternate forever).
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.lower_transpose lowering_strategy = "shuffle_16x16"
    } : !transform.any_op
    transform.apply_patterns to %buffers {
      transform.apply_patterns.vector.unroll_from_elements
    } : !transform.any_op
    transform.apply_cse to %buffers : !transform.any_op
    transform.yield
  }
}
