"""Trains a byte-level Llama model on the corpus (CPU), resumably, and writes an fp32 checkpoint.

    /usr/bin/python3 tools/train/train.py --preset tiny    # ghost-tiny, the released run
    /usr/bin/python3 tools/train/train.py --preset small   # ghost-small; add --resume to go on

Presets fix the model shape, the data and the schedule; any flag overrides its preset.

Schedule. The learning rate warms up linearly, stays at --lr, then decays (cosine, to
--lr * --min-lr-ratio) over the last --decay-fraction of --steps. With --long-seq-len, the
last --long-fraction of the steps trains on sequences of that length (same tokens per
step: the batch shrinks), so the model learns every position of its context.

Resuming. Every --checkpoint-minutes the whole training state (model, optimizer, step,
torch and numpy RNG states -- the numpy generator *is* the data position, since batches
are random offsets --, the arguments and the wall time so far) is written to
<out dir>/train-state.pt (temporary file, then rename, so a kill never leaves a torn
file), and again at the end. `--resume` loads it and continues exactly as if the run
had not stopped. The arguments that shape the run must be those of the checkpoint; the
one exception is --steps, which may change while the checkpoint is still before the
decay and the long-sequence phase of both the old and the new target (the schedule up
to there does not depend on it). `--resume-from PATH` starts from another run's state,
e.g. to branch a short cooldown off a long run into a different --out.

Fine-tuning. `--init-from MODEL_DIR` starts a new run (step 0, a fresh optimizer) from the
weights of an exported model of the same shape, e.g. a short ternary-QAT run off the shipped
bf16 model when its training state is gone (it lives in build/, which a new machine lacks).

--time-budget MIN (ghost-tiny's original run, not resumable) decides --steps during the
run: the constant phase lasts until (1 - decay-fraction) of the budget has passed, then
the step count is fixed and logged; passing it back as --steps reproduces the run.
"""

import argparse
import math
import os
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from corpus import ALL_SOURCES, DEFAULT_SOURCES, train_stream, validation_documents
from ghost_model import EOS_ID, GhostConfig, LlamaForCausalLM, load_exported
from qat import enable_ternary_qat

PRESETS = {
    # ghost-tiny as released: 5.84M parameters, context 512, fp32.
    "tiny": dict(out="build/ghost-tiny/checkpoint.pt", sources=",".join(DEFAULT_SOURCES),
                 hidden_size=256, intermediate_size=1024, layers=6, heads=8, kv_heads=2, context=512,
                 steps=417, batch_size=2, seq_len=512, lr=3e-3, warmup_steps=30, bf16=False,
                 long_seq_len=0, long_fraction=0.0),
    # ghost-small: the same shape with a 1024 context, bf16 autocast (3x faster on CPUs with
    # AVX512-BF16), all sources, batch 8 x 256 (about 2x the tokens/s of 4 x 512 on 1 thread
    # here), the last 10% of the steps at 2 x 1024 so that it learns its whole context.
    "small": dict(out="build/ghost-small/checkpoint.pt", sources=",".join(ALL_SOURCES),
                  hidden_size=256, intermediate_size=1024, layers=6, heads=8, kv_heads=2, context=1024,
                  steps=20000, batch_size=8, seq_len=256, lr=3e-3, warmup_steps=100, bf16=True,
                  long_seq_len=1024, long_fraction=0.1),
}

# Arguments that do not change the trained weights; all others must match on --resume.
# The device is one of them: a state trained on the CPU can go on on a GPU and back (the
# rounding differs, the run does not).
# Arguments a branch (--resume-from) may change: a ternary-QAT cooldown off a bf16 run.
BRANCH_ARGS = {"qat_ternary_block", "qat_gated"}
RUN_ONLY_ARGS = {"threads", "log_every", "checkpoint_minutes", "out", "resume", "resume_from",
                 "data_dir", "time_budget", "steps", "device"}
VALIDATION_WINDOWS, VALIDATION_WINDOW = 16, 512


def decay_start(args):
    return int((1.0 - args.decay_fraction) * args.steps)


def long_start(args):
    return int((1.0 - args.long_fraction) * args.steps) if args.long_seq_len else args.steps


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


def shape_at(step, args):
    """(batch size, sequence length) of a step: the long phase keeps the tokens per step."""
    if args.steps is not None and step >= long_start(args):
        return args.batch_size * args.seq_len // args.long_seq_len, args.long_seq_len
    return args.batch_size, args.seq_len


def steps_for_decay_at(step, args):
    """The smallest step count whose decay phase starts at or after `step`."""
    steps = step
    while int((1.0 - args.decay_fraction) * steps) < step:
        steps += 1
    return steps


def parse_args():
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    preset = PRESETS[pre.parse_known_args()[0].preset]

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--data-dir", default="build/train-data")
    ap.add_argument("--out", help="final fp32 checkpoint; train-state.pt is written next to it")
    ap.add_argument("--sources", help=f"comma-separated, from {','.join(ALL_SOURCES)}")
    ap.add_argument("--hidden-size", type=int)
    ap.add_argument("--intermediate-size", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--context", type=int, help="max_position_embeddings of the exported config")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--time-budget", type=float, default=None, metavar="MIN",
                    help="choose --steps during the run to fit this many minutes of training")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seq-len", type=int)
    ap.add_argument("--long-seq-len", type=int, help="sequence length of the last --long-fraction (0: none)")
    ap.add_argument("--long-fraction", type=float)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, help="bf16 autocast (fp32 master weights)")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--decay-fraction", type=float, default=0.2)
    ap.add_argument("--warmup-steps", type=int)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda (the state is saved device-free)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--log-every", type=int, default=5)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--resume", action="store_true", help="continue from <out dir>/train-state.pt")
    ap.add_argument("--resume-from", metavar="PATH", help="continue from this train-state.pt")
    ap.add_argument("--qat-ternary-block", type=int, default=0, metavar="B",
                    help="ternary quantization-aware training with blocks of B weights (qat.py); 0: off")
    ap.add_argument("--qat-gated", action="store_true",
                    help="QAT in the layout the job stores for a model with MLP gates (down_proj transposed)")
    ap.add_argument("--init-from", metavar="MODEL_DIR",
                    help="start from an exported model's weights (config.json + model.safetensors)")
    ap.set_defaults(**preset)
    args = ap.parse_args()
    if args.time_budget is not None:
        if args.resume or args.resume_from:
            ap.error("--time-budget decides --steps during one run; it cannot be resumed")
        args.steps = None  # decided when the decay phase starts
    if args.init_from and args.resume_from:
        ap.error("--init-from starts a new run from weights; --resume-from continues a training state")
    if args.long_seq_len and (args.batch_size * args.seq_len) % args.long_seq_len:
        ap.error("--long-seq-len must divide the tokens per step (batch size x sequence length)")
    return args


def model_config(args):
    return GhostConfig(hidden_size=args.hidden_size, intermediate_size=args.intermediate_size,
                       num_hidden_layers=args.layers, num_attention_heads=args.heads,
                       num_key_value_heads=args.kv_heads, head_dim=args.hidden_size // args.heads,
                       max_position_embeddings=args.context)


def check_resumable(saved, args, step):
    """Exits unless `args` continue the run `saved` (the argument dict of a checkpoint)."""
    defaults = {"qat_ternary_block": 0, "qat_gated": False, "init_from": None}  # checkpoints written before the flags existed
    for key, value in vars(args).items():
        if key in RUN_ONLY_ARGS or (args.resume_from and key in BRANCH_ARGS):
            continue
        if saved.get(key, defaults.get(key)) != value:
            raise SystemExit(f"--resume: --{key.replace('_', '-')} is {value!r}, the checkpoint has {saved.get(key)!r}")
    if saved["steps"] != args.steps:
        old = argparse.Namespace(**{**saved})
        if step >= min(decay_start(old), long_start(old), decay_start(args), long_start(args)):
            raise SystemExit(f"--resume: --steps can change only before the decay and long phases "
                             f"(checkpoint at step {step}, old target {saved['steps']}, new {args.steps})")
        print(f"resume: target changed from {saved['steps']} to {args.steps} steps (step {step})", flush=True)


def save_atomically(obj, path):
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def validation_windows(args):
    """VALIDATION_WINDOWS fixed windows spread over the held-out parts, for the training log."""
    parts = []
    for _, data in validation_documents(args.data_dir, args.sources.split(",")):
        parts += [np.frombuffer(data, dtype=np.uint8).astype(np.int64), np.array([EOS_ID])]
    stream = torch.from_numpy(np.concatenate(parts))
    starts = np.linspace(0, len(stream) - VALIDATION_WINDOW, VALIDATION_WINDOWS).astype(np.int64)
    return torch.stack([stream[s:s + VALIDATION_WINDOW] for s in starts])


@torch.no_grad()
def validation_bpb(model, windows):
    model.eval()
    logp = F.log_softmax(model(windows[:, :-1]).double(), dim=-1)
    nll = -logp.gather(-1, windows[:, 1:, None]).mean().item()
    model.train()
    return nll / math.log(2)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    stream = torch.from_numpy(train_stream(args.data_dir, args.sources.split(",")).astype(np.int64))
    cfg = model_config(args)
    model = LlamaForCausalLM(cfg).to(args.device)  # initialised on the CPU: the same on every device
    n_params = sum(p.numel() for p in model.parameters())
    if args.init_from:
        exported = load_exported(args.init_from)
        if asdict(exported.config) != asdict(cfg):
            raise SystemExit(f"--init-from {args.init_from}: its shape {asdict(exported.config)} "
                             f"is not the run's {asdict(cfg)}")
        model.load_state_dict(exported.state_dict())
        print(f"initialised from {args.init_from}", flush=True)
    if args.qat_ternary_block:
        count = enable_ternary_qat(model, args.qat_ternary_block, args.qat_gated)
        print(f"ternary QAT: {count} projections, blocks of {args.qat_ternary_block}"
              f"{', gated layout' if args.qat_gated else ''}", flush=True)

    # Weight decay on matrices (projections, embeddings, lm_head), not on norm gains.
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": args.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    state_path = os.path.join(out_dir, "train-state.pt")
    step, wall_before = 0, 0.0
    resume_path = args.resume_from or (state_path if args.resume else None)
    if resume_path:
        state = torch.load(resume_path, map_location="cpu")
        step, wall_before = state["step"], state["wall_time_s"]
        check_resumable(state["args"], args, step)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["numpy_rng"]
        print(f"resumed from {resume_path} at step {step} ({wall_before:.0f}s trained)", flush=True)
    print(f"params {n_params} | train tokens {len(stream)} | batch {args.batch_size}x{args.seq_len} "
          f"| steps {args.steps} | bf16 {args.bf16}", flush=True)
    windows = validation_windows(args).to(args.device)

    def write_state():
        save_atomically({"model": on_cpu(model.state_dict()), "optimizer": on_cpu(opt.state_dict()), "step": step,
                         "torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state,
                         "args": vars(args), "config": asdict(cfg), "tokens": tokens_until(step, args),
                         "wall_time_s": wall_before + time.time() - start}, state_path)

    start = last_save = time.time()
    while args.steps is None or step < args.steps:
        if args.steps is None and step >= args.warmup_steps \
                and time.time() - start >= (1.0 - args.decay_fraction) * args.time_budget * 60.0:
            args.steps = steps_for_decay_at(step, args)
            print(f"time budget: decay starts at step {decay_start(args)} -> --steps {args.steps}", flush=True)
        batch_size, seq_len = shape_at(step, args)
        span = seq_len + 1
        offsets = rng.integers(0, len(stream) - span + 1, size=batch_size)
        batch = torch.stack([stream[o:o + span] for o in offsets]).to(args.device)
        lr = lr_at(step, args)
        for group in opt.param_groups:
            group["lr"] = lr

        with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1

        if step % args.log_every == 0 or step == args.steps:
            elapsed = wall_before + time.time() - start
            print(f"step {step}/{args.steps or '?'} | loss {loss.item():.4f} | bpb {loss.item() / math.log(2):.3f} "
                  f"| lr {lr:.2e} | gnorm {grad_norm:.2f} | seq {seq_len} | tokens {tokens_until(step, args)} "
                  f"| elapsed {elapsed:.0f}s", flush=True)
        if args.time_budget is None and time.time() - last_save >= args.checkpoint_minutes * 60.0:
            write_state()
            print(f"checkpoint: step {step} -> {state_path} | val bpb {validation_bpb(model, windows):.4f}",
                  flush=True)
            # After the validation: on a starved core it took longer than the interval, and
            # every step then wrote a checkpoint.
            last_save = time.time()

    wall = wall_before + time.time() - start
    tokens = tokens_until(args.steps, args)
    if args.time_budget is None:
        write_state()
    torch.save({"model": on_cpu(model.state_dict()), "config": asdict(cfg), "args": vars(args),
                "steps": args.steps, "tokens": tokens, "wall_time_s": wall}, args.out)
    print(f"done: {args.steps} steps, {tokens} tokens, {wall:.0f}s, val bpb {validation_bpb(model, windows):.4f} "
          f"-> {args.out}", flush=True)


def on_cpu(obj):
    """A copy of a (nested) state dict with every tensor on the CPU."""
    if torch.is_tensor(obj):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [on_cpu(v) for v in obj]
    return obj


def tokens_until(step, args):
    """Training tokens seen after `step` steps (every step has the same number of tokens)."""
    return step * args.batch_size * args.seq_len


if __name__ == "__main__":
    main()
