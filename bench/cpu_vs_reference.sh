#!/usr/bin/env bash
# Compiled CPU artifacts against the reference executor, in one run: prefill
# (ppP) and decode (tgN) tokens/s on the mamba-130m shape and on
# memmamba-24l, random weights, with the ratios. Writes a report (command,
# machine, date, tables) to bench/results/ and prints it.
#
#   bench/cpu_vs_reference.sh                    # 512 and 8192 tokens
#   LENGTHS=512 GEN=32 bench/cpu_vs_reference.sh  # quicker
#
# The reference executor is slow by design (plain loops, f64 sums): at 8192
# tokens on the 130m shape one run takes about a quarter of an hour, so it
# runs once (REF_REPS) without a warm-up (REF_WARMUP: plain C++ loops have
# no JIT or lazy set-up to warm); the compiled code runs REPS times after
# one warm-up.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
LENGTHS="${LENGTHS:-512,8192}"
GEN="${GEN:-64}"
REPS="${REPS:-3}"
REF_REPS="${REF_REPS:-1}"
REF_WARMUP="${REF_WARMUP:-0}"
out="$root/bench/results"
mkdir -p "$out" "$build/bench"
report="$out/cpu_vs_reference-$(date -u +%Y%m%d-%H%M%S).md"

{
  echo "# Compiled CPU vs reference executor"
  echo
  echo "- command: LENGTHS=$LENGTHS GEN=$GEN REPS=$REPS REF_REPS=$REF_REPS REF_WARMUP=$REF_WARMUP bench/cpu_vs_reference.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- weights: random (mm-init-weights' initialisation, seed 0)"
  echo
} > "$report"

for model in mamba-130m memmamba-24l; do
  config="$root/examples/$model.json"
  artifact="$build/bench/$model.mmx"
  "$bin/mm-compile" "$config" --target=cpu -o "$artifact"
  "$bin/mm-bench" "$artifact" --random-weights -p "$LENGTHS" -n "$GEN" \
    -r "$REPS" -o json > "$build/bench/$model-cpu.json"
  "$bin/mm-bench" "$config" --random-weights -p "$LENGTHS" -n "$GEN" \
    -r "$REF_REPS" -w "$REF_WARMUP" -o json \
    > "$build/bench/$model-reference.json"
done

python3 - "$build/bench" >> "$report" <<'PY'
import json, os, sys
folder = sys.argv[1]
rows = {}
for model in ("mamba-130m", "memmamba-24l"):
    for backend in ("cpu", "reference"):
        for r in json.load(open(os.path.join(folder, f"{model}-{backend}.json"))):
            rows[(model, backend, r["test"])] = r
print("| model | test | cpu t/s | reference t/s | cpu / reference |")
print("| --- | ---: | ---: | ---: | ---: |")
tests = sorted({t for (_, _, t) in rows}, key=lambda t: (t[:2], int(t[2:])))
for model in ("mamba-130m", "memmamba-24l"):
    for test in tests:
        c, r = rows[(model, "cpu", test)], rows[(model, "reference", test)]
        print(f"| {model} | {test} | {c['avg_ts']:.2f} ± {c['stddev_ts']:.2f} "
              f"| {r['avg_ts']:.2f} | {c['avg_ts'] / r['avg_ts']:.1f}x |")
print()
print("memmamba-24l time / mamba-130m time (compiled, same shape; target <= 1.25):")
print()
for test in tests:
    plain = rows[("mamba-130m", "cpu", test)]["avg_ts"]
    memory = rows[("memmamba-24l", "cpu", test)]["avg_ts"]
    print(f"- {test}: {plain / memory:.2f}")
PY
cat "$report"
echo "(written to ${report#$root/})"
