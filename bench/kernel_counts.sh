#!/usr/bin/env bash
# GPU kernels per artifact and compile time, against the layer count and
# against a baseline mm-compile (an earlier revision built elsewhere), in one
# run: memmamba-24l's shape with 6, 12 and 24 layers and the mamba-130m
# shape, for one GPU target. Kernels are counted in the PTX (.entry) or GCN
# (.amdhsa_kernel) the compiler emits; compile time is the wall and the CPU
# time of `mm-compile -o` on this machine. Writes a report (command, machine, date,
# table) to bench/results/ and prints it.
#
#   BASELINE=/path/to/old/build/bin bench/kernel_counts.sh
#   TARGET=hip:gfx942 bench/kernel_counts.sh       # no baseline column
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
TARGET="${TARGET:-cuda:sm_90}"
BASELINE="${BASELINE:-}"
out="$root/bench/results"
work="$build/bench/kernel-counts"
mkdir -p "$out" "$work"
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$out/kernel-counts-${TARGET/:/-}-$stamp.md"

# The configs: the examples, and memmamba-24l cut to fewer layers.
python3 - "$root/examples" "$work" <<'PY'
import json, os, sys
examples, work = sys.argv[1:]
base = json.load(open(os.path.join(examples, "memmamba-24l.json")))
for layers in (6, 12, 24):
    config = dict(base, num_hidden_layers=layers)
    json.dump(config, open(os.path.join(work, f"memmamba-{layers}l.json"), "w"))
json.dump(json.load(open(os.path.join(examples, "mamba-130m.json"))),
          open(os.path.join(work, "mamba-130m.json"), "w"))
PY

# kernels COMPILER CONFIG: the number of kernels in the device code.
kernels() {
  "$1/mm-compile" "$2" --target="$TARGET" --emit=isa |
    grep -cE '^\.(visible )?\.entry |^\s*\.amdhsa_kernel ' || true
}
# seconds COMPILER CONFIG: wall and CPU (user + system) seconds of compiling
# the artifact; on a busy machine the CPU time is the figure to compare.
seconds() {
  /usr/bin/time -f '%e %U %S' -o "$work/time.txt" \
    "$1/mm-compile" "$2" --target="$TARGET" -o "$work/artifact.mmx"
  read -r wall user sys < "$work/time.txt"
  python3 -c "print(f'{$wall:.1f} | {$user + $sys:.1f}')"
}

{
  echo "# GPU kernels per artifact and compile time ($TARGET)"
  echo
  echo "- command: TARGET=$TARGET BASELINE=${BASELINE:-(none)} bench/kernel_counts.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [ -n "$BASELINE" ] && echo "- baseline: $BASELINE"
  echo
  if [ -n "$BASELINE" ]; then
    echo "| config | kernels | compile wall s | compile CPU s | baseline kernels | baseline wall s | baseline CPU s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  else
    echo "| config | kernels | compile wall s | compile CPU s |"
    echo "| --- | ---: | ---: | ---: |"
  fi
  for model in memmamba-6l memmamba-12l memmamba-24l mamba-130m; do
    config="$work/$model.json"
    row="| $model | $(kernels "$bin" "$config") | $(seconds "$bin" "$config")"
    if [ -n "$BASELINE" ]; then
      row="$row | $(kernels "$BASELINE" "$config") | $(seconds "$BASELINE" "$config")"
    fi
    echo "$row |"
  done
} > "$report"
cat "$report"
echo "(written to ${report#$root/})"
