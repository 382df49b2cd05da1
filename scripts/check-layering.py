#!/usr/bin/env python3
"""Checks the include rules between the source folders (README.md, "Layout")
and names every file that breaks one: "PATH:LINE: FOLDER/ must not include
HEADER (WHY)". Exits 1 if any does, or if a folder the rules name is missing
(a renamed folder would otherwise pass unchecked).

Usage: check-layering.py SOURCE_ROOT

The compiler (dialect/, passes/, importer/, lowering/) shares with the
runtime only common/; runtime/ and common/ never include MLIR; common/
includes nothing of the project but itself. tools/ may include anything."""

import os
import re
import sys

COMPILER = ("dialect", "passes", "importer", "lowering")
MLIR = ("mlir", "mlir-c")

# folder -> [(forbidden top-level include folders, why)]
RULES = {
    **{
        folder: [
            (("runtime",), "the compiler shares only common/ with the runtime")
        ]
        for folder in COMPILER
    },
    "runtime": [
        (MLIR, "the runtime is MLIR-free"),
        (COMPILER + ("tools",), "the runtime does not depend on the compiler"),
    ],
    "common": [
        (MLIR, "common/ is MLIR-free"),
        (
            ("runtime", "tools") + COMPILER,
            "common/ is shared by the compiler and the runtime and "
            "includes neither",
        ),
    ],
}

SOURCE_SUFFIXES = (".h", ".hpp", ".c", ".cpp", ".inc", ".def")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')


def check(root):
    problems = []
    for folder, rules in sorted(RULES.items()):
        top = os.path.join(root, folder)
        if not os.path.isdir(top):
            problems.append(f"{top}: no such folder (update {__file__})")
            continue
        for directory, _, names in sorted(os.walk(top)):
            for name in sorted(names):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8", errors="replace") as file:
                    for number, line in enumerate(file, 1):
                        match = INCLUDE.match(line)
                        if not match:
                            continue
                        header = match.group(1)
                        first = header.split("/", 1)[0]
                        for forbidden, why in rules:
                            if "/" in header and first in forbidden:
                                problems.append(
                                    f"{path}:{number}: {folder}/ must not "
                                    f"include {header} ({why})"
                                )
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SOURCE_ROOT")
    problems = check(sys.argv[1])
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
