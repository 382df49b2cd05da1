// RUN: mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=gemm:%S/Inputs/schedules/gemm-tile-only.mlir" | FileCheck %s
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=gemm:%S/Inputs/schedules/missing.mlir" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=norm:%S/Inputs/schedules/unparsable.mlir" 2>&1 | FileCheck %s --check-prefix=PARSE
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=gemm:%S/Inputs/schedules/no-entry.mlir" 2>&1 | FileCheck %s --check-prefix=ENTRY
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=embed:%S/Inputs/schedules/fails.mlir" 2>&1 | FileCheck %s --check-prefix=FAILS
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules="schedule=matmul:%S/Inputs/schedules/fails.mlir" 2>&1 | FileCheck %s --check-prefix=KIND
// RUN: not mm-opt %S/Inputs/regular-ops.mlir --mm-test-linalg-kernels --mm-apply-schedules=target=tpu 2>&1 | FileCheck %s --check-prefix=TARGET

// A user schedule replaces the gemm default (tiles of 8 x 32, no vectors);
// the other kinds keep theirs.
// CHECK-LABEL: func.func @linear(
// CHECK-NOT: scf.forall
// CHECK: scf.for {{.*}} step %c8
// CHECK: scf.for {{.*}} step %c32
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : memref<{{.*}}>) attrs = {mm.linalg = "matmul"}
// CHECK-NOT: vector.
// CHECK-LABEL: func.func @rms_norm(
// CHECK: scf.forall
// CHECK: vector.reduction

// MISSING: error: cannot read the schedule of kind 'gemm' in {{.*}}missing.mlir
// PARSE: unparsable.mlir:3:5: error:
// PARSE: error: cannot parse the schedule of kind 'norm' in {{.*}}unparsable.mlir
// ENTRY: error: the schedule of kind 'gemm' in {{.*}}no-entry.mlir has no transform.named_sequence @schedule
// FAILS: error: 'func.func' op the schedule of kind 'embed' in {{.*}}fails.mlir failed on this kernel
// KIND: error: schedule 'matmul:{{.*}}': expected KIND:FILE or KIND:loops with KIND one of the kernel kinds lowered through linalg (gemm, norm, elementwise, embed, conv)
// TARGET: error: {{.*}}tpu
