"""Prints the fusion object of an artifact's manifest (the NUL-terminated
JSON after the library, docs/artifact.md), one "key: value" a line; the
schedules as the sorted list of kinds lowered through one."""
import json
import sys

data = open(sys.argv[1], "rb").read()
start = data.index(b'{"abi_version"')
manifest = json.loads(data[start:data.index(b"\0", start)].decode())
fusion = manifest["fusion"]
for key in sorted(fusion):
    value = fusion[key]
    if key == "schedules":
        value = sorted(value)
    print(f"{key}: {value}")
