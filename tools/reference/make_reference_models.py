"""Writes small random Llama / Qwen2 / Mistral model directories and their reference logits.

Usage: make_reference_models.py OUT_DIR

For each model OUT_DIR/<name>/ gets a Hugging Face layout (config.json, model.safetensors or
shards + model.safetensors.index.json, tokenizer.json (bytes are token ids),
generation_config.json) plus:
  reference.json        {"tokens": [...], "prompt_tokens": P, "vocab_size": V,
                         "architecture": ..., "dtype": "float32" | "bfloat16"}
  reference_logits.bin  float64 little-endian [len(tokens), V]: the float64 forward of
                        reference_model.py over all tokens, on the stored (rounded) weights.
tokens = a fixed P-token prompt + the reference's greedy continuation of it.
"""
import json
import os
import shutil
import sys

import torch

import reference_model
from safetensors_io import write_safetensors

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = b"The quick brown fox jumps over the lazy dog; 0123456789!"[:40]
CONTINUATION = 8
VOCAB = 259  # the byte-level tokenizer: bytes 0-255, <s> 256, </s> 257, <pad> 258

COMMON = {
    "model_type": "llama", "vocab_size": VOCAB, "num_hidden_layers": 3,
    "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "hidden_act": "silu",
    "bos_token_id": 256, "eos_token_id": 257, "tie_word_embeddings": False,
    "rope_theta": 10000.0,
}

# name -> (config keys over COMMON, shards: 0 = one model.safetensors)
FAMILIES = {
    # Llama 3.1-style rope scaling; head_dim (32) != hidden / heads (24).
    "llama": ({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 96, "intermediate_size": 160,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
        "attention_bias": False, "mlp_bias": False,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
    }, 3),
    # Linear position interpolation, written in the newer rope_parameters layout.
    "llama-linear": ({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rope_theta": 50000.0,
        "rope_scaling": {"rope_type": "linear", "factor": 2.0},
    }, 0),
    # Biases on q/k/v (no config key says so), tied embeddings; the sliding_window key is
    # present but off (use_sliding_window false), as in released Qwen2.5 configs.
    "qwen2": ({
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
        "intermediate_size": 144, "num_attention_heads": 4, "num_key_value_heads": 2,
        "rope_theta": 1000000.0, "tie_word_embeddings": True, "use_sliding_window": False,
        "sliding_window": 8, "max_window_layers": 3,
    }, 0),
    # A window (12) shorter than the sequence (48 tokens), so it changes the logits.
    "mistral": ({
        "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 64,
        "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 1,
        "sliding_window": 12,
    }, 0),
}
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def random_weights(spec, seed):
    """float32 weights scaled so that the logits spread over several units."""
    g = torch.Generator().manual_seed(seed)
    hidden, inner = spec["hidden_size"], spec["intermediate_size"]
    heads, kv_heads = spec["num_attention_heads"], spec["num_key_value_heads"]
    head_dim = spec.get("head_dim") or hidden // heads
    qwen = spec["architectures"][0] == "Qwen2ForCausalLM"

    def normal(*shape, std):
        return torch.randn(*shape, generator=g) * std

    def matrix(rows, cols):
        return normal(rows, cols, std=1.0 / cols ** 0.5)

    # Tied embeddings double as the lm_head: keep them small enough for a spread of logits.
    embed_std = 0.3 if spec["tie_word_embeddings"] else 1.0
    w = {"model.embed_tokens.weight": normal(VOCAB, hidden, std=embed_std),
         "model.norm.weight": 1.0 + normal(hidden, std=0.1)}
    if not spec["tie_word_embeddings"]:
        w["lm_head.weight"] = normal(VOCAB, hidden, std=2.0 / hidden ** 0.5)
    for layer in range(spec["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        w[p + "input_layernorm.weight"] = 1.0 + normal(hidden, std=0.1)
        w[p + "post_attention_layernorm.weight"] = 1.0 + normal(hidden, std=0.1)
        # Larger q/k so that attention is not uniform and positions matter.
        w[p + "self_attn.q_proj.weight"] = 2.0 * matrix(heads * head_dim, hidden)
        w[p + "self_attn.k_proj.weight"] = 2.0 * matrix(kv_heads * head_dim, hidden)
        w[p + "self_attn.v_proj.weight"] = matrix(kv_heads * head_dim, hidden)
        w[p + "self_attn.o_proj.weight"] = matrix(hidden, heads * head_dim)
        w[p + "mlp.gate_proj.weight"] = matrix(inner, hidden)
        w[p + "mlp.up_proj.weight"] = matrix(inner, hidden)
        w[p + "mlp.down_proj.weight"] = matrix(hidden, inner)
        if qwen:
            w[p + "self_attn.q_proj.bias"] = normal(heads * head_dim, std=0.5)
            w[p + "self_attn.k_proj.bias"] = normal(kv_heads * head_dim, std=0.5)
            w[p + "self_attn.v_proj.bias"] = normal(kv_heads * head_dim, std=0.5)
    return w


def config_json(spec, family, dtype_name):
    config = dict(spec)
    if family == "llama-linear":
        # transformers 5 layout: theta and scaling together, and "dtype" for torch_dtype.
        config["rope_parameters"] = dict(config.pop("rope_scaling"),
                                         rope_theta=config.pop("rope_theta"))
        config["dtype"] = dtype_name
    else:
        config["torch_dtype"] = dtype_name
    return config


def write_weights(directory, weights, shards):
    if shards == 0:
        write_safetensors(os.path.join(directory, "model.safetensors"), weights)
        return
    names = sorted(weights)
    weight_map = {}
    for i in range(shards):
        shard = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: weights[name] for name in names[i::shards]}
        write_safetensors(os.path.join(directory, shard), part, {"format": "pt"})
        weight_map.update({name: shard for name in part})
    total = sum(t.numel() * t.element_size() for t in weights.values())
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def greedy_sequence(spec, weights):
    tokens = list(PROMPT)
    for _ in range(CONTINUATION):
        logits = reference_model.forward(spec, weights, tokens)
        tokens.append(int(logits[-1].argmax()))
    return tokens, reference_model.forward(spec, weights, tokens)


def write_model(out_dir, family, dtype_key, seed):
    spec = dict(COMMON, **FAMILIES[family][0])
    dtype = DTYPES[dtype_key]
    dtype_name = "float32" if dtype == torch.float32 else "bfloat16"
    weights = {n: t.to(dtype) for n, t in random_weights(spec, seed).items()}
    directory = os.path.join(out_dir, f"{family}-{dtype_key}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config_json(spec, family, dtype_name), f, indent=2)
    with open(os.path.join(directory, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 256, "eos_token_id": 257, "do_sample": False}, f, indent=2)
    shutil.copy(os.path.join(REPO, "models", "ghost-tiny", "tokenizer.json"), directory)
    write_weights(directory, weights, FAMILIES[family][1])

    tokens, logits = greedy_sequence(spec, weights)
    logits.to(torch.float64).contiguous().numpy().astype("<f8").tofile(
        os.path.join(directory, "reference_logits.bin"))
    top2 = logits.topk(2, dim=-1).values
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump({"tokens": tokens, "prompt_tokens": len(PROMPT), "vocab_size": VOCAB,
                   "architecture": spec["architectures"][0], "dtype": dtype_name,
                   "logits_file": "reference_logits.bin",
                   "min_top2_gap": float((top2[:, 0] - top2[:, 1]).min()),
                   "max_abs_logit": float(logits.abs().max())}, f, indent=2)
    return directory


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for seed, family in enumerate(FAMILIES, start=1):
        for dtype_key in DTYPES:
            if family == "llama-linear" and dtype_key == "bf16":
                continue  # the layout test needs one precision only
            print("wrote", write_model(out_dir, family, dtype_key, seed))


if __name__ == "__main__":
    main()
