#!/usr/bin/env bash
# The GPU scan kernel (lowering/ScanKernels.h) on the simulator at the
# shape of mamba-130m and memmamba-24l (E = 1536, N = 16: the two models
# share it, so one row serves both): global bytes counted against the least
# the scan can move (u, delta, z read and the output written once per
# element, B and C once per token, the weights and the states once:
# mm-test-scan-kernels records it), and an H200 roofline ESTIMATE per launch
# and per token of the 24-layer models:
#
#   time = max(global bytes / 4.8 TB/s,  exponentials / 3.9 T/s)
#
# with (N + 3) exponentials per token and channel in prefill (exp2 per
# state; softplus and SiLU), 2N + 3 in a step (A = -exp(A_log) is not kept
# between steps). Counters are exact for the code; the time is an estimate,
# never a measurement (bench/gpu_run.sh measures on a GPU).
#
#   bench/scan_counters.sh                  # the default set
#   CASES="cuda:sm_90:prefill:2048:1" bench/scan_counters.sh
#
# A case is TARGET:FORM:TOKENS:BATCH (FORM prefill or step; TARGET itself
# holds a colon).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
E=1536
N=16
DEFAULT_CASES="
cuda:sm_90:prefill:2048:1
cuda:sm_90:prefill:16384:1
cuda:sm_90:prefill:2048:8
cuda:sm_90:step:1:1
cuda:sm_90:step:1:64
hip:gfx942:prefill:2048:1
hip:gfx942:step:1:1
"
CASES="${CASES:-$DEFAULT_CASES}"
out="$root/bench/results"
work="$build/bench/scan-counters"
mkdir -p "$out" "$work"
report="$out/scan_counters-$(date -u +%Y%m%d-%H%M%S).md"

{
  echo "# GPU scan kernel: simulator counters against the minimum, and an H200 roofline estimate"
  echo
  echo "- command: CASES=\"$(echo $CASES)\" bench/scan_counters.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- shape: E = $E, N = $N (mamba-130m and memmamba-24l alike), f32"
  echo "  activations and state, delta bias and softplus, the gate fused"
  echo "- counters: mm-sim-kernel --counters (exact for the code, not a timing)"
  echo "- ESTIMATE, not a measurement: H200 at 4.8 TB/s and 3.9 T exp/s;"
  echo "  per token = 24 layers' scans; launch overhead not included"
  echo
  echo "| target | form | tokens | batch | sizes | read | min. read | ratio | written | min. written | ratio | est. us/launch | bound | est. 24-layer scan tokens/s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$report"

for case in $CASES; do
  IFS=: read -r vendor chip form tokens batch <<< "$case"
  target="$vendor:$chip"
  step=false
  [ "$form" = step ] && step=true
  module="$work/$vendor-$chip-$form-$tokens-$batch.mlir"
  "$bin/mm-opt" "$root/test/lowering/Inputs/empty-module.mlir" \
    --mm-test-scan-kernels="target=$target channels=$E states=$N step=$step batch=$batch tokens=$tokens" \
    -o "$module"
  launch=$(sed -n 's/.*mm.test.scan_launch = "\([^"]*\)".*/\1/p' "$module" | head -1)
  sizes=$(sed -n 's/.*mm.test.scan_config = "\([^"]*\)".*/\1/p' "$module" | head -1)
  minimum=$(sed -n 's/.*mm.test.scan_minimum_bytes = array<i64: \([0-9]*\), \([0-9]*\)>.*/\1 \2/p' "$module" | head -1)
  perToken="${batch}x${tokens}"
  # shellcheck disable=SC2086
  output=$("$bin/mm-sim-kernel" "$module" --target="$target" --kernel=scan $launch \
    --arg=random:$perToken"x$E" --arg=random:$perToken"x$E" --arg=random \
    --arg=random:$perToken"x$N" --arg=random:$perToken"x$N" --arg=random \
    --arg=random --arg=random:${batch}x${E}x$N --arg=random:$perToken"x$E" \
    --arg=zeros:${batch}x${E}x$N --arg=zeros:$perToken"x$E" --counters)
  read -r minRead minWritten <<< "$minimum"
  read=$(sed -n 's/.*global bytes read \([0-9]*\), written.*/\1/p' <<< "$output")
  written=$(sed -n 's/.*global bytes read [0-9]*, written \([0-9]*\),.*/\1/p' <<< "$output")
  row=$(awk -v r="$read" -v w="$written" -v mr="$minRead" -v mw="$minWritten" \
    -v t="$tokens" -v b="$batch" -v e="$E" -v n="$N" -v form="$form" 'BEGIN {
      perElement = (form == "step") ? 2 * n + 3 : n + 3
      mem = (r + w) / 4.8e12
      ex = t * b * e * perElement / 3.9e12
      est = (mem > ex) ? mem : ex
      bound = (mem > ex) ? "memory" : "exp"
      printf "%d | %.3f | %d | %d | %.3f | %.2f | %s | %.0f",
        mr, r / mr, w, mw, w / mw, est * 1e6, bound, t * b / (24 * est)
    }')
  echo "| $target | $form | $tokens | $batch | $sizes | $read | $row |" >> "$report"
done

cat "$report"
