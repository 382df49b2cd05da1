#!/usr/bin/env bash
# The regular GPU kernels (norm, elementwise, embed) on their default GPU
# schedules (lowering/schedules/gpu/) against the loop emitters, in one run:
# the simulator's counters per kernel kind (launches, threads, global bytes
# read and written, FLOPs) for a prefill of P tokens. Counts, not timings;
# the per-kind time column is mm-bench's roofline ESTIMATE for the chip.
# The GEMMs stay on the loop emitters in both artifacts (the simulator runs
# the tiled GEMM kernels several times slower, and they are not compared
# here). Writes a report (commands, machine, date, both tables) to
# bench/results/ and prints it.
#
#   bench/sim_regular_kinds.sh                         # mamba-130m, 2 layers, pp128
#   CONFIG=examples/memmamba-tiny.json P=256 bench/sim_regular_kinds.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
CONFIG="${CONFIG:-$root/test/e2e/Inputs/mamba-130m-2l.json}"
TARGET="${TARGET:-cuda:sm_90}"
P="${P:-128}"
out="$root/bench/results"
work="$build/bench/sim-regular-kinds"
mkdir -p "$out" "$work"
name="$(basename "$CONFIG" .json)"
report="$out/sim-regular-kinds-$name-pp$P-${TARGET/:/-}-$(date -u +%Y%m%d-%H%M%S).md"
loops="--schedule=norm:loops --schedule=elementwise:loops --schedule=embed:loops"

"$bin/mm-init-weights" "$CONFIG" -o "$work/weights.safetensors" --seed 1 >/dev/null
"$bin/mm-compile" "$CONFIG" --target="$TARGET" --gemm-kernels=false \
  -o "$work/linalg.mmx"
"$bin/mm-compile" "$CONFIG" --target="$TARGET" --gemm-kernels=false $loops \
  -o "$work/loops.mmx"

# counters VARIANT: the per-kind rows of mm-bench's counter table.
counters() {
  "$bin/mm-bench" "$work/$1.mmx" --device sim \
    --weights "$work/weights.safetensors" -p "$P" -n 0 -r 1 --counters 2>&1 |
    awk '/^\| kind \|/ { table = 1 }
         table && /^\| (kind|---|mm_(norm|elementwise|embed)_|total)/'
}

{
  echo "# Regular GPU kernels: default GPU schedules against the loop emitters ($name, pp$P, $TARGET, simulator)"
  echo
  echo "- commands:"
  echo "  \`mm-compile $(basename "$CONFIG") --target=$TARGET --gemm-kernels=false -o linalg.mmx\`"
  echo "  \`mm-compile $(basename "$CONFIG") --target=$TARGET --gemm-kernels=false $loops -o loops.mmx\`"
  echo "  \`mm-bench VARIANT.mmx --device sim --weights w.safetensors -p $P -n 0 -r 1 --counters\`"
  echo "  (\`bench/sim_regular_kinds.sh\`, CONFIG=$CONFIG P=$P TARGET=$TARGET)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: the simulator device on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); no GPU"
  echo
  echo "Counts are what the kernels did on the simulator; the est. column is a"
  echo "roofline ESTIMATE from those counts, not a measurement."
  echo
  echo "## Default GPU schedules"
  echo
  counters linalg
  echo
  echo "## Loop emitters (--schedule=KIND:loops)"
  echo
  counters loops
} > "$report"
cat "$report"
echo "(written to ${report#$root/})"
