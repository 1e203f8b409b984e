"""Generates text from an exported ghost-tiny directory (fp32 forward of the bf16 weights).

    /usr/bin/python3 tools/train/sample.py --prompt "The President said" --greedy
    /usr/bin/python3 tools/train/sample.py --prompt "The President said" --seed 1

Sampling defaults follow generation_config.json (temperature, top_k, top_p,
max_new_tokens); generation stops at EOS. No KV cache: every step reruns the last
max_position_embeddings tokens.
"""

import argparse
import json
import os
import sys

import torch

from ghost_model import EOS_ID, load_exported


def next_token(logits, args):
    if args.greedy:
        return int(logits.argmax())
    logits = logits / args.temperature
    if args.top_k > 0:
        kth = torch.topk(logits, min(args.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    # Nucleus: keep the smallest set of most likely tokens whose mass reaches top_p.
    sorted_probs, order = probs.sort(descending=True)
    drop = sorted_probs.cumsum(0) - sorted_probs >= args.top_p
    probs[order[drop]] = 0.0
    return int(torch.multinomial(probs / probs.sum(), 1))


@torch.no_grad()
def generate(model, prompt, args):
    ids = list(prompt)
    context = model.config.max_position_embeddings
    for _ in range(args.max_new_tokens):
        logits = model(torch.tensor([ids[-context:]]))[0, -1]
        token = next_token(logits, args)
        if token == EOS_ID:
            break
        ids.append(token)
    # Special tokens other than EOS are never sampled in practice; drop them if they are.
    return bytes(t for t in ids[len(prompt):] if t < 256)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default="models/ghost-tiny")
    ap.add_argument("--prompt", default="The President said")
    ap.add_argument("--greedy", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--top-k", type=int)
    ap.add_argument("--top-p", type=float)
    ap.add_argument("--max-new-tokens", type=int)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    with open(os.path.join(args.model_dir, "generation_config.json")) as f:
        gen = json.load(f)
    for key in ("temperature", "top_k", "top_p", "max_new_tokens"):
        if getattr(args, key) is None:
            setattr(args, key, gen[key])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model = load_exported(args.model_dir)
    prompt = args.prompt.encode("utf-8")
    out = generate(model, prompt, args)
    sys.stdout.write((prompt + out).decode("utf-8", errors="replace") + "\n")


if __name__ == "__main__":
    main()
