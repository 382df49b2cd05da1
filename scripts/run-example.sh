#!/usr/bin/env bash
# The main job: install what is missing, build, compile the shipped MemMamba
# (models/memmamba-passkey, trained by python/train_passkey.py) for the host
# CPU, and retrieve a passkey from a prompt of 100k tokens: prints the key it
# was given, the key it found, and the prefill's tokens per second.
# MM_PASSKEY_LENGTH and MM_PASSKEY_KEY change the prompt.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mm_install_missing
mm_build
out="$MM_BUILD_DIR/example"
mkdir -p "$out"
bin="$MM_BUILD_DIR/bin"
model="$MM_ROOT/models/memmamba-passkey"
length="${MM_PASSKEY_LENGTH:-100000}"
key="${MM_PASSKEY_KEY:-$(( (RANDOM * 32768 + RANDOM) % 90000 + 10000 ))}"
echo "== mm-compile models/memmamba-passkey --target=cpu -o $out/memmamba-passkey.mmx"
"$bin/mm-compile" "$model" --target=cpu -o "$out/memmamba-passkey.mmx"
echo "== mm-eval passkey (a prompt of $length tokens, the key at depth 0.5)"
"$bin/mm-eval" passkey "$out/memmamba-passkey.mmx" \
  --weights "$model/model.safetensors" --vocab "$model/vocab.txt" \
  --lengths "$length" --depths 0.5 --key "$key"
