#!/usr/bin/env python3
"""Prints the results of one or more lit runs (--output JSON files) as one
closing line: "N passed, N failed, N skipped"."""

import json
import sys

PASSED = {"PASS", "XFAIL", "FLAKYPASS"}
SKIPPED = {"UNSUPPORTED", "SKIPPED", "EXCLUDED"}

codes = []
for path in sys.argv[1:]:
    with open(path) as f:
        codes += [t["code"] for t in json.load(f)["tests"]]
passed = sum(c in PASSED for c in codes)
skipped = sum(c in SKIPPED for c in codes)
failed = len(codes) - passed - skipped
print(f"{passed} passed, {failed} failed, {skipped} skipped")
