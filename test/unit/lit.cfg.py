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

# The GPU artifacts' tests (MMCompiledSimTests) also run on a real GPU: the
# one MM_TEST_GPU_DEVICE names (cuda:0), or an NVIDIA GPU nvidia-smi sees.
if "MM_TEST_GPU_DEVICE" in os.environ:
    config.environment["MM_TEST_GPU_DEVICE"] = os.environ["MM_TEST_GPU_DEVICE"]
else:
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            listed = subprocess.run([smi, "-L"], capture_output=True,
                                    text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            listed = ""
        if listed.startswith("GPU 0"):
            config.environment["MM_TEST_GPU_DEVICE"] = "cuda:0"
