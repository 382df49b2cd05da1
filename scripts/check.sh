#!/usr/bin/env bash
# Install what is missing, build, and run every test (lit FileCheck tests and
# GoogleTest unit tests, all through lit). Ends with "N passed, N failed".
set -euo pipefail
source "$(dirname "$0")/common.sh"
mm_install_missing
mm_build
echo "== running the tests"
results="$MM_BUILD_DIR/test-results.json"
status=0
"$MM_LLVM_DIR/bin/lit" -sv --output "$results" \
  "$MM_BUILD_DIR/test" "$MM_BUILD_DIR/test/unit" || status=$?
python3 "$MM_ROOT/scripts/summarize-lit.py" "$results"
exit $status
