// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=gemm:%S/Inputs/schedules/gemm-size-args.mlir" | FileCheck %s --check-prefix=DEFAULTS
// RUN: mm-compile %examples/memmamba-tiny.json --emit=lowered --kernel-sizes=gemm.tokens=2,gemm.rows_at_once=8,gemm.rows=32 | FileCheck %s --check-prefix=SIZED
// RUN: mm-compile %examples/memmamba-tiny.json --emit=lowered | FileCheck %s --check-prefix=DEFAULT-TILE
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=gemm:%S/Inputs/schedules/size-without-default.mlir" 2>&1 | FileCheck %s --check-prefix=LACKS
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=gemm:%S/Inputs/schedules/unnamed-argument.mlir" 2>&1 | FileCheck %s --check-prefix=UNNAMED

// A schedule's @schedule takes the kernel's sizes as parameters named by
// mm.size (docs/tuning.md). mm-test-linalg-kernels' kernels carry no
// sizes: the parameters' mm.default (2 tokens x 8 rows) tile them.
// DEFAULTS-LABEL: func.func @linear(
// DEFAULTS: scf.for {{.*}} step %c2
// DEFAULTS: scf.for {{.*}} step %c8
// DEFAULTS: linalg.generic {{.*}} attrs = {mm.linalg = "matmul"}

// The default CPU gemm schedule reads rows, tokens and rows_at_once: in_proj
// (N = 256) in blocks of 32 output channels, 8 thread tasks; x_proj (K =
// 128 > 64) in register tiles of 2 tokens x 8 channels of 8 partial sums.
// SIZED-LABEL: func.func private @mm_gemm_0(
// SIZED: scf.forall (%{{.*}}) in (8)
// SIZED-LABEL: func.func private @mm_gemm_1(
// SIZED: iter_args({{.*}}) -> (vector<1x2x8x8xf32>)
// Without sizes given, the CPU's defaults: blocks of 64, 4 x 3 tiles.
// DEFAULT-TILE-LABEL: func.func private @mm_gemm_0(
// DEFAULT-TILE: scf.forall (%{{.*}}) in (4)
// DEFAULT-TILE-LABEL: func.func private @mm_gemm_1(
// DEFAULT-TILE: iter_args({{.*}}) -> (vector<1x4x3x8xf32>)

// LACKS: error: 'func.func' op the schedule of kind 'gemm' in {{.*}}size-without-default.mlir reads the size 'tokens', which this kernel's #mm.fusion lacks (give the argument mm.default)
// UNNAMED: error: 'func.func' op the schedule of kind 'gemm' in {{.*}}unnamed-argument.mlir: argument 1 of @schedule must be a !transform.param<i64> naming a size of the kernel with {mm.size = "..."}
