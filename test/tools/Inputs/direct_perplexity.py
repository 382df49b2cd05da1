"""Computes the perplexities of mm-eval perplexity directly from the logits
of mm-run --logits-out, and compares them with what mm-eval wrote (--json).

    direct_perplexity.py MM_RUN MODEL WEIGHTS IDS_FILE MM_EVAL_JSON WORKDIR
                         [TOLERANCE]

Window protocol: up to N windows of L tokens, starts j * (T - L) // (N - 1)
(one window: start 0), each run alone by mm-run; the negative
log-likelihood of each of its last S tokens under the logits of the position
before it. Streaming: the whole text run once, every token but the first
scored. Prints one line per value with both numbers, "ok" when they agree to
a relative TOLERANCE (default 1e-9: mm-run and mm-eval on the same
executor); exits 1 otherwise. Plain Python (no numpy): safetensors is
an 8-byte header length, a JSON header, raw little-endian f32."""

import json
import math
import os
import struct
import subprocess
import sys


def read_logits(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    info = header["logits"]
    assert info["dtype"] == "F32"
    rows, vocab = info["shape"]
    begin, end = info["data_offsets"]
    values = struct.unpack("<%df" % (rows * vocab), data[begin:end])
    return [values[r * vocab:(r + 1) * vocab] for r in range(rows)]


def nll(row, target):
    top = max(row)
    return top + math.log(sum(math.exp(v - top) for v in row)) - row[target]


def run_logits(mm_run, model, weights, tokens, workdir, name):
    ids = os.path.join(workdir, name + ".txt")
    out = os.path.join(workdir, name + ".safetensors")
    with open(ids, "w") as f:
        f.write(" ".join(map(str, tokens)))
    subprocess.run([mm_run, model, "--weights", weights, "--tokens=@" + ids,
                    "-n", "0", "--logits-out", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return read_logits(out)


TOLERANCE = 1e-9


def check(name, measured, direct):
    agree = abs(measured - direct) <= TOLERANCE * abs(direct)
    print("%s: mm-eval %.10f direct %.10f %s" %
          (name, measured, direct, "ok" if agree else "DIFFERENT"))
    return agree


def main():
    global TOLERANCE
    mm_run, model, weights, ids_path, eval_json, workdir = sys.argv[1:7]
    if len(sys.argv) > 7:
        TOLERANCE = float(sys.argv[7])
    with open(ids_path) as f:
        text = [int(t) for t in f.read().replace(",", " ").split()]
    with open(eval_json) as f:
        results = json.load(f)
    total = len(text)
    good = True

    window = results.get("window")
    if window:
        scored, count = window["score_last"], window["max_windows"]
        for entry in window["contexts"]:
            context = entry["context"]
            if total < context:
                print("window %d: skipped" % context)
                good &= entry["tokens"] == 0
                continue
            span = total - context
            n = min(count, span + 1)
            starts = [0] if n == 1 else [j * span // (n - 1) for j in range(n)]
            nlls = []
            for start in starts:
                tokens = text[start:start + context]
                logits = run_logits(mm_run, model, weights, tokens, workdir,
                                    "window-%d-%d" % (context, start))
                for i in range(context - scored, context):
                    nlls.append(nll(logits[i - 1], tokens[i]))
            good &= entry["tokens"] == len(nlls)
            good &= check("window %d" % context, entry["mean_nll"],
                          sum(nlls) / len(nlls))

    streaming = results.get("streaming")
    if streaming:
        logits = run_logits(mm_run, model, weights, text, workdir, "stream")
        nlls = [nll(logits[i - 1], text[i]) for i in range(1, total)]
        for bucket in streaming["buckets"]:
            part = nlls[max(bucket["from"], 1) - 1:bucket["to"] - 1]
            good &= bucket["tokens"] == len(part)
            good &= check("streaming [%d, %d)" % (bucket["from"], bucket["to"]),
                          bucket["mean_nll"], sum(part) / len(part))
        good &= streaming["tokens"] == len(nlls)
        good &= check("streaming all", streaming["mean_nll"],
                      sum(nlls) / len(nlls))
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
