#!/usr/bin/env bash
# The main job: install what is missing, build, then import the paper's
# 24-layer MemMamba config and print its mm IR. (The CPU compile-and-run path
# replaces this in a later stage.)
set -euo pipefail
source "$(dirname "$0")/common.sh"
mm_install_missing
mm_build
echo "== mm-compile examples/memmamba-24l.json --emit=mm"
"$MM_BUILD_DIR/bin/mm-compile" "$MM_ROOT/examples/memmamba-24l.json" --emit=mm
