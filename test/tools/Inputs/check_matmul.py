"""Checks mm-sim-kernel --print output of a matrix product kernel.

Usage: mm-sim-kernel ... --print | check_matmul.py M N K
Arguments 0, 1 and 2 of the kernel are A [M, K], B [K, N] and D [M, N],
row-major; the inputs are integers small enough that f16 holds them and f32
sums them exactly, so D must equal A x B exactly.
"""
import sys


def main():
    m, n, k = (int(value) for value in sys.argv[1:4])
    args = {}
    for line in sys.stdin:
        if line.startswith("arg "):
            head, values = line.split(":", 1)
            args[int(head.split()[1])] = [float(v) for v in values.split()]
    a, b, d = args[0], args[1], args[2]
    if (len(a), len(b), len(d)) != (m * k, k * n, m * n):
        sys.exit("unexpected sizes %d, %d, %d" % (len(a), len(b), len(d)))
    wrong = []
    for i in range(m):
        for j in range(n):
            expected = sum(a[i * k + x] * b[x * n + j] for x in range(k))
            if d[i * n + j] != expected:
                wrong.append((i, j, d[i * n + j], expected))
    if wrong:
        i, j, got, expected = wrong[0]
        sys.exit("%d of %d elements wrong; D[%d][%d] = %g, expected %g"
                 % (len(wrong), m * n, i, j, got, expected))
    print("D = A x B exactly (%dx%d, k = %d)" % (m, n, k))


main()
