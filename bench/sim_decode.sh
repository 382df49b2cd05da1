#!/usr/bin/env bash
# Decode and prefill speed of GPU artifacts on the simulator device (the
# kernels' host copies run on this machine's CPU): what the simulator
# tests of CI pay per token, not a GPU timing. Each model (a config,
# compiled here for TARGET once per variant of mm-compile flags, or a ready
# artifact) runs mm-bench --device=sim with random weights: a 1-token
# prompt and DECODE greedy steps, REPS times. Writes a report (command,
# date, commit, machine load, table) to bench/results/ and prints it.
#
#   bench/sim_decode.sh                               # memmamba-tiny, sm_90
#   bench/sim_decode.sh examples/memmamba-tiny.json old.mmx
#   TARGET=hip:gfx942 DECODE=32 REPS=5 bench/sim_decode.sh
#   VARIANTS="gemm:" bench/sim_decode.sh
#
# VARIANTS is a ;-separated list of NAME:FLAGS (default: loops, with
# --gemm-kernels=false, and the GEMM kernels, mm-compile's default).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
TARGET="${TARGET:-cuda:sm_90}"
DECODE="${DECODE:-16}"
REPS="${REPS:-5}"
VARIANTS="${VARIANTS:-loops:--gemm-kernels=false;gemm:}"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("$root/examples/memmamba-tiny.json")
out="$root/bench/results"
work="$build/bench/sim-decode"
mkdir -p "$out" "$work"
report="$out/sim_decode-$(date -u +%Y%m%d-%H%M%S).md"

{
  echo "# Decode on the simulator device (CPU time of the kernels' host copies)"
  echo
  echo "- command: TARGET=$TARGET DECODE=$DECODE REPS=$REPS VARIANTS=\"$VARIANTS\" bench/sim_decode.sh ${*:-}"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  echo "- simulator timings on this CPU (MM_SIM_THREADS=${MM_SIM_THREADS:-default}),"
  echo "  not GPU timings; mm-bench --device=sim --random-weights -p 1 -n $DECODE -r $REPS"
  echo
  echo "| model | artifact (variant) | pp1 ms | decode ms/step | decode t/s |"
  echo "|---|---|---:|---:|---:|"
} > "$report"

bench_one() {
  local model="$1" artifact="$2" json
  json="$("$bin/mm-bench" "$artifact" --device=sim --random-weights -p 1 \
    -n "$DECODE" -r "$REPS" -o json)"
  python3 - "$model" "$artifact" "$json" >> "$report" <<'PY'
import json, os, sys
model, artifact, text = sys.argv[1:4]
rates = {result["test"]: result["avg_ts"] for result in json.loads(text)}
pp = rates.get("pp1", 0.0)
tg = next((v for k, v in rates.items() if k.startswith("tg")), 0.0)
print("| %s | %s | %.2f | %.3f | %.1f |" % (
    os.path.basename(model), os.path.basename(artifact),
    1000.0 / pp if pp else 0.0, 1000.0 / tg if tg else 0.0, tg))
PY
}

for model in "${models[@]}"; do
  case "$model" in
  *.json)
    IFS=';' read -ra variants <<< "$VARIANTS"
    for variant in "${variants[@]}"; do
      name="${variant%%:*}"
      read -ra flags <<< "${variant#*:}"
      artifact="$work/$(basename "$model" .json)-${TARGET/:/-}-$name.mmx"
      "$bin/mm-compile" "$model" --target="$TARGET" ${flags[@]+"${flags[@]}"} \
        -o "$artifact"
      bench_one "$model" "$artifact"
    done
    ;;
  *) bench_one "$model" "$model" ;;
  esac
done
cat "$report"
