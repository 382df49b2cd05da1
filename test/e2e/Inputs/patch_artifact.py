"""Copies an artifact, replacing one string of its embedded manifest by
another of the same length (so the library stays valid): how the runtime's
checks of ABI version and target are exercised."""

import sys

source, target, old, new = sys.argv[1:5]
assert len(old) == len(new), "replacement must keep the length"
data = open(source, "rb").read()
assert data.count(old.encode()) >= 1, f"{old!r} not in {source}"
open(target, "wb").write(data.replace(old.encode(), new.encode(), 1))
