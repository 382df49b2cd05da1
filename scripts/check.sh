#!/usr/bin/env bash
# Install what is missing, build, and run every test (lit FileCheck tests and
# GoogleTest unit tests, all through lit). Ends with "N passed, N failed".
set -euo pipefail
source "$(dirname "$0")/common.sh"
mm_install_missing
mm_build
echo "== running the tests"
results="$MM_BUILD_DIR/test-results.xml"
status=0
"$MM_LLVM_DIR/bin/lit" -sv --xunit-xml-output "$results" \
  "$MM_BUILD_DIR/test" "$MM_BUILD_DIR/test/unit" || status=$?

# The runtime and its unit tests again, under AddressSanitizer and
# UndefinedBehaviorSanitizer (MM_SKIP_SANITIZERS=1 skips this).
sanitized="$MM_BUILD_DIR-sanitizers"
sanitized_results="$sanitized/test-results.xml"
if [ "${MM_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== the runtime tests under ASan and UBSan ($sanitized)"
  # The test artifacts come from the main build's compiler (not
  # instrumented either way): this build compiles only common/, runtime/
  # and test/unit/. At -O1, as sanitizers are usually run: -O3 doubles the
  # compile time of the instrumented tests and finds nothing more.
  if [ ! -f "$sanitized/build.ninja" ]; then
    cmake -G Ninja -S "$MM_ROOT" -B "$sanitized" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DCMAKE_C_FLAGS_RELEASE=-O1 \
      -DMM_SANITIZE=ON -DMLIR_DIR="$MM_LLVM_DIR/lib/cmake/mlir" \
      -DMM_TEST_COMPILER="$MM_BUILD_DIR/bin/mm-compile" \
      -DLLVM_EXTERNAL_LIT="$MM_LLVM_DIR/bin/lit"
  fi
  ASAN_OPTIONS=detect_leaks=0 cmake --build "$sanitized" --target \
    MMUnitTests MMRuntimeTests MMCompiledTests MMGpuTests MMCompiledGpuTests \
    -- ${MM_JOBS:+-j "$MM_JOBS"}
  # One OpenMP thread: LeakSanitizer's exit-time scan crashes on libomp's
  # worker threads (the parallel code paths are covered by the main run).
  # Allocations too large for the machine return NULL (std::bad_alloc), as
  # they do without ASan: the runtime reports them as errors.
  OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    "$MM_LLVM_DIR/bin/lit" -sv --xunit-xml-output "$sanitized_results" \
    "$sanitized/test/unit" || status=$?
else
  sanitized_results=""
fi
python3 "$MM_ROOT/scripts/summarize-lit.py" "$results" $sanitized_results
exit $status
