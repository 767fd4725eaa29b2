#!/usr/bin/python3
"""Smoothed bigram baselines for lmdbg-mini's held-out perplexity (the bar the model card compares against).

    /usr/bin/python3 weights_tools/bigram_baseline.py [--cache-dir /tmp/lmdbg-mini-cache]

Token streams are the ones train_demo_model.py trains on (GPT-2 BPE, every document preceded by
<|endoftext|>; see prepare_corpus.py for the train / valid / held-out split). Every model is a proper
distribution over all 50,257 GPT-2 tokens, so its perplexity compares with the network's full-softmax one.

* Interpolated modified Kneser-Ney (Chen & Goodman 1998): three discounts D1, D2, D3+ on the bigram counts,
  interpolated with the continuation unigram (number of distinct left neighbours), which is itself discounted
  (Du) and interpolated with the uniform distribution over the vocabulary.
* Jelinek-Mercer: lambda * ML bigram + (1 - lambda) * add-k unigram (a weaker, simpler reference).

The smoothing parameters are tuned on the validation split with counts from the training split only; the
held-out test split is then scored with counts from train + valid (the data the final network trains on)
and the tuned parameters. Scored targets: every held-out token but the first (the stream starts with
<|endoftext|>), each predicted from the token before it - the same targets evaluate_stream() in
train_demo_model.py scores the network on.
"""
import argparse
import json
import math
import os

import numpy as np

VOCAB = 50257


class BigramCounts:
    def __init__(self, stream, vocab=VOCAB):
        self.V = vocab
        keys = stream[:-1].astype(np.int64) * vocab + stream[1:]
        self.keys, self.counts = np.unique(keys, return_counts=True)  # sorted bigram keys and their counts
        prev = self.keys // vocab
        nxt = self.keys % vocab
        self.hist = np.bincount(prev, weights=self.counts, minlength=vocab)  # c(v)
        self.n_of = [np.bincount(prev[self.counts == 1], minlength=vocab),  # N1(v), N2(v), N3+(v)
                     np.bincount(prev[self.counts == 2], minlength=vocab),
                     np.bincount(prev[self.counts >= 3], minlength=vocab)]
        self.cont = np.bincount(nxt, minlength=vocab).astype(np.float64)  # N1+(. w)
        self.unigram = np.bincount(stream, minlength=vocab).astype(np.float64)

    def pair_counts(self, prev, nxt):
        q = prev.astype(np.int64) * self.V + nxt
        j = np.searchsorted(self.keys, q).clip(max=len(self.keys) - 1)
        return np.where(self.keys[j] == q, self.counts[j], 0).astype(np.float64)


class Targets:
    """The counts a bigram model needs for one stream of targets (looked up once, scored many times)."""

    def __init__(self, bc, stream):
        self.bc = bc
        prev = self.prev = stream[:-1]
        self.nxt = stream[1:]
        self.c = bc.pair_counts(prev, self.nxt)  # c(v, w)
        h = bc.hist[prev]
        self.seen = h > 0  # history seen in the counts
        self.h = np.where(self.seen, h, 1.0)
        self.n_of = [n[prev] for n in bc.n_of]


def kn_unigram(bc, du):
    """The lower order of Kneser-Ney: discounted continuation unigram + uniform, over the whole vocabulary."""
    return (np.maximum(bc.cont - du, 0.0) + du * np.count_nonzero(bc.cont) / VOCAB) / bc.cont.sum()


def kn_probs(t, d1, d2, d3, du):
    """p(target | previous token) under interpolated modified Kneser-Ney, one per target."""
    p_uni = kn_unigram(t.bc, du)[t.nxt]
    disc = np.where(t.c >= 3, d3, np.where(t.c == 2, d2, np.where(t.c == 1, d1, 0.0)))
    gamma_num = d1 * t.n_of[0] + d2 * t.n_of[1] + d3 * t.n_of[2]
    return np.where(t.seen, (np.maximum(t.c - disc, 0.0) + gamma_num * p_uni) / t.h, p_uni)


def kn_nll(t, d1, d2, d3, du):
    """Mean negative log-likelihood (nats) of the targets under interpolated modified Kneser-Ney."""
    return float(-np.log(kn_probs(t, d1, d2, d3, du)).mean())


def kn_class_nll(t, inactive, d1, d2, d3, du):
    """Kneser-Ney's mean NLL when the tokens marked `inactive` are merged into one class whose probability is
    shared equally, as lmdbg-mini's zero embedding rows force (see train_demo_model.py). The difference to
    kn_nll() is what a given --min-count costs a bigram; the network pays it too."""
    bc = t.bc
    K = int(inactive.sum())
    prev, nxt, c = bc.keys // VOCAB, bc.keys % VOCAB, bc.counts
    sel = inactive[nxt]
    disc = np.where(c >= 3, d3, np.where(c == 2, d2, d1))[sel]
    kept = np.bincount(prev[sel], weights=np.maximum(c[sel] - disc, 0.0), minlength=VOCAB)  # per history
    u = kn_unigram(bc, du)[inactive].sum()
    gamma_num = d1 * t.n_of[0] + d2 * t.n_of[1] + d3 * t.n_of[2]
    p_class = np.where(t.seen, (kept[t.prev] + gamma_num * u) / t.h, u)
    p = np.where(inactive[t.nxt], p_class / K, kn_probs(t, d1, d2, d3, du))
    return float(-np.log(p).mean())


def jm_nll(t, lam, k):
    """Mean NLL of lam * ML bigram + (1 - lam) * add-k unigram (unseen histories: the unigram alone)."""
    bc = t.bc
    p_uni = ((bc.unigram + k) / (bc.unigram.sum() + k * VOCAB))[t.nxt]
    p = np.where(t.seen, lam * t.c / t.h + (1 - lam) * p_uni, p_uni)
    return float(-np.log(p).mean())


def minimize(f, x0, bounds, sweeps=6, iters=30):
    """Coordinate descent with a golden-section search per coordinate (f is smooth and unimodal enough here)."""
    x = list(x0)
    g = (math.sqrt(5) - 1) / 2
    for _ in range(sweeps):
        for i, (lo, hi) in enumerate(bounds):
            a, b = lo, hi
            for _ in range(iters):
                c1, c2 = b - g * (b - a), a + g * (b - a)
                f1 = f(*(x[:i] + [c1] + x[i + 1:]))
                f2 = f(*(x[:i] + [c2] + x[i + 1:]))
                if f1 < f2:
                    b = c2
                else:
                    a = c1
            x[i] = (a + b) / 2
    return x, f(*x)


def baselines(train, valid, heldout):
    """Tunes both bigram models on valid (counts: train), scores heldout (counts: train + valid)."""
    bc_train = BigramCounts(train)
    tv = Targets(bc_train, valid)
    hv = Targets(BigramCounts(np.concatenate([train, valid])), heldout)
    out = {}
    # Chen & Goodman's closed-form discounts as the starting point
    n = [int((bc_train.counts == r).sum()) for r in (1, 2, 3, 4)]
    y = n[0] / (n[0] + 2 * n[1])
    start = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2], 0.75]
    (d1, d2, d3, du), v = minimize(lambda a, b, c, d: kn_nll(tv, a, b, c, d), start,
                                   [(0.05, 0.999), (0.05, 1.999), (0.05, 2.999), (0.0, 0.999)])
    out["kneser_ney"] = {"params": {"D1": d1, "D2": d2, "D3+": d3, "Du": du}, "valid_nll": v,
                         "heldout_nll": kn_nll(hv, d1, d2, d3, du)}
    (lam, k), v = minimize(lambda a, b: jm_nll(tv, a, b), [0.7, 1.0], [(0.01, 0.99), (1e-3, 50.0)])
    out["jelinek_mercer"] = {"params": {"lambda": lam, "k": k}, "valid_nll": v,
                             "heldout_nll": jm_nll(hv, lam, k)}
    for m in out.values():
        m["valid_ppl"] = math.exp(m["valid_nll"])
        m["heldout_ppl"] = math.exp(m["heldout_nll"])
    out["heldout_targets"] = int(len(heldout) - 1)
    out["counts_tokens"] = {"tuning": int(len(train)), "final": int(len(train) + len(valid))}
    return out


def active_vocabulary_cost(train, valid, kn_params, min_counts):
    """For each --min-count of train_demo_model.py: the active vocabulary and what merging the other tokens
    into one equal-share class costs the Kneser-Ney bigram on the validation split (nats/token)."""
    t = Targets(BigramCounts(train), valid)
    p = kn_params
    args = (p["D1"], p["D2"], p["D3+"], p["Du"])
    base = kn_nll(t, *args)
    counts = np.bincount(train, minlength=VOCAB)
    rows = []
    for m in min_counts:
        inactive = counts < m
        inactive[VOCAB - 1] = False  # <|endoftext|> is always active
        rows.append({"min_count": m, "active": int(VOCAB - inactive.sum()),
                     "inactive_targets": float(inactive[valid[1:]].mean()),
                     "valid_nll_cost": kn_class_nll(t, inactive, *args) - base})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache-dir", default="/tmp/lmdbg-mini-cache",
                    help="holds train.bin, valid.bin, heldout.bin (written by train_demo_model.py)")
    ap.add_argument("--min-counts", default=None,
                    help="e.g. 5,10,20,40: also report what each active vocabulary costs the bigram on valid")
    args = ap.parse_args()
    s = {k: np.fromfile(os.path.join(args.cache_dir, f"{k}.bin"), dtype="<u2").astype(np.int64)
         for k in ("train", "valid", "heldout")}
    out = baselines(s["train"], s["valid"], s["heldout"])
    if args.min_counts:
        out["active_vocabulary_cost"] = active_vocabulary_cost(
            s["train"], s["valid"], out["kneser_ney"]["params"], [int(m) for m in args.min_counts.split(",")])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
