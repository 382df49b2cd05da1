"""Prints a safetensors file's tensors ("name DTYPE [shape]", in data order)
and its metadata, for FileCheck. Independent of the project's reader."""

import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (size,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(size))
meta = header.pop("__metadata__", {})
for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
    shape = ", ".join(str(d) for d in info["shape"])
    print(f"{name} {info['dtype']} [{shape}]")
print("metadata " + " ".join(f"{k}={v}" for k, v in sorted(meta.items())))
