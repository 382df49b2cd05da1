"""Runs GEMM kernels (mm-opt --mm-test-gemm-kernels) on the simulator.

Usage: run_gemm_cases.py MM_OPT MM_SIM_KERNEL TARGET CASE...
where CASE is STRATEGY:A:W:N:K:M[,M...][:TILE=V...], e.g.
  mma:bf16:bf16:37:29:1,7,100,1000
  simt:f32:f32:3072:768:1,7
  mma:f32:bf16:80:1536:7:block-m=32:stages=2
Each (case, M) builds the kernel with the tile options, launches it with
mm-sim-kernel on random inputs (C prefilled with 12345, so an element never
written fails) and compares C with the host product in double on the same
rounded inputs (mm-sim-kernel --check-gemm). Prints one line per run; exits
non-zero at the first failure, with the tools' output.
"""
import re
import subprocess
import sys


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write("FAILED: %s\n%s%s" % (" ".join(command), result.stdout,
                                              result.stderr))
        sys.exit(1)
    return result.stdout


def main():
    mm_opt, mm_sim_kernel, target = sys.argv[1:4]
    for case in sys.argv[4:]:
        fields = case.split(":")
        strategy, a, w, n, k, ms = fields[:6]
        tiles = fields[6:]
        rounding = "none"
        tolerance = "1e-5"
        if strategy != "simt" and (a != "f32" or w != "f32"):
            # The tensor cores (and gemv) multiply the 16-bit type; an f32
            # operand is rounded to it on the way.
            rounding = w if w != "f32" else a
        for m in ms.split(","):
            options = ["target=" + target, "strategy=" + strategy, "a=" + a,
                       "w=" + w, "n=" + n, "k=" + k, "m=" + m] + tiles
            module = run([mm_opt, "--mm-test-gemm-kernels=" +
                          " ".join(options)])
            launch = re.search(r'mm.test.gemm_launch = "([^"]*)"', module)
            if not launch:
                sys.exit("no mm.test.gemm_launch in the module of " + case)
            path = "gemm-%s-%s-%s-%s-%s-%s.mlir" % (
                target.replace(":", "_"), strategy, a, w, n, k)
            with open(path, "w") as out:
                out.write(module)
            output = run([mm_sim_kernel, path, "--target=" + target,
                          "--kernel=gemm"] + launch.group(1).split() +
                         ["--arg=random:%sx%s" % (m, k), "--arg=random",
                          "--arg=fill=12345:%sx%s" % (m, n),
                          "--check-gemm=0,1,2", "--gemm-round=" + rounding,
                          "--tolerance=" + tolerance])
            check = [line for line in output.splitlines()
                     if line.startswith("gemm check")]
            print("%s %s %s*%s -> %s" % (target, strategy, a, w, check[0]))
            sys.stdout.flush()


main()
