"""Trains ghost-tiny on the byte-level corpus (fp32, CPU) and writes an fp32 checkpoint.

    /usr/bin/python3 tools/train/train.py --data-dir build/train-data --out build/ghost-tiny/checkpoint.pt

The defaults reproduce the released model. The learning rate warms up linearly, stays
at --lr, then decays (cosine, to --lr * --min-lr-ratio) over the last --decay-fraction
of the steps. --time-budget MIN decides the number of steps during the run: the constant
phase lasts until (1 - decay-fraction) of the budget has passed, then the step count is
fixed so that the decay takes the remaining fraction of the steps. The chosen count is
logged; passing it back as --steps reproduces the run exactly, since the schedule before
the decay does not depend on it.
"""

import argparse
import math
import os
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from corpus import train_stream
from ghost_model import GhostConfig, LlamaForCausalLM


def decay_start(args):
    return int((1.0 - args.decay_fraction) * args.steps)


def lr_at(step, args):
    """Warmup-stable-decay schedule (see the module docstring)."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    if args.steps is None or step < decay_start(args):  # steps is None: not yet decided
        return args.lr
    start = decay_start(args)
    progress = (step - start) / max(1, args.steps - start)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return args.lr * (args.min_lr_ratio + (1.0 - args.min_lr_ratio) * cosine)


def steps_for_decay_at(step, args):
    """The smallest step count whose decay phase starts at or after `step`."""
    steps = step
    while int((1.0 - args.decay_fraction) * steps) < step:
        steps += 1
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="build/train-data")
    ap.add_argument("--out", default="build/ghost-tiny/checkpoint.pt")
    ap.add_argument("--steps", type=int, default=417)
    ap.add_argument("--time-budget", type=float, default=None, metavar="MIN",
                    help="choose --steps during the run to fit this many minutes of training")
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--decay-fraction", type=float, default=0.2)
    ap.add_argument("--warmup-steps", type=int, default=30)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--log-every", type=int, default=5)
    args = ap.parse_args()
    if args.time_budget is not None:
        args.steps = None  # decided when the decay phase starts

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    stream = torch.from_numpy(train_stream(args.data_dir).astype(np.int64))
    cfg = GhostConfig(max_position_embeddings=args.seq_len)
    model = LlamaForCausalLM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params} | train tokens {len(stream)} | batch {args.batch_size}x{args.seq_len}", flush=True)

    # Weight decay on matrices (projections, embeddings, lm_head), not on norm gains.
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": args.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    span = args.seq_len + 1
    start = time.time()
    step = 0
    while args.steps is None or step < args.steps:
        if args.steps is None and step >= args.warmup_steps \
                and time.time() - start >= (1.0 - args.decay_fraction) * args.time_budget * 60.0:
            args.steps = steps_for_decay_at(step, args)
            print(f"time budget: decay starts at step {decay_start(args)} -> --steps {args.steps}", flush=True)
        offsets = rng.integers(0, len(stream) - span + 1, size=args.batch_size)
        batch = torch.stack([stream[o:o + span] for o in offsets])
        lr = lr_at(step, args)
        for group in opt.param_groups:
            group["lr"] = lr

        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1

        if step % args.log_every == 0 or step == args.steps:
            elapsed = time.time() - start
            print(f"step {step}/{args.steps or '?'} | loss {loss.item():.4f} | bpb {loss.item() / math.log(2):.3f} "
                  f"| lr {lr:.2e} | gnorm {grad_norm:.2f} | tokens {step * args.batch_size * args.seq_len} "
                  f"| elapsed {elapsed:.0f}s", flush=True)

    wall = time.time() - start
    tokens = args.steps * args.batch_size * args.seq_len
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({"model": model.state_dict(), "config": asdict(cfg), "args": vars(args),
                "steps": args.steps, "tokens": tokens, "wall_time_s": wall}, args.out)
    print(f"done: {args.steps} steps, {tokens} tokens, {wall:.0f}s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
