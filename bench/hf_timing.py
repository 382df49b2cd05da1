#!/usr/bin/env python3
"""Times the compiled GPU artifact against Hugging Face transformers.

On the device machine: prefill tokens/s (512 and 2048 tokens) and decode
tokens/s (128 tokens) of MambaForCausalLM with random weights of the config's
shape, eager PyTorch and torch.compile, against `mm-bench ARTIFACT --device
cuda:0 --random-weights` in the same run; prints a markdown table of the
rates and the ratios (ours / theirs) and writes hf_timing.json under --out.
"""

import argparse
import json
import os
import subprocess
import time

import torch
from transformers import MambaConfig, MambaForCausalLM

PROMPTS = (512, 2048)
GENERATE = 128


def hf_model(config_path):
    with open(config_path) as f:
        c = json.load(f)
    config = MambaConfig(
        vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
        state_size=c["state_size"], num_hidden_layers=c["num_hidden_layers"],
        conv_kernel=c.get("conv_kernel", 4), expand=c.get("expand", 2),
        time_step_rank=c.get("time_step_rank", "auto"),
        use_mambapy=False)
    return MambaForCausalLM(config).cuda().eval()


def rate(fn, tokens, repeats=3):
    fn()  # warm-up (and compilation)
    torch.cuda.synchronize()
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best.append(tokens / (time.perf_counter() - start))
    return sum(best) / len(best)


def hf_rates(model):
    out = {}
    vocab = model.config.vocab_size
    for length in PROMPTS:
        ids = torch.randint(0, vocab, (1, length), device="cuda")
        with torch.no_grad():
            out[f"pp{length}"] = rate(lambda: model(ids), length)
    ids = torch.randint(0, vocab, (1, 16), device="cuda")
    with torch.no_grad():
        out[f"tg{GENERATE}"] = rate(
            lambda: model.generate(ids, max_new_tokens=GENERATE,
                                   min_new_tokens=GENERATE, do_sample=False),
            GENERATE)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mm-bench", required=True)
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", default=".")
    args = parser.parse_args()

    ours = json.loads(subprocess.check_output([
        args.mm_bench, args.artifact, "--device", "cuda:0", "--random-weights",
        "-p", ",".join(map(str, PROMPTS)), "-n", str(GENERATE), "-r", "3",
        "-o", "json"]))
    ours = {r["test"]: r["avg_ts"] for r in ours}
    model = hf_model(args.config)
    eager = hf_rates(model)
    compiled_model = torch.compile(model)
    compiled = hf_rates(compiled_model)

    results = {"device": torch.cuda.get_device_name(), "ours": ours,
               "transformers_eager": eager,
               "transformers_compile": compiled}
    with open(os.path.join(args.out, "hf_timing.json"), "w") as f:
        json.dump(results, f, indent=2)
    print()
    print(f"Timings on {results['device']} (tokens/s; ratio = ours / theirs):")
    print()
    print("| test | ours | transformers | ratio | torch.compile | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for test in ours:
        e, c = eager.get(test), compiled.get(test)
        if e is None:
            continue
        print(f"| {test} | {ours[test]:.1f} | {e:.1f} | {ours[test] / e:.2f}x "
              f"| {c:.1f} | {ours[test] / c:.2f}x |")


if __name__ == "__main__":
    main()
