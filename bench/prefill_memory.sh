#!/usr/bin/env bash
# Peak memory of prefill against prompt length, in one run: each length in
# a process of its own (mm-bench -p L -n 0 -r 1 -w 0, random weights,
# compiled CPU artifacts), prompts in chunks of CHUNK tokens, next to the
# baseline of whole prompts (--prefill-chunk 0) up to WHOLE_MAX tokens.
# Peak memory is the process's peak resident set (getrusage ru_maxrss), so
# it includes the weights. Writes a report (command, machine, date, table)
# to bench/results/ and prints it.
#
#   bench/prefill_memory.sh                                  # up to 400k
#   LENGTHS=1024,8192 MODELS=memmamba-tiny bench/prefill_memory.sh  # quick
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
MODELS="${MODELS:-memmamba-tiny mamba-130m}"
LENGTHS="${LENGTHS:-1024,4096,16384,65536,131072,262144,409600}"
CHUNK="${CHUNK:-512}"
WHOLE_MAX="${WHOLE_MAX:-16384}"
out="$root/bench/results"
work="$build/bench/prefill-memory"
mkdir -p "$out" "$work"
report="$out/prefill_memory-$(date -u +%Y%m%d-%H%M%S).md"

{
  echo "# Prefill peak memory against prompt length"
  echo
  echo "- command: MODELS=\"$MODELS\" LENGTHS=$LENGTHS CHUNK=$CHUNK WHOLE_MAX=$WHOLE_MAX bench/prefill_memory.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- weights: random (mm-init-weights' initialisation), f32; compiled CPU artifacts"
  echo "- peak RSS: the whole process (weights, code, buffers), one process per row"
  echo
} > "$report"

rm -f "$work"/*.json
for model in $MODELS; do
  artifact="$work/$model.mmx"
  "$bin/mm-compile" "$root/examples/$model.json" --target=cpu -o "$artifact"
  for length in ${LENGTHS//,/ }; do
    echo "== $model: $length tokens, chunks of $CHUNK" >&2
    "$bin/mm-bench" "$artifact" --random-weights -p "$length" -n 0 -r 1 -w 0 \
      --prefill-chunk "$CHUNK" -o json > "$work/$model-$length-chunked.json"
    if [ "$length" -le "$WHOLE_MAX" ]; then
      echo "== $model: $length tokens, whole" >&2
      "$bin/mm-bench" "$artifact" --random-weights -p "$length" -n 0 -r 1 \
        -w 0 --prefill-chunk 0 -o json > "$work/$model-$length-whole.json"
    fi
  done
done

python3 - "$work" "$MODELS" "$LENGTHS" >> "$report" <<'PY'
import json, os, sys
folder, models, lengths = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(",")
def load(model, length, kind):
    path = os.path.join(folder, f"{model}-{length}-{kind}.json")
    return json.load(open(path))[0] if os.path.exists(path) else None
mib = lambda r: r["peak_rss_bytes"] / 2**20
print("| model | prompt tokens | chunked: peak MiB | chunked: t/s | "
      "chunked peak / first length's | whole prompt: peak MiB | "
      "whole / chunked |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for model in models:
    first = None
    for length in lengths:
        chunked, whole = load(model, length, "chunked"), load(model, length, "whole")
        first = first or mib(chunked)
        print(f"| {model} | {length} | {mib(chunked):.0f} | "
              f"{chunked['avg_ts']:.1f} | {mib(chunked) / first:.2f} | "
              + (f"{mib(whole):.0f} | {mib(whole) / mib(chunked):.2f} |"
                 if whole else "- | - |"))
print()
print("Goal (issue 9): flat beyond the chunk size. 'chunked peak / first "
      "length's' is the growth from the shortest prompt; 'whole / chunked' "
      "is what running the prompt in one call would take instead.")
PY
cat "$report"
