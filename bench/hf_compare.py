#!/usr/bin/env python3
"""Checks the reference executor against Hugging Face transformers.

On a machine with PyTorch and transformers (the `device` machine): builds
random MambaForCausalLM models, saves each with save_pretrained (safetensors,
tied lm_head), runs `mm-run FOLDER --tokens ... -n 0 --logits-out` on the same
weights and tokens, and compares the logits of every position by relative
error ||ours - hf|| / ||hf|| (spec invariant 1; must be below 1e-4 in fp32).

    python3 bench/hf_compare.py --mm-run build/bin/mm-run --out results/

Writes hf_compare.log and hf_compare.json (device, command, date, errors)
under --out and prints a table last. Exits non-zero if any check fails.
"""

import argparse
import datetime
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers
from transformers import MambaConfig, MambaForCausalLM

SHAPES = {
    # name: (hidden, layers, state, conv, expand, dt_rank, vocab, tokens)
    "tiny": (64, 2, 16, 4, 2, 4, 256, 97),
    "tiny-bias": (64, 2, 8, 3, 2, "auto", 300, 64),
    "130m-shape-2l": (768, 2, 16, 4, 2, 48, 50280, 33),
}


def read_logits(path):
    """The "logits" tensor of a safetensors file mm-run wrote."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    info = header["logits"]
    assert info["dtype"] == "F32", info
    begin, end = info["data_offsets"]
    return np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])


def check(name, shape, mm_run, seed, log):
    hidden, layers, state, conv, expand, rank, vocab, length = shape
    torch.manual_seed(seed)
    config = MambaConfig(
        hidden_size=hidden, num_hidden_layers=layers, state_size=state,
        conv_kernel=conv, expand=expand, time_step_rank=rank, vocab_size=vocab,
        use_bias=name.endswith("bias"), use_conv_bias=True,
        layer_norm_epsilon=1e-5, pad_vocab_size_multiple=1)
    model = MambaForCausalLM(config).float().eval()
    # Make every weight matter (the default init sets some to 1 or 0).
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn_like(param))
    tokens = torch.randint(0, vocab, (1, length))
    with torch.no_grad():
        expected = model(tokens).logits[0].float().numpy()

    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder, safe_serialization=True)
        out = os.path.join(folder, "ours.safetensors")
        command = [mm_run, folder, "--tokens",
                   ",".join(str(t) for t in tokens[0].tolist()), "-n", "0",
                   "--logits-out", out]
        run = subprocess.run(command, capture_output=True, text=True)
        log.write(f"$ {' '.join(command[:3])} ... (T={length})\n{run.stderr}\n")
        if run.returncode != 0:
            return {"model": name, "error": run.stderr.strip(), "ok": False}
        ours = read_logits(out)
    error = float(np.linalg.norm(ours - expected) / np.linalg.norm(expected))
    return {"model": name, "tokens": length, "relative_error": error,
            "ok": error < 1e-4}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mm-run", default="build/bin/mm-run")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    results = []
    with open(os.path.join(args.out, "hf_compare.log"), "w") as log:
        for i, (name, shape) in enumerate(SHAPES.items()):
            results.append(check(name, shape, args.mm_run, args.seed + i, log))
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else platform.processor() or platform.machine())
    report = {
        "command": " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "device": device,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "results": results,
    }
    with open(os.path.join(args.out, "hf_compare.json"), "w") as f:
        json.dump(report, f, indent=2)

    print(f"{'model':<16} {'T':>5} {'rel. error':>12}  result")
    for r in results:
        error = r.get("relative_error")
        shown = f"{error:.3e}" if error is not None else "-"
        print(f"{r['model']:<16} {r.get('tokens', '-'):>5} {shown:>12}  "
              f"{'ok' if r['ok'] else 'FAIL ' + r.get('error', '')}")
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
