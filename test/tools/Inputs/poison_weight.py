"""Copies a safetensors file of F32 tensors, writing VALUE (nan or inf) into
element 0 of tensor NAME: a checkpoint damaged on disk or diverged in
training. Independent of the project's reader."""

import json
import struct
import sys

source, target, name, value = sys.argv[1:5]
data = bytearray(open(source, "rb").read())
(size,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + size])
start = 8 + size + header[name]["data_offsets"][0]
data[start:start + 4] = struct.pack("<f", float(value))
open(target, "wb").write(data)
