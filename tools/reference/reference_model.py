"""An independent float64 PyTorch forward of the Llama-family decoders, written from the
published architectures (not from our C++ engine): Llama 2/3 (RMSNorm, rotary embeddings in
Hugging Face's rotate_half layout with optional linear or llama3 frequency scaling, grouped-
query attention, SwiGLU MLP), Qwen2 (bias on the q/k/v projections) and Mistral (sliding
window attention: the query at position i sees keys j with i - window < j <= i).

`weights` maps Hugging Face tensor names to tensors; `spec` is the dict written to
config.json (the rope keys as in the classic layout: rope_theta + rope_scaling).
"""
import math

import torch


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def inverse_frequencies(head_dim, theta, scaling):
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / scaling["factor"]
    if kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        context = scaling["original_max_position_embeddings"]
        wavelength = 2 * math.pi / inv_freq
        scaled = torch.where(wavelength > context / low, inv_freq / factor, inv_freq)
        smooth = (context / wavelength - low) / (high - low)
        blended = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelength >= context / high) & (wavelength <= context / low)
        return torch.where(medium, blended, scaled)
    raise ValueError(f"rope type {kind}")


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def attention_mask(length, window):
    query = torch.arange(length)[:, None]
    key = torch.arange(length)[None, :]
    allowed = key <= query
    if window:
        allowed &= key > query - window
    return allowed


def linear(x, weights, name):
    out = x @ weights[name + ".weight"].T
    bias = weights.get(name + ".bias")
    return out if bias is None else out + bias


def forward(spec, weights, tokens):
    """Logits [len(tokens), vocab] in float64."""
    w = {name: t.to(torch.float64) for name, t in weights.items()}
    heads, kv_heads = spec["num_attention_heads"], spec["num_key_value_heads"]
    head_dim = spec.get("head_dim") or spec["hidden_size"] // heads
    eps = spec["rms_norm_eps"]
    length = len(tokens)
    window = spec.get("sliding_window") if spec["architectures"][0] == "MistralForCausalLM" \
        else None

    inv_freq = inverse_frequencies(head_dim, spec["rope_theta"], spec.get("rope_scaling"))
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)
    cos = torch.cat((angles, angles), dim=-1).cos()
    sin = torch.cat((angles, angles), dim=-1).sin()
    mask = attention_mask(length, window)

    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for layer in range(spec["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, w, p + "self_attn.q_proj").view(length, heads, head_dim).transpose(0, 1)
        k = linear(h, w, p + "self_attn.k_proj").view(length, kv_heads, head_dim).transpose(0, 1)
        v = linear(h, w, p + "self_attn.v_proj").view(length, kv_heads, head_dim).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv_heads, dim=0)
        v = v.repeat_interleave(heads // kv_heads, dim=0)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(head_dim)
        scores = scores.masked_fill(~mask, float("-inf"))
        attended = (scores.softmax(-1) @ v).transpose(0, 1).reshape(length, heads * head_dim)
        x = x + linear(attended, w, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, w, p + "mlp.gate_proj")
        x = x + linear(torch.nn.functional.silu(gate) * linear(h, w, p + "mlp.up_proj"), w,
                       p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    lm_head = w["model.embed_tokens.weight"] if spec.get("tie_word_embeddings") \
        else w["lm_head.weight"]
    return x @ lm_head.T
