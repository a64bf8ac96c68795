#!/usr/bin/env python3
"""The JAX reference for `cpo-tui bench`: the same model "tiny", trained and sampled the same way.

Not part of the Swift package and never run by `swift test`: a recipe for comparing the Swift
core against XLA on the same machine in the same run (scripts/bench-vs-jax.sh runs both).

Model "tiny" (as TinyLM's ModelConfig.tiny): vocabulary 512, context 64, d_model 128, 4 heads,
2 pre-LayerNorm blocks, MLP 4x with tanh-GELU, learned positions, tied output head, biases
everywhere; 470,528 parameters. Training: batch 32 x 64 tokens, next-token cross-entropy,
global gradient-norm clipping at 1, AdamW (decoupled decay on matrices only), one jitted step
with donated buffers. Sampling: batch 32, 64 new tokens after a BOS prompt, temperature 1,
a KV cache, one jitted lax.scan.

Prints one JSON object: train_tokens_per_s and sample_tokens_per_s (medians), jax version,
threads. Written for this project; the model follows the usual GPT-2 layout.
"""
import argparse
import json
import math
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

V, T, D, H, L = 512, 64, 128, 4, 2
HD = D // H
BATCH = 32


def init_params(key):
    def normal(k, shape, std=0.02):
        return std * jax.random.normal(k, shape, jnp.float32)

    keys = iter(jax.random.split(key, 4 + 8 * L))
    p = {"wte": normal(next(keys), (V, D)), "wpe": normal(next(keys), (T, D)),
         "lnf_g": jnp.ones(D), "lnf_b": jnp.zeros(D), "blocks": []}
    for _ in range(L):
        p["blocks"].append({
            "ln1_g": jnp.ones(D), "ln1_b": jnp.zeros(D),
            "qkv_w": normal(next(keys), (D, 3 * D)), "qkv_b": jnp.zeros(3 * D),
            "proj_w": normal(next(keys), (D, D)), "proj_b": jnp.zeros(D),
            "ln2_g": jnp.ones(D), "ln2_b": jnp.zeros(D),
            "fc_w": normal(next(keys), (D, 4 * D)), "fc_b": jnp.zeros(4 * D),
            "fc2_w": normal(next(keys), (4 * D, D)), "fc2_b": jnp.zeros(D),
        })
    return p


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + 1e-5) * g + b


def gelu(x):
    return 0.5 * x * (1 + jnp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def block(bp, x, mask):
    b, t, _ = x.shape
    h = layer_norm(x, bp["ln1_g"], bp["ln1_b"])
    q, k, v = jnp.split(h @ bp["qkv_w"] + bp["qkv_b"], 3, axis=-1)
    q, k, v = (z.reshape(b, t, H, HD).transpose(0, 2, 1, 3) for z in (q, k, v))
    att = jnp.where(mask, (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(HD), -1e30)
    y = (jax.nn.softmax(att, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(b, t, D)
    x = x + y @ bp["proj_w"] + bp["proj_b"]
    h = layer_norm(x, bp["ln2_g"], bp["ln2_b"])
    return x + gelu(h @ bp["fc_w"] + bp["fc_b"]) @ bp["fc2_w"] + bp["fc2_b"]


def loss_fn(p, tokens):
    inp, tgt = tokens[:, :-1], tokens[:, 1:]
    t = inp.shape[1]
    x = p["wte"][inp] + p["wpe"][:t]
    mask = jnp.tril(jnp.ones((t, t), bool))
    for bp in p["blocks"]:
        x = block(bp, x, mask)
    logits = layer_norm(x, p["lnf_g"], p["lnf_b"]) @ p["wte"].T
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, tgt[..., None], axis=-1).mean()


def adamw_step(p, m, v, g, step, lr=3e-4, b1=0.9, b2=0.95, eps=1e-8, wd=0.1):
    norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))
    scale = jnp.minimum(1.0, 1.0 / (norm + 1e-6))

    def upd(pp, mm, vv, gg):
        gg = gg * scale
        mm = b1 * mm + (1 - b1) * gg
        vv = b2 * vv + (1 - b2) * gg * gg
        mhat = mm / (1 - b1 ** step)
        vhat = vv / (1 - b2 ** step)
        decay = wd if pp.ndim == 2 else 0.0
        return pp - lr * (mhat / (jnp.sqrt(vhat) + eps) + decay * pp), mm, vv

    out = jax.tree_util.tree_map(upd, p, m, v, g)
    pick = lambda i: jax.tree_util.tree_map(lambda o: o[i], out, is_leaf=lambda o: isinstance(o, tuple))
    return pick(0), pick(1), pick(2)


@jax.jit
def _train_step(p, m, v, tokens, step):
    loss, g = jax.value_and_grad(loss_fn)(p, tokens)
    p, m, v = adamw_step(p, m, v, g, step)
    return p, m, v, loss


train_step = jax.jit(_train_step, donate_argnums=(0, 1, 2))


def measure_training(min_seconds):
    key = jax.random.PRNGKey(0)
    p = init_params(key)
    m = jax.tree_util.tree_map(jnp.zeros_like, p)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    # 64 tokens per row are trained on, as in the Swift bench (65 ids: inputs and shifted targets).
    data = jax.random.randint(jax.random.PRNGKey(1), (16, BATCH, T + 1), 0, V)
    step = 1
    for _ in range(3):  # compile and warm up
        p, m, v, loss = train_step(p, m, v, data[step % 16], float(step))
        step += 1
    loss.block_until_ready()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < 5:
        t0 = time.perf_counter()
        p, m, v, loss = train_step(p, m, v, data[step % 16], float(step))
        loss.block_until_ready()
        times.append(time.perf_counter() - t0)
        step += 1
    return BATCH * T / statistics.median(times)


def make_sampler(new_tokens):
    def step(p, carry, _):
        tok, pos, kc, vc, key = carry
        x = p["wte"][tok] + p["wpe"][pos]            # (B, D)
        new_k, new_v = [], []
        for li, bp in enumerate(p["blocks"]):
            h = layer_norm(x, bp["ln1_g"], bp["ln1_b"])
            q, k, v = jnp.split(h @ bp["qkv_w"] + bp["qkv_b"], 3, axis=-1)
            q, k, v = (z.reshape(-1, H, HD) for z in (q, k, v))
            kl = jax.lax.dynamic_update_slice(kc[li], k[:, :, None, :], (0, 0, pos, 0))
            vl = jax.lax.dynamic_update_slice(vc[li], v[:, :, None, :], (0, 0, pos, 0))
            new_k.append(kl)
            new_v.append(vl)
            att = jnp.einsum("bhd,bhtd->bht", q, kl) / math.sqrt(HD)
            att = jnp.where(jnp.arange(T)[None, None, :] <= pos, att, -1e30)
            y = jnp.einsum("bht,bhtd->bhd", jax.nn.softmax(att, -1), vl).reshape(-1, D)
            x = x + y @ bp["proj_w"] + bp["proj_b"]
            h = layer_norm(x, bp["ln2_g"], bp["ln2_b"])
            x = x + gelu(h @ bp["fc_w"] + bp["fc_b"]) @ bp["fc2_w"] + bp["fc2_b"]
        logits = layer_norm(x, p["lnf_g"], p["lnf_b"]) @ p["wte"].T
        key, sub = jax.random.split(key)
        nxt = jax.random.categorical(sub, logits).astype(jnp.int32)
        return (nxt, pos + 1, jnp.stack(new_k), jnp.stack(new_v), key), nxt

    @jax.jit
    def sample(p, key):
        kc = jnp.zeros((L, BATCH, H, T, HD))
        vc = jnp.zeros((L, BATCH, H, T, HD))
        bos = jnp.full((BATCH,), 256, jnp.int32)
        carry = (bos, jnp.int32(0), kc, vc, key)
        _, toks = jax.lax.scan(lambda c, s: step(p, c, s), carry, None, length=new_tokens)
        return toks

    return sample


def measure_sampling(repeats=7, new_tokens=63):
    # 63 new tokens after BOS fill the 64-token context (the Swift bench's positional table is
    # as long as the context; the JAX model has no room for a 65th position).
    p = init_params(jax.random.PRNGKey(0))
    sample = make_sampler(new_tokens)
    sample(p, jax.random.PRNGKey(0)).block_until_ready()
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        sample(p, jax.random.PRNGKey(r + 1)).block_until_ready()
        rates.append(BATCH * new_tokens / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum seconds of timed training steps")
    args = ap.parse_args()
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(init_params(jax.random.PRNGKey(0))))
    assert n_params == 470_528, n_params
    print(json.dumps({
        "jax": jax.__version__,
        "parameters": n_params,
        "threads": os.cpu_count(),
        "train_tokens_per_s": round(measure_training(args.seconds), 1),
        "sample_tokens_per_s": round(measure_sampling(), 1),
    }))


if __name__ == "__main__":
    main()
