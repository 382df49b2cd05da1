"""Counts the GEMM kernels in `ptxas -v` output (stdin) and those of them
with a stack frame or spills.

ptxas prints, per entry function:
  ptxas info    : Compiling entry function 'mm_gemm_0_0' for 'sm_90'
  ptxas info    : Function properties for mm_gemm_0_0
      0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
Prints "GEMM kernels: N, with stack or spills: S" and the offenders.
"""
import re
import sys


def main():
    kernels = 0
    offenders = []
    current = None
    for line in sys.stdin:
        match = re.search(r"Function properties for (\S+)", line)
        if match:
            current = match.group(1) if "_gemm_" in match.group(1) else None
            continue
        match = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                          r"(\d+) bytes spill loads", line)
        if match and current:
            kernels += 1
            if any(int(value) for value in match.groups()):
                offenders.append("%s: %s" % (current, line.strip()))
            current = None
    print("GEMM kernels: %d, with stack or spills: %d" % (kernels,
                                                         len(offenders)))
    for offender in offenders:
        print(offender)


if __name__ == "__main__":
    main()
