"""Copies an artifact, replacing one string of its embedded manifest by
another of the same length (so the library stays valid), then seals it again
the way mm-compile does (common/ArtifactSeal.h: SHA-256 of the library, its
length and the magic MMXSEAL1 after it): how the runtime's checks of ABI
version, target and manifest are exercised. --no-reseal keeps the old seal
(a file edited after mm-compile wrote it). --zap-first-feature replaces the
first CPU feature of the manifest by '+zzz...'; --shrink-number KEY replaces
the number after KEY by 1 followed by zeros (the same length)."""

import hashlib
import struct
import sys

SEAL = 48
MAGIC = b"MMXSEAL1"

args = [a for a in sys.argv[1:] if not a.startswith("--")]
flags = [a for a in sys.argv[1:] if a.startswith("--")]
source, target = args[0], args[1]
data = open(source, "rb").read()
assert data.endswith(MAGIC), f"{source} is not sealed"
library = data[:-SEAL]
if "--shrink-number" in flags:
    key = args[2].encode()
    i = library.index(key) + len(key)
    j = i
    while library[j:j + 1].isdigit():
        j += 1
    library = library[:i] + b"1" + b"0" * (j - i - 1) + library[j:]
elif "--zap-first-feature" in flags:
    i = library.index(b'"features":"') + 12
    j = library.index(b",", i)
    library = library[:i] + b"+" + b"z" * (j - i - 1) + library[j:]
else:
    old, new = args[2], args[3]
    assert len(old) == len(new), "replacement must keep the length"
    assert library.count(old.encode()) >= 1, f"{old!r} not in {source}"
    library = library.replace(old.encode(), new.encode(), 1)
if "--no-reseal" in flags:
    sealed = library + data[-SEAL:]
else:
    sealed = (library + hashlib.sha256(library).digest() +
              struct.pack("<Q", len(library)) + MAGIC)
open(target, "wb").write(sealed)
