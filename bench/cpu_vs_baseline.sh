#!/usr/bin/env bash
# Compiled CPU artifacts of this tree against those of a baseline build (an
# earlier revision, e.g. main before a change to the compiler) and against
# the reference executor, in one run: prefill (ppP) and decode (tgN)
# tokens/s on the mamba-130m shape and on memmamba-24l, random weights. The
# two compiled variants alternate, each with its own mm-bench, REPS rounds,
# so that the machine's drift affects both alike. Writes a report (command,
# machine, date, table) to bench/results/ and prints it.
#
#   BASELINE=/work/baseline/build/bin bench/cpu_vs_baseline.sh
#   LENGTHS=512 GEN=32 ROUNDS=3 BASELINE=... bench/cpu_vs_baseline.sh
#
# The reference executor runs once per model at REF_LENGTH tokens (plain
# loops: at 8192 tokens it takes a quarter of an hour).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
: "${BASELINE:?set BASELINE to the bin folder of a baseline build}"
LENGTHS="${LENGTHS:-512,2048}"
GEN="${GEN:-64}"
ROUNDS="${ROUNDS:-3}"
REF_LENGTH="${REF_LENGTH:-512}"
out="$root/bench/results"
work="$build/bench/cpu-vs-baseline"
mkdir -p "$out" "$work"
report="$out/cpu_vs_baseline-$(date -u +%Y%m%d-%H%M%S).md"

{
  echo "# Compiled CPU: this tree vs a baseline build vs the reference executor"
  echo
  echo "- command: LENGTHS=$LENGTHS GEN=$GEN ROUNDS=$ROUNDS REF_LENGTH=$REF_LENGTH BASELINE=$BASELINE bench/cpu_vs_baseline.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- baseline: $BASELINE ($(git -C "$BASELINE/../.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
  echo "- weights: random (mm-init-weights' initialisation, seed 0)"
  echo
} > "$report"

for model in mamba-130m memmamba-24l; do
  config="$root/examples/$model.json"
  "$bin/mm-compile" "$config" --target=cpu -o "$work/$model-new.mmx"
  "$BASELINE/mm-compile" "$config" --target=cpu -o "$work/$model-base.mmx"
  for round in $(seq "$ROUNDS"); do
    "$bin/mm-bench" "$work/$model-new.mmx" --random-weights -p "$LENGTHS" \
      -n "$GEN" -r 1 -o json > "$work/$model-new-$round.json"
    "$BASELINE/mm-bench" "$work/$model-base.mmx" --random-weights \
      -p "$LENGTHS" -n "$GEN" -r 1 -o json > "$work/$model-base-$round.json"
  done
  "$bin/mm-bench" "$config" --random-weights -p "$REF_LENGTH" -n 4 -r 1 -w 0 \
    -o json > "$work/$model-reference.json"
done

python3 - "$work" "$ROUNDS" >> "$report" <<'PY'
import json, os, statistics, sys
folder, rounds = sys.argv[1], int(sys.argv[2])
def runs(model, variant):
    out = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(os.path.join(folder, f"{model}-{variant}-{r}.json"))):
            out.setdefault(row["test"], []).append(row["avg_ts"])
    return out
print("Medians over the rounds, tokens/s; reference at its one length.")
print()
print("| model | test | this tree | baseline | this / baseline | reference | this / reference |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for model in ("mamba-130m", "memmamba-24l"):
    new, base = runs(model, "new"), runs(model, "base")
    ref = {row["test"]: row["avg_ts"] for row in
           json.load(open(os.path.join(folder, f"{model}-reference.json")))}
    for test in sorted(new, key=lambda t: (t[:2], int(t[2:]))):
        n, b = statistics.median(new[test]), statistics.median(base[test])
        r = ref.get(test)
        rcol = f"{r:.2f} | {n / r:.1f}x" if r else "- | -"
        print(f"| {model} | {test} | {n:.2f} | {b:.2f} | {n / b:.2f} | {rcol} |")
PY
cat "$report"
echo "(written to ${report#$root/})"
