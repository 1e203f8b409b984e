"""Exports a train.py checkpoint (or a train-state.pt snapshot) as a Hugging Face LlamaForCausalLM directory.

    /usr/bin/python3 tools/train/export.py --checkpoint build/ghost-tiny/checkpoint.pt \
        --data-dir build/train-data --out models/ghost-tiny

Writes config.json, model.safetensors (bf16), tokenizer.json, tokenizer_config.json,
generation_config.json and validation-sample.txt (README.md and eval.json are written
separately; see tools/train/README.md). A ternary-QAT run's projections are written as the run
computed with them, scale * {-1, 0, +1} per block (qat.py).
"""

import argparse
import json
import os
import shutil

import torch

from corpus import validation_documents
from qat import ternary_state_dict
from ghost_model import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, GhostConfig, save_safetensors_bf16

SAMPLE_DOCUMENT = "moby-dick"
SAMPLE_BYTES = 16384


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tokenizer_json():
    """Byte-level BPE with no merges: every byte is its own token, id = byte value."""
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, text in SPECIAL_TOKENS.items()
        ],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": {ch: b for b, ch in sorted(bytes_to_unicode().items())},
            "merges": [],
        },
    }


def tokenizer_config(max_len):
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": SPECIAL_TOKENS[BOS_ID],
        "eos_token": SPECIAL_TOKENS[EOS_ID],
        "pad_token": SPECIAL_TOKENS[PAD_ID],
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_len,
        "added_tokens_decoder": {
            str(i): {"content": text, "single_word": False, "lstrip": False, "rstrip": False,
                     "normalized": False, "special": True}
            for i, text in SPECIAL_TOKENS.items()
        },
    }


GENERATION_CONFIG = {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID,
                     "do_sample": True, "temperature": 0.8, "top_p": 0.95, "top_k": 50,
                     "max_new_tokens": 128}


def validation_sample(data_dir):
    """The first SAMPLE_BYTES of SAMPLE_DOCUMENT's validation part, cut at a character boundary."""
    text = dict(validation_documents(data_dir))[SAMPLE_DOCUMENT][:SAMPLE_BYTES]
    return text.decode("utf-8", errors="ignore").encode("utf-8")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="build/ghost-tiny/checkpoint.pt")
    ap.add_argument("--data-dir", default="build/train-data")
    ap.add_argument("--out", default="models/ghost-tiny")
    ap.add_argument("--heldout-dir", help="copy heldout.py's kjv-sample.txt and austen-sample.txt from here "
                                          "as heldout-kjv.txt and heldout-austen.txt")
    args = ap.parse_args()

    ckpt = torch.load(args.checkpoint, map_location="cpu")
    cfg = GhostConfig(**ckpt["config"])
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "config.json"), cfg.hf_config())
    weights = ckpt["model"]
    run = ckpt.get("args", {})
    if run.get("qat_ternary_block"):  # the projections as the run computed with them (qat.py)
        weights = ternary_state_dict(weights, run["qat_ternary_block"], run.get("qat_gated", False))
    save_safetensors_bf16(weights, os.path.join(args.out, "model.safetensors"))
    write_json(os.path.join(args.out, "tokenizer.json"), tokenizer_json())
    write_json(os.path.join(args.out, "tokenizer_config.json"), tokenizer_config(cfg.max_position_embeddings))
    write_json(os.path.join(args.out, "generation_config.json"), GENERATION_CONFIG)
    with open(os.path.join(args.out, "validation-sample.txt"), "wb") as f:
        f.write(validation_sample(args.data_dir))
    if args.heldout_dir:
        for name in ("kjv", "austen"):
            shutil.copyfile(os.path.join(args.heldout_dir, f"{name}-sample.txt"),
                            os.path.join(args.out, f"heldout-{name}.txt"))
    print(f"exported {len(ckpt['model'])} tensors to {args.out}")


if __name__ == "__main__":
    main()
