"""Prints the kernel code of the gpu.binary ops of an MLIR file.

Usage: mm-opt ... --mm-gpu-kernels-pipeline=... | kernel_assembly.py
The objects' text (PTX or GCN assembly, kernel-format=isa) with MLIR's
string escapes (\\XX hex bytes, \\\\, \\") undone, for FileCheck and ptxas.
"""
import re
import sys


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if re.match(r"[0-9A-Fa-f]{2}", text[i + 1:i + 3]):
                out.append(int(text[i + 1:i + 3], 16))
                i += 3
                continue
            out += text[i + 1].encode()
            i += 2
            continue
        out += text[i].encode()
        i += 1
    return out.decode()


def main():
    source = sys.stdin.read()
    objects = re.findall(r'(?:assembly|bin) = "((?:[^"\\]|\\.)*)"', source)
    if not objects:
        sys.exit("no gpu.binary object with kernel code in the input")
    for text in objects:
        sys.stdout.write(unescape(text))


main()
