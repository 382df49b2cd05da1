#!/usr/bin/env bash
# mm-tune on the CPU for mamba-130m and memmamba-24l, then the default and
# the tuned artifacts of both timed in one run: prefill (ppP) and decode
# (tgN) tokens/s, tuned / default, and memmamba-24l's time against
# mamba-130m's at equal shape (the memory path's cost; issue goal <= 1.25).
# Writes a report (command, machine, date, tuning times, tables) and the
# tuning files to bench/results/, and prints the report.
#
#   bench/cpu_tuning.sh                               # budget 900 s a model
#   TUNE_BUDGET=120 LENGTHS=512 bench/cpu_tuning.sh   # quicker
#
# A tuning file already in build/bench/ for the same key is resumed
# (mm-tune), so a second run with a budget goes on where the first stopped.
# The timed tests run in ROUNDS rounds that interleave the four artifacts,
# so a slow spell of the machine hits them alike; each round is one mm-bench
# call per artifact (REPS runs after a warm-up), and the table gives the
# medians of the rounds' means. The LONG prompt (8192 tokens: about 100 s a
# run on 2 cores) runs in the first round only, once without a warm-up
# (LONG_REPS).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
TUNE_BUDGET="${TUNE_BUDGET:-900}"
TUNE_PROMPT="${TUNE_PROMPT:-256}"
TUNE_GENERATE="${TUNE_GENERATE:-16}"
LENGTHS="${LENGTHS:-512}"
LONG="${LONG:-8192}"
GEN="${GEN:-64}"
REPS="${REPS:-3}"
LONG_REPS="${LONG_REPS:-1}"
ROUNDS="${ROUNDS:-2}"
work="$build/bench"
out="$root/bench/results"
stamp="$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out" "$work"
report="$out/cpu_tuning-$stamp.md"

declare -A tune_seconds
for model in mamba-130m memmamba-24l; do
  config="$root/examples/$model.json"
  tuning="$work/$model.tuning.json"
  "$bin/mm-compile" "$config" --target=cpu -o "$work/$model-default.mmx"
  start=$(date +%s)
  "$bin/mm-tune" "$config" --target=cpu --budget "$TUNE_BUDGET" \
    --prompt "$TUNE_PROMPT" --generate "$TUNE_GENERATE" -r 3 -o "$tuning" \
    > "$work/$model-tune.txt"
  tune_seconds[$model]=$(( $(date +%s) - start ))
  "$bin/mm-compile" "$config" --target=cpu --tuning="$tuning" \
    -o "$work/$model-tuned.mmx"
  cp "$tuning" "$out/cpu_tuning-$stamp-$model.tuning.json"
done

for round in $(seq 1 "$ROUNDS"); do
  for model in mamba-130m memmamba-24l; do
    for variant in default tuned; do
      "$bin/mm-bench" "$work/$model-$variant.mmx" --random-weights \
        -p "$LENGTHS" -n "$GEN" -r "$REPS" -o json \
        > "$work/$model-$variant-round$round.json"
      if [ -n "$LONG" ] && [ "$round" = 1 ]; then
        "$bin/mm-bench" "$work/$model-$variant.mmx" --random-weights \
          -p "$LONG" -n 0 -r "$LONG_REPS" -w 0 -o json \
          > "$work/$model-$variant-long-round$round.json"
      fi
    done
  done
done

{
  echo "# CPU tuning: default vs mm-tune's choices"
  echo
  echo "- command: TUNE_BUDGET=$TUNE_BUDGET TUNE_PROMPT=$TUNE_PROMPT TUNE_GENERATE=$TUNE_GENERATE LENGTHS=$LENGTHS LONG=$LONG GEN=$GEN REPS=$REPS LONG_REPS=$LONG_REPS ROUNDS=$ROUNDS bench/cpu_tuning.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- weights: random (mm-init-weights' initialisation, seed 0)"
  echo "- tuning files: cpu_tuning-$stamp-{mamba-130m,memmamba-24l}.tuning.json"
  echo
  for model in mamba-130m memmamba-24l; do
    echo "## mm-tune $model (${tune_seconds[$model]} s of this run)"
    echo
    cat "$work/$model-tune.txt"
    echo
  done
} > "$report"

python3 - "$work" "$ROUNDS" "${LONG:+long}" >> "$report" <<'PY'
import json, os, statistics, sys
folder, rounds, long = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "long"
models = ("mamba-130m", "memmamba-24l")
rates = {}
for model in models:
    for variant in ("default", "tuned"):
        for r in range(1, rounds + 1):
            names = [f"{model}-{variant}-round{r}.json"]
            if long and r == 1:
                names.append(f"{model}-{variant}-long-round{r}.json")
            for name in names:
                for row in json.load(open(os.path.join(folder, name))):
                    rates.setdefault((model, variant, row["test"]), []).append(row["avg_ts"])
tests = sorted({t for (_, _, t) in rates}, key=lambda t: (t[:2], int(t[2:])))
med = {k: statistics.median(v) for k, v in rates.items()}
print("## Default vs tuned (tokens/s, median over the rounds)")
print()
print("| model | test | default | tuned | tuned / default |")
print("| --- | ---: | ---: | ---: | ---: |")
for model in models:
    for test in tests:
        d, t = med[(model, "default", test)], med[(model, "tuned", test)]
        print(f"| {model} | {test} | {d:.2f} | {t:.2f} | {t / d:.2f}x |")
print()
print("## memmamba-24l time / mamba-130m time (same shape; goal <= 1.25)")
print()
print("| test | default | tuned |")
print("| ---: | ---: | ---: |")
for test in tests:
    cells = [med[("mamba-130m", v, test)] / med[("memmamba-24l", v, test)]
             for v in ("default", "tuned")]
    print(f"| {test} | {cells[0]:.2f} | {cells[1]:.2f} |")
PY
cat "$report"
echo "(written to ${report#$root/})"
