# -*- Python -*-
# lit configuration of the memmamba-mlir FileCheck tests.

import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "memmamba-mlir"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mm_obj_root, "test")
# Unit tests are their own suite (unit/lit.cfg.py); Inputs hold data files.
config.excludes = ["Inputs", "unit", "CMakeLists.txt", "lit.cfg.py"]

config.substitutions.append(
    ("%examples", os.path.join(config.mm_src_root, "examples")))
config.substitutions.append(("%mm_src_root", config.mm_src_root))
config.environment["FILECHECK_OPTS"] = "-enable-var-scope"

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["mm-opt", "mm-compile", "mm-init-weights", "mm-run", "mm-bench",
     "mm-sim-kernel", "mm-eval", "mm-tune"],
    [config.mm_tools_dir])
llvm_config.add_tool_substitutions(
    ["split-file", "llvm-nm", "llvm-readelf", "llvm-objdump", "llvm-strings"],
    [config.llvm_tools_dir])

# ptxas (the CUDA toolkit's PTX assembler) checks the generated PTX where it
# is installed; the GPU codegen tests need no GPU.
ptxas = shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
if os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# The fake CUDA driver and the hand-written GPU artifacts of the unit tests,
# for the tools' GPU paths without a GPU (tools/devices.test).
config.substitutions.append(
    ("%fake_cuda_driver",
     os.path.join(config.mm_obj_root, "test", "unit", "libfakecuda.so")))
config.substitutions.append(
    ("%fake_gpu_artifacts",
     os.path.join(config.mm_obj_root, "test", "unit", "fake-gpu-artifacts")))

# The fuzzer is built only where clang can link libFuzzer (test/fuzz).
if config.mm_fuzzer:
    config.available_features.add("fuzzer")
    llvm_config.add_tool_substitutions(
        ["mm-safetensors-fuzzer"], [os.path.dirname(config.mm_fuzzer)])

# PyTorch (Debian's python3-torch, which scripts/common.sh installs) runs
# python/memmamba, the second implementation of the spec, for the tests that
# compare it with the reference executor and use it as a direct computation.
import subprocess
import sys
if subprocess.run([sys.executable, "-c", "import torch"],
                  stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("torch")
config.environment["PYTHONPATH"] = os.path.join(config.mm_src_root, "python")
