#!/usr/bin/env bash
# The CPU path against llama.cpp and the reference executor, and against the
# machine's limits, in one run (issue 15):
#
# - prefill (ppP) and generation (tgN) tokens/s of compiled mamba-130m and
#   memmamba-24l artifacts, f32 and bf16 weights, on the same random weights
#   (mm-init-weights, seed 0) that llama.cpp runs as a GGUF
#   (bench/safetensors_to_gguf.py): mamba-130m only, llama.cpp has no
#   MemMamba; the tools alternate, one repetition each per round, ROUNDS
#   rounds, so that the machine's drift affects all alike;
# - the reference executor at REF_LENGTH tokens (f32; plain loops);
# - the machine's FMA peak and read bandwidth (bench/machine/peaks.cpp), the
#   layer GEMMs' fraction of that peak at the 130m/24l shapes
#   (bench/linalg, M = 512 tokens), and decode's bytes read per token (the
#   artifact's weights but the embedding table, one embedding row, the
#   recurrent state read and written) against the read bandwidth.
#
# llama.cpp is built beside the project from its public source, never
# committed: LLAMA_BENCH names its llama-bench. Without it the llama.cpp
# columns stay empty. PYTHON must import gguf and numpy (pip install gguf
# numpy) to write the GGUFs.
#
#   LLAMA_BENCH=/work/llamacpp/build/bin/llama-bench bench/cpu_vs_llamacpp.sh
#   LENGTHS=512 GEN=32 ROUNDS=1 bench/cpu_vs_llamacpp.sh     # a quick look
#
# Writes a report (commands, versions, machine, date, tables) to
# bench/results/ and prints it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
LENGTHS="${LENGTHS:-512,8192}"
GEN="${GEN:-128}"
ROUNDS="${ROUNDS:-3}"
REF_LENGTH="${REF_LENGTH:-512}"
LLAMA_BENCH="${LLAMA_BENCH:-}"
PYTHON="${PYTHON:-python3}"
threads="$(nproc)"
llvm=/usr/lib/llvm-22
out="$root/bench/results"
work="$build/bench/cpu-vs-llamacpp"
mkdir -p "$out" "$work"
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$out/cpu_vs_llamacpp-$stamp.md"

# The machine's limits.
"$llvm/bin/clang++" -O3 -march=native -fopenmp "$root/bench/machine/peaks.cpp" \
  -L"$llvm/lib" -Wl,-rpath,"$llvm/lib" -o "$work/peaks"
"$work/peaks" 5 > "$work/peaks.json"
# The layer GEMMs at M = 512 (GF/s; the linalg column is the artifacts').
"$root/bench/linalg/run.sh" "$build" "$work/linalg" bench 512 7 \
  > "$work/gemms.txt"

# Weights, artifacts and GGUFs.
for model in mamba-130m memmamba-24l; do
  config="$root/examples/$model.json"
  [ -f "$work/$model.safetensors" ] ||
    "$bin/mm-init-weights" "$config" -o "$work/$model.safetensors"
  for precision in f32 bf16; do
    "$bin/mm-compile" "$config" --target=cpu --precision="$precision" \
      -o "$work/$model-$precision.mmx"
  done
done
if [ -n "$LLAMA_BENCH" ]; then
  for precision in f32 bf16; do
    "$PYTHON" "$root/bench/safetensors_to_gguf.py" \
      "$root/examples/mamba-130m.json" "$work/mamba-130m.safetensors" \
      --outtype "$precision" -o "$work/mamba-130m-$precision.gguf"
  done
fi

for round in $(seq "$ROUNDS"); do
  for model in mamba-130m memmamba-24l; do
    for precision in f32 bf16; do
      "$bin/mm-bench" "$work/$model-$precision.mmx" \
        --weights "$work/$model.safetensors" -p "$LENGTHS" -n "$GEN" -r 1 \
        -o json > "$work/ours-$model-$precision-$round.json"
      if [ -n "$LLAMA_BENCH" ] && [ "$model" = mamba-130m ]; then
        "$LLAMA_BENCH" -m "$work/mamba-130m-$precision.gguf" -p "$LENGTHS" \
          -n "$GEN" -r 1 -t "$threads" -o json \
          > "$work/llama-$model-$precision-$round.json" 2> /dev/null
      fi
    done
  done
done
for model in mamba-130m memmamba-24l; do
  "$bin/mm-bench" "$root/examples/$model.json" \
    --weights "$work/$model.safetensors" -p "$REF_LENGTH" -n 4 -r 1 -w 0 \
    -o json > "$work/reference-$model.json"
done

{
  echo "# The CPU path against llama.cpp, the reference executor and the machine"
  echo
  echo "- command: LENGTHS=$LENGTHS GEN=$GEN ROUNDS=$ROUNDS REF_LENGTH=$REF_LENGTH LLAMA_BENCH=$LLAMA_BENCH bench/cpu_vs_llamacpp.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $threads cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ -n "$LLAMA_BENCH" ]; then
    # The source it was built from: build/bin/llama-bench in a git checkout.
    source_dir="$(dirname "$LLAMA_BENCH")/../.."
    version="$(git -C "$source_dir" log -1 --format='commit %h of %cs' 2>/dev/null || echo "version unknown")"
    echo "- llama.cpp: $LLAMA_BENCH ($version), $threads threads"
  fi
  echo "- weights: random (mm-init-weights, seed 0); GGUFs by bench/safetensors_to_gguf.py"
  echo "- prefill (ppP): the last position's logits only, as generation needs (ours: the prefill_last entry; llama-bench: its default)"
  echo
} > "$report"
"$PYTHON" - "$work" "$ROUNDS" "$LENGTHS" "$GEN" >> "$report" <<'PY'
import json, os, re, statistics, sys
folder, rounds = sys.argv[1], int(sys.argv[2])
lengths = [int(x) for x in sys.argv[3].split(",")]
gen = int(sys.argv[4])
tests = [f"pp{p}" for p in lengths] + [f"tg{gen}"]

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return []

def test_name(row):
    # llama-bench names neither test: a prompt test has n_gen 0.
    if "test" in row:
        return row["test"]
    return f"tg{row['n_gen']}" if row["n_gen"] else f"pp{row['n_prompt']}"

def medians(prefix):
    runs = {}
    for r in range(1, rounds + 1):
        for row in load(os.path.join(folder, f"{prefix}-{r}.json")):
            runs.setdefault(test_name(row), []).append(row["avg_ts"])
    return {t: statistics.median(v) for t, v in runs.items()}

def manifest(path):
    data = open(path, "rb").read()
    start = data.find(b'{"abi_version"')
    return json.JSONDecoder().raw_decode(data[start:].decode("latin-1"))[0]

peaks = json.load(open(os.path.join(folder, "peaks.json")))
print("## Throughput (tokens/s, medians of the rounds)")
print()
print("| model | weights | test | ours | llama.cpp | ours / llama.cpp | reference | ours / reference |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
decode = []
for model in ("mamba-130m", "memmamba-24l"):
    reference = {test_name(r): r["avg_ts"] for r in
                 load(os.path.join(folder, f"reference-{model}.json"))}
    for precision in ("f32", "bf16"):
        ours = medians(f"ours-{model}-{precision}")
        llama = medians(f"llama-{model}-{precision}")
        for test in tests:
            o, l = ours.get(test), llama.get(test)
            # The reference decodes a few tokens only: its tg rate stands
            # for decode at any length.
            ref = None
            if precision == "f32":
                ref = reference.get(test) or next(
                    (v for t, v in reference.items()
                     if t.startswith("tg") and test.startswith("tg")), None)
            cells = [f"{o:.2f}" if o else "-", f"{l:.2f}" if l else "-",
                     f"{o / l:.2f}x" if o and l else "-",
                     f"{ref:.2f}" if ref else "-",
                     f"{o / ref:.1f}x" if o and ref else "-"]
            print(f"| {model} | {precision} | {test} | " + " | ".join(cells) + " |")
        # Bytes a decode step reads: every weight but the embedding table
        # (one row of it), and the recurrent state, read and written.
        m = manifest(os.path.join(folder, f"{model}-{precision}.mmx"))
        total, row = 0, 0
        for t in m["weights"]["tensors"]:
            n = 1
            for d in t["shape"]:
                n *= d
            size = n * (4 if t["dtype"] == "f32" else 2)
            if t["name"].endswith("embeddings.weight"):
                row = size // t["shape"][0]
            else:
                total += size
        rows = load(os.path.join(folder, f"ours-{model}-{precision}-1.json"))
        state = next((r["state_bytes_per_sequence"] for r in rows), 0)
        per_token = total + row + 2 * state
        rate = ours.get(f"tg{gen}")
        if rate:
            decode.append((model, precision, per_token, rate))
print()
print("memmamba-24l's time against mamba-130m's at the same shape (the memory")
print("path's cost; issue 15's bound: 1.25):")
print()
for precision in ("f32", "bf16"):
    base = medians(f"ours-mamba-130m-{precision}")
    memory = medians(f"ours-memmamba-24l-{precision}")
    ratios = [f"{t} {base[t] / memory[t]:.2f}" for t in tests
              if base.get(t) and memory.get(t)]
    print(f"- {precision}: " + ", ".join(ratios))
print()
print(f"## The machine's limits (bench/machine/peaks.cpp, {peaks['threads']} threads, {peaks['vector_bits']}-bit vectors)")
print()
print(f"- FMA peak: {peaks['fma_gflops']:.1f} GFLOP/s ({peaks['fma_gflops_1_thread']:.1f} on one thread)")
print(f"- read bandwidth: {peaks['read_gbs']:.1f} GB/s (copy {peaks['copy_gbs']:.1f} GB/s, read + write)")
print()
print("### The layer GEMMs at M = 512 tokens (bench/linalg; the linalg column is the artifacts' schedule)")
print()
print("| GEMM | N | K | GFLOP/s | fraction of the FMA peak |")
print("| --- | ---: | ---: | ---: | ---: |")
for line in open(os.path.join(folder, "gemms.txt")):
    f = line.split()
    if len(f) == 9 and f[0] in ("in_proj", "x_proj", "dt_proj", "out_proj"):
        gf = float(f[7])
        print(f"| {f[0]} | {f[2]} | {f[3]} | {gf:.1f} | {100 * gf / peaks['fma_gflops']:.0f}% |")
print()
print("### Decode against the read bandwidth")
print()
print("| model | weights | bytes read per token | tokens/s | GB/s | fraction of the read bandwidth |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for model, precision, per_token, rate in decode:
    gbs = per_token * rate / 1e9
    print(f"| {model} | {precision} | {per_token / 1e6:.1f} MB | {rate:.2f} | {gbs:.1f} | {100 * gbs / peaks['read_gbs']:.0f}% |")
PY
cat "$report"
echo "(written to ${report#$root/})"
