"""Copies an f32 safetensors file (as mm-init-weights writes it), setting
element INDEX of tensor NAME to VALUE: a checkpoint with one value a reduced
precision cannot hold (beyond f16's 65504, say).

Usage: set_weight.py IN OUT NAME INDEX VALUE"""

import json
import struct
import sys

source, target, name, index, value = sys.argv[1:6]
data = bytearray(open(source, "rb").read())
(size,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + size])
info = header[name]
assert info["dtype"] == "F32", f"{name} is {info['dtype']}, not F32"
begin = 8 + size + info["data_offsets"][0] + 4 * int(index)
data[begin:begin + 4] = struct.pack("<f", float(value))
open(target, "wb").write(bytes(data))
