"""Writes a variant of a tuning file mm-tune wrote (docs/tuning.md).

edit_tuning.py IN OUT EDIT

EDIT is one of:
  choose-all    every kind's best set to choices other than the defaults
                (the CPU space's: sizes, fusion off, loops), so that
                mm-compile --tuning exercises every kind of parameter
  stale         another compiler version
  foreign-target, foreign-device, foreign-model
                another target, device or model shape
  not-json, no-key, bad-size, unknown-kind, unknown-parameter, bad-switch
                malformed files
"""
import json
import sys

source, output, edit = sys.argv[1:4]
with open(source) as f:
    data = json.load(f)


def kind(name):
    return data["kinds"].setdefault(
        name, {"default": {}, "best": {}, "complete": True, "tried": []})


if edit == "choose-all":
    kind("gemm")["best"] = {"rows": 32, "tokens": 2, "rows_at_once": 8,
                            "lowering": "auto"}
    kind("scan")["best"] = {"channels": 8, "fusion": "off"}
    kind("conv")["best"] = {"channels": 4, "lowering": "loops"}
    kind("memory")["best"] = {"fusion": "off"}
    kind("norm")["best"] = {"fusion": "off", "lowering": "loops"}
    kind("embed")["best"] = {"lowering": "loops"}
elif edit == "stale":
    data["key"]["compiler"] = "0.0.1"
elif edit == "foreign-target":
    data["key"]["target"] = "cuda:sm_90"
elif edit == "foreign-device":
    data["key"]["device"] = "x86_64-pc-linux-gnu, sapphirerapids, 224 hardware threads"
elif edit == "foreign-model":
    data["key"]["model"] = "0123456789abcdef"
    data["key"]["model_shape"] = "mamba, 24 layers, d_model 768"
elif edit == "not-json":
    with open(output, "w") as f:
        f.write('{"format": "mm-tuning/1", "key": ')
    sys.exit(0)
elif edit == "no-key":
    del data["key"]["target"]
elif edit == "bad-size":
    kind("gemm")["best"] = {"tokens": 0}
elif edit == "unknown-kind":
    kind("attention")["best"] = {"heads": 2}
elif edit == "unknown-parameter":
    kind("scan")["best"] = {"chunk": 64}
elif edit == "bad-switch":
    kind("memory")["best"] = {"fusion": "sometimes"}
else:
    sys.exit("unknown edit " + edit)
with open(output, "w") as f:
    json.dump(data, f, indent=2)
