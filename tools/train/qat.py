"""Ternary quantization-aware training (QAT): the decoder's projections see their ternary form.

With `train.py --qat-ternary-block B`, every q/k/v/o/gate/up/down projection multiplies by
its weights as the compression job will store them -- per block of B consecutive weights of a
row, scale * {-1, 0, +1} with an fp16 scale -- while the gradient flows to the full-precision
weights unchanged (straight-through estimator). The embeddings, norms and lm_head stay as they
are, as in the compressed model. export.py writes the projections as they computed, scale *
codes (ternary_state_dict below): those are the model the run trained (its full-precision
weights alone score worse), and a block that already is scale * {-1, 0, +1} is its own
zero-error fit, so the compression job stores exactly the codes the model was trained with,
whatever importances it weighs them by (it weighs weights by activation statistics, which
moved codes wherever two choices were close when the full-precision weights were exported).

The fit is the compression job's exact solver (engine/compress/ternary.h) with every importance
equal: for each block, the codes are the k largest |w| for the k that maximises
(sum of those |w|)^2 / k, the scale their mean, rounded to fp16, and the codes are then
sign(w) * [|w| > scale / 2] for that scale.

    /usr/bin/python3 tools/train/qat.py   # checks the fit against brute force on random blocks
"""

import types

import torch
import torch.nn.functional as F

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@torch.no_grad()
def ternary_blocks(w, block):
    """w [rows, cols] (cols % block == 0) as scale * codes per block, the least-error fit."""
    blocks = w.float().reshape(-1, block)
    magnitude = blocks.abs()
    top, _ = magnitude.sort(dim=1, descending=True)
    sums = top.cumsum(dim=1)
    counts = torch.arange(1, block + 1, dtype=torch.float32, device=w.device)
    k = (sums * sums / counts).argmax(dim=1, keepdim=True)
    scale = (sums.gather(1, k) / (k + 1).float()).half().float()
    codes = torch.sign(blocks) * (magnitude > scale / 2)
    return (codes * scale).reshape(w.shape).to(w.dtype)


def is_projection(name):
    """Whether a state-dict entry is a decoder projection's weight (what QAT quantizes)."""
    parts = name.split(".")
    return len(parts) >= 2 and parts[-1] == "weight" and parts[-2] in PROJECTIONS


def stored_transposed(name, gated):
    """Whether the job stores this projection transposed: down_proj of a model with MLP gates
    (--target_sparsity), so that a zeroed activation skips a whole row; its blocks then run
    along the output dimension."""
    return gated and "down_proj" in name.split(".")


def ternary_fit(w, block, transposed):
    """The ternary fit of one projection's weight in the job's layout."""
    return ternary_blocks(w.t(), block).t() if transposed else ternary_blocks(w, block)


def ternary_state_dict(state, block, gated):
    """`state` with every projection weight replaced by its ternary fit (what QAT computed with)."""
    return {name: ternary_fit(t, block, stored_transposed(name, gated)) if is_projection(name) else t
            for name, t in state.items()}


def _ternary_forward(self, x):
    w = self.weight
    # Straight-through: the forward sees the ternary weights, the gradient reaches w as is.
    w_q = w + (ternary_fit(w, self.qat_block, self.qat_transposed) - w).detach()
    return F.linear(x, w_q, self.bias)


def enable_ternary_qat(model, block, gated):
    """Makes every decoder projection of `model` compute with its ternary fit, in the layout the
    job stores for a gated model when `gated`; returns their count."""
    count = 0
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in PROJECTIONS:
            transposed = stored_transposed(name, gated)
            length = module.out_features if transposed else module.in_features
            if length % block:
                raise SystemExit(f"--qat-ternary-block {block} does not divide {name}'s blocked dimension ({length})")
            module.qat_block = block
            module.qat_transposed = transposed
            module.forward = types.MethodType(_ternary_forward, module)
            count += 1
    return count


def _brute_force(row):
    """The least-error (scale, codes) over every k, for one block (the definition)."""
    best = None
    magnitude = row.abs()
    order = magnitude.argsort(descending=True)
    for k in range(1, len(row) + 1):
        scale = magnitude[order[:k]].mean()
        scale = scale.half().float()
        codes = torch.sign(row) * (magnitude > scale / 2)
        error = ((row - scale * codes) ** 2).sum().item()
        if best is None or error < best[0] - 1e-12:
            best = (error, scale * codes)
    return best


def _self_check():
    torch.manual_seed(0)
    w = torch.randn(16, 64) * torch.rand(16, 1)
    fitted = ternary_blocks(w, 64)
    for r in range(w.shape[0]):
        error, _ = _brute_force(w[r])
        ours = ((w[r] - fitted[r]) ** 2).sum().item()
        assert ours <= error * (1 + 1e-4) + 1e-9, (r, ours, error)
    refit = ternary_blocks(fitted, 64)
    assert torch.equal(refit, fitted), "a ternary block is not its own fit"
    print("qat.py: the fit matches brute force on 16 random blocks of 64 and is its own fit")


if __name__ == "__main__":
    _self_check()
