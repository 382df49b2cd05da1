# -*- Python -*-
# lit configuration of the unit tests: every GoogleTest binary named *Tests in
# the unit test build folder.

import os

import lit.formats

config.name = "memmamba-mlir-unit"
config.suffixes = []
config.test_source_root = config.mm_unit_test_dir
config.test_exec_root = config.mm_unit_test_dir
config.test_format = lit.formats.GoogleTest(".", "Tests")

# The sanitizer run (scripts/check.sh) configures the sanitizers and OpenMP
# through the environment, which lit does not pass on by default.
for name in ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
             "OMP_NUM_THREADS"]:
    if name in os.environ:
        config.environment[name] = os.environ[name]
