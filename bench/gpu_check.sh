#!/usr/bin/env bash
# The GPU check is two steps now (bench/README.md): the GPU machine has no
# LLVM, no MLIR and no network, so nothing can be built there.
#
#   bench/gpu_pack.sh                    # here: tools, artifacts, reference
#                                        # logits, into gpu-pack/ (< 64 MiB)
#   bash gpu-pack/gpu_run.sh             # there, through the device tool:
#                                        # run(command=..., carry=["gpu-pack"])
#   DEVICE=sim bash gpu-pack/gpu_run.sh  # here, on the simulator
#
# This wrapper runs whichever step fits the machine it is on: the run when
# a pack is there and nvidia-smi answers, the pack otherwise.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pack="${PACK:-$root/gpu-pack}"
if [ -x "$pack/gpu_run.sh" ] && nvidia-smi > /dev/null 2>&1; then
  exec bash "$pack/gpu_run.sh" "$@"
fi
echo "gpu_check.sh: no GPU or no pack here: making the pack (bench/gpu_pack.sh);" \
     "then run gpu-pack/gpu_run.sh on the GPU machine (bench/README.md)"
exec "$root/bench/gpu_pack.sh" "$@"
