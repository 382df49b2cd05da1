#!/usr/bin/env bash
# The GEMM kernels' global memory traffic on the simulator device: per
# variant (target, strategy, input types) and shape, the simulator's
# counters of global bytes read and written by the kernel, against the
# least traffic its tiles allow (A read once per column of blocks, W once
# per row of blocks, C written once: mm-test-gemm-kernels records it).
# These are simulator counters, not timings. Each run is also checked
# against the host product (mm-sim-kernel --check-gemm). Writes a report
# (command, date, table) to bench/results/ and prints it.
#
#   bench/gemm_counters.sh                    # the default set (~3 min)
#   CASES="cuda:sm_90:mma:bf16:bf16:3072:768:7" bench/gemm_counters.sh
#
# A case is TARGET:STRATEGY:A:W:N:K:M (TARGET itself holds a colon).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
DEFAULT_CASES="
cuda:sm_90:mma:bf16:bf16:3072:768:7
cuda:sm_90:mma:bf16:bf16:3072:768:100
cuda:sm_90:mma:f32:bf16:3072:768:7
cuda:sm_90:simt:f32:f32:3072:768:7
cuda:sm_90:mma:bf16:bf16:80:1536:100
cuda:sm_90:mma:bf16:bf16:1536:48:100
cuda:sm_90:mma:bf16:bf16:768:1536:7
cuda:sm_90:mma:bf16:bf16:64:768:100
cuda:sm_90:mma:bf16:bf16:37:29:1000
cuda:sm_90:mma:bf16:bf16:50280:768:1
hip:gfx942:mfma:bf16:bf16:3072:768:7
hip:gfx942:mfma:bf16:bf16:3072:768:100
hip:gfx942:simt:f32:f32:1536:48:100
"
CASES="${CASES:-$DEFAULT_CASES}"
out="$root/bench/results"
work="$build/bench/gemm-counters"
mkdir -p "$out" "$work"
report="$out/gemm_counters-$(date -u +%Y%m%d-%H%M%S).md"

{
  echo "# GEMM kernels: global bytes on the simulator against the tiles' minimum"
  echo
  echo "- command: CASES=\"$(echo $CASES)\" bench/gemm_counters.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- simulator counters (mm-sim-kernel --counters), not a timing; default"
  echo "  tiles (mma and mfma: 64 x 64 x 32 blocks; simt: 64 x 64 x 16);"
  echo "  minimum = A once per column of blocks + W once per row of blocks,"
  echo "  C written once; ratio = counted / minimum"
  echo
  echo "| target | strategy | A x W | N | K | M | read | minimum read | ratio | written | minimum written | max rel. error |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$report"

for case in $CASES; do
  IFS=: read -r vendor chip strategy a w n k m <<< "$case"
  target="$vendor:$chip"
  round=none
  if [ "$strategy" != simt ]; then
    if [ "$w" != f32 ]; then round=$w; else round=$a; fi
  fi
  module="$work/$vendor-$chip-$strategy-$a-$w-$n-$k-$m.mlir"
  "$bin/mm-opt" "$root/test/lowering/Inputs/empty-module.mlir" \
    --mm-test-gemm-kernels="target=$target strategy=$strategy a=$a w=$w n=$n k=$k m=$m" \
    -o "$module"
  launch=$(sed -n 's/.*mm.test.gemm_launch = "\([^"]*\)".*/\1/p' "$module" | head -1)
  minimum=$(sed -n 's/.*mm.test.gemm_minimum_bytes = array<i64: \([0-9]*\), \([0-9]*\)>.*/\1 \2/p' "$module" | head -1)
  # shellcheck disable=SC2086
  output=$("$bin/mm-sim-kernel" "$module" --target="$target" --kernel=gemm $launch \
    --arg=random:${m}x$k --arg=random --arg=fill=12345:${m}x$n \
    --check-gemm=0,1,2 --gemm-round=$round --counters)
  read -r minRead minWritten <<< "$minimum"
  read=$(sed -n 's/.*global bytes read \([0-9]*\), written.*/\1/p' <<< "$output")
  written=$(sed -n 's/.*global bytes read [0-9]*, written \([0-9]*\),.*/\1/p' <<< "$output")
  error=$(sed -n 's/.*max relative error \([^ ]*\) .*/\1/p' <<< "$output")
  ratio=$(awk -v r="$read" -v m="$minRead" 'BEGIN { printf "%.3f", r / m }')
  echo "| $target | $strategy | $a x $w | $n | $k | $m | $read | $minRead | $ratio | $written | $minWritten | $error |" >> "$report"
done

cat "$report"
echo "report: $report"
