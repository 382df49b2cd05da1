"""config.json of a (Mem)Mamba model, read under both spellings of spec
section 1 (Hugging Face and mamba_ssm), never from library defaults."""

import json
import math
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class MemoryConfig:
    pool_size: int = 50
    summary_dim: int = 64
    note_threshold: float = 0.5
    read_threshold: float = 0.3
    cross_layer_period: int = 4
    cross_layer_window: int = 4
    eviction: str = "priority"
    heads: int = 1


@dataclass
class ModelConfig:
    hidden_size: int
    num_layers: int
    state_size: int
    conv_kernel: int
    intermediate_size: int
    dt_rank: int
    vocab_size: int  # padded up to pad_vocab_size_multiple
    layer_norm_epsilon: float
    use_bias: bool
    use_conv_bias: bool
    memory: Optional[MemoryConfig] = None
    raw: dict = field(default_factory=dict)

    def cross_layer_sources(self, layer):
        """[first, last) of the layers whose pools layer `layer` reads."""
        m = self.memory
        if (m is None or m.cross_layer_period == 0 or
                m.cross_layer_window == 0 or layer <= 0 or
                layer % m.cross_layer_period != 0):
            return layer, layer
        return max(0, layer - m.cross_layer_window), layer


def _pick(raw, *names, default=None, required=True):
    for name in names:
        if name in raw:
            return raw[name]
    if "ssm_cfg" in raw:
        for name in names:
            if name in raw["ssm_cfg"]:
                return raw["ssm_cfg"][name]
    if required and default is None:
        raise ValueError("config: missing key '%s'" % names[0])
    return default


def parse_config(raw):
    d = int(_pick(raw, "hidden_size", "d_model"))
    expand = _pick(raw, "expand", default=2)
    e = int(_pick(raw, "intermediate_size", "d_inner", default=expand * d))
    r = _pick(raw, "time_step_rank", "dt_rank", default="auto")
    r = math.ceil(d / 16) if r == "auto" else int(r)
    vocab = int(_pick(raw, "vocab_size"))
    multiple = int(raw.get("pad_vocab_size_multiple", 1))
    if vocab % multiple:
        vocab += multiple - vocab % multiple
    memory = None
    if raw.get("memory") is not None:
        memory = MemoryConfig(**raw["memory"])
    return ModelConfig(
        hidden_size=d,
        num_layers=int(_pick(raw, "num_hidden_layers", "n_layer")),
        state_size=int(_pick(raw, "state_size", "d_state", default=16)),
        conv_kernel=int(_pick(raw, "conv_kernel", "d_conv", default=4)),
        intermediate_size=e,
        dt_rank=r,
        vocab_size=vocab,
        layer_norm_epsilon=float(_pick(raw, "layer_norm_epsilon",
                                       "rms_norm_eps", default=1e-5)),
        use_bias=bool(_pick(raw, "use_bias", "bias", default=False,
                            required=False) or False),
        use_conv_bias=bool(_pick(raw, "use_conv_bias", "conv_bias",
                                 default=True)),
        memory=memory,
        raw=raw)


def load_config(path):
    with open(path) as f:
        return parse_config(json.load(f))
