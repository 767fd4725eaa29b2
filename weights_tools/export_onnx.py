#!/usr/bin/python3
"""Exports a GPT-2 checkpoint in Hugging Face layout to ONNX with torch.onnx, for the onnxruntime-web
comparison in tests/bench/ort_bench.mjs (the yardstick, not part of lmdbg).

    /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out build/bench-models/gpt2-small   # random weights
    /usr/bin/python3 weights_tools/export_onnx.py build/bench-models/gpt2-small               # -> .../onnx/

Needs Debian's python3-torch and python3-onnx (.ci/setup installs them); `transformers` is not
needed: the model below is a float32 re-statement of Hugging Face's GPT2LMHeadModel graph (Conv1D as
addmm -> Gemm, split heads, scaled dot product with the causal mask sliced from an n_ctx x n_ctx
buffer, softmax, gelu_new, pre-LN blocks, ln_f, lm_head tied to wte), opset 17 (LayerNormalization).
Writes three graphs, each one file (weights inside, no external data), dynamic in the token axes:

  gpt2-full.onnx     input_ids [1, T] -> logits [1, T, V]          (what an HF export computes: all positions)
  gpt2-prefill.onnx  input_ids [1, T] -> logits [1, V] (last position only, lmdbg's forward pass) and
                     present.{l}.key / present.{l}.value [1, H, T, d_head] for every layer
  gpt2-decode.onnx   input_ids [1, 1], past.{l}.key / past.{l}.value [1, H, P, d_head] ->
                     logits [1, V], present.{l}.key / present.{l}.value [1, H, P + 1, d_head]

so that ORT is timed on the same work as lmdbg: a prompt with every position's logits (full) or the
last one's (prefill), and one generated token over a KV cache (decode). The benchmark checks ORT's
logits against lmdbg's before timing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_gpt2 as R  # noqa: E402


class GPT2(torch.nn.Module):
    def __init__(self, cfg: dict, tensors: dict, mode: str):
        super().__init__()
        self.mode = mode  # "full" | "prefill" | "decode"
        self.L, self.H, self.d = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
        self.dh = self.d // self.H
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        n_ctx = cfg.get("n_positions", cfg.get("n_ctx", 1024))
        prefix = "transformer." if any(k.startswith("transformer.") for k in tensors) else ""

        def p(name: str) -> torch.nn.Parameter:
            return torch.nn.Parameter(tensors[prefix + name].to(torch.float32).contiguous(), requires_grad=False)

        self.wte, self.wpe = p("wte.weight"), p("wpe.weight")
        self.blocks = torch.nn.ModuleList()
        for l in range(self.L):
            b = torch.nn.Module()
            for n in ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                      "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                      "mlp.c_proj.weight", "mlp.c_proj.bias"):
                b.register_parameter(n.replace(".", "_"), p(f"h.{l}.{n}"))
            self.blocks.append(b)
        self.lnf_w, self.lnf_b = p("ln_f.weight"), p("ln_f.bias")
        self.register_buffer("causal", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)).view(1, 1, n_ctx, n_ctx))

    @staticmethod
    def conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # Hugging Face's Conv1D: addmm over the flattened rows (exported as Gemm).
        shape = x.shape[:-1] + (w.shape[1],)
        return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(shape)

    def forward(self, input_ids: torch.Tensor, *past: torch.Tensor):
        T = input_ids.shape[1]
        P = past[0].shape[2] if past else 0
        pos = torch.arange(P, P + T, dtype=torch.long).unsqueeze(0)
        x = self.wte[input_ids] + self.wpe[pos]
        presents = []
        for l, b in enumerate(self.blocks):
            h = F.layer_norm(x, (self.d,), b.ln_1_weight, b.ln_1_bias, self.eps)
            qkv = self.conv1d(h, b.attn_c_attn_weight, b.attn_c_attn_bias)
            q, k, v = qkv.split(self.d, dim=2)
            q = q.view(1, T, self.H, self.dh).permute(0, 2, 1, 3)
            k = k.view(1, T, self.H, self.dh).permute(0, 2, 1, 3)
            v = v.view(1, T, self.H, self.dh).permute(0, 2, 1, 3)
            if past:
                k = torch.cat([past[2 * l], k], dim=2)
                v = torch.cat([past[2 * l + 1], v], dim=2)
            if self.mode != "full":
                presents += [k, v]
            att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh)
            S = P + T
            mask = self.causal[:, :, S - T:S, :S]
            att = torch.where(mask, att, torch.tensor(torch.finfo(torch.float32).min, dtype=torch.float32))
            att = torch.softmax(att, dim=-1)
            y = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(1, T, self.d)
            x = x + self.conv1d(y, b.attn_c_proj_weight, b.attn_c_proj_bias)
            h = F.layer_norm(x, (self.d,), b.ln_2_weight, b.ln_2_bias, self.eps)
            u = self.conv1d(h, b.mlp_c_fc_weight, b.mlp_c_fc_bias)
            m = 0.5 * u * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * torch.pow(u, 3.0))))
            x = x + self.conv1d(m, b.mlp_c_proj_weight, b.mlp_c_proj_bias)
        x = F.layer_norm(x, (self.d,), self.lnf_w, self.lnf_b, self.eps)
        if self.mode == "full":
            return torch.matmul(x, self.wte.t())
        logits = torch.matmul(x[:, -1, :], self.wte.t())
        return (logits, *presents)


def export(cfg: dict, tensors: dict, mode: str, path: str) -> None:
    model = GPT2(cfg, tensors, mode).eval()
    L, H, dh = model.L, model.H, model.dh
    ids = torch.tensor([[464, 2068, 7586, 21831, 18045]], dtype=torch.long)
    names_in, dyn = ["input_ids"], {"input_ids": {1: "T"}}
    args: tuple = (ids,)
    if mode == "decode":
        ids = ids[:, :1]
        past = []
        for l in range(L):
            for kv in ("key", "value"):
                names_in.append(f"past.{l}.{kv}")
                dyn[f"past.{l}.{kv}"] = {2: "P"}
                past.append(torch.zeros(1, H, 4, dh))
        args = (ids, *past)
        dyn["input_ids"] = {}
    names_out = ["logits"]
    if mode == "full":
        dyn["logits"] = {1: "T"}
    else:
        for l in range(L):
            for kv in ("key", "value"):
                names_out.append(f"present.{l}.{kv}")
                dyn[f"present.{l}.{kv}"] = {2: "S"}
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=names_in, output_names=names_out, dynamic_axes=dyn,
                          opset_version=17, do_constant_folding=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="HF-layout folder (config.json, model.safetensors)")
    ap.add_argument("--out", help="output folder (default MODEL/onnx)")
    ap.add_argument("--only", choices=["full", "prefill", "decode"], action="append", help="export only these")
    a = ap.parse_args()
    out = a.out or os.path.join(a.model, "onnx")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(a.model, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    tensors, _ = R.load_safetensors(os.path.join(a.model, "model.safetensors"), as_float64=False)
    for mode in a.only or ["full", "prefill", "decode"]:
        path = os.path.join(out, f"gpt2-{mode}.onnx")
        t = time.time()
        export(cfg, tensors, mode, path)
        print(f"{path}: {os.path.getsize(path) / 2**20:.0f} MiB in {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
