"""Checks the generated reference models a second time, with Hugging Face transformers.

For every directory under ROOT that make_reference_models.py wrote (it holds reference.json),
loads it with the class its config names (LlamaForCausalLM, Qwen2ForCausalLM,
MistralForCausalLM), runs the reference tokens and compares all-position logits with
  - reference_logits.bin: our independent float64 PyTorch forward (reference_model.py), and
  - engine_logits.bin:    our C++ engine's logits, written by reference_logits_test
                          (absent until that test has run; then that column is skipped).
Error = max |a - b| / max |b|. transformers runs in float32 (weights upcast exactly); the
check fails when an error exceeds 1e-4 for fp32 weights or 1e-2 for bf16. A second,
informational column runs the model in its stored dtype (bf16 activations on a GPU).

Usage: python3 check_transformers.py ROOT [--device cuda|cpu]
Needs torch, numpy and transformers (>= 4.48 for the Mistral sliding-window mask convention
used here); see README.md.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers


def relative_error(ours, ref):
    return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30))


def load_config(directory, architecture):
    """The model's config; rope_parameters (transformers 5) rewritten for older versions."""
    with open(os.path.join(directory, "config.json")) as f:
        raw = json.load(f)
    major = int(transformers.__version__.split(".")[0])
    if "rope_parameters" in raw and major < 5:
        params = dict(raw.pop("rope_parameters"))
        raw["rope_theta"] = params.pop("rope_theta", raw.get("rope_theta", 10000.0))
        if params.get("rope_type", "default") != "default":
            raw["rope_scaling"] = params
    if "dtype" in raw and "torch_dtype" not in raw:
        raw["torch_dtype"] = raw["dtype"]
    config_class = getattr(transformers, architecture).config_class
    return config_class(**raw)


def run(directory, architecture, tokens, dtype, device):
    model_class = getattr(transformers, architecture)
    model = model_class.from_pretrained(directory, config=load_config(directory, architecture),
                                        torch_dtype=dtype, attn_implementation="eager")
    model.to(device).eval()
    with torch.no_grad():
        logits = model(torch.tensor([tokens], device=device)).logits[0]
    return logits.to(torch.float64).cpu().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", help="directory holding the generated model directories")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {args.device}")
    print(f"{'model':18} {'hf32 vs torch-ref':>18} {'ours vs hf32':>14} {'hf-native vs ref':>18}")
    failures = 0
    names = sorted(n for n in os.listdir(args.root)
                   if os.path.exists(os.path.join(args.root, n, "reference.json")))
    for name in names:
        directory = os.path.join(args.root, name)
        with open(os.path.join(directory, "reference.json")) as f:
            ref = json.load(f)
        shape = (len(ref["tokens"]), ref["vocab_size"])
        tolerance = 1e-4 if ref["dtype"] == "float32" else 1e-2
        reference = np.fromfile(os.path.join(directory, ref["logits_file"]), "<f8").reshape(shape)
        hf32 = run(directory, ref["architecture"], ref["tokens"], torch.float32, args.device)
        errors = [relative_error(hf32, reference)]
        engine_path = os.path.join(directory, "engine_logits.bin")
        if os.path.exists(engine_path):
            ours = np.fromfile(engine_path, "<f4").reshape(shape).astype(np.float64)
            errors.append(relative_error(ours, hf32))
        native_dtype = torch.bfloat16 if ref["dtype"] == "bfloat16" else torch.float32
        native = run(directory, ref["architecture"], ref["tokens"], native_dtype, args.device)
        cells = [f"{e:18.3g}" if i != 1 else f"{e:14.3g}" for i, e in enumerate(errors)]
        if len(errors) == 1:
            cells.append(f"{'(no engine_logits)':>14}")
        cells.append(f"{relative_error(native, reference):18.3g}")
        bad = [e for e in errors if e > tolerance]
        failures += bool(bad)
        print(f"{name:18} " + " ".join(cells) + ("  FAIL" if bad else ""))
    if not names:
        sys.exit(f"no reference models under {args.root}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
