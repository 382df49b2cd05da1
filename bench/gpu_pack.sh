#!/usr/bin/env bash
#===- bench/gpu_pack.sh - everything the GPU check needs, built here ------===#
#
# The GPU machine has no LLVM, no MLIR and no network, and is lent for
# minutes (bench/README.md). So everything is built and computed HERE and
# carried there in one folder (default gpu-pack/, ignored by git, at most
# 64 MiB with the rest of the working tree):
#
#   bin/      mm-run, mm-bench, mm-init-weights, built with LLVM's support
#             library and libstdc++ linked statically (MM_STATIC_LLVM_SUPPORT
#             in a build folder of their own): they need only glibc there
#   models/   each model's config and its artifact for $TARGET (cuda:sm_90),
#             host code for $HOST_CPU (x86-64-v3: the artifact must load on
#             the GPU machine's CPU, whatever it is)
#   tokens/   the prompts, one file per length, and the decode prompt
#   ref/      the reference executor's logits (a few positions of each
#             prompt: logits_check.py) and greedy decode tokens, computed
#             here because the reference is slow
#   models.txt, PACK.md, and the scripts that run there: gpu_run.sh,
#             logits_check.py, hf_timing.py, hf_compare.py
#
# Weights are not carried (the 130m shape is 520 MB in f32): mm-init-weights
# makes the same ones there from the same seed, and gpu_run.sh compares
# their SHA-256 with the one recorded here.
#
#   bench/gpu_pack.sh                   # compiler from build/, pack in gpu-pack/
#   MM_BUILD_DIR=build-h2 PACK=/tmp/p bench/gpu_pack.sh
#
# Environment: MM_BUILD_DIR (where mm-compile is built; default build),
# PACK_BUILD_DIR (the static runtime tools' build folder; default
# build-pack), PACK (default gpu-pack), TARGET (cuda:sm_90), HOST_CPU
# (x86-64-v3), SEED (1), DECODE (16 greedy steps), JOBS (reference runs at
# once; default 2), and MODELS to pack fewer models (names below).
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
pack_build="${PACK_BUILD_DIR:-$root/build-pack}"
pack="${PACK:-$root/gpu-pack}"
TARGET="${TARGET:-cuda:sm_90}"
HOST_CPU="${HOST_CPU:-x86-64-v3}"
SEED="${SEED:-1}"
DECODE="${DECODE:-16}"
JOBS="${JOBS:-2}"
LIMIT_BYTES=$((64 * 1024 * 1024))
start=$(date +%s)

# name, config (from the repository root), prompt lengths. The reference
# writes every position's logits, 50280 of them in f64 for the 130m shape:
# about 0.2 s a token for the 2-layer slice and 0.5 s on the 24-layer models
# here, so those stop at 600 and 256 tokens (prompts past 512 run in two
# chunks; memmamba-tiny goes to 4096).
all_models="memmamba-tiny mamba-130m-2l mamba-130m memmamba-24l"
MODELS="${MODELS:-$all_models}"
config_of() {
  case "$1" in
    memmamba-tiny) echo examples/memmamba-tiny.json ;;
    mamba-130m-2l) echo test/e2e/Inputs/mamba-130m-2l.json ;;
    mamba-130m) echo examples/mamba-130m.json ;;
    memmamba-24l) echo examples/memmamba-24l.json ;;
    *) echo "gpu_pack.sh: unknown model '$1' in MODELS (known: $all_models)" >&2
       return 1 ;;
  esac
}
lengths_of() {
  case "$1" in
    memmamba-tiny) echo "1 7 100 1000 4096" ;;
    mamba-130m-2l) echo "1 7 100 600" ;;
    *) echo "1 100 256" ;;
  esac
}

compiler="$build/bin/mm-compile"
if [ ! -x "$compiler" ]; then
  echo "gpu_pack.sh: no $compiler: build it first (ninja -C $build mm-compile)," \
       "or name another build folder with MM_BUILD_DIR" >&2
  exit 1
fi
for model in $MODELS; do config_of "$model" > /dev/null; done

echo "== runtime tools without libLLVM ($pack_build)"
if [ ! -f "$pack_build/build.ninja" ]; then
  mkdir -p "$pack_build"
  cmake -G Ninja -S "$root" -B "$pack_build" -DCMAKE_BUILD_TYPE=Release \
    -DMM_STATIC_LLVM_SUPPORT=ON > "$pack_build/configure.log" 2>&1 ||
    { cat "$pack_build/configure.log" >&2; exit 1; }
fi
ninja -C "$pack_build" -j"${NINJA_JOBS:-2}" mm-run mm-bench mm-init-weights |
  tail -1

rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/models" "$pack/tokens" "$pack/ref"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for tool in mm-run mm-bench mm-init-weights; do
  # The dynamic symbols stay (the artifacts bind to the exported mgpu*).
  strip --strip-unneeded -o "$pack/bin/$tool" "$pack_build/bin/$tool"
  # Only glibc's libraries, and zlib and zstd, which every Linux has.
  unexpected="$(readelf -d "$pack/bin/$tool" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' |
    grep -v -E '^(libc|libm|libdl|librt|libpthread|libz|libzstd)\.so\.[0-9]+$|^ld-linux' || true)"
  if [ -n "$unexpected" ]; then
    echo "gpu_pack.sh: $tool needs $unexpected, which the GPU machine may lack" \
         "(is $pack_build configured with -DMM_STATIC_LLVM_SUPPORT=ON?)" >&2
    exit 1
  fi
done
glibc="$(objdump -T "$pack/bin/"* | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
echo "tools need: $(readelf -d "$pack/bin/mm-run" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')(symbols up to $glibc)"

echo "== tokens"
lengths="$(for model in $MODELS; do lengths_of "$model"; done | tr ' ' '\n' | sort -un)"
for length in $lengths; do
  # Ids below 256: every model's vocabulary has them.
  python3 -c "import random; random.seed($length); print(' '.join(str(random.randrange(256)) for _ in range($length)))" \
    > "$pack/tokens/$length.txt"
done
python3 -c "import random; random.seed(7); print(' '.join(str(random.randrange(256)) for _ in range(16)))" \
  > "$pack/tokens/decode-prompt.txt"

echo "== artifacts for $TARGET (host code for $HOST_CPU), weights (seed $SEED)" \
     "and the reference executor's logits, $JOBS models at a time"
pack_model() { # model: its artifact, weights, logits and decode tokens
  local model="$1" config="$pack/models/$1.json" t0
  local weights="$work/$model.safetensors"
  cp "$root/$(config_of "$model")" "$config"
  # The compiler beside the reference (which needs only the config): on the
  # 24-layer models each takes minutes.
  (
    t0=$(date +%s)
    "$compiler" "$config" --target="$TARGET" --host-cpu="$HOST_CPU" \
      -o "$pack/models/$model.mmx"
    echo "$model: compiled in $(($(date +%s) - t0)) s," \
         "$(du -h "$pack/models/$model.mmx" | cut -f1)"
  ) &
  local compiling=$!
  "$pack/bin/mm-init-weights" "$config" -o "$weights" --seed "$SEED"
  sha256sum "$weights" | cut -d' ' -f1 > "$work/$model.sha256"
  for length in $(lengths_of "$model"); do
    t0=$(date +%s)
    "$pack/bin/mm-run" "$config" --backend=reference --weights "$weights" \
      --tokens "@$pack/tokens/$length.txt" -n 0 \
      --logits-out "$work/$model-$length.safetensors" > /dev/null 2>&1
    python3 "$root/bench/logits_check.py" rows \
      "$work/$model-$length.safetensors" "$pack/ref/$model-$length.safetensors"
    rm "$work/$model-$length.safetensors"
    echo "$model: reference prefill of $length tokens: $(($(date +%s) - t0)) s"
  done
  "$pack/bin/mm-run" "$config" --backend=reference --weights "$weights" \
    --tokens "@$pack/tokens/decode-prompt.txt" -n "$DECODE" \
    > "$pack/ref/$model-decode.txt" 2> /dev/null
  rm "$weights"
  wait "$compiling"
}
# The slowest first, so that the short ones fill in beside them.
order="$(for model in memmamba-24l mamba-130m mamba-130m-2l memmamba-tiny; do
  case " $MODELS " in *" $model "*) echo "$model" ;; esac
done)"
pids=()
for model in $order; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  pack_model "$model" > "$work/$model.log" 2>&1 &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
cat "$work"/*.log
if [ "$failed" != 0 ]; then
  echo "gpu_pack.sh: packing a model failed (its log is above)" >&2
  exit 1
fi

{
  echo "# model lengths weights-sha256 (mm-init-weights --seed $SEED)"
  for model in $MODELS; do
    echo "$model $(lengths_of "$model" | tr ' ' ',') $(cat "$work/$model.sha256")"
  done
} > "$pack/models.txt"
cp "$root/bench/gpu_run.sh" "$root/bench/logits_check.py" \
   "$root/bench/hf_timing.py" "$root/bench/hf_compare.py" "$pack/"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)"
{
  echo "# GPU check pack"
  echo
  echo "- made: $(date -u +%Y-%m-%dT%H:%M:%SZ) by bench/gpu_pack.sh, commit $commit$dirty"
  echo "- target: $TARGET, host code for $HOST_CPU; seed $SEED; $DECODE decode steps"
  echo "- tools: need $(readelf -d "$pack/bin/mm-run" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')(glibc symbols up to $glibc)"
  echo "- models (lengths, weights SHA-256): see models.txt"
  echo
  echo "Run it there: \`bash gpu-pack/gpu_run.sh\` (bench/README.md)."
} > "$pack/PACK.md"
echo "SEED=$SEED DECODE=$DECODE TARGET=$TARGET COMMIT=$commit" > "$pack/pack.env"

bytes="$(du -sb "$pack" | cut -f1)"
echo "== $pack: $(du -sh "$pack" | cut -f1) ($bytes bytes) in $(($(date +%s) - start)) s"
du -sh "$pack"/* | sort -h | tail -5
if [ "$bytes" -ge "$LIMIT_BYTES" ]; then
  echo "gpu_pack.sh: $pack is over 64 MiB, more than the device tool carries" >&2
  exit 1
fi
