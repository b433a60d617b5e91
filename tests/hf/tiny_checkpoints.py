#!/usr/bin/python3
"""Tiny Hugging Face decoder checkpoints and their logits, from an implementation of our own.

No model hub is reachable from the test machines, and the system Python has torch but neither
transformers nor safetensors. So this script writes small random checkpoints (2 layers, width 64)
of each architecture the workbench loads, in the exact layout transformers reads and writes:

  config.json                        the keys transformers writes for the config class
  model.safetensors                  8-byte little-endian header length, JSON header, raw bytes
  model-0000K-of-0000N.safetensors   shards, with model.safetensors.index.json, when --shard
                                     asks for them

and computes the logits of fixed token ids with an eager implementation written here from
transformers' modeling code (modeling_gpt2.py, modeling_llama.py, modeling_qwen2.py,
modeling_mistral.py, modeling_rope_utils.py), not from the workbench's C++: the C++ loader must
agree with it to 1e-4. Weights stored in bfloat16 are rounded before the logits are computed, so
the expected logits are those of the stored weights.

  tiny_checkpoints.py write OUT_DIR        every variant into OUT_DIR/<variant>/, with expected.json
  tiny_checkpoints.py logits FOLDER OUT    reads any such folder (config.json + safetensors, for
                                           example one the workbench saved) with the reader below
                                           and writes the logits of TOKENS to OUT as JSON

expected.json / OUT: {"tokens": [[...], ...], "logits": [[[...V floats...] x T] x B]}.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

# Two sequences of ten token ids below every variant's vocabulary (128).
TOKENS = [[3, 17, 42, 5, 99, 1, 0, 63, 7, 12], [127, 64, 64, 2, 31, 8, 100, 45, 9, 11]]

DTYPE_NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


# ---------------------------------------------------------------------------------------------
# safetensors by hand


def tensor_bytes(tensor, dtype):
    tensor = tensor.detach().to(dtype).contiguous()
    if dtype == torch.bfloat16:  # numpy has no bfloat16: its bits as int16
        return tensor.view(torch.int16).numpy().tobytes()
    return tensor.numpy().tobytes()


def write_safetensors(path, named, dtype):
    header, chunks, offset = {}, [], 0
    for name, tensor in named:
        data = tensor_bytes(tensor, dtype)
        header[name] = {"dtype": DTYPE_NAMES[dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # padded as the reference writer pads
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for chunk in chunks:
            out.write(chunk)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    data = blob[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[begin:end]
        shape = entry["shape"]
        if entry["dtype"] == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())
        elif entry["dtype"] == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f2").copy()).float()
        elif entry["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16).float()
        else:
            raise ValueError("%s: dtype %s of %s not handled here" % (path, entry["dtype"], name))
        tensors[name] = t.reshape(shape)
    return tensors


def read_checkpoint(folder):
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        index = json.load(f)
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        tensors.update(read_safetensors(os.path.join(folder, shard)))
    return {name: tensors[name] for name in index["weight_map"]}


def write_checkpoint(folder, named, dtype, shards):
    if shards <= 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), named, dtype)
        return
    per_shard = math.ceil(len(named) / shards)
    weight_map, total = {}, 0
    for k in range(shards):
        part = named[k * per_shard:(k + 1) * per_shard]
        file = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        write_safetensors(os.path.join(folder, file), part, dtype)
        for name, tensor in part:
            weight_map[name] = file
            total += tensor.numel() * torch.tensor([], dtype=dtype).element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# GPT-2, after transformers' modeling_gpt2.py (GPT2LMHeadModel in eval mode)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_logits(config, w, tokens):
    prefix = "transformer." if any(k.startswith("transformer.") for k in w) else ""
    g = lambda name: w[prefix + name]
    n_embd, n_head, eps = config["n_embd"], config["n_head"], config["layer_norm_epsilon"]
    act = {"gelu_new": gelu_new, "gelu_pytorch_tanh": gelu_new,
           "gelu": lambda x: torch.nn.functional.gelu(x)}[config.get("activation_function", "gelu_new")]
    ids = torch.tensor(tokens)
    b, t = ids.shape
    x = g("wte.weight")[ids] + g("wpe.weight")[torch.arange(t)]
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    conv1d = lambda h, name: h @ g(name + ".weight") + g(name + ".bias")  # Conv1D: x W + b, W (in, out)
    for i in range(config["n_layer"]):
        p = "h.%d." % i
        h = torch.nn.functional.layer_norm(x, (n_embd,), g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        q, k, v = conv1d(h, p + "attn.c_attn").split(n_embd, dim=2)
        split = lambda z: z.view(b, t, n_head, n_embd // n_head).permute(0, 2, 1, 3)
        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)
        scores = torch.where(causal, scores, torch.tensor(torch.finfo(scores.dtype).min))
        a = torch.matmul(torch.softmax(scores, dim=-1), v)
        a = a.permute(0, 2, 1, 3).contiguous().view(b, t, n_embd)
        x = x + conv1d(a, p + "attn.c_proj")
        h = torch.nn.functional.layer_norm(x, (n_embd,), g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        x = x + conv1d(act(conv1d(h, p + "mlp.c_fc")), p + "mlp.c_proj")
    x = torch.nn.functional.layer_norm(x, (n_embd,), g("ln_f.weight"), g("ln_f.bias"), eps)
    return x @ g("wte.weight").t()  # lm_head tied to wte


# ---------------------------------------------------------------------------------------------
# Llama, Qwen2, Mistral, after transformers' modeling_llama.py and modeling_rope_utils.py


def rope_inverse_frequencies(config, head_dim):
    base = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "linear":
        return inv_freq / scaling["factor"]
    if kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_context_len = scaling["original_max_position_embeddings"]
        low_freq_wavelen, high_freq_wavelen = old_context_len / low, old_context_len / high
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_freq_llama)
    assert kind == "default", kind
    return inv_freq


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def llama_logits(config, w, tokens):
    arch = config["architectures"][0]
    hidden, n_head = config["hidden_size"], config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads", n_head)
    head_dim = config.get("head_dim") or hidden // n_head
    eps = config["rms_norm_eps"]
    attention_bias = config.get("attention_bias", False) if arch == "LlamaForCausalLM" else False
    qkv_bias = arch == "Qwen2ForCausalLM" or attention_bias

    def lin(h, name, bias):
        y = h @ w[name + ".weight"].t()
        return y + w[name + ".bias"] if bias else y

    ids = torch.tensor(tokens)
    b, t = ids.shape
    x = w["model.embed_tokens.weight"][ids]
    inv_freq = rope_inverse_frequencies(config, head_dim)
    freqs = (inv_freq[None, :, None] @ torch.arange(t).float()[None, None, :]).transpose(1, 2)  # (1, T, d/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # (1, 1, T, d)
    mask = torch.full((t, t), torch.finfo(torch.float32).min).triu(1)
    for i in range(config["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj", qkv_bias).view(b, t, n_head, head_dim).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj", qkv_bias).view(b, t, n_kv, head_dim).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj", qkv_bias).view(b, t, n_kv, head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = n_head // n_kv  # repeat_kv
        k = k[:, :, None].expand(b, n_kv, rep, t, head_dim).reshape(b, n_head, t, head_dim)
        v = v[:, :, None].expand(b, n_kv, rep, t, head_dim).reshape(b, n_head, t, head_dim)
        scores = torch.matmul(q, k.transpose(2, 3)) * head_dim ** -0.5 + mask
        a = torch.matmul(torch.softmax(scores, dim=-1, dtype=torch.float32), v)
        a = a.transpose(1, 2).reshape(b, t, n_head * head_dim)
        x = x + lin(a, p + "self_attn.o_proj", attention_bias)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        mlp_bias = config.get("mlp_bias", False)
        gated = torch.nn.functional.silu(lin(h, p + "mlp.gate_proj", mlp_bias)) * lin(h, p + "mlp.up_proj", mlp_bias)
        x = x + lin(gated, p + "mlp.down_proj", mlp_bias)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.t()


def logits_of(folder, tokens):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    weights = read_checkpoint(folder)
    with torch.no_grad():
        if config["architectures"][0] == "GPT2LMHeadModel":
            return gpt2_logits(config, weights, tokens)
        return llama_logits(config, weights, tokens)


# ---------------------------------------------------------------------------------------------
# The variants


def gpt2_variant(gen, prefix, buffers):
    c = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
         "bos_token_id": 0, "embd_pdrop": 0.1, "eos_token_id": 0, "initializer_range": 0.02,
         "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 32, "n_embd": 64, "n_head": 4,
         "n_inner": None, "n_layer": 2, "n_positions": 32, "reorder_and_upcast_attn": False,
         "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
         "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
         "summary_type": "cls_index", "summary_use_proj": True, "torch_dtype": "float32",
         "transformers_version": "4.46.3", "use_cache": True, "vocab_size": 128}
    d, v = 64, 128
    r = lambda *shape, scale=0.2: torch.randn(*shape, generator=gen) * scale
    named = [("wte.weight", r(v, d)), ("wpe.weight", r(32, d))]
    for i in range(2):
        p = "h.%d." % i
        named += [(p + "ln_1.weight", 1 + r(d, scale=0.1)), (p + "ln_1.bias", r(d, scale=0.1))]
        if buffers:  # the causal-mask buffers of older saves: not weights
            named += [(p + "attn.bias", torch.tril(torch.ones(32, 32)).view(1, 1, 32, 32)),
                      (p + "attn.masked_bias", torch.tensor(-1e4))]
        named += [(p + "attn.c_attn.weight", r(d, 3 * d)), (p + "attn.c_attn.bias", r(3 * d, scale=0.1)),
                  (p + "attn.c_proj.weight", r(d, d)), (p + "attn.c_proj.bias", r(d, scale=0.1)),
                  (p + "ln_2.weight", 1 + r(d, scale=0.1)), (p + "ln_2.bias", r(d, scale=0.1)),
                  (p + "mlp.c_fc.weight", r(d, 4 * d)), (p + "mlp.c_fc.bias", r(4 * d, scale=0.1)),
                  (p + "mlp.c_proj.weight", r(4 * d, d)), (p + "mlp.c_proj.bias", r(d, scale=0.1))]
    named += [("ln_f.weight", 1 + r(d, scale=0.1)), ("ln_f.bias", r(d, scale=0.1))]
    return c, [(prefix + name, t) for name, t in named]


def llama_variant(gen, arch, kv_heads, tie, rope_theta, rope_scaling, extra):
    model_type = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "MistralForCausalLM": "mistral"}[arch]
    d, v, heads, head_dim, inter = 64, 128, 4, 16, 128
    c = {"architectures": [arch], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
         "hidden_act": "silu", "hidden_size": d, "initializer_range": 0.02, "intermediate_size": inter,
         "max_position_embeddings": 64, "model_type": model_type, "num_attention_heads": heads,
         "num_hidden_layers": 2, "num_key_value_heads": kv_heads, "rms_norm_eps": 1e-06,
         "rope_scaling": rope_scaling, "rope_theta": rope_theta, "tie_word_embeddings": tie,
         "torch_dtype": "float32", "transformers_version": "4.46.3", "use_cache": True, "vocab_size": v}
    c.update(extra)
    attention_bias = c.get("attention_bias", False) if arch == "LlamaForCausalLM" else False
    qkv_bias = arch == "Qwen2ForCausalLM" or attention_bias
    r = lambda *shape, scale=0.2: torch.randn(*shape, generator=gen) * scale
    named = [("model.embed_tokens.weight", r(v, d, scale=0.5))]
    for i in range(2):
        p = "model.layers.%d." % i
        for proj, rows in (("q_proj", heads * head_dim), ("k_proj", kv_heads * head_dim),
                           ("v_proj", kv_heads * head_dim)):
            named.append((p + "self_attn." + proj + ".weight", r(rows, d)))
            if qkv_bias:
                named.append((p + "self_attn." + proj + ".bias", r(rows, scale=0.1)))
        named.append((p + "self_attn.o_proj.weight", r(d, heads * head_dim)))
        if attention_bias:
            named.append((p + "self_attn.o_proj.bias", r(d, scale=0.1)))
        named += [(p + "mlp.gate_proj.weight", r(inter, d)), (p + "mlp.up_proj.weight", r(inter, d)),
                  (p + "mlp.down_proj.weight", r(d, inter)),
                  (p + "input_layernorm.weight", 1 + r(d, scale=0.1)),
                  (p + "post_attention_layernorm.weight", 1 + r(d, scale=0.1))]
    named.append(("model.norm.weight", 1 + r(d, scale=0.1)))
    if not tie:
        named.append(("lm_head.weight", r(v, d)))
    return c, named


def variants():
    """name -> (config, named tensors, stored dtype, shards)."""
    gen = torch.Generator().manual_seed(23)
    llama3 = {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
              "original_max_position_embeddings": 64, "rope_type": "llama3"}
    out = {}
    # As on the hub: GPT2Model's names (no prefix) with the attention's mask buffers.
    out["gpt2"] = gpt2_variant(gen, "", True) + (torch.float32, 1)
    # As GPT2LMHeadModel.save_pretrained writes it, in bfloat16 over three shards.
    out["gpt2_bf16_sharded"] = gpt2_variant(gen, "transformer.", False) + (torch.bfloat16, 3)
    # Grouped-query attention (4 heads, 2 key/value heads), Llama 3 rope scaling with all three
    # bands in use at head size 16, the head tied to the embedding (as SmolLM2).
    out["llama"] = llama_variant(gen, "LlamaForCausalLM", 2, True, 10000.0, llama3, {"head_dim": 16}) + (torch.float32, 1)
    # Linear rope scaling, attention_bias (q, k, v and o) and mlp_bias, an own head; bfloat16.
    out["llama_linear_bias_bf16"] = llama_variant(
        gen, "LlamaForCausalLM", 4, False, 500000.0, {"type": "linear", "factor": 2.0},
        {"attention_bias": True, "mlp_bias": False}) + (torch.bfloat16, 1)
    # Qwen2: q, k, v biases, an own head, 1 key/value head, two shards.
    out["qwen2_sharded"] = llama_variant(
        gen, "Qwen2ForCausalLM", 1, False, 1000000.0, None,
        {"use_sliding_window": False, "sliding_window": 64, "max_window_layers": 2}) + (torch.float32, 2)
    # Mistral: a sliding window no smaller than the context, grouped-query attention, bfloat16.
    out["mistral_bf16"] = llama_variant(gen, "MistralForCausalLM", 2, False, 10000.0, None,
                                        {"sliding_window": 64, "head_dim": 16}) + (torch.bfloat16, 1)
    return out


def write_all(out_dir):
    for name, (config, named, dtype, shards) in variants().items():
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        if dtype != torch.float32:
            config = dict(config, torch_dtype={torch.bfloat16: "bfloat16", torch.float16: "float16"}[dtype])
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        write_checkpoint(folder, named, dtype, shards)
        # The expected logits come from the files as written (bfloat16 rounding included).
        logits = logits_of(folder, TOKENS)
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump({"tokens": TOKENS, "logits": logits.tolist()}, f)


def main(argv):
    torch.set_num_threads(1)
    if len(argv) == 3 and argv[1] == "write":
        write_all(argv[2])
    elif len(argv) == 4 and argv[1] == "logits":
        logits = logits_of(argv[2], TOKENS)
        with open(argv[3], "w") as f:
            json.dump({"tokens": TOKENS, "logits": logits.tolist()}, f)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
