#!/usr/bin/python3
"""Writes lmdbg's deterministic test fixtures.

    /usr/bin/python3 weights_tools/make_fixtures.py [--out tests/fixtures]

Outputs (see tests/fixtures/README.md):
  models/<variant>/{config.json, model.safetensors, vocab.json, merges.txt}   tiny GPT-2s in Hugging Face layout
  ref/<variant>.json + ref/<variant>.safetensors                               float64 reference results (stored F32)

Variants share weights per layer count: l4-f32, l4-f16-prefix (4 layers) and l2-f32-prefix, l2-f16, l2-bf16
(2 layers). The reference is always computed in float64 from the weights as stored in that variant's file (F16 and
BF16 upcast exactly), so each variant's reference is exact for its own file.

Running the script twice gives byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_gpt2 as R  # noqa: E402

torch.set_num_threads(1)

N_EMBD, N_HEAD, N_POS = 64, 4, 64
D_MLP = 4 * N_EMBD
N_MERGES = 250
TOPK = 10

# A fixed, built-in English corpus (written for this project) from which the BPE merges are learned.
CORPUS = [
    "The old man walked to the river every morning. He liked the sound of the water and the cold air. "
    "His dog ran ahead of him, and the two of them sat on the bank until the sun was high.",
    "In the village there was a small school. The children learned to read and to write, and in the "
    "afternoon they played in the field behind the house of the teacher.",
    "It's a long way to the city, and we'll need to leave early. She said they'd be there by ten, but "
    "I've never seen the train arrive on time. Don't worry, we're not in a hurry.",
    "The river runs through the valley, past the farms and the forest, and then it turns to the sea. "
    "In the spring the water is high and the fields are green.",
    "There were 3 books on the table, 12 cups in the kitchen and 250 people in the hall. The price "
    "of the tickets was $35, and the show started at 7 in the evening.",
    "When the night came, the stars were bright over the hills. The man and the woman talked about "
    "the past and the future, and the children slept in the other room.",
    "A good story has a beginning, a middle and an end. The reader wants to know what will happen "
    "next, and the writer must give the reader a reason to turn the page.",
    "They said the weather would change in the afternoon. It did not. The sun stayed out, the wind "
    "was warm, and the people of the town walked in the park until the evening.",
    "The teacher asked the students to write about their home. One wrote about the sea, one about the "
    "mountains, and one about the small house where she was born in 1998.",
    "He isn't sure that it's the right time. They aren't ready, and we can't wait much longer. "
    "I'll ask the others what they think, and then we'll decide.",
]

PROMPTS = [
    ("c0", "The"),  # one token
    ("c1", "The old man walked to the river, and the children played in the field."),
    ("c2", "It's 2024 and we'll pay $35, isn't it?"),
    ("c3", "Hello  world\n\ncafé — ok"),
]
IV_CASE = "c1"
# Activation patching (source = clean, target = corrupted), aligned at their ends: the first pair has
# a longer source, the second a longer target (its first positions have no source counterpart).
PATCH_PAIRS = [
    ("pp0", "The old man walked to the river, and the children played", "The old woman walked to the sea and played"),
    ("pp1", "It's 2024 and we pay", "They said that in 1998 we'll all pay"),
]
TRACK_RANKS = (1, 7, 60)  # tracked tokens: the final prediction's rank-r tokens, plus the last-ranked one
GEN_PROMPTS = ["c2", "c1", "c3"]  # the first two without near ties in clean greedy decoding
GEN_NEW = 10
GEN_MIN_MARGIN = 0.01  # top1-top2 logit margin required at every greedy step (float32 engines must agree)

VARIANTS = [
    # name, n_layer, dtype, prefix, buffers, vocab ensure_ascii
    ("l4-f32", 4, "F32", "", ("bias",), True),
    ("l4-f16-prefix", 4, "F16", "transformer.", ("bias", "masked_bias"), True),
    ("l2-f32-prefix", 2, "F32", "transformer.", (), False),
    ("l2-f16", 2, "F16", "", (), False),
    ("l2-bf16", 2, "BF16", "", (), True),
]
DEBUG_VARIANTS = ("l4-f32", "l2-f16")
TORCH_DTYPE = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}
SEEDS = {4: 20240401, 2: 20240402}

# values that are subnormal in IEEE half precision (|x| < 2^-14 ~ 6.1e-5); 2^-24 ~ 5.96e-8 is the smallest
SUBNORMAL_VALUES = [3.0e-6, -1.5e-7, 6.0e-8, 4.0e-5, -2.2e-5, 1.0e-6]


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------------------

def make_weights(n_layer: int, vocab_size: int) -> dict[str, torch.Tensor]:
    """Deterministic float64 weights, scaled so activations are not degenerate (checked later)."""
    g = torch.Generator().manual_seed(SEEDS[n_layer])

    def rn(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std + mean

    d, f = N_EMBD, D_MLP
    w = {"wte.weight": rn(vocab_size, d, std=0.2), "wpe.weight": rn(N_POS, d, std=0.08)}
    for l in range(n_layer):
        p = f"h.{l}."
        w[p + "ln_1.weight"] = rn(d, std=0.1, mean=1.0)
        w[p + "ln_1.bias"] = rn(d, std=0.05)
        wq, wk, wv = rn(d, d, std=0.22), rn(d, d, std=0.22), rn(d, d, std=0.15)
        w[p + "attn.c_attn.weight"] = torch.cat([wq, wk, wv], dim=1)
        w[p + "attn.c_attn.bias"] = rn(3 * d, std=0.1)
        w[p + "attn.c_proj.weight"] = rn(d, d, std=0.12)
        w[p + "attn.c_proj.bias"] = rn(d, std=0.05)
        w[p + "ln_2.weight"] = rn(d, std=0.1, mean=1.0)
        w[p + "ln_2.bias"] = rn(d, std=0.05)
        w[p + "mlp.c_fc.weight"] = rn(d, f, std=0.2)
        w[p + "mlp.c_fc.bias"] = rn(f, std=0.3, mean=-0.3)
        # heavy-tailed row norms so that some value vectors clearly dominate the sub-update ranking
        rows = rn(f, d, std=0.07) * torch.exp(rn(f, 1, std=0.5))
        w[p + "mlp.c_proj.weight"] = rows
        w[p + "mlp.c_proj.bias"] = rn(d, std=0.05)
    w["ln_f.weight"] = rn(d, std=0.1, mean=1.0)
    w["ln_f.bias"] = rn(d, std=0.05)
    # tiny values: subnormal once stored as F16 (exercise the F16 decoder's subnormal path)
    sv = torch.tensor(SUBNORMAL_VALUES, dtype=torch.float64)
    w["h.0.mlp.c_fc.bias"][:len(sv)] = sv
    w[f"h.{n_layer - 1}.ln_2.bias"][:len(sv)] = sv
    w["h.0.attn.c_proj.bias"][-3:] = sv[:3]
    return w


def quantize(w: dict[str, torch.Tensor], dtype: str) -> dict[str, torch.Tensor]:
    """The float64 values a reader obtains from a file of this dtype (round to nearest even, then upcast)."""
    tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    return {k: v.to(tdt).to(torch.float64) for k, v in w.items()}


def write_model(out_dir: str, name: str, n_layer: int, dtype: str, prefix: str, buffers, ensure_ascii: bool,
                weights: dict, vocab: dict, merges) -> None:
    os.makedirs(out_dir, exist_ok=True)
    eot = vocab[R.EOT]
    cfg = R.gpt2_config(n_layer, N_HEAD, N_EMBD, N_POS, len(vocab), eot, TORCH_DTYPE[dtype])
    R.write_config(out_dir, cfg)
    R.write_tokenizer_files(out_dir, vocab, merges, ensure_ascii=ensure_ascii)
    tensors = {prefix + k: v for k, v in weights.items()}
    dtypes = {k: dtype for k in tensors}
    for l in range(n_layer):
        if "bias" in buffers:  # the causal-mask buffer of old HF checkpoints: [1, 1, n_ctx, n_ctx]
            k = f"{prefix}h.{l}.attn.bias"
            tensors[k] = torch.ones(N_POS, N_POS, dtype=torch.float64).tril().view(1, 1, N_POS, N_POS)
            dtypes[k] = dtype
        if "masked_bias" in buffers:  # scalar, shape []
            k = f"{prefix}h.{l}.attn.masked_bias"
            tensors[k] = torch.tensor(-1e4, dtype=torch.float64)
            dtypes[k] = dtype
    order = sorted(tensors)
    random.Random(f"order-{name}").shuffle(order)
    R.save_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, dtypes, order, {"format": "pt"})


def count_f16_subnormals(path: str) -> int:
    entries, _, start = R.read_safetensors_header(path)
    with open(path, "rb") as f:
        data = f.read()[start:]
    n = 0
    for e in entries.values():
        if e["dtype"] != "F16":
            continue
        a, b = e["data_offsets"]
        u = np.frombuffer(data[a:b], dtype="<u2")
        n += int(np.count_nonzero(((u & 0x7C00) == 0) & ((u & 0x03FF) != 0)))
    return n


# ---------------------------------------------------------------------------------------------------------
# reference computations
# ---------------------------------------------------------------------------------------------------------

def f(x) -> float:
    return float(x)


def lens_entries(logits: torch.Tensor, with_prob: bool) -> list[dict]:
    probs = torch.softmax(logits, dim=-1)
    out = []
    for i in R.topk_desc(logits, TOPK):
        e = {"id": i}
        if with_prob:
            e["prob"] = f(probs[i])
        e["logit"] = f(logits[i])
        out.append(e)
    return out


def min_gap(values: torch.Tensor, k: int) -> float:
    """Smallest gap between consecutive entries among the top k+1 (how robust a top-k order is)."""
    s = torch.sort(values, descending=True).values[: k + 1]
    return f((s[:-1] - s[1:]).min())


def set_margin(values: torch.Tensor, k: int) -> float:
    """Gap between the k-th and (k+1)-th largest (how robust top-k membership is)."""
    s = torch.sort(values, descending=True).values
    return f(s[k - 1] - s[k])


class GapStats:
    def __init__(self):
        self.order = math.inf
        self.member = math.inf
        self.argmax = math.inf

    def add(self, values: torch.Tensor, k: int = TOPK):
        self.order = min(self.order, min_gap(values, k))
        self.member = min(self.member, set_margin(values, k))
        self.argmax = min(self.argmax, set_margin(values, 1))


def debugger_refs(model: R.GPT2Reference, cases: list[dict], runs: dict, stats: dict) -> dict:
    L = model.n_layer
    wte = model.w["wte.weight"]
    lens, predicted, subs, heads = [], [], [], []
    for c in cases:
        logits, cache = runs[c["name"]]
        T = len(c["ids"])
        pred = int(torch.argmax(logits[-1]))
        pprob = torch.softmax(logits[-1], dim=-1)
        stats["final"].add(logits[-1])
        layers_lens, layers_pred, layers_sub, layers_heads = [], [], [], []
        for l in range(L):
            xm = cache[f"blocks.{l}.hook_resid_mid"][-1]
            xp = cache[f"blocks.{l}.hook_resid_post"][-1]
            lb, la = model.unembed(model.ln_f(xm)), model.unembed(model.ln_f(xp))
            rb, ra = model.unembed(xm), model.unembed(xp)
            for v in (lb, la, rb, ra):
                stats["lens"].add(v)
            layers_lens.append({"layer": l, "before": lens_entries(lb, True), "after": lens_entries(la, True),
                                "rawBefore": lens_entries(rb, False), "rawAfter": lens_entries(ra, False)})
            pa = torch.softmax(la, dim=-1)
            rank = int((la > la[pred]).sum())
            layers_pred.append({"layer": l, "rank": rank, "prob": f(pa[pred])})
            m = cache[f"blocks.{l}.mlp.hook_post"][-1]
            norms = model.value_norms[l]
            score = m.abs() * norms
            stats["sub"].add(score)
            V = model.w[f"h.{l}.mlp.c_proj.weight"]
            direct = m * (V @ wte[pred])
            top = [{"index": i, "coef": f(m[i]), "norm": f(norms[i]), "score": f(score[i]),
                    "direct": f(direct[i])} for i in R.topk_desc(score, TOPK)]
            layers_sub.append({"layer": l, "maxScore": f(score.max()), "top": top})
            _, hnorm, hproj = model.head_outputs(cache, l)
            stats["hn"].add(hnorm, model.n_head - 1)
            hs = []
            for h in R.topk_desc(hnorm, model.n_head):
                stats["hv"].add(hproj[h])
                stats["hv"].add(-hproj[h])
                hs.append({"head": h, "norm": f(hnorm[h]), "direct": f(hproj[h][pred]),
                           "top": [{"id": t, "logit": f(hproj[h][t])} for t in R.topk_desc(hproj[h], TOPK)],
                           "bottom": [{"id": t, "logit": f(hproj[h][t])} for t in R.topk_desc(-hproj[h], TOPK)]})
            layers_heads.append({"layer": l, "heads": hs})
        lens.append({"case": c["name"], "position": T - 1, "layers": layers_lens})
        predicted.append({"case": c["name"], "position": T - 1, "id": pred, "prob": f(pprob[pred]),
                          "logit": f(logits[-1][pred]), "layers": layers_pred})
        subs.append({"case": c["name"], "position": T - 1, "pred": pred, "layers": layers_sub})
        heads.append({"case": c["name"], "position": T - 1, "pred": pred, "layers": layers_heads})
    return {"lens": lens, "predicted": predicted, "subUpdates": subs, "heads": heads}


def value_vector_refs(model: R.GPT2Reference, pairs, stats) -> list[dict]:
    wte = model.w["wte.weight"]
    out = []
    for l, i in pairs:
        v = model.value_vector(l, i)
        r = wte @ v
        stats["vv"].add(r)
        stats["vv"].add(-r)
        top = [{"id": t, "logit": f(r[t])} for t in R.topk_desc(r, TOPK)]
        bottom = [{"id": t, "logit": f(r[t])} for t in R.topk_desc(-r, TOPK)]
        out.append({"layer": l, "index": i, "norm": f(v.norm()), "top": top, "bottom": bottom})
    return out


def tracked_refs(model: R.GPT2Reference, cases: list[dict], runs: dict) -> list[dict]:
    """Rank and probability of chosen tokens under every layer's lens, before and after the FFN (the
    trace option `track`), at the last position. Tokens in a near tie at some lens are passed over."""
    V = model.vocab_size
    out = []
    for c in cases:
        logits, cache = runs[c["name"]]
        order = sorted(range(V), key=lambda i: (-float(logits[-1][i]), i))
        rows = []
        for l in range(model.n_layer):
            for hk in ("hook_resid_mid", "hook_resid_post"):
                rows.append(model.unembed(model.ln_f(cache[f"blocks.{l}.{hk}"][-1])))

        def clear(t):  # no other token within 1e-3 of t's logit at any lens
            return all(float((r - r[t]).abs().topk(2, largest=False).values[1]) > 1e-3 for r in rows)
        ids = []
        for want in list(TRACK_RANKS) + [V - 1]:
            k = want
            while not clear(order[k]) or order[k] in ids:
                k = k + 1 if want < V - 1 else k - 1
            ids.append(order[k])
        layers = []
        for l in range(model.n_layer):
            entry = {"layer": l}
            for side, r in (("before", rows[2 * l]), ("after", rows[2 * l + 1])):
                p = torch.softmax(r, dim=-1)
                entry[side] = [{"rank": int((r > r[t]).sum()), "prob": f(p[t])} for t in ids]
            layers.append(entry)
        out.append({"case": c["name"], "position": len(c["ids"]) - 1, "ids": ids, "layers": layers})
    return out


def patching_refs(model: R.GPT2Reference, tok: R.BPETokenizer) -> dict:
    """Activation patching from its definition: target run with one hook's activation replaced by the
    source's (aligned at their ends), the metric read at the last position."""
    L = model.n_layer
    pairs = []
    for name, src, tgt in PATCH_PAIRS:
        s_ids, t_ids = tok.encode(src), tok.encode(tgt)
        s_log, _ = model.forward(s_ids, hooks=False)
        t_log, _ = model.forward(t_ids, hooks=False)
        a = int(torch.argmax(s_log[-1]))
        b = int(torch.argmax(t_log[-1]))
        if b == a:
            b = R.topk_desc(t_log[-1], 2)[1]
        pairs.append({"name": name, "source": {"text": src, "ids": s_ids}, "target": {"text": tgt, "ids": t_ids},
                      "tokens": [a, b]})
        log(f"  patching pair {name}: source {len(s_ids)} tokens, target {len(t_ids)} tokens, "
            f"token A {a} {tok.decode([a])!r}, B {b} {tok.decode([b])!r}")
    p0, p1 = pairs
    a0, b0 = p0["tokens"]
    a1, b1 = p1["tokens"]
    T0 = len(p0["target"]["ids"])
    single = [  # (pair, hook, layer, positions, metric[, head])
        (p0, "resid_post", L - 1, [T0 - 1], {"type": "logitDiff", "token": a0, "distractor": b0}),
        (p0, "resid_pre", 1, [T0 // 2], {"type": "logit", "token": a0}),
        (p0, "attn_out", 0, [1, T0 - 2], {"type": "prob", "token": a0}),
        (p0, "mlp_out", L - 1, None, {"type": "logitDiff", "token": a0, "distractor": b0}),
        (p0, "resid_mid", L - 2, [T0 - 1], {"type": "prob", "token": b0}),
        (p1, "resid_pre", 0, None, {"type": "logit", "token": a1}),
        (p1, "mlp_out", max(0, L - 3), [len(p1["target"]["ids"]) - 3], {"type": "logitDiff", "token": a1, "distractor": b1}),
        (p0, "result", L - 1, [T0 - 1], {"type": "logitDiff", "token": a0, "distractor": b0}, 1),
        (p1, "result", 0, None, {"type": "logit", "token": a1}, model.n_head - 1),
    ]
    patches = []
    for pair, hook, layer, positions, metric, *head in single:
        head = head[0] if head else None
        s_ids, t_ids = pair["source"]["ids"], pair["target"]["ids"]
        off = len(s_ids) - len(t_ids)
        ps = positions if positions is not None else [p for p in range(len(t_ids)) if p + off >= 0]
        value, clean, corrupt, am = model.patch(s_ids, t_ids, hook, layer, ps, metric, head)
        logits, _ = model.forward(t_ids, hooks=False,
                                  edits=model.patch_edits(model.forward(s_ids)[1], hook, layer, ps, off, head))
        assert set_margin(logits[-1], 1) > 5e-3, "patched argmax too close to a tie"
        patches.append({"pair": pair["name"], "hook": hook, "layer": layer, "positions": positions, "metric": metric,
                        "value": value, "clean": clean, "corrupt": corrupt, "argmax": am})
        if head is not None:
            patches[-1]["head"] = head
        log(f"    patch {pair['name']} {hook} L{layer} @{positions}: {metric['type']} {corrupt:.4f} -> {value:.4f} "
            f"(source {clean:.4f}), argmax {am}")
    sweeps = []
    for pair, hook, metric, *head in [(p0, "resid_pre", {"type": "logitDiff", "token": a0, "distractor": b0}),
                                      (p1, "attn_out", {"type": "prob", "token": a1}),
                                      (p1, "resid_post", {"type": "logit", "token": b1}),
                                      (p0, "result", {"type": "logitDiff", "token": a0, "distractor": b0}, 0)]:
        head = head[0] if head else None
        s_ids, t_ids = pair["source"]["ids"], pair["target"]["ids"]
        values = model.patch_sweep(s_ids, t_ids, hook, metric, head)
        s_log, _ = model.forward(s_ids, hooks=False)
        t_log, _ = model.forward(t_ids, hooks=False)
        sweeps.append({"pair": pair["name"], "hook": hook, "metric": metric, "values": values,
                       "clean": model.metric(s_log[-1], metric), "corrupt": model.metric(t_log[-1], metric)})
        if head is not None:
            sweeps[-1]["head"] = head
        log(f"    sweep {pair['name']} {hook} {metric['type']}: {L}x{len(t_ids)} cells, "
            f"{sum(v is None for r in values for v in r)} without a source position")
    return {"pairs": pairs, "patches": patches, "sweeps": sweeps}


def iv(layer, index, mode, value=None, positions=None) -> dict:
    return {"layer": int(layer), "index": int(index), "mode": mode,
            "value": None if value is None else float(value), "positions": positions}


def iv_head(layer, head, mode, value=None, positions=None) -> dict:
    return {"layer": int(layer), "head": int(head), "mode": mode,
            "value": None if value is None else float(value), "positions": positions}


def choose_interventions(model: R.GPT2Reference, ids, cache, pred) -> list[list[dict]]:
    """~11 intervention sets on one prompt, covering every mode, built from the clean run's rankings."""
    L, T = model.n_layer, len(ids)
    wte = model.w["wte.weight"]
    last = L - 1
    lo = max(0, L - 2)

    def layer_info(l):
        m = cache[f"blocks.{l}.mlp.hook_post"][-1]
        V = model.w[f"h.{l}.mlp.c_proj.weight"]
        R_ = V @ wte.T  # [d_mlp, vocab]: r_i for every neuron
        direct = m * R_[:, pred]
        score = m.abs() * model.value_norms[l]
        gain = R_ - R_[:, pred:pred + 1]  # how much v_i favours token t over pred
        gain[:, pred] = -math.inf
        best_gain = gain.max(dim=1).values
        return m, direct, score, best_gain

    info = [layer_info(l) for l in range(L)]
    _, direct_last, score_last, gain_last = info[last]
    top_direct_last = int(torch.argmax(direct_last))
    top_score_last = R.topk_desc(score_last, 2)
    promoter_last = R.topk_desc(gain_last, 2)
    top_score_lo = R.topk_desc(info[lo][2], 1)[0]
    promoter_0 = R.topk_desc(info[0][3], 1)[0]
    top_score_0 = R.topk_desc(info[0][2], 1)[0]
    neg_direct_lo = int(torch.argmin(info[lo][1]))
    return [
        [iv(last, top_direct_last, "off")],
        [iv(last, promoter_last[0], "set", 6.0)],
        [iv(lo, top_score_lo, "pre", -4.0, [T - 1])],
        [iv(last, top_score_last[0], "scale", -3.0)],
        [iv(0, promoter_0, "add", 5.0, [T - 3, T - 1])],
        [iv(last, promoter_last[1], "on")],
        [iv(0, top_score_0, "on")],
        [iv(lo, neg_direct_lo, "off", None, [0, 2, 4])],
        [iv(last, top_direct_last, "set", -3.0, [T - 1])],
        [iv(last, top_direct_last, "off"), iv(lo, top_score_lo, "scale", 2.5), iv(0, promoter_0, "add", -2.0, [1, 2])],
        [iv(last, promoter_last[1], "pre", 2.5)],
    ] + choose_head_interventions(model, ids, cache, pred)


def choose_head_interventions(model: R.GPT2Reference, ids, cache, pred) -> list[list[dict]]:
    """Heads switched off or scaled (at hook_z), chosen by their direct effect on the clean prediction."""
    L, T = model.n_layer, len(ids)
    last, lo = L - 1, max(0, L - 2)
    direct = [model.head_outputs(cache, l)[2][:, pred] for l in range(L)]
    norms = [model.head_outputs(cache, l)[1] for l in range(L)]
    top_direct_last = R.topk_desc(direct[last], 2)
    top_norm_lo = R.topk_desc(norms[lo], 1)[0]
    top_norm_0 = R.topk_desc(norms[0], 1)[0]
    return [
        [iv_head(last, top_direct_last[0], "off")],
        [iv_head(last, top_direct_last[1], "scale", 3.0)],
        [iv_head(lo, top_norm_lo, "scale", -2.0, [T - 2, T - 1])],
        [iv_head(0, top_norm_0, "off", None, [0, 1, T - 1]), iv_head(last, top_direct_last[0], "scale", 0.5),
         iv(last, R.topk_desc(model.sub_update_scores(cache, last), 1)[0], "scale", 2.0)],
    ]


def head_generation(model: R.GPT2Reference, clean: dict, tok, name: str) -> dict:
    """Greedy generation from a clean item's prompt with one head of the last layer off or scaled at every
    position: the first candidate that changes the output without near ties."""
    pids, last = clean["prompt_ids"], model.n_layer - 1
    _, cache = model.forward(pids)
    direct = model.head_outputs(cache, last)[2][:, clean["new_ids"][0]]
    for h in R.topk_desc(direct, model.n_head):
        for mode, value in (("off", None), ("scale", -2.0), ("scale", 3.0)):
            ivs = [iv_head(last, h, mode, value)]
            new, margins = model.generate_greedy(pids, GEN_NEW, ivs)
            if new != clean["new_ids"] and min(margins) >= GEN_MIN_MARGIN:
                log(f"  [{name}]                 with head L{last}H{h} {mode} {value}: {new} {tok.decode(new)!r} "
                    f"(min margin {min(margins):.4f})")
                return {"case": clean["case"], "prompt_ids": pids, "interventions": ivs, "new_ids": new,
                        "margin": min(margins)}
    raise AssertionError("no robust head intervention for generation")


ATTR_TOP_NEURONS = 10


def attribution_refs(model: R.GPT2Reference, cases, runs, stats, name: str) -> list[dict]:
    """Direct logit attribution items: the prediction of every case, a logit difference against the
    prediction, another position, and an intervened run."""
    items = []

    def add(c, logits, cache, pos, target, distractor=None, interventions=None):
        parts, sigma = model.attribute(cache, target, distractor, pos, ATTR_TOP_NEURONS)
        logit = logits[pos][target] - (logits[pos][distractor] if distractor is not None else 0.0)
        total = sum(p["value"] for p in parts)
        assert abs(total - float(logit)) < 1e-9, (total, float(logit))
        vals = sorted((abs(v) for v in neuron_values(model, cache, target, distractor, pos)), reverse=True)
        stats["attr"].member = min(stats["attr"].member, vals[ATTR_TOP_NEURONS - 1] - vals[ATTR_TOP_NEURONS])
        item = {"name": f"at{len(items)}", "case": c["name"], "position": pos, "target": target,
                "distractor": distractor, "topNeurons": ATTR_TOP_NEURONS, "logit": f(logit), "scale": sigma,
                "components": [{"name": p["name"], "value": p["value"]} for p in parts]}
        if interventions:
            item["interventions"] = interventions
        items.append(item)

    for c in cases:
        logits, cache = runs[c["name"]]
        T = len(c["ids"])
        order = R.topk_desc(logits[-1], 3)
        add(c, logits, cache, T - 1, order[0])
        if c["name"] == IV_CASE:
            add(c, logits, cache, T - 1, order[1], order[0])
            mid = R.topk_desc(logits[T // 2], 3)
            add(c, logits, cache, T // 2, mid[0], mid[2])
            ivs = choose_head_interventions(model, c["ids"], cache, order[0])[0]
            il, ic = model.forward(c["ids"], ivs)
            add(c, il, ic, T - 1, order[0], order[1], ivs)
    log(f"  [{name}] attribution: {len(items)} items; logit = sum of parts (float64, < 1e-9)")
    return items


def neuron_values(model: R.GPT2Reference, cache, target, distractor, pos):
    """Every FFN sub-update's part of an attribution (for the top-neuron boundary gap)."""
    full, _ = model.attribute(cache, target, distractor, pos, model.n_layer * model.d_mlp)
    return [p["value"] for p in full if p["kind"] == "neuron"]


# ---------------------------------------------------------------------------------------------------------
# evidence of non-degenerate activations
# ---------------------------------------------------------------------------------------------------------

def activation_evidence(name: str, model: R.GPT2Reference, cases, runs) -> None:
    L, H = model.n_layer, model.n_head
    c = max(cases, key=lambda c: len(c["ids"]))
    _, cache = runs[c["name"]]
    T = len(c["ids"])
    log(f"  [{name}] attention on {c['name']} (T={T}): per head mean max-prob (uniform would be "
        f"{float(np.mean([1 / (t + 1) for t in range(1, T)])):.3f}) / mean normalized entropy")
    min_ent, max_maxp = 1.0, 0.0
    for l in range(L):
        pat = cache[f"blocks.{l}.attn.hook_pattern"]
        row = []
        for h in range(H):
            mp, ent = [], []
            for t in range(1, T):
                p = pat[h, t, : t + 1]
                mp.append(f(p.max()))
                ent.append(f(-(p * torch.log(p.clamp_min(1e-300))).sum()) / math.log(t + 1))
            min_ent = min(min_ent, float(np.mean(ent)))
            max_maxp = max(max_maxp, float(np.mean(mp)))
            row.append(f"h{h} {np.mean(mp):.2f}/{np.mean(ent):.2f}")
        log(f"    L{l}: " + "  ".join(row))
    assert min_ent < 0.75, f"attention too uniform (min mean normalized entropy {min_ent:.3f})"
    assert max_maxp > 0.5, "no head attends sharply"
    # the FFN changes the lens' top token at some layers
    changes = []
    for cc in cases:
        _, ch = runs[cc["name"]]
        for l in range(L):
            b = int(torch.argmax(model.unembed(model.ln_f(ch[f"blocks.{l}.hook_resid_mid"][-1]))))
            a = int(torch.argmax(model.unembed(model.ln_f(ch[f"blocks.{l}.hook_resid_post"][-1]))))
            if a != b:
                changes.append((cc["name"], l, b, a))
    log(f"  [{name}] FFN changes the lens top-1 at {len(changes)}/{len(cases) * L} (case, layer) pairs: "
        + ", ".join(f"{c}/L{l}: {b}->{a}" for c, l, b, a in changes))
    assert changes, "FFN never changes the top token"
    ratios = []
    for l in range(L):
        mo = cache[f"blocks.{l}.hook_mlp_out"].norm(dim=-1).mean()
        rm = cache[f"blocks.{l}.hook_resid_mid"].norm(dim=-1).mean()
        ratios.append(f"L{l} {f(mo / rm):.2f}")
    log(f"  [{name}] |mlp_out| / |resid_mid| on {c['name']}: " + ", ".join(ratios))
    preds = [int(torch.argmax(runs[cc["name"]][0][-1])) for cc in cases]
    allpos = runs[c["name"]][0].argmax(dim=-1).tolist()
    log(f"  [{name}] final argmax per case {preds}; distinct argmaxes over {c['name']}'s positions: "
        f"{len(set(allpos))}/{T}")
    assert len(set(allpos)) >= 3, "model predicts (almost) the same token everywhere"


# ---------------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------------

def run_variant(out: str, name: str, n_layer: int, dtype: str, tok: R.BPETokenizer, cases: list[dict],
                debug: bool) -> None:
    model_dir = os.path.join(out, "models", name)
    model = R.GPT2Reference.from_dir(model_dir)  # reference from the weights exactly as stored
    runs = {c["name"]: model.forward(c["ids"]) for c in cases}
    tensors = {}
    for c in cases:
        logits, cache = runs[c["name"]]
        tensors[f"{c['name']}.logits"] = logits
        if debug:
            for k, v in cache.items():
                tensors[f"{c['name']}.{k}"] = v
    ref = {"model": name, "dtype": dtype, "n_layer": n_layer, "vocab_size": model.vocab_size,
           "note": "float64 reference from the stored weights; debugger refs at the last position of each case",
           "cases": cases}
    if debug:
        activation_evidence(name, model, cases, runs)
        stats = {k: GapStats() for k in ("final", "lens", "sub", "vv", "hn", "hv", "attr")}
        ref.update(debugger_refs(model, cases, runs, stats))
        ref["tracked"] = tracked_refs(model, cases, runs)
        ref["patching"] = patching_refs(model, tok)

        # value vectors: the strongest sub-updates of the long prompt, plus the first/last neuron
        c = next(c for c in cases if c["name"] == IV_CASE)
        _, cache = runs[c["name"]]
        pairs = [(0, 0), (n_layer - 1, D_MLP - 1)]
        for rank in range(2):
            for l in range(n_layer):
                i = R.topk_desc(model.sub_update_scores(cache, l), 2)[rank]
                if (l, i) not in pairs and len(pairs) < 6:
                    pairs.append((l, i))
        ref["valueVectors"] = value_vector_refs(model, pairs, stats)

        # interventions
        ids = c["ids"]
        T = len(ids)
        assert T >= 5
        clean_logits = runs[c["name"]][0]
        pred = int(torch.argmax(clean_logits[-1]))
        items, changed = [], 0
        log(f"  [{name}] interventions on {c['name']} (T={T}), clean argmax {pred} "
            f"({tok.decode([pred])!r}):")
        for j, ivs in enumerate(choose_interventions(model, ids, cache, pred)):
            resolved = model.resolve_on(ids, ivs)
            logits, _ = model.forward(ids, resolved, hooks=False)
            am = int(torch.argmax(logits[-1]))
            stats["final"].add(logits[-1])
            ch = am != pred
            changed += ch
            item = {"name": f"iv{j}", "case": c["name"], "interventions": ivs, "argmax": am, "changed": ch}
            ons = [{"layer": r["layer"], "index": r["index"], "preValue": r["value"]}
                   for r in resolved if r["mode"] == "on"]
            if ons:
                item["resolvedOn"] = ons
            items.append(item)
            tensors[f"iv{j}.logits"] = logits
            desc = "; ".join(f"L{x['layer']}{'H' + str(x['head']) if 'head' in x else '#' + str(x['index'])} "
                             f"{x['mode']} {x['value']} @"
                             f"{'all' if x['positions'] is None else x['positions']}" for x in ivs)
            log(f"    iv{j}: {desc:70s} -> argmax {am} {'CHANGED' if ch else 'same'} "
                f"(margin {set_margin(logits[-1], 1):.3f})")
        log(f"  [{name}] {changed}/{len(items)} interventions change the argmax")
        assert changed * 2 >= len(items), "fewer than half of the interventions change the argmax"
        modes = {x["mode"] for it in items for x in it["interventions"]}
        assert modes == {"off", "set", "pre", "scale", "add", "on"}, modes
        ref["interventions"] = items

        # generation: greedy, no intervention vs. one intervention at every position
        wte = model.w["wte.weight"]
        last = n_layer - 1
        gens = []
        for cname in GEN_PROMPTS:
            if len(gens) == 4:
                break
            pids = next(x for x in cases if x["name"] == cname)["ids"]
            assert len(pids) + GEN_NEW <= N_POS
            clean_new, m0 = model.generate_greedy(pids, GEN_NEW)
            if min(m0) < GEN_MIN_MARGIN:
                log(f"  [{name}] generation: skipping prompt {cname} (clean greedy near tie, margin {min(m0):.4f})")
                continue
            # a strong promoter of some token the clean run does not pick, switched to a large coefficient:
            # the first candidate (neuron by gain rank, then value) that changes the output without near ties
            gpred = clean_new[0]
            Rl = model.w[f"h.{last}.mlp.c_proj.weight"] @ wte.T
            gain = (Rl - Rl[:, gpred:gpred + 1]).max(dim=1).values
            for neuron in R.topk_desc(gain, 8):
                for value in (5.0, 4.0, 6.0):
                    ivs = [iv(last, neuron, "set", value)]
                    iv_new, m1 = model.generate_greedy(pids, GEN_NEW, ivs)
                    if iv_new != clean_new and min(m1) >= GEN_MIN_MARGIN:
                        break
                else:
                    continue
                break
            else:
                raise AssertionError("no robust generation intervention found")
            stats["final"].argmax = min(stats["final"].argmax, min(m0), min(m1))
            gens.append({"case": cname, "prompt_ids": pids, "interventions": [], "new_ids": clean_new})
            gens.append({"case": cname, "prompt_ids": pids, "interventions": ivs, "new_ids": iv_new})
            log(f"  [{name}] generate from {cname}: clean {clean_new} {tok.decode(clean_new)!r}")
            log(f"  [{name}]                 with {ivs[0]['mode']} L{last}#{neuron}={ivs[0]['value']}: {iv_new} "
                f"{tok.decode(iv_new)!r} (min top1-top2 logit margin {min(m0 + m1):.4f})")
        assert len(gens) == 4, "need two generation prompts"
        gens.append(head_generation(model, gens[0], tok, name))
        stats["final"].argmax = min(stats["final"].argmax, gens[-1].pop("margin"))
        ref["generation"] = gens
        ref["attribution"] = attribution_refs(model, cases, runs, stats, name)
        log(f"  [{name}] heads: norm ranking min gap {stats['hn'].order:.2e}; projection top-10 min gap "
            f"{stats['hv'].order:.2e}, 10th-11th {stats['hv'].member:.2e}; attribution: top-neuron boundary gap "
            f"{stats['attr'].member:.2e}")
        assert stats["hn"].order > 1e-3 and stats["attr"].member > 1e-3, "a head or neuron ranking is too close to a tie"
        log(f"  [{name}] robustness: min top-1 margin (final, interventions, generation) "
            f"{stats['final'].argmax:.2e}; lens top-10 min adjacent gap {stats['lens'].order:.2e}, "
            f"10th-11th gap {stats['lens'].member:.2e}; sub-update score min gap {stats['sub'].order:.2e}, "
            f"10th-11th {stats['sub'].member:.2e}; value-vector min gap {stats['vv'].order:.2e}")
        assert stats["final"].argmax > 5e-3, "an argmax is too close to a tie"
    ref_dir = os.path.join(out, "ref")
    os.makedirs(ref_dir, exist_ok=True)
    R.save_safetensors(os.path.join(ref_dir, f"{name}.safetensors"),
                       {k: v.to(torch.float32) for k, v in tensors.items()}, "F32", list(tensors),
                       {"format": "pt", "model": name})
    with open(os.path.join(ref_dir, f"{name}.json"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(ref, indent=1, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    t0 = time.time()

    merges = R.learn_bpe(CORPUS, N_MERGES)
    vocab = R.build_vocab(merges)
    tok = R.BPETokenizer(vocab, merges)
    log(f"tokenizer: {len(merges)} merges, vocab_size {len(vocab)}, eot id {vocab[R.EOT]}; first merges "
        f"{[a + ' ' + b for a, b in merges[:8]]}")
    assert "Ġthe" in vocab and len(vocab) == 256 + N_MERGES + 1
    cases = []
    for cname, text in PROMPTS:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        cases.append({"name": cname, "text": text, "ids": ids})
        log(f"  {cname}: {len(ids):2d} tokens {[tok.inv[i] for i in ids]}")
    assert len(cases[0]["ids"]) == 1
    assert 15 <= len(cases[1]["ids"]) <= 25

    base = {n: make_weights(n, len(vocab)) for n in sorted({v[1] for v in VARIANTS})}
    for name, n_layer, dtype, prefix, buffers, ens in VARIANTS:
        log(f"== {name}")
        model_dir = os.path.join(out, "models", name)
        write_model(model_dir, name, n_layer, dtype, prefix, buffers, ens, base[n_layer], vocab, merges)
        if dtype == "F16":
            ns = count_f16_subnormals(os.path.join(model_dir, "model.safetensors"))
            log(f"  F16 subnormal values stored: {ns}")
            assert ns >= 6
        run_variant(out, name, n_layer, dtype, tok, cases, name in DEBUG_VARIANTS)

    total = 0
    log("files:")
    walked = [(r, fs) for sub in ("models", "ref") for r, _, fs in os.walk(os.path.join(out, sub))]
    for root, files in sorted(walked):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            sz = os.path.getsize(p)
            total += sz
            with open(p, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()[:16]
            log(f"  {os.path.relpath(p, out):40s} {sz:9d}  {h}")
    log(f"total fixture size {total / 1e6:.2f} MB; {time.time() - t0:.1f} s")
    assert total <= 8.5e6


if __name__ == "__main__":
    main()
