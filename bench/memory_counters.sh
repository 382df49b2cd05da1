#!/usr/bin/env bash
# The memory path's GPU kernels (lowering/MemoryKernels.h: scores a thread
# per token, pool membership a warp per sequence, the attentions a warp per
# token, the projections as GEMMs) against the loop emitters
# (--memory-kernels=false: a thread per sequence walking the tokens), in one
# run: the simulator's counters of the memory and cross_layer kernels
# (launches, threads, global bytes read and written, FLOPs) for a prefill
# of P tokens, and the pools of both diffed (the same decisions). Counts,
# not timings; the est. column is mm-bench's roofline ESTIMATE for the
# chip, which counts bytes and FLOPs and so does not see that the loop
# emitters' single thread runs every token in sequence. Writes a report
# (commands, machine, date, both tables) to bench/results/ and prints it.
#
#   bench/memory_counters.sh                                  # memmamba-tiny, pp2048
#   CONFIG=test/e2e/Inputs/memmamba-wide-pool.json P=1024 bench/memory_counters.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
CONFIG="${CONFIG:-$root/examples/memmamba-tiny.json}"
TARGET="${TARGET:-cuda:sm_90}"
P="${P:-2048}"
out="$root/bench/results"
work="$build/bench/memory-counters"
mkdir -p "$out" "$work"
name="$(basename "$CONFIG" .json)"
report="$out/memory-counters-$name-pp$P-${TARGET/:/-}-$(date -u +%Y%m%d-%H%M%S).md"

"$bin/mm-init-weights" "$CONFIG" -o "$work/weights.safetensors" --seed 1 >/dev/null
"$bin/mm-compile" "$CONFIG" --target="$TARGET" -o "$work/kernels.mmx"
"$bin/mm-compile" "$CONFIG" --target="$TARGET" --memory-kernels=false \
  -o "$work/loops.mmx"
python3 -c "import random; random.seed(7); print(' '.join(str(random.randrange(256)) for _ in range($P)))" \
  > "$work/prompt.txt"

# counters VARIANT: the memory rows of mm-bench's counter table.
counters() {
  "$bin/mm-bench" "$work/$1.mmx" --device sim \
    --weights "$work/weights.safetensors" -p "$P" -n 0 -r 1 --counters 2>&1 |
    awk '/^\| kind \|/ { table = 1 }
         table && /^\| (kind|---|mm_(memory|cross_layer)_|total)/'
}
pools() {
  "$bin/mm-run" "$work/$1.mmx" --device sim \
    --weights "$work/weights.safetensors" --tokens "@$work/prompt.txt" -n 0 \
    --pools-out "$work/$1.pools" >/dev/null 2>&1
}
pools kernels
pools loops
if cmp -s "$work/kernels.pools" "$work/loops.pools"; then
  decisions="the same pools after the prompt (mm-run --pools-out, diffed)"
else
  decisions="DIFFERENT pools after the prompt: see $work/*.pools"
fi

{
  echo "# Memory path: GPU kernels against the loop emitters ($name, pp$P, $TARGET, simulator)"
  echo
  echo "- commands:"
  echo "  \`mm-compile $(basename "$CONFIG") --target=$TARGET -o kernels.mmx\`"
  echo "  \`mm-compile $(basename "$CONFIG") --target=$TARGET --memory-kernels=false -o loops.mmx\`"
  echo "  \`mm-bench VARIANT.mmx --device sim --weights w.safetensors -p $P -n 0 -r 1 --counters\`"
  echo "  (\`bench/memory_counters.sh\`, CONFIG=$CONFIG P=$P TARGET=$TARGET)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: the simulator device on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); no GPU"
  echo "- decisions: $decisions"
  echo
  echo "Counts are what the kernels did on the simulator; the est. column is a"
  echo "roofline ESTIMATE from those counts, not a measurement (it cannot see"
  echo "the loop emitters' serial thread). The total row is the whole model's."
  echo
  echo "## Memory kernels (the default)"
  echo
  counters kernels
  echo
  echo "## Loop emitters (--memory-kernels=false)"
  echo
  counters loops
} > "$report"
cat "$report"
echo "(written to ${report#$root/})"
