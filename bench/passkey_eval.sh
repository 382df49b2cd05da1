#!/usr/bin/env bash
# Passkey retrieval and memory fidelity of the shipped models
# (models/memmamba-passkey and models/mamba-passkey), through compiled CPU
# artifacts, in one run: mm-eval passkey at LENGTHS x five depths x TRIALS
# keys (seed SEED), then mm-eval fidelity on a passkey prompt of
# FIDELITY_LENGTH tokens. Writes into bench/results/passkey-DATE/: per model
# the JSON, the heatmap (SVG), the fidelity CSV and curves (SVG), and
# report.md (command, machine, date, commit, tables).
#
#   bench/passkey_eval.sh                                  # 1k..400k, 4 keys
#   LENGTHS=1k,10k TRIALS=2 bench/passkey_eval.sh          # quick
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MM_BUILD_DIR:-$root/build}"
bin="$build/bin"
MODELS="${MODELS:-memmamba-passkey mamba-passkey}"
LENGTHS="${LENGTHS:-1k,10k,100k,400k}"
DEPTHS="${DEPTHS:-0,0.25,0.5,0.75,1}"
TRIALS="${TRIALS:-4}"
SEED="${SEED:-1}"
FIDELITY_LENGTH="${FIDELITY_LENGTH:-2000}"
out="$root/bench/results/passkey-$(date -u +%Y%m%d-%H%M%S)"
work="$build/bench/passkey"
mkdir -p "$out" "$work"
report="$out/report.md"

{
  echo "# Passkey retrieval and memory fidelity of the shipped models"
  echo
  echo "- command: MODELS=\"$MODELS\" LENGTHS=$LENGTHS DEPTHS=$DEPTHS TRIALS=$TRIALS SEED=$SEED FIDELITY_LENGTH=$FIDELITY_LENGTH bench/passkey_eval.sh"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc --all) cores (OMP_NUM_THREADS=${OMP_NUM_THREADS:-all}), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- models: models/<name> (config.json, model.safetensors, vocab.txt), compiled for the host CPU"
  echo
} > "$report"

for model in $MODELS; do
  folder="$root/models/$model"
  artifact="$work/$model.mmx"
  "$bin/mm-compile" "$folder" --target=cpu -o "$artifact"
  echo "## $model: passkey" >> "$report"
  echo >> "$report"
  echo '```' >> "$report"
  "$bin/mm-eval" passkey "$artifact" --weights "$folder/model.safetensors" \
    --vocab "$folder/vocab.txt" --lengths "$LENGTHS" --depths "$DEPTHS" \
    --trials "$TRIALS" --seed "$SEED" --json "$out/$model-passkey.json" \
    --heatmap "$out/$model-passkey.svg" | tee -a "$report"
  echo '```' >> "$report"
  echo >> "$report"
  # Fidelity on the passkey prompt (key in the middle): the reference
  # executor's residual streams, perturbing filler and key tokens alike.
  PYTHONPATH="$root/python" python3 -m memmamba.passkey \
    --length "$FIDELITY_LENGTH" --depth 0.5 --key 12345 > "$work/fidelity-ids.txt"
  echo "## $model: fidelity (prompt of $FIDELITY_LENGTH tokens, key at depth 0.5)" >> "$report"
  echo >> "$report"
  echo '```' >> "$report"
  "$bin/mm-eval" fidelity "$folder" --tokens "@$work/fidelity-ids.txt" \
    --positions 32 --max-distance 512 --seed "$SEED" \
    --csv "$out/$model-fidelity.csv" --svg "$out/$model-fidelity.svg" \
    | tee -a "$report"
  echo '```' >> "$report"
  echo >> "$report"
done
echo "report: $report"
