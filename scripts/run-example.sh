#!/usr/bin/env bash
# The main job: install what is missing, build, compile the tiny MemMamba
# example for the host CPU, give it random weights, and run a prompt plus
# greedy generation, printing the tokens and llama.cpp-style timings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mm_install_missing
mm_build
out="$MM_BUILD_DIR/example"
mkdir -p "$out"
bin="$MM_BUILD_DIR/bin"
echo "== mm-compile examples/memmamba-tiny.json --target=cpu -o $out/memmamba-tiny.mmx"
"$bin/mm-compile" "$MM_ROOT/examples/memmamba-tiny.json" --target=cpu \
  -o "$out/memmamba-tiny.mmx"
echo "== mm-init-weights examples/memmamba-tiny.json -o $out/memmamba-tiny.safetensors"
"$bin/mm-init-weights" "$MM_ROOT/examples/memmamba-tiny.json" --seed 1 \
  -o "$out/memmamba-tiny.safetensors"
echo "== mm-run (prompt of 512 tokens, 64 generated)"
prompt=$(seq -s, 1 512 | awk -F, '{for (i = 1; i <= NF; i++) printf "%s%d", (i > 1 ? "," : ""), ($i * 37) % 256}')
"$bin/mm-run" "$out/memmamba-tiny.mmx" --weights "$out/memmamba-tiny.safetensors" \
  --tokens "$prompt" -n 64
