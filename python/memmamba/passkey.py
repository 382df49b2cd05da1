"""The passkey task of docs/passkey-task.md: the word-level vocabulary, the
tokenizer and the prompt builder, the same as mm-eval's.

    python3 -m memmamba.passkey --length L --depth D --key K

prints the prompt's token ids, comma-separated (what `mm-eval passkey
--print-prompt` prints)."""

import argparse
import re

VOCAB = (". ? 0 1 2 3 4 5 6 7 8 9 The grass is green sky blue sun yellow Here "
         "we go There and back again pass key Remember it What the").split()
IDS = {word: i for i, word in enumerate(VOCAB)}
DIGITS = [IDS[str(d)] for d in range(10)]

FILLER = ("The grass is green . The sky is blue . The sun is yellow . "
          "Here we go . There and back again .").split()
QUESTION = "What is the pass key ? The pass key is".split()
KEY_DIGITS = 5


def tokenize(text):
    """Token ids of `text`: white space splits, then runs of letters, single
    digits and single other characters; an unknown word is an error."""
    ids = []
    for match in re.finditer(r"[A-Za-z]+|[0-9]|\S", text):
        word = match.group(0)
        if word not in IDS:
            raise ValueError("unknown word '%s' at offset %d" %
                             (word, match.start()))
        ids.append(IDS[word])
    return ids


def detokenize(ids):
    return " ".join(VOCAB[i] if 0 <= i < len(VOCAB) else "<%d>" % i
                    for i in ids)


def key_sentence(key):
    digits = list(str(key))
    assert len(digits) == KEY_DIGITS
    return (["The", "pass", "key", "is"] + digits + [".", "Remember", "it",
            "."] + digits + ["is", "the", "pass", "key", "."])


FIXED = len(key_sentence(10000)) + len(QUESTION)  # 33


def insertion_point(n, depth):
    """The sentence boundary of the first n filler words closest to
    depth * n (ties: the smaller)."""
    target = depth * n
    best = 0
    for i in range(n + 1):
        boundary = i in (0, n) or FILLER[(i - 1) % len(FILLER)] == "."
        if boundary and abs(i - target) < abs(best - target):
            best = i
    return best


def prompt_words(length, depth, key):
    if length < FIXED:
        raise ValueError("length %d is below the prompt's fixed part (%d "
                         "words)" % (length, FIXED))
    n = length - FIXED
    filler = [FILLER[i % len(FILLER)] for i in range(n)]
    p = insertion_point(n, depth)
    return filler[:p] + key_sentence(key) + filler[p:] + QUESTION


def prompt_ids(length, depth, key):
    return [IDS[w] for w in prompt_words(length, depth, key)]


def answer_ids(key):
    return [IDS[d] for d in str(key)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--depth", type=float, required=True)
    parser.add_argument("--key", type=int, required=True)
    args = parser.parse_args()
    print(",".join(map(str, prompt_ids(args.length, args.depth, args.key))))


if __name__ == "__main__":
    main()
