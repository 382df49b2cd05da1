#!/usr/bin/env bash
# The GPU check of issue 5, in one call on the device machine (an H100/H200
# with CUDA, PyTorch and transformers): builds the project, compiles
# memmamba-tiny, the mamba-130m shape and memmamba-24l for the GPU, and
#   1. compares prefill logits (several lengths) and 64 greedy decode steps
#      with the reference executor (relative error < 1e-3, fp32);
#   2. compares the reference (hence, by 1., the GPU code) with Hugging Face
#      transformers' MambaForCausalLM on the same random weights
#      (bench/hf_compare.py);
#   3. times prefill and decode tokens/s of the compiled GPU artifacts and of
#      transformers on the same GPU (eager PyTorch and torch.compile), as
#      ratios (bench/hf_timing.py).
# Logs and the table go to $OUT (the device tool's output folder) or
# bench/results/gpu-<date>/; the table is printed last.
#
#   bench/gpu_check.sh                      # on the device machine
#   TARGET=cuda:sm_80 bench/gpu_check.sh    # another chip
#
# The reference executor is single-threaded plain C++ (about 10 tokens/s on
# the 130m shape), so the long lengths run on memmamba-tiny only
# (TINY_LENGTHS) and the large models use BIG_LENGTHS.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build-gpu}"
OUT="${OUT:-$root/bench/results/gpu-$(date -u +%Y%m%d-%H%M%S)}"
TINY_LENGTHS="${TINY_LENGTHS:-1 100 2048 16384}"
BIG_LENGTHS="${BIG_LENGTHS:-1 100 512}"
DECODE="${DECODE:-64}"
mkdir -p "$OUT"
log="$OUT/gpu_check.log"
table="$OUT/gpu_check.md"
exec > >(tee -a "$log") 2>&1

if [ -z "${TARGET:-}" ]; then
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1)"
  TARGET="cuda:sm_${cap/./}"
  # Newer chips run sm_90 PTX through the driver's JIT.
  case "$TARGET" in cuda:sm_80|cuda:sm_86|cuda:sm_89|cuda:sm_90) ;; *) TARGET=cuda:sm_90 ;; esac
fi
device="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
{
  echo "# GPU check"
  echo
  echo "- command: TARGET=$TARGET bench/gpu_check.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- device: $device"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
} > "$table"

echo "== build"
cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$OUT/build.log"
ninja -C "$build" mm-compile mm-run mm-bench mm-init-weights >> "$OUT/build.log"
bin="$build/bin"
"$bin/mm-run" --list-devices

tokens() { # count seed -> a file of random token ids below 256
  python3 -c "import random,sys; random.seed($2); print(' '.join(str(random.randrange(256)) for _ in range($1)))" > "$3"
}

echo "| model | check | result |" >> "$table"
echo "| --- | --- | --- |" >> "$table"
status=0
for model in memmamba-tiny mamba-130m memmamba-24l; do
  config="$root/examples/$model.json"
  artifact="$OUT/$model.mmx"
  weights="$OUT/$model.safetensors"
  echo "== $model"
  "$bin/mm-compile" "$config" --target="$TARGET" -o "$artifact"
  "$bin/mm-init-weights" "$config" -o "$weights"
  lengths="$BIG_LENGTHS"
  [ "$model" = memmamba-tiny ] && lengths="$TINY_LENGTHS"
  for length in $lengths; do
    tokens "$length" "$length" "$OUT/tokens-$length.txt"
    "$bin/mm-run" "$artifact" --device cuda:0 --weights "$weights" \
      --tokens "@$OUT/tokens-$length.txt" -n 0 --logits-out "$OUT/gpu.safetensors" > /dev/null
    "$bin/mm-run" "$config" --backend=reference --weights "$weights" \
      --tokens "@$OUT/tokens-$length.txt" -n 0 --logits-out "$OUT/ref.safetensors" > /dev/null
    if result="$(python3 "$root/test/e2e/Inputs/compare_logits.py" "$OUT/gpu.safetensors" "$OUT/ref.safetensors" 1e-3)"; then
      echo "| $model | prefill $length vs reference | ok: $result |" >> "$table"
    else
      echo "| $model | prefill $length vs reference | FAILED: $result |" >> "$table"; status=1
    fi
  done
  # Greedy decoding: the same tokens on both backends.
  tokens 16 7 "$OUT/prompt.txt"
  gpu_out="$("$bin/mm-run" "$artifact" --device cuda:0 --weights "$weights" --tokens "@$OUT/prompt.txt" -n "$DECODE" | grep -v '^mm_perf')"
  ref_out="$("$bin/mm-run" "$config" --backend=reference --weights "$weights" --tokens "@$OUT/prompt.txt" -n "$DECODE" | grep -v '^mm_perf')"
  if [ "$gpu_out" = "$ref_out" ]; then
    echo "| $model | $DECODE greedy decode steps vs reference | ok: same tokens |" >> "$table"
  else
    echo "| $model | $DECODE greedy decode steps vs reference | FAILED: tokens differ |" >> "$table"; status=1
  fi
done

echo "== transformers"
python3 "$root/bench/hf_compare.py" --mm-run "$bin/mm-run" --out "$OUT" || status=1
echo "| reference | logits vs transformers (hf_compare) | see hf_compare.json |" >> "$table"
python3 "$root/bench/hf_timing.py" --mm-bench "$bin/mm-bench" \
  --artifact "$OUT/mamba-130m.mmx" --config "$root/examples/mamba-130m.json" \
  --out "$OUT" >> "$table" || status=1

cat "$table"
exit $status
