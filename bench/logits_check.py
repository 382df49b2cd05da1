#!/usr/bin/env python3
"""Reference logits small enough to carry, and the check against them.

The GPU check (bench/gpu_pack.sh here, bench/gpu_run.sh on the GPU machine)
cannot carry every position's logits of the 130m shape (512 tokens x 50280
floats is 100 MB) nor compute them there (the reference executor is slow), so
the pack keeps a few rows of each:

  logits_check.py rows FULL OUT [--rows K]
      FULL is mm-run's --logits-out file ("logits" [T, V], float32); OUT gets
      K evenly spaced positions, the first and the last included, as
      "logits" [K, V], their positions in the metadata ("rows").
  logits_check.py compare OURS REF [--tolerance 1e-3]
      Reads from OURS (a full --logits-out file) the rows REF holds and
      prints ||ours - ref|| / ||ref|| over them; exits 1 if it is not below
      the tolerance (NaN never is), 2 if the files do not match in shape.

Plain Python (struct, no numpy): it reads only the rows it needs, so it runs
anywhere python3 does, in seconds.
"""

import argparse
import json
import math
import struct
import sys


def read_header(f):
    (size,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(size))
    return header, 8 + size


def tensor_info(header, path):
    info = header.get("logits")
    if info is None:
        raise SystemExit(f"{path}: no tensor 'logits' (a batch? give one "
                         f"sequence)")
    if info["dtype"] != "F32" or len(info["shape"]) != 2:
        raise SystemExit(f"{path}: 'logits' is {info['dtype']} "
                         f"{info['shape']}, expected F32 [T, V]")
    return info


def read_rows(path, rows):
    """The rows `rows` of `path`'s logits [T, V], and (T, V)."""
    with open(path, "rb") as f:
        header, data_start = read_header(f)
        info = tensor_info(header, path)
        positions, vocab = info["shape"]
        begin = data_start + info["data_offsets"][0]
        out = []
        for row in rows:
            if row >= positions:
                raise SystemExit(f"{path}: has {positions} positions, no "
                                 f"row {row}")
            f.seek(begin + row * vocab * 4)
            out.append(struct.unpack(f"<{vocab}f", f.read(vocab * 4)))
    return out, (positions, vocab)


def pick_rows(positions, count):
    if positions <= count:
        return list(range(positions))
    return sorted({round(i * (positions - 1) / (count - 1))
                   for i in range(count)})


def write_rows(path, rows, values, positions, vocab):
    data = b"".join(struct.pack(f"<{vocab}f", *row) for row in values)
    header = {
        "__metadata__": {"rows": ",".join(map(str, rows)),
                         "positions": str(positions)},
        "logits": {"dtype": "F32", "shape": [len(rows), vocab],
                   "data_offsets": [0, len(data)]},
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


def cmd_rows(args):
    with open(args.full, "rb") as f:
        header, _ = read_header(f)
    positions, vocab = tensor_info(header, args.full)["shape"]
    rows = pick_rows(positions, args.rows)
    values, _ = read_rows(args.full, rows)
    write_rows(args.out, rows, values, positions, vocab)
    return 0


def cmd_compare(args):
    with open(args.ref, "rb") as f:
        header, _ = read_header(f)
    meta = header.get("__metadata__", {})
    rows = [int(r) for r in meta.get("rows", "").split(",") if r]
    positions = int(meta.get("positions", "0"))
    reference, (count, vocab) = read_rows(args.ref, range(len(rows)))
    with open(args.ours, "rb") as f:
        ours_header, _ = read_header(f)
    ours_shape = tensor_info(ours_header, args.ours)["shape"]
    if ours_shape != [positions, vocab]:
        print(f"shape {ours_shape}, reference [{positions}, {vocab}]")
        return 2
    ours, _ = read_rows(args.ours, rows)
    diff = norm = 0.0
    for a, b in zip(ours, reference):
        diff += sum((x - y) ** 2 for x, y in zip(a, b))
        norm += sum(y * y for y in b)
    error = math.sqrt(diff / norm) if norm > 0 else float("nan")
    ok = error < args.tolerance  # False for NaN
    where = ",".join(map(str, rows))
    print(f"relative error {error:.2e} {'<' if ok else 'NOT <'} "
          f"{args.tolerance:g} (positions {where} of {positions})")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rows = sub.add_parser("rows", help="keep a few positions of FULL")
    rows.add_argument("full")
    rows.add_argument("out")
    rows.add_argument("--rows", type=int, default=4)
    compare = sub.add_parser("compare", help="check OURS against REF")
    compare.add_argument("ours")
    compare.add_argument("ref")
    compare.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    if args.command == "rows" and args.rows < 2:
        parser.error("--rows must be at least 2 (the first and the last)")
    return cmd_rows(args) if args.command == "rows" else cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())
