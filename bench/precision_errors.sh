#!/usr/bin/env bash
# The error of reduced-precision artifacts against the reference executor in
# the same precision (docs/precision.md): for each model, precision, device
# and seed, the relative error ||compiled - reference|| / ||reference|| of
# the logits of prompts of 1, 7 and 300 tokens (each its own row), where
# both sides round the matrix products' weights and inputs alike
# (mm-compile --precision, mm-run --precision); then, for scale, the
# reference in that precision against the reference in f32 (what the
# rounding itself costs). Also checks that greedy tokens and each layer's
# pool positions (the memory path's decisions) agree. Prints a table.
#
#   bench/precision_errors.sh                               # CPU and simulator
#   DEVICES=cpu SEEDS="5 6" bench/precision_errors.sh       # quick
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MM_BUILD_DIR:-$root/build}/bin"
SEEDS="${SEEDS:-5 6 7}"
DEVICES="${DEVICES:-cpu sim}"
PRECISIONS="${PRECISIONS:-bf16 f16}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
compare="$root/test/e2e/Inputs/compare_logits.py"
models=("$root/examples/memmamba-tiny.json"
        "$root/test/e2e/Inputs/memmamba-fifo-p2.json"
        "$root/test/e2e/Inputs/mamba-small.json")
python3 -c "import random; random.seed(1); print(' '.join(str(random.randrange(256)) for _ in range(300)))" > "$work/ids300.txt"
prompts=(--tokens 17 --tokens 3,1,4,1,5,9,2 --tokens "@$work/ids300.txt")

errors() { # compiled reference -> "e1 e2 e3"
  python3 "$compare" "$1" "$2" 1 --measured | sed 's/.*(measured \(.*\))/\1/' | tr '\n' ' '
}

echo "| model | precision | device | seed | vs reference in it (1, 7, 300 tokens) | tokens | pools | reference vs f32 reference |"
echo "|---|---|---|---|---|---|---|---|"
for model in "${models[@]}"; do
  name="$(basename "$model" .json)"
  for precision in $PRECISIONS; do
    for device in $DEVICES; do
      target=cpu
      [ "$device" = sim ] && target=cuda:sm_90
      "$bin/mm-compile" "$model" --target=$target --precision=$precision \
        -o "$work/$name.mmx"
      for seed in $SEEDS; do
        "$bin/mm-init-weights" "$model" -o "$work/w.safetensors" --seed "$seed"
        "$bin/mm-run" "$work/$name.mmx" --device $device \
          --weights "$work/w.safetensors" "${prompts[@]}" -n 16 \
          --logits-out "$work/c.st" --pools-out "$work/c.pools" \
          > "$work/c.txt" 2>/dev/null
        "$bin/mm-run" "$model" --precision=$precision \
          --weights "$work/w.safetensors" "${prompts[@]}" -n 16 \
          --logits-out "$work/r.st" --pools-out "$work/r.pools" \
          > "$work/r.txt" 2>/dev/null
        "$bin/mm-run" "$model" --weights "$work/w.safetensors" "${prompts[@]}" \
          -n 0 --logits-out "$work/f.st" > /dev/null 2>&1
        same() { cmp -s "$1" "$2" && echo same || echo DIFFERENT; }
        echo "| $name | $precision | $device | $seed | $(errors "$work/c.st" "$work/r.st")| $(same "$work/c.txt" "$work/r.txt") | $(same "$work/c.pools" "$work/r.pools") | $(errors "$work/r.st" "$work/f.st")|"
      done
    done
  done
done
