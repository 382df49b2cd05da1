#!/usr/bin/env python3
"""Prints the results of one or more lit runs (--xunit-xml-output files) as
one closing line: "N passed, N failed, N skipped".

The xunit report, unlike lit's JSON one, keeps the tests lit did not run:
UNSUPPORTED ones and GoogleTest's GTEST_SKIP (lit's SKIPPED), which the JSON
report drops, so that the summary counted them as neither passed nor
skipped."""

import sys
import xml.etree.ElementTree as ElementTree

passed = failed = skipped = 0
for path in sys.argv[1:]:
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
