"""MemMamba (spec sections 1 and 2) in PyTorch, computed in parallel form.

A prompt runs from a fresh state. The selective scan runs over time; the
memory path is computed for all tokens at once: the pool after token t is a
function of the note scores of the prefix (spec section 2: priority keeps the
M noted tokens ranked highest by (score, then earlier position), FIFO the
last M noted), so each token's attention set is a mask over the noted
tokens, and summaries, keys and values are computed in bulk. The discrete
decisions (note when sigma > tau_1, read when r > tau_2, pool membership) are
exactly the spec's; in training (`straight_through`) their scores also get
gradients (see python/README.md, "How the note and read scores learn")
without changing any forward value.

Parameters are held under their checkpoint names (the Hugging Face spelling
of spec section 1), so a model saves to and loads from the safetensors files
the runtime reads.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

from . import safetensors_io
from .config import load_config, parse_config


def _layer(l, suffix):
    return "backbone.layers.%d.%s" % (l, suffix)


def weight_shapes(cfg):
    """{checkpoint name: shape} of every weight the config asks for."""
    d, e, n = cfg.hidden_size, cfg.intermediate_size, cfg.state_size
    k, r, v = cfg.conv_kernel, cfg.dt_rank, cfg.vocab_size
    shapes = {"backbone.embeddings.weight": (v, d)}
    for l in range(cfg.num_layers):
        add = lambda suffix, shape: shapes.__setitem__(_layer(l, suffix), shape)
        add("norm.weight", (d,))
        add("mixer.in_proj.weight", (2 * e, d))
        if cfg.use_bias:
            add("mixer.in_proj.bias", (2 * e,))
        add("mixer.conv1d.weight", (e, 1, k))
        if cfg.use_conv_bias:
            add("mixer.conv1d.bias", (e,))
        add("mixer.x_proj.weight", (r + 2 * n, e))
        add("mixer.dt_proj.weight", (e, r))
        add("mixer.dt_proj.bias", (e,))
        add("mixer.A_log", (e, n))
        add("mixer.D", (e,))
        add("mixer.out_proj.weight", (d, e))
        if cfg.use_bias:
            add("mixer.out_proj.bias", (d,))
        if cfg.memory is None:
            continue
        s = cfg.memory.summary_dim
        add("memory.note_score.weight", (1, d))
        add("memory.note_score.bias", (1,))
        add("memory.note_summary.weight", (s, d))
        add("memory.read_score.weight", (1, d))
        add("memory.read_score.bias", (1,))
        attentions = ["token"]
        first, last = cfg.cross_layer_sources(l)
        if first < last:
            attentions.append("layer")
        for kind in attentions:
            add("memory.%s_attn.q.weight" % kind, (s, d))
            add("memory.%s_attn.k.weight" % kind, (s, s))
            add("memory.%s_attn.v.weight" % kind, (s, s))
            add("memory.%s_attn.o.weight" % kind, (d, s))
            add("memory.%s_gate" % kind, (d,))
    shapes["backbone.norm_f.weight"] = (d,)
    shapes["lm_head.weight"] = (v, d)
    return shapes


def _key(name):
    return name.replace(".", "/")


def pool_membership(sigma, noted, pool_size, eviction):
    """member[b, t, j]: token j is in the pool after token t was processed.

    Priority: j is noted, j <= t, and fewer than pool_size noted tokens in
    [0, t] rank above it by (score, then earlier position). FIFO: j is noted,
    j <= t, and fewer than pool_size tokens in (j, t] are noted.
    """
    _, t = sigma.shape
    upto = torch.ones(t, t, dtype=torch.bool, device=sigma.device).tril()
    if eviction == "fifo":
        count = noted.long().cumsum(1)  # noted tokens in [0, t]
        later = count[:, :, None] - count[:, None, :]  # in (j, t]
        return noted[:, None, :] & upto & (later < pool_size)
    # beats[b, i, j]: noted token i ranks above j.
    position = torch.arange(t, device=sigma.device)
    si, sj = sigma[:, :, None], sigma[:, None, :]
    earlier = (position[:, None] < position[None, :])
    beats = noted[:, :, None] & ((si > sj) | ((si == sj) & earlier))
    rank = beats.int().cumsum(1)  # [b, t, j]: over i <= t
    return noted[:, None, :] & upto & (rank < pool_size)


class MemMamba(torch.nn.Module):
    """A (Mem)Mamba model; `memory is None` is plain Mamba-1."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.shapes = weight_shapes(cfg)
        self.weights = torch.nn.ParameterDict(
            {_key(name): torch.nn.Parameter(torch.zeros(shape))
             for name, shape in self.shapes.items()})
        # Straight-through gradients for the note and read scores (training).
        self.straight_through = False
        # Tie lm_head to the embedding when a checkpoint has no lm_head.
        self.tied = False

    def w(self, name):
        if name == "lm_head.weight" and self.tied:
            return self.weights[_key("backbone.embeddings.weight")]
        return self.weights[_key(name)]

    def has(self, name):
        return name in self.shapes

    # -- checkpoints ---------------------------------------------------------

    def load_tensors(self, tensors):
        """Loads {checkpoint name: tensor}; every name must match in shape."""
        names = dict(tensors)
        if "backbone.embedding.weight" in names:  # mamba_ssm spelling
            names["backbone.embeddings.weight"] = names.pop(
                "backbone.embedding.weight")
        self.tied = "lm_head.weight" not in names
        for name, shape in self.shapes.items():
            if name == "lm_head.weight" and self.tied:
                continue
            if name not in names:
                raise ValueError("weights: missing tensor '%s'" % name)
            t = names.pop(name)
            if tuple(t.shape) != tuple(shape):
                raise ValueError("weights: '%s' has shape %s, the config "
                                 "needs %s" % (name, list(t.shape),
                                               list(shape)))
            with torch.no_grad():
                self.weights[_key(name)].copy_(t.to(torch.float32))
        if names:
            raise ValueError("weights: unexpected tensors %s" % sorted(names))

    def tensors(self):
        """{checkpoint name: tensor}, lm_head left out when tied."""
        return {name: self.w(name).detach().clone()
                for name in self.shapes
                if not (name == "lm_head.weight" and self.tied)}

    @classmethod
    def from_files(cls, config_path, weights_path):
        model = cls(load_config(config_path))
        model.load_tensors(safetensors_io.load(weights_path))
        return model

    @classmethod
    def from_folder(cls, folder):
        return cls.from_files(os.path.join(folder, "config.json"),
                              os.path.join(folder, "model.safetensors"))

    def save_folder(self, folder, metadata=None):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(self.cfg.raw, f, indent=2)
            f.write("\n")
        safetensors_io.save(self.tensors(),
                            os.path.join(folder, "model.safetensors"),
                            metadata)

    # -- the model -------------------------------------------------------------

    def _st(self, score):
        """1 in value, the score's gradient in training (straight-through)."""
        if not self.straight_through:
            return None
        return 1.0 + score - score.detach()

    def _attend(self, l, kind, u, summaries, mask, weight):
        """Attention of every position's u over `summaries` [B, J, s] where
        mask [B, T, J] allows; zero where the mask allows nothing. `weight`
        [B, J] scales the values (straight-through factors) or is None."""
        m = self.cfg.memory
        heads, s = m.heads, m.summary_dim
        hd = s // heads
        b, t, _ = u.shape
        pre = "memory.%s_attn." % kind
        q = (u @ self.w(_layer(l, pre + "q.weight")).T).view(b, t, heads, hd)
        k = summaries @ self.w(_layer(l, pre + "k.weight")).T
        v = summaries @ self.w(_layer(l, pre + "v.weight")).T
        if weight is not None:
            v = v * weight[..., None]
        j = summaries.shape[1]
        k = k.view(b, j, heads, hd)
        v = v.view(b, j, heads, hd)
        scores = torch.einsum("bthd,bjhd->bhtj", q, k) / math.sqrt(hd)
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        any_key = mask.any(-1)  # [B, T]
        scores = scores.masked_fill(~any_key[:, None, :, None], 0.0)
        probs = torch.softmax(scores, -1)
        probs = probs * any_key[:, None, :, None]
        context = torch.einsum("bhtj,bjhd->bthd", probs, v).reshape(b, t, s)
        return context @ self.w(_layer(l, pre + "o.weight")).T

    def _scan(self, delta, a, bx, c):
        """h_t = exp(delta_t A) h_{t-1} + bx_t; returns h_t . C_t for all t."""
        bsz, t, e = delta.shape
        # Slices by unbind, not indexing: the backward of x[:, i] builds a
        # zero tensor of x's whole size per step (quadratic in T).
        decay = torch.exp(delta[..., None] * a).unbind(1)  # T x [B, E, N]
        bx, c = bx.unbind(1), c.unbind(1)
        h = torch.zeros_like(bx[0])
        ys = []
        for i in range(t):
            h = decay[i] * h + bx[i]
            ys.append((h * c[i][:, None, :]).sum(-1))
        return torch.stack(ys, 1)

    def forward(self, tokens, trace=False):
        """Logits [B, T, V] of every position from a fresh state; with
        `trace`, also a dict of per-layer lists: residual [B, T, D] (after
        the layer), delta [B, T, E], note_scores and read_triggers [B, T]."""
        cfg = self.cfg
        e, n, k, r = (cfg.intermediate_size, cfg.state_size, cfg.conv_kernel,
                      cfg.dt_rank)
        eps = cfg.layer_norm_epsilon
        x = self.w("backbone.embeddings.weight")[tokens]
        bsz, t, _ = x.shape
        out = {"residual": [], "delta": [], "note_scores": [],
               "read_triggers": []}
        pools = []  # per layer: (summaries, member, value weight)
        for l in range(cfg.num_layers):
            L = lambda suffix: self.w(_layer(l, suffix))
            u = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
            u = u * L("norm.weight")
            xz = u @ L("mixer.in_proj.weight").T
            if cfg.use_bias:
                xz = xz + L("mixer.in_proj.bias")
            xi, z = xz[..., :e], xz[..., e:]
            conv = F.conv1d(F.pad(xi.transpose(1, 2), (k - 1, 0)),
                            L("mixer.conv1d.weight"),
                            L("mixer.conv1d.bias") if cfg.use_conv_bias
                            else None, groups=e).transpose(1, 2)
            xc = F.silu(conv)
            dbc = xc @ L("mixer.x_proj.weight").T
            dt, bmat, cmat = dbc[..., :r], dbc[..., r:r + n], dbc[..., r + n:]
            delta = F.softplus(dt @ L("mixer.dt_proj.weight").T +
                               L("mixer.dt_proj.bias"))
            a = -torch.exp(L("mixer.A_log"))
            bx = (delta * xc)[..., None] * bmat[:, :, None, :]
            y = self._scan(delta, a, bx, cmat) + L("mixer.D") * xc
            y = y * F.silu(z)
            m = y @ L("mixer.out_proj.weight").T
            if cfg.use_bias:
                m = m + L("mixer.out_proj.bias")
            if cfg.memory is None:
                x = x + m
            else:
                x = x + m + self._memory(l, u, m, pools, out)
            if trace:
                out["residual"].append(x)
                out["delta"].append(delta)
        hidden = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        hidden = hidden * self.w("backbone.norm_f.weight")
        logits = hidden @ self.w("lm_head.weight").T
        return (logits, out) if trace else logits

    def _memory(self, l, u, m, pools, out):
        """sigmoid(token_gate) c_tok + sigmoid(layer_gate) c_lay of layer l
        for every position; appends layer l's pool to `pools`."""
        cfg, mem = self.cfg, self.cfg.memory
        L = lambda suffix: self.w(_layer(l, suffix))
        bsz, t, _ = u.shape
        # (a) The read trigger looks at the previous token's mixer output.
        m_prev = torch.cat([torch.zeros_like(m[:, :1]), m[:, :-1]], 1)
        trigger = torch.sigmoid(m_prev @ L("memory.read_score.weight").T +
                                L("memory.read_score.bias"))[..., 0]
        # (b) Note scores and summaries of every token, pools after each t.
        sigma = torch.sigmoid(u @ L("memory.note_score.weight").T +
                              L("memory.note_score.bias"))[..., 0]
        noted = sigma > mem.note_threshold
        summaries = u @ L("memory.note_summary.weight").T
        member = pool_membership(sigma.detach(), noted, mem.pool_size,
                                 mem.eviction)
        weight = self._st(sigma)
        pools.append((summaries, member, weight))
        # The pool token t reads is the one after t - 1.
        before = torch.cat([torch.zeros_like(member[:, :1]),
                            member[:, :-1]], 1)
        reads = trigger > mem.read_threshold
        c_tok = self._attend(l, "token", u, summaries,
                             before & reads[..., None], weight)
        st = self._st(trigger)
        if st is not None:
            c_tok = c_tok * st[..., None]
        result = torch.sigmoid(L("memory.token_gate")) * c_tok
        # (c) Cross-layer attention over the pools below after token t.
        first, last = cfg.cross_layer_sources(l)
        if first < last:
            src = pools[first:last]
            keys = torch.cat([p[0] for p in src], 1)
            mask = torch.cat([p[1] for p in src], 2)
            weights = (None if weight is None else
                       torch.cat([p[2] for p in src], 1))
            c_lay = self._attend(l, "layer", u, keys, mask, weights)
            result = result + torch.sigmoid(L("memory.layer_gate")) * c_lay
        out["note_scores"].append(sigma)
        out["read_triggers"].append(trigger)
        return result
