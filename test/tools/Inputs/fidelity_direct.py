"""The memory fidelity metrics of spec section 4 computed directly with the
PyTorch model (python/memmamba), compared with mm-eval fidelity's CSV.

usage: fidelity_direct.py SRC_ROOT CONFIG WEIGHTS TOKENS SUMMARY CSV N K

TOKENS holds the sequence's ids; SUMMARY is mm-eval's stdout, whose
"perturbations" line names the positions and replacements it drew. For each
of them the whole original and perturbed sequences run from a fresh state
(no state reuse, unlike mm-eval), and
  ETMF(l, k)  = mean_t ||d^l_{t+k}|| / mean_t ||d^l_t||
  ECLMF(l, k) = mean_t ||d^l_{t+k}|| / mean_t ||d^0_{t+k}||
  analytic(l, k) = mean over t, channels and states of
                   exp(A * sum of delta over t+1 .. t+k)
with float64 arithmetic. Prints "fidelity-direct: OK ..." when every CSV
value matches (relative error below 1e-3), else the mismatches.
"""

import csv
import math
import re
import sys


def main():
    (src_root, config_path, weights_path, tokens_path, summary_path,
     csv_path, count, distance) = sys.argv[1:9]
    count, distance = int(count), int(distance)
    sys.path.insert(0, src_root + "/python")
    import torch
    from memmamba.model import MemMamba

    torch.set_grad_enabled(False)
    tokens = [int(v) for v in open(tokens_path).read().replace(",", " ").split()]
    model = MemMamba.from_files(config_path, weights_path).double()
    vocab = model.cfg.vocab_size

    line = next(l for l in open(summary_path) if l.startswith("perturbations"))
    perturbations = [tuple(int(v) for v in m) for m in
                     re.findall(r"(\d+):(\d+)>(\d+)", line.split(":", 1)[1])]
    # What the drawing must respect.
    positions = [t for t, _, _ in perturbations]
    assert len(perturbations) == count, perturbations
    assert positions == sorted(set(positions)), positions
    for t, original, replacement in perturbations:
        assert 0 <= t and t + distance < len(tokens), (t, distance)
        assert tokens[t] == original, (t, tokens[t], original)
        assert replacement != original and 0 <= replacement < vocab

    def run(sequence):
        _, out = model(torch.tensor([sequence]), trace=True)
        return ([r[0] for r in out["residual"]], [d[0] for d in out["delta"]])

    residual, delta = run(tokens)
    layers = len(residual)
    norms = [[0.0] * (distance + 1) for _ in range(layers)]
    analytic = [[0.0] * (distance + 1) for _ in range(layers)]
    for t, _, replacement in perturbations:
        changed = list(tokens)
        changed[t] = replacement
        perturbed, _ = run(changed)
        for l in range(layers):
            a = -torch.exp(model.w("backbone.layers.%d.mixer.A_log" % l))
            a = a.float().double()  # as the reference executor rounds it
            for k in range(distance + 1):
                norms[l][k] += float(
                    (perturbed[l][t + k] - residual[l][t + k]).norm())
                sums = delta[l][t + 1:t + k + 1].float().double().sum(0)
                analytic[l][k] += float(torch.exp(a * sums[:, None]).mean())

    def ratio(a, b):
        return a / b if b > 0 else float("nan")

    expected = {}
    for l in range(layers):
        for k in range(distance + 1):
            expected[(l, k)] = (ratio(norms[l][k], norms[l][0]),
                                ratio(norms[l][k], norms[0][k]),
                                analytic[l][k] / len(perturbations))

    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == len(expected), (len(rows), len(expected))
    bad = []
    for row in rows:
        key = (int(row["layer"]), int(row["k"]))
        got = (float(row["etmf"]), float(row["eclmf"]),
               float(row["analytic_etmf"]))
        for name, g, e in zip(("etmf", "eclmf", "analytic_etmf"), got,
                              expected[key]):
            if math.isnan(e) and math.isnan(g):
                continue
            if not abs(g - e) <= 1e-3 * abs(e) + 1e-9:
                bad.append("layer %d k %d %s: csv %.9g, direct %.9g"
                           % (key + (name, g, e)))
    if bad:
        print("fidelity-direct: MISMATCH\n" + "\n".join(bad))
        return 1
    print("fidelity-direct: OK %d rows, %d positions, layers %d, k 0..%d"
          % (len(rows), len(perturbations), layers, distance))
    return 0


if __name__ == "__main__":
    sys.exit(main())
