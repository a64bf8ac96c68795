#!/usr/bin/env python3
"""train_cpo.py: cpo-tui's reference trainer for PyTorch + transformers + accelerate.

Trains OO-RLHF, CPO or DR-CPO (causal preference optimization, Lin, Ben-Michael & Morency,
UAI 2024) on a directory written by `cpo-tui export`, with cpo-tui's exact objectives, and
writes what `cpo-tui watch` and `cpo-tui estimate` read. Not TRL's `CPOTrainer`: that is
*Contrastive* Preference Optimization, a different method.

    accelerate launch train_cpo.py --export EXPORT --model NAME_OR_PATH --method CPO --out RUN
    torchrun --nproc_per_node 2 train_cpo.py --export EXPORT --model gpt2 --method DR-CPO --out RUN

Stages (one seed, one method per run):
  1. FT: next-token training on train.jsonl, early-stopped on validation.jsonl's token loss
     (warm-up, rate cut on a plateau, the best epoch's weights kept), as cpo-tui's FT.
  2. P^R of every row: FT's sequence log-probability, or the logged `log_propensity` when
     config.json says "propensity": "logged".
  3. f0 samples: drawn from FT with `generate` (temperature 1, no top-k/top-p: exactly FT),
     scored by ĝ (ghat.json, implemented below exactly as cpo-tui's featurizer).
  4. The method's epochs; FT is evaluated at epoch 0, each epoch after training.

Sequence log-probabilities. A text is encoded as BOS + its tokens + EOS (BOS = the tokenizer's
bos_token, else its eos_token, as GPT-2 does), cut to --max-length tokens. log P(x) is the sum,
over every position but the first, of log-softmax(logits at the position before)[token]: the
logits are shifted by one and padding (right-padded; masked by length, never by token id) is
excluded. So EOS is predicted and counted, BOS is not. T = the number of predicted tokens.

Objectives (cpo-tui's CausalPO/Objectives.swift, function by function below). Each step computes
the per-sequence coefficients dLoss/dlogP_i in float64 under no_grad (log-space weights), then
backpropagates the surrogate sum_i coef_i * logP_i (plus the token-level KL/entropy terms), whose
gradient is the objective's gradient.

Several processes: every process walks the same seeded batches; each forwards its share of a
batch's sequences (positions rank, rank+N, ...), the detached log-probs are all-gathered, and
every process computes the coefficients on the GLOBAL batch, so one process and N processes
optimize the same objective (the weights normalize over the global batch, not per process). DDP
averages gradients over processes, so each process scales its surrogate by N. Sampling (f0,
KL samples, evaluation samples) is seeded per process: the draws differ with N, the objective
does not.

Outputs in --out (only the main process writes): metrics.jsonl (a "run" line, then "ft_epoch",
"step" and "epoch" lines, cpo-tui's schema), evals/rows-METHOD-seedK-epochE.csv and
evals/f0-METHOD-seedK-epochE.csv at each evaluation (copied to rows-METHOD-seedK.csv and
f0-METHOD-seedK.csv), f0_samples.jsonl (every f0 sample: id, split, text, logP_f0, ĝ), and
rank-R.json from every process (what it did: evidence of N processes).

On GPUs: `accelerate launch --mixed_precision bf16 ...` (log-softmax is taken in float32 here);
DDP, FSDP or DeepSpeed as `accelerate config` sets them up. For 1-8B models, wrap the model in a
PEFT LoRA adapter after loading: FT is then the base model with the adapter off, which can
replace the full FT copy this script keeps (the reference of the KL terms and of the evaluation's
KL to FT). vLLM, if present, samples faster, but must sample at temperature 1 without top-k or
top-p, and log P^f0 must still come from `sequence_terms` (the same shift and mask as training).

Seeded (--seed, default config.json's): batches, f0 cycling, sampling and the tiny model.
Not bit-for-bit the Swift lab's streams: its SeededRandom is not reproduced here.

Test only: --tiny builds a random GPT-2-shaped model and a byte-level BPE tokenizer trained
in-process on the training texts (nothing downloaded).
"""

import argparse
import contextlib
import copy
import hashlib
import json
import math
import os
import socket
import sys
import time
import unicodedata

# --------------------------------------------------------------------------------------------
# ĝ: cpo-tui's hashed bag-of-words featurizer (CausalPO/Features.swift) and linear models.
# Pure Python, no torch: `ghat score` in cpo-tui and this code give the same numbers.
# --------------------------------------------------------------------------------------------

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data, state=FNV_OFFSET):
    """FNV-1a 64 of `data` (bytes), continuing from `state`."""
    h = state
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def is_word_char(ch):
    """A letter, digit or combining mark (Swift's isAlphabetic / numericType / marks)."""
    o = ord(ch)
    if o < 0x80:
        return ch.isalnum()
    if ch.isalpha() or unicodedata.numeric(ch, None) is not None:
        return True
    if unicodedata.category(ch) in ("Mn", "Mc", "Me"):
        return True
    return any(lo <= o <= hi for lo, hi in ALPHABETIC_SYMBOLS)


# Symbols (category So) with Unicode's Alphabetic property: circled, squared and negative
# letters. With isalpha, numeric values and marks they are exactly Swift's word scalars
# (checked over every assigned scalar by Tests/BridgeTests/Python/test_parity.py).
ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))


CONNECTORS = {"'": b"'", "\u2019": b"'", "-": b"-", "\u2010": b"-", "\u2011": b"-"}


def words(text):
    """The featurizer's words (UTF-8 bytes): lower-cased; maximal runs of word characters; an
    apostrophe or hyphen with a word character on both sides joins two runs ("don't")."""
    lowered = "".join(ch.lower() for ch in text)  # per-scalar full lower-casing, as Swift's
    out, word, pending = [], bytearray(), None
    for ch in lowered:
        if is_word_char(ch):
            if pending is not None:
                word += pending
                pending = None
            word += ch.encode("utf-8")
        elif ch in CONNECTORS and word and pending is None:
            pending = CONNECTORS[ch]
        else:
            if word:
                out.append(bytes(word))
                word = bytearray()
            pending = None
    if word:
        out.append(bytes(word))
    return out


def features(text, dimension=1 << 14, bigrams=True, sign_hashing=False, normalization="log1p"):
    """Hashed features {slot: value}: unigrams and "w1 w2" bigrams, FNV-1a 64, slot
    (h ^ h>>32) % d, sign = bit 63 (with sign hashing), then counts/log1p/binary."""
    acc, previous = {}, None
    for w in words(text):
        h = fnv1a64(w)
        terms = [h]
        if bigrams and previous is not None:
            terms.append(fnv1a64(w, fnv1a64(b" ", previous)))
        for t in terms:
            slot = (t ^ (t >> 32)) % dimension
            acc[slot] = acc.get(slot, 0.0) + (-1.0 if sign_hashing and (t >> 63) == 1 else 1.0)
        previous = h
    out = {}
    for slot in sorted(acc):
        c = acc[slot]
        if c == 0:
            continue
        if normalization == "log1p":
            c = -math.log1p(-c) if c < 0 else math.log1p(c)
        elif normalization == "binary":
            c = -1.0 if c < 0 else 1.0
        out[slot] = c
    return out


def _sigmoid(x):
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


class Ghat:
    """ĝ from ghat.json: the mean over fold models of b + x·β (ridge) or σ(b + x·β) (logistic)."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            g = json.load(f)
        if g.get("format") != "cpo-tui-ghat":
            raise SystemExit(f"{path}: not a cpo-tui ĝ file (format {g.get('format')!r}); write it with cpo-tui export")
        if g.get("version") != 1:
            raise SystemExit(f"{path}: ĝ format version {g.get('version')}; this script reads version 1")
        fz = g["featurizer"]
        if fz.get("hash", "fnv1a64") != "fnv1a64":
            raise SystemExit(f"{path}: unknown feature hash {fz.get('hash')!r}")
        self.kind = g["kind"]
        self.fz = dict(dimension=int(fz["dimension"]), bigrams=bool(fz["bigrams"]),
                       sign_hashing=bool(fz.get("sign_hashing", False)), normalization=fz["normalization"])
        self.models = [(float(m["intercept"]), dict(zip(m["indices"], m["values"]))) for m in g["models"]]

    def __call__(self, text):
        x = features(text, **self.fz)
        total = 0.0
        for b, beta in self.models:
            eta = b
            for slot, v in x.items():
                eta += v * beta.get(slot, 0.0)
            total += _sigmoid(eta) if self.kind == "logistic" else eta
        return total / len(self.models)


# --------------------------------------------------------------------------------------------
# Objectives: cpo-tui's CausalPO/Objectives.swift in float64, on plain lists. Every objective
# maximizes a value; `loss` = -value; `grad_logp` = dLoss/dlogP of the rows, `grad_sample_logp`
# of the f0 samples. Outcomes are oriented (larger is better).
# --------------------------------------------------------------------------------------------


def softmax(x):
    """Softmax in log space (max-shifted)."""
    if not x:
        return []
    m = max(x)
    if not math.isfinite(m):
        return [math.nan] * len(x)
    e = [math.exp(v - m) for v in x]
    z = sum(e)
    return [v / z for v in e]


def ht_origin(outcome_minimum):
    """Where clipped Horvitz-Thompson values are measured from: min(0, the lowest training outcome)."""
    return min(0.0, outcome_minimum)


def clipped_horvitz_thompson(lr, r, bound):
    """V = (1/B) Σ min(ρ r, clamp(ρ, 1/M, M) r), ρ = e^lr; dV/dlogP_i = ρ_i r_i / B where unclamped is smaller."""
    n = len(lr)
    if n == 0:
        return 0.0, [], [], 0.0
    value, clipped, grad = 0.0, 0, [0.0] * n
    rho = [math.exp(v) for v in lr]
    for i in range(n):
        free = rho[i] * r[i]
        bounded = min(max(rho[i], 1 / bound), bound) * r[i]
        if free <= bounded:
            value += free / n
            grad[i] = free / n
        else:
            value += bounded / n
            clipped += 1
    return value, grad, [p / n for p in rho], clipped / n


def weighted_value(logp, logpr, r, opt):
    """Importance-weighted value Σ w_i r_i and dV/dlogP_i (Hajek: w = softmax(logP − logP^R),
    grad w_i (r_i − V); Horvitz-Thompson: w_i = e^{lr_i}/B, grad w_i r_i; PPO clip; htClip)."""
    n = len(logp)
    lr = [a - b for a, b in zip(logp, logpr)]
    if opt["ht_clip"] > 0:
        return clipped_horvitz_thompson(lr, r, opt["ht_clip"])
    if opt["normalization"] == "hajek":
        w = softmax(lr)
        value = sum(a * b for a, b in zip(w, r))
        grad = [w[i] * (r[i] - value) for i in range(n)]
    else:
        w = [math.exp(v) / n for v in lr]
        value = sum(a * b for a, b in zip(w, r))
        grad = [w[i] * r[i] for i in range(n)]
    clipped = 0
    eps = opt.get("clip")
    if eps is not None:
        for i in range(n):
            ratio = w[i] * n if opt["normalization"] == "hajek" else math.exp(lr[i])
            if (grad[i] > 0 and ratio > 1 + eps) or (grad[i] < 0 and ratio < 1 - eps):
                grad[i] = 0.0
                clipped += 1
    return value, grad, w, (clipped / n if n else 0.0)


def outcome_term(b, opt):
    """V_OUT = Σ_j w̃_j ĝ_j, w̃ = softmax(logP^f − logP^{f0}) over the f0 samples (htClip: clipped HT)."""
    m = len(b["sample_logp"])
    if m == 0:
        return 0.0, [], [], 0.0
    lr = [a - c for a, c in zip(b["sample_logp"], b["sample_logp0"])]
    g = b["sample_ghat"]
    if opt["ht_clip"] > 0:
        o = ht_origin(b["outcome_minimum"])
        return clipped_horvitz_thompson(lr, [v - o for v in g], opt["ht_clip"])
    w = softmax(lr)
    v = sum(a * c for a, c in zip(w, g))
    return v, [w[j] * (g[j] - v) for j in range(m)], w, 0.0


def _out(loss, grad_logp, grad_sample_logp, weights, sample_weights, clipped):
    return dict(loss=loss, grad_logp=grad_logp, grad_sample_logp=grad_sample_logp, weights=weights,
                sample_weights=sample_weights, clipped_share=clipped)


def objective_cpo(b, opt):
    origin = ht_origin(b["outcome_minimum"]) if opt["ht_clip"] > 0 else 0.0
    v, g, w, c = weighted_value(b["logp"], b["logpr"], [y - origin for y in b["outcomes"]], opt)
    return _out(-v, [-x for x in g], [0.0] * len(b["sample_logp"]), w, [], c)


def objective_oo_rlhf(b, opt):
    v, g, w, c = outcome_term(b, opt)
    return _out(-v, [0.0] * len(b["logp"]), [-x for x in g], [], w, c)


def objective_dr_cpo(b, opt):
    res = [y - g for y, g in zip(b["outcomes"], b["ghat"])]
    v, g, w, c = weighted_value(b["logp"], b["logpr"], res, opt)
    ov, og, ow, oc = outcome_term(b, opt)
    n, m = len(b["logp"]), len(b["sample_logp"])
    clipped = (c * n + oc * m) / (n + m) if opt["ht_clip"] > 0 and n + m > 0 else c
    return _out(-(v + ov), [-x for x in g], [-x for x in og], w, ow, clipped)


def objective_ft(b, opt):
    n = len(b["logp"])
    return _out(-sum(b["logp"]) / n, [-1 / n] * n, [0.0] * len(b["sample_logp"]), [], [], 0.0)


def objective_filtered_sft(b, opt):
    sel = b["selected"]
    k = sum(1 for s in sel if s)
    if k == 0:
        return _out(0.0, [0.0] * len(b["logp"]), [0.0] * len(b["sample_logp"]), [], [], 0.0)
    loss = -sum(lp for lp, s in zip(b["logp"], sel) if s) / k
    return _out(loss, [-1 / k if s else 0.0 for s in sel], [0.0] * len(b["sample_logp"]),
                [1 / k if s else 0.0 for s in sel], [], 0.0)


def objective_rwr(b, opt):
    scale = opt["rwr_temperature"] * max(b["outcome_sd"], 1e-12)
    omega = softmax([y / scale for y in b["outcomes"]])
    return _out(-sum(a * c for a, c in zip(omega, b["logp"])), [-x for x in omega], [0.0] * len(b["sample_logp"]),
                omega, [], 0.0)


def _softplus(x):
    return x if x > 30 else math.log1p(math.exp(x))


def outcome_ranked_pairs(y):
    return [(i, j) for i in range(len(y)) for j in range(len(y)) if y[i] > y[j]]


def objective_dpo(b, opt):
    grad = [0.0] * len(b["logp"])
    pairs = outcome_ranked_pairs(b["outcomes"])
    if not pairs:
        return _out(0.0, grad, [0.0] * len(b["sample_logp"]), [], [], 0.0)
    beta, np_, loss, lp, ft = opt["dpo_beta"], len(pairs), 0.0, b["logp"], b["logp_ft"]
    for c, r in pairs:
        z = beta * ((lp[c] - ft[c]) - (lp[r] - ft[r]))
        loss += _softplus(-z) / np_
        s = 1 / (1 + math.exp(z))
        grad[c] -= beta * s / np_
        grad[r] += beta * s / np_
    return _out(loss, grad, [0.0] * len(b["sample_logp"]), [], [], 0.0)


OBJECTIVES = {"FT": objective_ft, "OO-RLHF": objective_oo_rlhf, "CPO": objective_cpo, "DR-CPO": objective_dr_cpo,
              "filtered-SFT": objective_filtered_sft, "RWR": objective_rwr, "DPO": objective_dpo}
TRAINED = ("OO-RLHF", "CPO", "DR-CPO")  # the policy-gradient methods this trainer runs
READS_ROWS = {"OO-RLHF": False, "CPO": True, "DR-CPO": True}
F0_SAMPLES = {"OO-RLHF": True, "CPO": False, "DR-CPO": True}


def evaluate_objective(method, b, opt):
    """Objectives.evaluate: the loss and coefficients of `method` on batch `b` (a dict of lists)."""
    return OBJECTIVES[method](b, opt)


def anchor_term(logp, token_counts, weight):
    """λ·mean_i(−logP_i / T_i) and its gradient −λ/(B·T_i) (pass weight = anchor · sd(Y))."""
    n = len(logp)
    if n == 0:
        return 0.0, []
    loss, grad = 0.0, []
    for lp, t in zip(logp, token_counts):
        t = max(1, t)
        loss -= weight * lp / (t * n)
        grad.append(-weight / (t * n))
    return loss, grad


def sampled_kl(kl_sums, beta):
    """β·mean KL_i on the policy's own samples; pathwise coefficient β/k, score-function
    coefficient β(KL_i − b_i)/k with the leave-one-out baseline b_i."""
    k = len(kl_sums)
    if k == 0:
        return 0.0, [], []
    total = sum(kl_sums)
    grad_logp = [beta * (kl - (total - kl) / (k - 1)) / k if k > 1 else 0.0 for kl in kl_sums]
    return beta * total / k, [beta / k] * k, grad_logp


def token_term_coefficients(token_counts, opt):
    """dLoss/dKL_i = klToFT/(n·T_i) and dLoss/dH_i = −entropyBonus/(n·T_i)."""
    n = max(1, len(token_counts))
    return ([opt["kl_to_ft"] / (n * max(1, t)) for t in token_counts],
            [-opt["entropy_bonus"] / (n * max(1, t)) for t in token_counts])


class AdaptiveKLController:
    """β ← β·(1 + clamp(KL/target − 1, ±0.2)/horizon), kept within [β0/10, 10·β0]."""

    def __init__(self, target, horizon, initial):
        self.target, self.horizon, self.coefficient = target, horizon, initial
        self.lo, self.hi = initial / 10, initial * 10

    def update(self, kl):
        if not math.isfinite(kl) or self.target <= 0:
            return
        e = min(max(kl / self.target - 1, -0.2), 0.2)
        self.coefficient = min(max(self.coefficient * (1 + e / self.horizon), self.lo), self.hi)


DEFAULT_OBJECTIVE = dict(normalization="hajek", clip=None, entropy_bonus=0.0, kl_to_ft=0.0, filter_quantile=0.25,
                         rwr_temperature=1.0, dpo_beta=0.1, kl_target=0.0, kl_samples=8, kl_initial_coefficient=0.1,
                         kl_horizon=10.0, anchor=1.0, ht_clip=0.0,
                         robust_lambda=1.0)  # LabConfig.defaultObjective: the anchor on


def step_coefficients(method, opt, rows, samples, own_kl=None, kl_beta=None):
    """One step's loss and per-sequence coefficients, as MethodRun.trainStep assembles them.

    rows: dict of lists for the forwarded rows (logp, logpr, outcomes, ghat, tokens) or empty
    lists; samples: f0 samples (logp, logp0, ghat, tokens); both with `klsum`/`entropy` lists
    when the token-level terms are on. own_kl: KL sums of the policy's own samples (klTarget).
    Returns dict(loss, rows_logp, samples_logp, rows_kl, samples_kl, rows_entropy,
    samples_entropy, own_logp, own_kl, weights, clipped_share): every coefficient is dLoss/d(term).
    """
    reads = READS_ROWS[method]
    nr = len(rows["logp"])
    b = dict(logp=rows["logp"] if reads else [], logpr=rows["logpr"] if reads else [],
             outcomes=rows["outcomes"] if reads else [], ghat=rows["ghat"] if reads else [],
             sample_logp=samples["logp"], sample_logp0=samples["logp0"], sample_ghat=samples["ghat"],
             outcome_sd=opt["_outcome_sd"], outcome_minimum=opt["_outcome_minimum"])
    out = evaluate_objective(method, b, opt)
    coef_rows = list(out["grad_logp"]) if reads else [0.0] * nr
    loss = out["loss"]
    # Token-level terms: the objective's own sequences (not rows forwarded only for the anchor).
    obj_tokens = (rows["tokens"] if reads else []) + samples["tokens"]
    kl_c, ent_c = token_term_coefficients(obj_tokens, opt)
    pad = [0.0] * (0 if reads else nr)
    kl_c, ent_c = pad + kl_c, pad + ent_c
    if opt["kl_to_ft"] > 0:
        loss += sum(c * k for c, k in zip(kl_c, rows.get("klsum", []) + samples.get("klsum", [])))
    if opt["entropy_bonus"] > 0:
        loss += sum(c * h for c, h in zip(ent_c, rows.get("entropy", []) + samples.get("entropy", [])))
    if opt["anchor"] > 0 and nr > 0:
        a_loss, a_grad = anchor_term(rows["logp"], rows["tokens"], opt["anchor"] * opt["_outcome_sd"])
        loss += a_loss
        coef_rows = [c + g for c, g in zip(coef_rows, a_grad)]
    own_logp, own_klc = [], []
    if own_kl is not None:
        kl_loss, own_klc, own_logp = sampled_kl(own_kl, kl_beta * opt["_outcome_sd"])
        loss += kl_loss
    return dict(loss=loss, rows_logp=coef_rows, samples_logp=list(out["grad_sample_logp"]), rows_kl=kl_c[:nr],
                samples_kl=kl_c[nr:], rows_entropy=ent_c[:nr], samples_entropy=ent_c[nr:], own_logp=own_logp,
                own_kl=own_klc, weights=out["weights"], clipped_share=out["clipped_share"])


# --------------------------------------------------------------------------------------------
# Export directory
# --------------------------------------------------------------------------------------------


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{n}:{e.colno}: not valid JSON ({e.msg}); re-run cpo-tui export")
    return rows


def orient(y, outcome):
    """The outcome turned so that larger is better (OutcomeDataset.oriented)."""
    if not outcome.get("lower_is_better", False):
        return y
    return 1 - y if outcome.get("kind") == "binary" else -y


def load_export(d):
    need = ["config.json", "ghat.json", "train.jsonl", "validation.jsonl", "eval.jsonl", "f0_prompts.jsonl"]
    missing = [n for n in need if not os.path.exists(os.path.join(d, n))]
    if missing:
        raise SystemExit(f"{d}: missing {', '.join(missing)}; write the directory with `cpo-tui export --to {d}`")
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != "cpo-tui-export":
        raise SystemExit(f"{d}/config.json: not a cpo-tui export (format {config.get('format')!r})")
    ex = dict(config=config, ghat=Ghat(os.path.join(d, "ghat.json")),
              **{k: read_jsonl(os.path.join(d, k + ".jsonl")) for k in ("train", "validation", "eval", "f0_prompts")})
    for part in ("train", "eval"):
        for r in ex[part]:
            r["y"] = orient(float(r["outcome"]), config["outcome"])
    return ex


def export_objective(config):
    """config.json's objective options over LabConfig.defaultObjective (a missing `clip` is off)."""
    given = config.get("objective") or {}
    unknown = sorted(set(given) - set(DEFAULT_OBJECTIVE))
    if unknown:
        raise SystemExit(f"config.json: unknown objective options {', '.join(unknown)}: this train_cpo.py is older than "
                         "the cpo-tui that exported; use the train_cpo.py the export wrote")
    opt = dict(DEFAULT_OBJECTIVE, clip=None)
    opt.update(given)
    if opt["ht_clip"] and opt["clip"] is not None:
        raise SystemExit("config.json: ht_clip and clip both clip the importance ratio; use one")
    if opt["robust_lambda"] != 1:
        raise SystemExit(f"config.json: robust_lambda {opt['robust_lambda']}: this trainer has no robust objective "
                         "(cpo-tui's --robust-lambda); train it in cpo-tui, or export without it")
    return opt


# --------------------------------------------------------------------------------------------
# Models, sequences and log-probabilities (torch from here on)
# --------------------------------------------------------------------------------------------


def derived_seed(seed, label):
    return int.from_bytes(hashlib.sha256(f"{seed}/{label}".encode()).digest()[:4], "little")


def tiny_model_and_tokenizer(texts, seed, max_length):
    """A random GPT-2-shaped model and a byte-level BPE tokenizer trained on `texts` (tests)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=320, min_frequency=2, special_tokens=["<bos>", "<eos>", "<pad>"],
                            show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")
    torch.manual_seed(derived_seed(seed, "tiny-init"))
    cfg = GPT2Config(vocab_size=len(tok), n_positions=max_length, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return GPT2LMHeadModel(cfg), tok


@contextlib.contextmanager
def evaluating(model):
    """Dropout off while measuring or sampling (log-probs are the model's, not a dropout draw)."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


class Codec:
    """Texts to token sequences BOS + tokens + EOS (cut to max_length) and back."""

    def __init__(self, tok, max_length):
        self.tok, self.max_length = tok, max_length
        self.eos = tok.eos_token_id
        self.bos = tok.bos_token_id if tok.bos_token_id is not None else self.eos
        if self.bos is None:
            raise SystemExit("the tokenizer has neither a BOS nor an EOS token; pass a causal LM's tokenizer")
        self.pad = tok.pad_token_id if tok.pad_token_id is not None else self.eos

    def encode(self, text):
        ids = [self.bos] + self.tok.encode(text, add_special_tokens=False) + [self.eos]
        return ids[: self.max_length]

    def prompt(self, text):
        """BOS and the prompt's tokens (no EOS: generation continues it), room left for one more."""
        return ([self.bos] + (self.tok.encode(text, add_special_tokens=False) if text else []))[: self.max_length - 1]

    def decode(self, ids):
        body = [i for i in ids[1:] if i != self.eos]
        return self.tok.decode(body, skip_special_tokens=True)


def pad_batch(seqs, pad, device):
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def sequence_terms(model, seqs, pad, device, reference=None, entropy=False):
    """Per sequence: log P (sum of shifted log-softmax over non-padding predicted tokens), the
    token count T, and optionally Σ_t KL(f‖reference) and Σ_t H(f) along the sequence."""
    import torch

    ids, mask = pad_batch(seqs, pad, device)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()  # position t predicts token t+1
    target = ids[:, 1:]
    m = mask[:, 1:].to(logits.dtype)
    # log softmax(logits)[target] = logit[target] − logsumexp(logits), without a vocabulary-sized copy.
    token_logp = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    out = dict(logp=(token_logp * m).sum(-1), tokens=mask[:, 1:].sum(-1).tolist())
    if reference is None and not entropy:
        return out
    logq = torch.log_softmax(logits, dim=-1)
    if reference is not None:
        with torch.no_grad():
            ref = torch.log_softmax(reference(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), dim=-1)
        out["klsum"] = ((logq.exp() * (logq - ref)).sum(-1) * m).sum(-1)
    if entropy:
        out["entropy"] = (-(logq.exp() * logq).sum(-1) * m).sum(-1)
    return out


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class Run:
    def __init__(self, args):
        import torch
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        self.args = args
        # Without a GPU, accelerate sets up several processes only when told it runs on the CPU:
        # under torchrun it would otherwise start N independent single-process runs that all
        # write the same files. So no GPU means --cpu.
        self.acc = Accelerator(cpu=args.cpu or not torch.cuda.is_available())
        self.rank, self.world = self.acc.process_index, self.acc.num_processes
        launched = int(os.environ.get("WORLD_SIZE", "1"))
        if launched != self.world:
            raise SystemExit(f"train_cpo.py: the launcher started {launched} processes but accelerate set up "
                             f"{self.world}; pass --cpu on a machine without GPUs, or check `accelerate config`")
        self.ex = load_export(args.export)
        cfg = self.ex["config"]
        self.seed = args.seed if args.seed is not None else int(cfg.get("seed", 0))
        set_seed(derived_seed(self.seed, f"rank-{self.rank}"))
        self.opt = export_objective(cfg)
        ys = [r["y"] for r in self.ex["train"]]
        mean = sum(ys) / len(ys)
        self.opt["_outcome_sd"] = math.sqrt(sum((y - mean) ** 2 for y in ys) / max(1, len(ys) - 1))
        self.opt["_outcome_minimum"] = min(ys)
        self.batch_size = args.batch_size or int(cfg.get("batch_size", 16))
        self.epochs = args.epochs if args.epochs is not None else int(cfg.get("epochs", 3))
        self.lr = args.lr or float(cfg.get("lr", 2e-5))
        ft = cfg.get("ft") or {}
        self.ft_epochs = args.ft_epochs if args.ft_epochs is not None else int(ft.get("max_epochs", 30))
        self.ft_patience = args.ft_patience or int(ft.get("patience", 2))
        self.eval_samples = args.eval_samples or int(cfg.get("eval_samples", 64))
        if args.tiny:
            self.model, tok = tiny_model_and_tokenizer([r["text"] for r in self.ex["train"]], self.seed, args.max_length)
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(args.model)
            self.model = AutoModelForCausalLM.from_pretrained(args.model)
        self.codec = Codec(tok, args.max_length)
        self.device = self.acc.device
        self.model.to(self.device)
        self.out = args.out
        self.counts = dict(sequences_forwarded=0, steps=0, generated=0)
        self.t0 = time.time()
        self.torch = torch
        if self.acc.is_main_process:
            os.makedirs(os.path.join(self.out, "evals"), exist_ok=True)
            with open(os.path.join(self.out, "metrics.jsonl"), "w", encoding="utf-8"):
                pass
        self.acc.wait_for_everyone()
        self.emit(dict(type="run", engine="train_cpo.py", model="tiny" if args.tiny else args.model,
                       num_processes=self.world, seed=self.seed, method=args.method,
                       config=dict(export=os.path.abspath(args.export), batch_size=self.batch_size, epochs=self.epochs,
                                   lr=self.lr, max_length=args.max_length, objective={k: v for k, v in self.opt.items()},
                                   propensity=cfg.get("propensity", "model"), device=str(self.device))))

    # ---- output ----
    def emit(self, obj):
        """Appends one metrics.jsonl line; non-finite numbers as "nan"/"inf"/"-inf", as cpo-tui writes them."""
        def finite(v):
            if isinstance(v, float) and not math.isfinite(v):
                return "nan" if v != v else ("inf" if v > 0 else "-inf")
            if isinstance(v, dict):
                return {k: finite(x) for k, x in v.items()}
            if isinstance(v, list):
                return [finite(x) for x in v]
            return v

        if self.acc.is_main_process:
            with open(os.path.join(self.out, "metrics.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps(finite(obj), ensure_ascii=False, allow_nan=False) + "\n")

    def write_csv(self, name, header, records):
        """RFC 4180, as cpo-tui's CSVWriter: a field is quoted (quotes doubled) when it holds a
        comma, a quote, CR or LF; numbers in shortest round-trip form. Written to evals/NAME
        through a temporary file and a rename, then copied the same way to the un-suffixed name."""
        def field(v):
            return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v

        text = "".join(",".join(field(f) for f in rec) + "\n"
                       for rec in [header] + [[r[0]] + [repr(float(v)) for v in r[1:]] for r in records])
        path = os.path.join(self.out, "evals", name)
        for p in (path, os.path.join(self.out, name.rsplit("-epoch", 1)[0] + ".csv")):
            tmp = p + ".tmp"
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.replace(tmp, p)

    # ---- sharded work over all processes ----
    def shard(self, n):
        return list(range(self.rank, n, self.world))

    def gather(self, local):
        """all-gather a list of (global index, value) pairs into a list ordered by index."""
        from accelerate.utils import gather_object

        pairs = gather_object(local) if self.world > 1 else local
        return [v for _, v in sorted(pairs, key=lambda p: p[0])]

    def logprobs(self, model, seqs, chunk=16):
        """log P of every sequence under `model`, computed in shards and gathered."""
        torch = self.torch
        mine = self.shard(len(seqs))
        local = []
        with torch.no_grad(), evaluating(model):
            for s in range(0, len(mine), chunk):
                idx = mine[s: s + chunk]
                lp = sequence_terms(model, [seqs[i] for i in idx], self.codec.pad, self.device)["logp"].double().tolist()
                local += list(zip(idx, lp))
        return self.gather(local)

    def sample(self, model, prompts, label):
        """One sequence per prompt (token lists starting with BOS), exactly from `model`."""
        torch = self.torch
        from transformers import GenerationConfig

        gen = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                               max_new_tokens=self.args.max_length - 1, eos_token_id=self.codec.eos,
                               pad_token_id=self.codec.pad, bos_token_id=self.codec.bos)
        torch.manual_seed(derived_seed(self.seed, f"{label}-rank-{self.rank}"))
        mine, local = self.shard(len(prompts)), []
        by_length = {}  # prompts of one length go together: no left padding needed
        for i in mine:
            by_length.setdefault(len(prompts[i]), []).append(i)
        with torch.no_grad(), evaluating(model):
            for k, group in sorted(by_length.items()):
                for s in range(0, len(group), 16):
                    idx = group[s: s + 16]
                    p = torch.tensor([prompts[i] for i in idx], dtype=torch.long, device=self.device)
                    outs = model.generate(input_ids=p, attention_mask=torch.ones_like(p), generation_config=gen).tolist()
                    for i, o in zip(idx, outs):
                        new = o[k:]  # cut after the first EOS (generate pads finished rows)
                        if self.codec.eos in new:
                            new = new[: new.index(self.codec.eos) + 1]
                        local.append((i, (o[:k] + new)[: self.args.max_length]))
        self.counts["generated"] += len(local)
        return self.gather(local)

    # ---- FT ----
    def token_loss(self, model, seqs):
        """Mean token NLL over `seqs` (global, across processes)."""
        torch = self.torch
        mine, local = self.shard(len(seqs)), []
        with torch.no_grad(), evaluating(model):
            for s in range(0, len(mine), 16):
                idx = mine[s: s + 16]
                t = sequence_terms(model, [seqs[i] for i in idx], self.codec.pad, self.device)
                local += [(i, (-lp, n)) for i, lp, n in zip(idx, t["logp"].double().tolist(), t["tokens"])]
        vals = self.gather(local)
        return sum(v[0] for v in vals) / max(1, sum(v[1] for v in vals))

    def batches(self, n, label):
        torch = self.torch
        g = torch.Generator().manual_seed(derived_seed(self.seed, label))
        order = torch.randperm(n, generator=g).tolist()
        out = [order[i: i + self.batch_size] for i in range(0, n, self.batch_size)]
        if len(out) > 1 and len(out[-1]) == 1:  # as Batches.shuffledBatches: no batch of one
            out[-2] += out.pop()
        return out

    def surrogate_backward(self, model, terms_and_coefs):
        """Backpropagates Σ coef·term over this process's sequences, scaled by N (DDP averages)."""
        torch = self.torch
        total = None
        for term, coef in terms_and_coefs:
            if term is None or len(coef) == 0:
                continue
            c = torch.tensor(coef, dtype=term.dtype, device=term.device)
            part = (c * term).sum()
            total = part if total is None else total + part
        if total is None:  # this process got no sequence: still join DDP's gradient reduction
            total = sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0
        self.acc.backward(total * self.world)

    def fine_tune(self):
        args, torch = self.args, self.torch
        train = [self.codec.encode(r["text"]) for r in self.ex["train"]]
        val = [self.codec.encode(r["text"]) for r in self.ex["validation"]]
        self.model.train(args.dropout)  # dropout only when asked: the Swift core has none
        lr = args.ft_lr or (3e-3 if args.tiny else 5e-5)
        opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.01)
        model, opt = self.acc.prepare(self.model, opt)
        # As cpo-tui's FineTuning: linear warm-up over min(50, one epoch) steps; an epoch that
        # does not lower the best validation loss by 0.5% cuts the rate by 0.3, `ft_patience`
        # such epochs in a row stop; the best epoch's weights are kept.
        warmup = min(50, max(1, math.ceil(len(train) / self.batch_size)))
        for group in opt.param_groups:
            group["base_lr"] = group["lr"]
        best, best_state, since, step = math.inf, None, 0, 0
        for epoch in range(1, self.ft_epochs + 1):
            t0, losses = time.time(), []
            for batch in self.batches(len(train), f"ft-epoch-{epoch}"):
                for group in opt.param_groups:
                    group["lr"] = group["base_lr"] * min(1.0, (step + 1) / warmup)
                step += 1
                mine = [batch[k] for k in self.shard(len(batch))]
                seqs = [train[i] for i in mine]
                total_tokens = sum(len(train[i]) - 1 for i in batch)
                if seqs:
                    t = sequence_terms(model, seqs, self.codec.pad, self.device)
                    self.counts["sequences_forwarded"] += len(seqs)
                    self.surrogate_backward(model, [(t["logp"], [-1.0 / total_tokens] * len(seqs))])
                    local_loss = -t["logp"].sum().item()
                else:
                    self.surrogate_backward(model, [])
                    local_loss = 0.0
                self.acc.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad()
                losses.append(sum(self.gather([(self.rank, local_loss)])) / total_tokens)
            vloss = self.token_loss(model, val) if val else math.nan
            self.emit(dict(type="ft_epoch", seed=self.seed, method_name="FT", epoch=epoch,
                           trainLoss=sum(losses) / len(losses), evalLoss=vloss, seconds=time.time() - t0))
            if not val:
                continue
            if vloss < best * (1 - 0.005):
                best, best_state, since = vloss, copy.deepcopy(self.acc.unwrap_model(model).state_dict()), 0
            else:
                if vloss < best:
                    best, best_state = vloss, copy.deepcopy(self.acc.unwrap_model(model).state_dict())
                since += 1
                if since >= self.ft_patience:
                    break
                for group in opt.param_groups:
                    group["base_lr"] *= 0.3
        if best_state is not None:
            self.acc.unwrap_model(model).load_state_dict(best_state)
        self.model = self.acc.unwrap_model(model)
        self.acc.free_memory()

    # ---- preparation after FT ----
    def prepare(self):
        ex, codec = self.ex, self.codec
        self.ft = copy.deepcopy(self.model).eval()
        for p in self.ft.parameters():
            p.requires_grad_(False)
        logged = ex["config"].get("propensity", "model") == "logged"
        self.data = {}
        for part in ("train", "eval"):
            rows = ex[part]
            seqs = [codec.encode(r["text"]) for r in rows]
            if logged and any(r.get("log_propensity") is None for r in rows):
                raise SystemExit(f"{part}.jsonl: config.json says the propensity is logged, but some rows have no "
                                 "log_propensity; export with the propensity column, or with --propensity model")
            logpr = [float(r["log_propensity"]) for r in rows] if logged else self.logprobs(self.ft, seqs)
            wanted = [p for p in ex["f0_prompts"] if p.get("split", "train") == part]
            f0 = self.sample(self.ft, [codec.prompt(p.get("prompt") or "") for p in wanted], f"f0-{part}")
            self.data[part] = dict(
                seqs=seqs, texts=[r["text"] for r in rows], y=[r["y"] for r in rows], logpr=logpr,
                ghat=[float(r["ghat"]) if r.get("ghat") is not None else ex["ghat"](r["text"]) for r in rows],
                f0=f0, f0_texts=[codec.decode(s) for s in f0], f0_logp0=self.logprobs(self.ft, f0))
            self.data[part]["f0_ghat"] = [ex["ghat"](t) for t in self.data[part]["f0_texts"]]
            self.data[part]["f0_ids"] = [p.get("id", f"f0-{part}-{j}") for j, p in enumerate(wanted)]
        # The f0 samples as drawn, with ĝ: `cpo-tui ghat score --in f0_samples.jsonl` scores them again.
        if self.acc.is_main_process:
            with open(os.path.join(self.out, "f0_samples.jsonl.tmp"), "w", encoding="utf-8") as f:
                for part in ("train", "eval"):
                    d = self.data[part]
                    for i, t, lp0, g in zip(d["f0_ids"], d["f0_texts"], d["f0_logp0"], d["f0_ghat"]):
                        f.write(json.dumps(dict(id=i, split=part, text=t, logP_f0=lp0, ghat=g), ensure_ascii=False) + "\n")
            os.replace(os.path.join(self.out, "f0_samples.jsonl.tmp"), os.path.join(self.out, "f0_samples.jsonl"))

    # ---- evaluation ----
    def evaluate(self, method, epoch, train_loss, seconds, model, is_reference):
        d, torch = self.data["eval"], self.torch
        logp = d["logpr"] if is_reference and self.ex["config"].get("propensity", "model") != "logged" \
            else self.logprobs(model, d["seqs"])
        f0_logp = d["f0_logp0"] if is_reference else self.logprobs(model, d["f0"])
        own = self.sample(model, [[self.codec.bos]] * self.eval_samples, f"eval-samples-{method}-{epoch}")
        own_lp = self.logprobs(model, own)
        ft_lp = own_lp if is_reference else self.logprobs(self.ft, own)
        diffs = [a - b for a, b in zip(own_lp, ft_lp)]
        kl = sum(diffs) / len(diffs)
        se = math.sqrt(sum((x - kl) ** 2 for x in diffs) / (len(diffs) - 1) / len(diffs)) if len(diffs) > 1 else math.nan
        if self.acc.is_main_process:
            w = softmax([a - b for a, b in zip(logp, d["logpr"])])
            rows = [(t, y, a, b, g, wi) for t, y, a, b, g, wi in zip(d["texts"], d["y"], logp, d["logpr"], d["ghat"], w)]
            wf = softmax([a - b for a, b in zip(f0_logp, d["f0_logp0"])])
            f0 = [(t, a, b, g, wi) for t, a, b, g, wi in zip(d["f0_texts"], d["f0_logp0"], f0_logp, d["f0_ghat"], wf)]
            rname, fname = f"rows-{method}-seed{self.seed}-epoch{epoch}.csv", f"f0-{method}-seed{self.seed}-epoch{epoch}.csv"
            self.write_csv(rname, ["text", "outcome", "logP_f", "logP_R", "ghat", "weight"], rows)
            self.write_csv(fname, ["text", "logP_f0", "logP_f", "ghat", "weight"], f0)
            self.emit(dict(type="epoch", seed=self.seed, method_name=method, method=method, epoch=epoch,
                           trainLoss=train_loss, seconds=seconds, rows="evals/" + rname, f0="evals/" + fname,
                           klToFT=dict(value=kl, standardError=se),
                           samples=[dict(text=self.codec.decode(s), logRatioToFT=r) for s, r in zip(own[:8], diffs)]))
        self.acc.wait_for_everyone()

    # ---- the method ----
    def train_method(self):
        args, torch, method, opt = self.args, self.torch, self.args.method, self.opt
        d = self.data["train"]
        n, m = len(d["seqs"]), len(d["f0"])
        anchor_rows = opt["anchor"] > 0
        kl_on = opt["kl_target"] > 0
        controller = AdaptiveKLController(opt["kl_target"], opt["kl_horizon"], opt["kl_initial_coefficient"])
        self.model.train(args.dropout)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=0.0)
        model, optimizer = self.acc.prepare(self.model, optimizer)
        step = 0
        for epoch in range(1, self.epochs + 1):
            t0, losses = time.time(), []
            order = torch.randperm(max(1, m), generator=torch.Generator().manual_seed(
                derived_seed(self.seed, f"{method}-f0-{epoch}"))).tolist()
            cursor = ((epoch - 1) * n) % max(1, m)  # F0Cycle
            for batch in self.batches(n, f"{method}-epoch-{epoch}"):
                samples = []
                if F0_SAMPLES[method]:
                    samples = [order[(cursor + k) % m] for k in range(len(batch))]
                    cursor += len(batch)
                rows = batch if READS_ROWS[method] or anchor_rows else []
                seqs = [d["seqs"][i] for i in rows] + [d["f0"][j] for j in samples]
                own = self.sample(self.acc.unwrap_model(model), [[self.codec.bos]] * opt["kl_samples"],
                                  f"{method}-kl-samples-epoch-{epoch}-step-{step}") if kl_on else []
                # One forward of this process's share of the step's sequences: the objective's
                # (rows, f0 samples), then the policy's own samples for the KL term.
                every = seqs + own
                mine = self.shard(len(every))
                ref = self.ft if opt["kl_to_ft"] > 0 or kl_on else None
                t = sequence_terms(model, [every[i] for i in mine], self.codec.pad, self.device, reference=ref,
                                   entropy=opt["entropy_bonus"] > 0) if mine else None
                self.counts["sequences_forwarded"] += len(mine)
                g = self.gather([(i, dict(logp=t["logp"][k].item(), tokens=t["tokens"][k],
                                          klsum=t["klsum"][k].item() if "klsum" in t else 0.0,
                                          entropy=t["entropy"][k].item() if "entropy" in t else 0.0))
                                 for k, i in enumerate(mine)])
                col = lambda key, a, b: [x[key] for x in g[a:b]]
                nr, ns = len(rows), len(seqs)
                rb = dict(logp=col("logp", 0, nr), logpr=[d["logpr"][i] for i in rows], outcomes=[d["y"][i] for i in rows],
                          ghat=[d["ghat"][i] for i in rows], tokens=col("tokens", 0, nr), klsum=col("klsum", 0, nr),
                          entropy=col("entropy", 0, nr))
                sb = dict(logp=col("logp", nr, ns), logp0=[d["f0_logp0"][j] for j in samples],
                          ghat=[d["f0_ghat"][j] for j in samples], tokens=col("tokens", nr, ns),
                          klsum=col("klsum", nr, ns), entropy=col("entropy", nr, ns))
                own_kl = col("klsum", ns, None) if kl_on else None
                beta = controller.coefficient if kl_on else None
                c = step_coefficients(method, opt, rb, sb, own_kl=own_kl, kl_beta=beta)
                # dLoss/d(term) of every sequence of `every`, in its order.
                coef_logp = c["rows_logp"] + c["samples_logp"] + c["own_logp"]
                coef_kl = c["rows_kl"] + c["samples_kl"] + c["own_kl"]
                coef_ent = c["rows_entropy"] + c["samples_entropy"] + [0.0] * len(own)
                ok = math.isfinite(c["loss"]) and all(math.isfinite(v) for v in coef_logp + coef_kl + coef_ent)
                terms = []
                if ok and t is not None:
                    terms.append((t["logp"], [coef_logp[i] for i in mine]))
                    if "klsum" in t:
                        terms.append((t["klsum"], [coef_kl[i] for i in mine]))
                    if "entropy" in t:
                        terms.append((t["entropy"], [coef_ent[i] for i in mine]))
                # Every process backpropagates (a skipped step with zero), so DDP stays in step.
                self.surrogate_backward(model, terms)
                norm = math.nan
                if ok:
                    norm = float(self.acc.clip_grad_norm_(model.parameters(), 1.0))
                    ok = math.isfinite(norm)
                    if ok:
                        optimizer.step()
                optimizer.zero_grad()
                step += 1
                self.counts["steps"] += 1
                measured = sum(own_kl) / len(own_kl) if own_kl else None
                if ok and kl_on:
                    controller.update(measured)
                w = c["weights"]
                ess = (sum(w) ** 2 / sum(x * x for x in w)) / len(w) if w and sum(x * x for x in w) > 0 else None
                if ok:
                    losses.append(c["loss"])
                rec = dict(type="step", seed=self.seed, method_name=method, method=method, epoch=epoch, step=step,
                           loss=c["loss"], gradNorm=norm, clippedShare=c["clipped_share"], skipped=not ok,
                           batchESSFraction=ess)
                if kl_on:
                    rec.update(klOwnSamples=measured, klCoefficient=beta)
                self.emit(rec)
            self.model = self.acc.unwrap_model(model)
            self.evaluate(method, epoch, sum(losses) / len(losses) if losses else None, time.time() - t0,
                          self.model, False)

    def finish(self):
        evidence = dict(rank=self.rank, num_processes=self.world, pid=os.getpid(), host=socket.gethostname(),
                        seconds=time.time() - self.t0, **self.counts)
        with open(os.path.join(self.out, f"rank-{self.rank}.json"), "w", encoding="utf-8") as f:
            json.dump(evidence, f)
        self.acc.wait_for_everyone()
        self.acc.end_training()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--export", required=True, help="directory written by `cpo-tui export`")
    p.add_argument("--model", help="causal LM name or path (transformers AutoModelForCausalLM)")
    p.add_argument("--tiny", action="store_true", help="tests: a random GPT-2-shaped model, nothing downloaded")
    p.add_argument("--method", required=True, choices=TRAINED)
    p.add_argument("--out", required=True, help="run directory (metrics.jsonl, rows and f0 CSVs)")
    p.add_argument("--seed", type=int, help="default: config.json's seed")
    p.add_argument("--epochs", type=int, help="method epochs (default: config.json)")
    p.add_argument("--batch-size", type=int, help="rows per step, global over processes (default: config.json)")
    p.add_argument("--lr", type=float, help="method learning rate (default: config.json)")
    p.add_argument("--ft-lr", type=float, help="FT learning rate (default 5e-5; 3e-3 with --tiny)")
    p.add_argument("--ft-epochs", type=int, help="FT: at most this many epochs, early-stopped (default: config.json)")
    p.add_argument("--ft-patience", type=int, help="FT: stop after this many epochs without improving (config.json)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per sequence, BOS and EOS included")
    p.add_argument("--eval-samples", type=int, help="texts drawn from the policy per evaluation, KL to FT (config.json)")
    p.add_argument("--dropout", action="store_true", help="dropout on while training (off by default, as in cpo-tui)")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is present")
    args = p.parse_args(argv)
    if not args.tiny and not args.model:
        p.error("--model NAME_OR_PATH is required (or --tiny for tests)")
    run = Run(args)
    run.fine_tune()
    run.prepare()
    run.evaluate("FT", 0, None, 0.0, run.model, True)
    run.evaluate(args.method, 0, None, 0.0, run.model, True)
    run.train_method()
    run.finish()


if __name__ == "__main__":
    sys.exit(main())
