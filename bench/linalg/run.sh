#!/bin/bash
# Builds bench/linalg/driver with the kernels of kernels.mlir compiled twice
# (loop emitters; linalg emitters + default schedules), both through
# mm-host-kernels-pipeline, mlir-translate and clang -O3 -march=native (the
# artifact's codegen: LLVM -O3 for the host CPU), then runs it.
#   bench/linalg/run.sh BUILD_DIR OUT_DIR check
#   bench/linalg/run.sh BUILD_DIR OUT_DIR bench [TOKENS [REPS]]
# Extra mm-apply-schedules options (a user schedule) in MM_SCHEDULE_OPTIONS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd); out=$2; shift 2
llvm=/usr/lib/llvm-22/bin
mkdir -p "$out"
for variant in loops linalg; do
  sed "s/func.func @/func.func @${variant}_/" "$here/kernels.mlir" \
    > "$out/$variant.mlir"
  "$build/bin/mm-opt" "$out/$variant.mlir" \
    --mm-test-linalg-kernels="emitter=$variant c-interface=1" \
    --mm-apply-schedules="${MM_SCHEDULE_OPTIONS:-}" \
    --mm-host-kernels-pipeline -o "$out/$variant.llvm.mlir"
  # mlir-translate does not know the mm dialect: drop the kernels' strategy.
  sed -i 's/, mm.fusion = #mm.fusion<[a-z_]*, {[^}]*}>//' \
    "$out/$variant.llvm.mlir"
  "$llvm/mlir-translate" --mlir-to-llvmir "$out/$variant.llvm.mlir" \
    -o "$out/$variant.ll"
  "$llvm/clang" -O3 -march=native -c -Wno-override-module \
    "$out/$variant.ll" -o "$out/$variant.o"
done
"$llvm/clang++" -O2 -std=c++17 "$here/driver.cpp" "$out/loops.o" \
  "$out/linalg.o" -L/usr/lib/llvm-22/lib -Wl,-rpath,/usr/lib/llvm-22/lib \
  -lomp -lm -o "$out/driver"
"$out/driver" "$@"
