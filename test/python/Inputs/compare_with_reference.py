"""Runs python/memmamba (PyTorch, float32) on a config, weights and token
ids, and compares its logits of every position with the reference
executor's (mm-run --logits-out): prints the relative error and fails above
the bound. Also prints how many tokens each layer noted, so a test can see
that the pools filled and evicted."""

import argparse
import sys

import torch

from memmamba import safetensors_io
from memmamba.model import MemMamba

p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("weights")
p.add_argument("tokens")
p.add_argument("reference_logits")
p.add_argument("--bound", type=float, default=1e-4)
args = p.parse_args()

model = MemMamba.from_files(args.config, args.weights)
with open(args.tokens) as f:
    ids = [int(v) for v in f.read().replace(",", " ").split()]
with torch.no_grad():
    logits, trace = model(torch.tensor([ids]), trace=True)
reference = safetensors_io.load(args.reference_logits)["logits"]
error = ((logits[0] - reference).norm() / reference.norm()).item()
for l, sigma in enumerate(trace["note_scores"]):
    noted = int((sigma > model.cfg.memory.note_threshold).sum())
    print("layer %d noted %d of %d" % (l, noted, len(ids)))
print("relative error %.3g (bound %g)" % (error, args.bound))
sys.exit(0 if error < args.bound else 1)
