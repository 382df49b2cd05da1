"""Compares the logits tensors of two safetensors files written by mm-run
(compiled vs reference): prints the relative error ||a - b|| / ||b|| of each
and exits non-zero if one exceeds the tolerance (spec invariant 5). With
--measured, each line also gives the error itself (how docs/precision.md
measured its bounds)."""

import json
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = struct.unpack(f"<{(end - begin) // 4}f",
                                      data[begin:end])
    return tensors


def main():
    args = [arg for arg in sys.argv[1:] if arg != "--measured"]
    measured = len(args) != len(sys.argv) - 1
    ours, reference, tolerance = read(args[0]), read(args[1]), float(args[2])
    ok = sorted(ours) == sorted(reference)
    for name in sorted(reference):
        a, b = ours.get(name, ()), reference[name]
        if len(a) != len(b):
            print(f"{name}: {len(a)} values vs {len(b)}")
            ok = False
            continue
        diff = sum((x - y) ** 2 for x, y in zip(a, b))
        norm = sum(y * y for y in b)
        error = math.sqrt(diff / norm)
        print(f"{name}: relative error {'below' if error < tolerance else 'ABOVE'} {tolerance}"
              + (f" (measured {error:.3e})" if measured else ""))
        ok = ok and error < tolerance
    sys.exit(0 if ok else 1)


main()
