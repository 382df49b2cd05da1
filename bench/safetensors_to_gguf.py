#!/usr/bin/env python3
"""Convert a Mamba safetensors checkpoint to a GGUF file for llama.cpp.

Usage:
  safetensors_to_gguf.py CONFIG.json WEIGHTS.safetensors -o OUT.gguf
                         [--outtype f32|bf16|f16]

Reads a single-file checkpoint with Hugging Face Mamba tensor names (as
written by mm-init-weights, in f32, bf16 or f16) and writes a GGUF for
llama.cpp's `mamba` architecture, so that llama-bench and llama.cpp's
generation run the same weights as mm-run.

The model's sizes come from the tensor shapes; CONFIG supplies the norm
epsilon and is checked for features llama.cpp's Mamba lacks (projection
biases, expand != 2). The transforms llama.cpp expects are:
  - A_log is stored as A = -exp(A_log);
  - the depthwise conv1d weight [d_inner, 1, d_conv] is squeezed to
    [d_inner, d_conv];
  - lm_head.weight is omitted when absent or equal to the embedding, and
    llama.cpp then ties the output projection to it.
1-D tensors, A and the conv1d weight stay f32 whatever --outtype says, as
llama.cpp's own converter does; --outtype sets the matrices' element type.

There is no tokenizer: the vocabulary is written as tokenizer model "none"
with `mamba.vocab_size` set to the embedding's row count, which llama.cpp
fills with dummy tokens. Such a model runs on token ids only (llama-bench, or
the llama.h API); text prompts cannot be tokenized.

Needs the `gguf` and `numpy` Python packages (`pip install gguf numpy`).
"""

import argparse
import json
import struct
import sys

import gguf
import numpy as np

OUT_TYPES = {
    "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
}


def read_safetensors(path):
    """Returns {name: float32 array} for every tensor in a safetensors file."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        data = raw[begin:end]
        if info["dtype"] == "F32":
            array = data.view(np.float32)
        elif info["dtype"] == "F16":
            array = data.view(np.float16).astype(np.float32)
        elif info["dtype"] == "BF16":
            array = (data.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            sys.exit(f"error: {name}: unsupported dtype {info['dtype']}")
        tensors[name] = array.reshape(info["shape"])
    return tensors


def check_config(config):
    """Exits if CONFIG describes a model llama.cpp's Mamba cannot run."""
    if config.get("model_type", "mamba") != "mamba":
        sys.exit(f"error: model_type {config['model_type']!r} is not 'mamba'")
    if config.get("use_bias", False):
        sys.exit("error: llama.cpp's Mamba has no in_proj/out_proj biases")
    if not config.get("use_conv_bias", True):
        sys.exit("error: llama.cpp's Mamba needs the conv1d bias")
    if not config.get("rms_norm", True):
        sys.exit("error: llama.cpp's Mamba uses RMSNorm only")


def convert(config, tensors, out_path, out_type):
    tensor_type, file_type = OUT_TYPES[out_type]
    embedding = tensors["backbone.embeddings.weight"]
    n_vocab, d_model = embedding.shape
    n_layer = 1 + max(int(name.split(".")[2]) for name in tensors
                      if name.startswith("backbone.layers."))
    d_inner, _, d_conv = tensors["backbone.layers.0.mixer.conv1d.weight"].shape
    d_state = tensors["backbone.layers.0.mixer.A_log"].shape[1]
    dt_rank = tensors["backbone.layers.0.mixer.dt_proj.weight"].shape[1]
    if d_inner != 2 * d_model:
        sys.exit("error: llama.cpp's Mamba supports expand = 2 only")

    lm_head = tensors.pop("lm_head.weight", None)
    if lm_head is not None and not np.array_equal(lm_head, embedding):
        tensors["lm_head.weight"] = lm_head

    writer = gguf.GGUFWriter(out_path, "mamba")
    writer.add_context_length(1 << 20)  # Recurrent: no positional limit.
    writer.add_embedding_length(d_model)
    writer.add_block_count(n_layer)
    writer.add_ssm_conv_kernel(d_conv)
    writer.add_ssm_inner_size(d_inner)
    writer.add_ssm_state_size(d_state)
    writer.add_ssm_time_step_rank(dt_rank)
    writer.add_ssm_dt_b_c_rms(False)
    writer.add_layer_norm_rms_eps(config.get("layer_norm_epsilon", 1e-5))
    writer.add_file_type(file_type)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("none")

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MAMBA, n_layer)
    for name, array in tensors.items():
        gguf_name = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            sys.exit(f"error: no llama.cpp Mamba tensor for {name}")
        if name.endswith(".A_log"):
            array = -np.exp(array)
        elif name.endswith(".conv1d.weight"):
            array = array.squeeze(1)
        keep_f32 = array.ndim == 1 or name.endswith((".A_log", ".conv1d.weight"))
        qtype = gguf.GGMLQuantizationType.F32 if keep_f32 else tensor_type
        writer.add_tensor(gguf_name, gguf.quants.quantize(array, qtype),
                          raw_dtype=qtype)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    parser = argparse.ArgumentParser(
        description="Convert a Mamba safetensors checkpoint to llama.cpp GGUF.")
    parser.add_argument("config", help="model config JSON (HF MambaConfig keys)")
    parser.add_argument("weights", help="single-file .safetensors checkpoint")
    parser.add_argument("-o", "--output", required=True, help="output .gguf")
    parser.add_argument("--outtype", choices=OUT_TYPES, default="f32",
                        help="element type of the matrices (default f32)")
    args = parser.parse_args()

    with open(args.config) as f:
        config = json.load(f)
    check_config(config)
    convert(config, read_safetensors(args.weights), args.output, args.outtype)


if __name__ == "__main__":
    main()
