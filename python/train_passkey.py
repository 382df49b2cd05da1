#!/usr/bin/env python3
"""Trains the passkey models on the CPU: a tiny MemMamba and a plain Mamba of
the same size and budget, on the synthetic passkey task of
docs/passkey-task.md, deterministically from a seed.

    python3 python/train_passkey.py --out models [--seed 1]

writes models/memmamba-passkey/ and models/mamba-passkey/ (config.json,
model.safetensors, vocab.txt, training.json). python/README.md says how the
note and read scores learn and what the run measured.
"""

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memmamba import passkey  # noqa: E402
from memmamba.config import parse_config  # noqa: E402
from memmamba.model import MemMamba, _key, _layer  # noqa: E402

BACKBONE = {
    "hidden_size": 64,
    "num_hidden_layers": 4,
    "state_size": 16,
    "conv_kernel": 4,
    "expand": 2,
    "intermediate_size": 128,
    "time_step_rank": 4,
    "vocab_size": len(passkey.VOCAB),
    "pad_vocab_size_multiple": 8,
    "layer_norm_epsilon": 1e-5,
    "use_bias": False,
    "use_conv_bias": True,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
}
MEMORY = {"pool_size": 50, "summary_dim": 64, "note_threshold": 0.5,
          "read_threshold": 0.3, "cross_layer_period": 2,
          "cross_layer_window": 2, "eviction": "priority", "heads": 1}


def model_config(with_memory):
    raw = dict(BACKBONE)
    raw["model_type"] = "memmamba" if with_memory else "mamba"
    if with_memory:
        raw["memory"] = dict(MEMORY)
    return parse_config(raw)


def initialise(model, gen):
    """Mamba's initialisation (as mamba_ssm and mm-init-weights do it) for the
    backbone; the memory path starts reading (read bias 2) and noting about
    half of the tokens (note bias 0)."""
    cfg = model.cfg
    with torch.no_grad():
        for name, shape in model.shapes.items():
            p = model.weights[_key(name)]
            if name.endswith("A_log"):
                p.copy_(torch.log(torch.arange(1, shape[1] + 1,
                                               dtype=torch.float32))
                        .expand(shape))
            elif name.endswith("mixer.D") or name.endswith("norm.weight") \
                    or name.endswith("norm_f.weight"):
                p.fill_(1.0)
            elif name.endswith("dt_proj.bias"):
                dt = torch.exp(torch.rand(shape, generator=gen) *
                               (math.log(0.1) - math.log(1e-3)) +
                               math.log(1e-3)).clamp(min=1e-4)
                p.copy_(dt + torch.log(-torch.expm1(-dt)))
            elif name.endswith("read_score.bias"):
                p.fill_(2.0)
            elif name.endswith("_gate") or name.endswith(".bias"):
                p.zero_()
            elif name == "backbone.embeddings.weight":
                p.normal_(0.0, 0.1, generator=gen)
            elif len(shape) >= 2:
                fan_in = shape[-1] * (shape[1] if len(shape) == 3 else 1)
                if name.endswith("conv1d.weight"):
                    fan_in = shape[-1]
                bound = 1.0 / math.sqrt(fan_in)
                p.uniform_(-bound, bound, generator=gen)
    model.tied = True


def make_batch(rng, batch, length):
    """Teacher-forced prompts + answers of one length: inputs [B, T+4],
    the answer positions and digits, and each sequence's key span."""
    inputs, answers = [], []
    for _ in range(batch):
        key = rng.randrange(10000, 100000)
        depth = rng.random()
        ids = passkey.prompt_ids(length, depth, key)
        ans = passkey.answer_ids(key)
        inputs.append(ids + ans[:-1])
        answers.append(ans)
    x = torch.tensor(inputs)
    y = torch.tensor(answers)
    return x, y


def losses(model, x, y, with_memory, args):
    logits, trace = model(x, trace=True)
    b, t, _ = logits.shape
    start = t - passkey.KEY_DIGITS  # logits at the question's last word
    answer = F.cross_entropy(logits[:, start:].reshape(-1, logits.shape[-1]),
                             y.reshape(-1))
    # Language modelling of every position (filler, key sentence, question).
    nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                          x[:, 1:].reshape(-1), reduction="none").view(b, -1)
    lm = nll[:, :start].mean()
    total = answer + args.lm_weight * lm
    note = torch.zeros(())
    if with_memory:
        # Note what surprises: a token is important when the model could not
        # predict it from what came before (its NLL, without gradient, above
        # --surprise nats); the first token of a sequence is never important.
        surprised = torch.cat([torch.zeros(b, 1), (nll.detach() >
                                                   args.surprise).float()], 1)
        for sigma in trace["note_scores"]:
            note = note + F.binary_cross_entropy(sigma, surprised)
        note = note / len(trace["note_scores"])
        total = total + args.note_weight * note
    correct = (logits[:, start:].argmax(-1) == y).all(-1).float().mean()
    return total, answer.item(), lm.item(), note.item(), correct.item()


def sample_length(rng, step, args):
    """Log-uniform in [min, max], max growing over the first half."""
    grow = min(1.0, step / max(1, args.steps * 0.5))
    high = args.min_length + (args.max_length - args.min_length) * grow
    return int(math.exp(rng.uniform(math.log(args.min_length),
                                    math.log(max(high, args.min_length)))))


def train(with_memory, args, log):
    name = "memmamba-passkey" if with_memory else "mamba-passkey"
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = MemMamba(model_config(with_memory))
    initialise(model, gen)
    model.straight_through = True
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr,
                            weight_decay=0.01, betas=(0.9, 0.98))
    begin = time.time()
    history = []
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 50) * \
            (0.5 * (1 + math.cos(math.pi * step / args.steps)) * 0.9 + 0.1)
        for group in opt.param_groups:
            group["lr"] = lr
        length = sample_length(rng, step, args)
        x, y = make_batch(rng, args.batch, length)
        total, answer, lm, note, correct = losses(model, x, y, with_memory,
                                                  args)
        opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history.append({"step": step, "length": length, "answer": answer,
                        "lm": lm, "note": note, "correct": correct})
        if step % args.log_every == 0 or step == args.steps - 1:
            recent = history[-args.log_every:]
            acc = sum(h["correct"] for h in recent) / len(recent)
            log("%s step %d/%d len %d loss %.3f lm %.3f note %.3f acc %.2f "
                "lr %.2g %.0fs" % (name, step, args.steps, length, answer, lm,
                                   note, acc, lr, time.time() - begin))
    model.straight_through = False
    return name, model, time.time() - begin, history


def save(name, model, seconds, cpu_seconds, history, args):
    folder = os.path.join(args.out, name)
    model.save_folder(folder, metadata={"trained_by": "train_passkey.py",
                                        "seed": args.seed})
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(passkey.VOCAB) + "\n")
    with open(os.path.join(folder, "training.json"), "w") as f:
        json.dump({"command": " ".join(sys.argv), "seed": args.seed,
                   "seconds": round(seconds, 1),
                   "cpu_seconds": round(cpu_seconds, 1), "steps": args.steps,
                   "batch": args.batch, "threads": torch.get_num_threads(),
                   "torch": torch.__version__,
                   "args": vars(args),
                   "last_steps": history[-20:]}, f, indent=1)
        f.write("\n")


def train_and_save(with_memory, args):
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, file=sys.stderr, flush=True)
    cpu = time.process_time()
    name, model, seconds, history = train(with_memory, args, log)
    save(name, model, seconds, time.process_time() - cpu, history, args)
    log("%s: %.1f s" % (name, seconds))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--min-length", type=int, default=40)
    p.add_argument("--max-length", type=int, default=400)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lm-weight", type=float, default=0.1)
    p.add_argument("--note-weight", type=float, default=0.5)
    p.add_argument("--surprise", type=float, default=1.0)
    # One thread per model: PyTorch's threaded reductions differ in the last
    # bit from run to run, one thread gives the same file every time.
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--only", choices=["memmamba", "mamba"])
    args = p.parse_args()
    kinds = [True, False]
    if args.only:
        kinds = [args.only == "memmamba"]
    # The two models train at once, one process each (two cores).
    workers = [multiprocessing.Process(target=train_and_save,
                                       args=(with_memory, args))
               for with_memory in kinds]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sys.exit(max(worker.exitcode for worker in workers))


if __name__ == "__main__":
    main()
