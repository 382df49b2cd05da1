#!/usr/bin/env python3
"""Times the compiled GPU artifact against Hugging Face transformers.

On the device machine: prefill tokens/s (--prompts, default 512 and 2048
tokens) and decode tokens/s (--generate, default 128 steps) of
MambaForCausalLM with random weights of the config's shape, eager PyTorch and
torch.compile, against `mm-bench ARTIFACT --device cuda:0 --random-weights`
in the same run; prints a markdown table of the rates and the ratios (ours /
theirs) and writes hf_timing.json under --out.

Each measurement is written to hf_timing.json as soon as it is taken and a
failing one (torch.compile on a long prompt, say) is recorded as its error,
so a run stopped by a time limit (bench/gpu_run.sh gives it one) still
leaves what it measured. --compile-prompts bounds the prompts torch.compile
is timed on: transformers' Mamba without the mamba_ssm kernels scans token
by token in Python, which torch.compile unrolls, and compiling that for
thousands of tokens takes minutes.
"""

import argparse
import inspect
import json
import os
import subprocess
import time

import torch
from transformers import MambaConfig, MambaForCausalLM


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


def rate(fn, tokens, repeats):
    """Tokens per second: the mean over `repeats` runs after one warm-up
    (which compiles, for torch.compile), timed with the device synchronised
    before and after each."""
    fn()
    torch.cuda.synchronize()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        rates.append(tokens / (time.perf_counter() - start))
    return sum(rates) / len(rates)


def last_logits_only(model):
    """The keyword that makes transformers compute the last position's logits
    only (mm-bench's prefill computes no others: the prefill_last entry),
    as its version spells it; {} when it has none (every position's, which
    favours us)."""
    parameters = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in parameters:
            return {name: 1}
    return {}


def hf_rates(model, prompts, generate, repeats, record, keep):
    vocab = model.config.vocab_size
    for length in prompts:
        ids = torch.randint(0, vocab, (1, length), device="cuda")
        with torch.no_grad():
            record(f"pp{length}", lambda: rate(lambda: model(ids, **keep),
                                               length, repeats))
    if generate:
        ids = torch.randint(0, vocab, (1, 16), device="cuda")
        with torch.no_grad():
            record(f"tg{generate}", lambda: rate(
                lambda: model.generate(ids, max_new_tokens=generate,
                                       min_new_tokens=generate,
                                       do_sample=False),
                generate, repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mm-bench", required=True)
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--device", default="cuda:0",
                        help="where mm-bench runs the artifact")
    parser.add_argument("--prompts", default="512,2048",
                        help="prompt lengths, comma-separated")
    parser.add_argument("--generate", type=int, default=128,
                        help="decode steps (0: none)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile-prompts", default=None,
                        help="prompt lengths torch.compile is timed on "
                        "(default: --prompts)")
    parser.add_argument("--modes", default="eager,compile",
                        help="which transformers runs: eager, compile")
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    prompts = [int(p) for p in args.prompts.split(",") if p]
    compile_prompts = prompts if args.compile_prompts is None else [
        int(p) for p in args.compile_prompts.split(",") if p]
    modes = args.modes.split(",")

    results = {"device": torch.cuda.get_device_name(),
               "torch": torch.__version__,
               "artifact": os.path.basename(args.artifact),
               "ours": {}, "transformers_eager": {},
               "transformers_compile": {}, "errors": {}}
    path = os.path.join(args.out, "hf_timing.json")

    def save():
        with open(path, "w") as f:
            json.dump(results, f, indent=2)

    command = [args.mm_bench, args.artifact, "--device", args.device,
               "--random-weights", "-p", ",".join(map(str, prompts)),
               "-n", str(args.generate), "-r", str(args.repeats), "-o",
               "json"]
    try:
        ours = json.loads(subprocess.check_output(command))
        results["ours"] = {r["test"]: r["avg_ts"] for r in ours}
    except (subprocess.CalledProcessError, ValueError) as e:
        results["errors"]["ours"] = str(e)
    save()

    def recorder(key):
        def record(test, measure):
            try:
                results[key][test] = measure()
            except Exception as e:  # a failed compile, out of memory, ...
                results["errors"][f"{key}/{test}"] = repr(e)[:500]
            save()
        return record

    model = hf_model(args.config)
    keep = last_logits_only(model)
    results["transformers_prefill_logits"] = (
        "last position only (" + next(iter(keep)) + "=1)" if keep else
        "every position (this transformers cannot keep only the last)")
    save()
    if "eager" in modes:
        hf_rates(model, prompts, args.generate, args.repeats,
                 recorder("transformers_eager"), keep)
    if "compile" in modes:
        hf_rates(torch.compile(model), compile_prompts, args.generate,
                 args.repeats, recorder("transformers_compile"), keep)

    print()
    print(f"Timings on {results['device']} (tokens/s; ratio = ours / "
          f"theirs; -: not measured; ppP: ours the last position's logits, "
          f"transformers {results['transformers_prefill_logits']}):")
    print()
    print("| test | ours | transformers | ratio | torch.compile | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")

    def cell(value, ours):
        if value is None:
            return "- | -"
        ratio = f"{ours / value:.2f}x" if ours is not None else "-"
        return f"{value:.1f} | {ratio}"

    tests = list(dict.fromkeys(
        list(results["ours"]) + list(results["transformers_eager"])))
    for test in tests:
        ours = results["ours"].get(test)
        print(f"| {test} | {'-' if ours is None else f'{ours:.1f}'} | "
              f"{cell(results['transformers_eager'].get(test), ours)} | "
              f"{cell(results['transformers_compile'].get(test), ours)} |")
    for key, error in results["errors"].items():
        print(f"\nnot measured: {key}: {error}")


if __name__ == "__main__":
    main()
