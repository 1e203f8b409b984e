"""Prints the fp32 logits at the last position for token ids 0..258, as a JSON list.

    /usr/bin/python3 tools/train/reference_logits.py models/ghost-tiny 84 104 101 32

The ids run at positions 0..n-1 (no BOS added); the weights are model.safetensors (bf16)
widened to fp32. Reference for checking the C++ forward pass.
"""

import json
import sys

import torch

from ghost_model import load_exported

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    ids = [int(tok) for tok in sys.argv[2:]]
    with torch.no_grad():
        logits = load_exported(sys.argv[1])(torch.tensor([ids]))[0, -1]
    print(json.dumps(logits.tolist()))
