"""Bits per byte of an exported model directory, computed from model.safetensors
(bf16 weights widened to fp32, fp32 forward).

    /usr/bin/python3 tools/train/evaluate.py --model-dir models/ghost-tiny --data-dir build/train-data
    /usr/bin/python3 tools/train/evaluate.py --model-dir models/ghost-small --sources sotu,moby-dick,devil \
        --heldout models/ghost-small/heldout-kjv.txt models/ghost-small/heldout-austen.txt

Definition (the C++ engine reproduces it): a text's bytes are the token ids (no BOS, no
EOS). They are cut into consecutive windows of W=512 tokens starting at 0 (the last
window may be shorter). Each window is run on its own at positions 0..L-1; for
t = 0..L-2 it scores -log2 softmax(logits[t])[token[t+1]]. bits_per_byte is the sum over
all windows divided by the number of scored targets (bytes_predicted); a window of length
L scores L-1 targets, so the first byte of every window is never a target.

validation_sample: validation-sample.txt; a model whose context is longer than W is also
scored on it with windows of its whole context (validation_sample_<context>).
validation_full: every validation document (the held-out last 5% of each document of
--sources) evaluated separately as above, truncated to its first --max-doc-bytes bytes
(0 = whole document). heldout: each --heldout text file (prose the model never saw, e.g.
from tools/train/heldout.py) scored whole, at windows of W and of the model's context.
"""

import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

from corpus import DEFAULT_SOURCES, validation_documents
from ghost_model import load_exported

WINDOW = 512


@torch.no_grad()
def score(model, data, window=WINDOW):
    """(total bits, targets) of one text under the windowing above."""
    ids = torch.tensor(list(data), dtype=torch.int64)
    windows = [ids[i:i + window] for i in range(0, len(ids), window)]
    bits, targets = 0.0, 0
    full = [w for w in windows if len(w) == window]
    rest = [w for w in windows if 1 < len(w) < window]
    batches = [torch.stack(full[i:i + 8]) for i in range(0, len(full), 8)] + [w[None] for w in rest]
    for batch in batches:
        logp = F.log_softmax(model(batch)[:, :-1].double(), dim=-1)
        nll = -logp.gather(-1, batch[:, 1:, None]).sum().item()
        bits += nll / math.log(2)
        targets += batch.shape[0] * (batch.shape[1] - 1)
    return bits, targets


def summary(bits, targets):
    return {"bytes_predicted": targets, "bits_per_byte": round(bits / targets, 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default="models/ghost-tiny")
    ap.add_argument("--data-dir", default="build/train-data")
    ap.add_argument("--max-doc-bytes", type=int, default=1024)
    ap.add_argument("--sources", default=",".join(DEFAULT_SOURCES), help="the corpus sources it was trained on")
    ap.add_argument("--heldout", nargs="*", default=[], metavar="FILE", help="text files scored whole")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_exported(args.model_dir)

    with open(os.path.join(args.model_dir, "validation-sample.txt"), "rb") as f:
        sample_text = f.read()
    sample = summary(*score(model, sample_text))
    print(f"validation_sample: {sample}", flush=True)
    # A model with a longer context is also scored at it, so every position it serves is checked.
    context = model.config.max_position_embeddings
    long_sample = {}
    if context > WINDOW:
        long_sample = {f"validation_sample_{context}": {"file": "validation-sample.txt", "window": context,
                                                        **summary(*score(model, sample_text, context))}}
        print(f"validation_sample at window {context}: {long_sample}", flush=True)

    bits, targets = 0.0, 0
    documents = validation_documents(args.data_dir, args.sources.split(","))
    for name, data in documents:
        b, n = score(model, data[:args.max_doc_bytes] if args.max_doc_bytes else data)
        bits, targets = bits + b, targets + n
    full = summary(bits, targets)
    print(f"validation_full: {full}", flush=True)

    # Held-out texts at 512-token windows (comparable across models) and at the full context.
    heldout = []
    for path in args.heldout:
        with open(path, "rb") as f:
            text = f.read()
        for window in sorted({WINDOW, context}):
            heldout.append({"file": os.path.basename(path), "window": window, **summary(*score(model, text, window))})
            print(f"heldout: {heldout[-1]}", flush=True)

    result = {
        "validation_sample": {"file": "validation-sample.txt", **sample},
        **long_sample,
        "validation_full": {
            "documents": f"held-out last 5% of each of the {len(documents)} documents, each scored separately"
                         + (f", truncated to its first {args.max_doc_bytes} bytes" if args.max_doc_bytes else ""),
            **full,
        },
        **({"heldout": heldout} if heldout else {}),
        "window": WINDOW,
        "weights": "model.safetensors (bf16) widened to fp32, fp32 forward",
    }
    with open(os.path.join(args.model_dir, "eval.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
