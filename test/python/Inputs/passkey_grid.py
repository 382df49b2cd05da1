"""Checks the prompts of `mm-eval passkey --print-prompt` (one line of ids
per length, depth and trial, in that order) against python/memmamba's
builder, reading each prompt's key from its key sentence.

    passkey_grid.py PYTHON_DIR PROMPTS_FILE LENGTHS DEPTHS

Prints "N prompts agree", or the first prompt that differs and exits 1."""

import sys

sys.path.insert(0, sys.argv[1])
from memmamba import passkey  # noqa: E402


def key_of(ids):
    """The key the key sentence ("The pass key is d1 .. d5") holds."""
    opening = [passkey.IDS[w] for w in "The pass key is".split()]
    for i in range(len(ids) - len(opening) - passkey.KEY_DIGITS + 1):
        digits = ids[i + len(opening):i + len(opening) + passkey.KEY_DIGITS]
        if ids[i:i + len(opening)] == opening and all(
                d in passkey.DIGITS for d in digits):
            return int("".join(str(passkey.DIGITS.index(d)) for d in digits))
    raise ValueError("no key sentence")


def main():
    with open(sys.argv[2]) as f:
        prompts = [[int(t) for t in line.split(",")] for line in f]
    lengths = [int(x) for x in sys.argv[3].split(",")]
    depths = [float(x) for x in sys.argv[4].split(",")]
    cells = [(length, depth) for length in lengths for depth in depths]
    if len(prompts) % len(cells):
        sys.exit("%d prompts for %d cells" % (len(prompts), len(cells)))
    trials = len(prompts) // len(cells)
    for i, ids in enumerate(prompts):
        length, depth = cells[i // trials]
        key = key_of(ids)
        expected = passkey.prompt_ids(length, depth, key)
        if ids != expected:
            sys.exit("prompt %d (length %d, depth %g, key %d) differs" %
                     (i, length, depth, key))
    print("%d prompts agree" % len(prompts))


if __name__ == "__main__":
    main()
