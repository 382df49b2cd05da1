"""Checks a scan kernel's global traffic on the simulator against the least
it can move: reads the minimum mm-test-scan-kernels recorded in MODULE and
the counters mm-sim-kernel printed (stdin), prints the ratios and fails when
either exceeds LIMIT.

    mm-sim-kernel ... --counters | check_scan_traffic.py MODULE LIMIT
"""
import re
import sys

module, limit = sys.argv[1], float(sys.argv[2])
text = open(module).read()
minimum = re.search(r"mm.test.scan_minimum_bytes = array<i64: (\d+), (\d+)>", text)
counted = re.search(r"global bytes read (\d+), written (\d+)", sys.stdin.read())
if not minimum or not counted:
    sys.exit("check_scan_traffic.py: no minimum in the module or no counters")
ratios = [int(c) / int(m) for c, m in zip(counted.groups(), minimum.groups())]
print("scan traffic: read %.3fx, written %.3fx of the minimum" % tuple(ratios))
for what, ratio in zip(("read", "written"), ratios):
    if ratio > limit:
        sys.exit("scan traffic: %s %.3fx is above %.2fx" % (what, ratio, limit))
    if ratio < 1:
        sys.exit("scan traffic: %s %.3fx is below the minimum" % (what, ratio))
