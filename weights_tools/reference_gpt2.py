"""Reference GPT-2 for lmdbg: a float64 PyTorch model, safetensors IO and GPT-2 byte-level BPE.

Everything here is small, dependency-light (torch, numpy, regex) and importable, so the fixture script
(make_fixtures.py), the random-checkpoint writer (make_gpt2_shaped.py) and a later training script can
share it.

Semantics follow Hugging Face's GPT2LMHeadModel exactly (see /work/shared/DESIGN.md):
  * learned position embeddings, pre-LN blocks, Conv1D weights stored [in, out];
  * causal self-attention scaled by 1/sqrt(d_head);
  * GELU tanh form ("gelu_new"), final ln_f, lm_head tied to wte, layer-norm eps from config.
Hook names follow TransformerLens (hook_embed, blocks.{l}.mlp.hook_post, ...).

The model always computes in float64 from the stored weights (F16/BF16 are upcast exactly), so the
reference is not itself a source of error; callers store float32 results.
"""
from __future__ import annotations

import json
import math
import os
import struct
from typing import Iterable, Sequence

import numpy as np
import regex
import torch

# ----------------------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------------------

_NP_DTYPE = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "u1"}
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}


def to_dtype_bytes(t: torch.Tensor | np.ndarray, dtype: str) -> bytes:
    """Little-endian raw bytes of `t` converted to safetensors dtype `dtype` (round to nearest even)."""
    if isinstance(t, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(t))
    t = t.detach().cpu().contiguous()
    if dtype == "F64":
        return t.to(torch.float64).numpy().astype("<f8").tobytes()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        # float64 -> float32 -> float16 can double-round; go float64 -> float16 directly.
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    if dtype in ("I64", "I32", "U8", "BOOL"):
        return t.numpy().astype(_NP_DTYPE[dtype]).tobytes()
    raise ValueError(f"unsupported dtype {dtype}")


def _header_bytes(entries: dict, metadata: dict | None) -> bytes:
    """Compact JSON header, __metadata__ first, padded with spaces to a multiple of 8 (as the Rust writer)."""
    obj = {}
    if metadata is not None:
        obj["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    obj.update(entries)
    h = json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    return h


class SafetensorsStreamWriter:
    """Writes a safetensors file tensor by tensor, without holding all data in memory.

    Declare every tensor (name, dtype, shape) first, in the order the DATA should be laid out; the JSON
    header lists tensors sorted by name (so header order need not equal data order, as in real files).
    Then call write(name, tensor) for each, in the declared order.
    """

    def __init__(self, path: str, specs: Sequence[tuple[str, str, Sequence[int]]], metadata: dict | None = None):
        self.path = path
        self.specs = list(specs)
        entries = {}
        off = 0
        self._expected = []
        for name, dtype, shape in self.specs:
            n = _ITEMSIZE[dtype] * int(np.prod(shape, dtype=np.int64)) if len(shape) else _ITEMSIZE[dtype]
            entries[name] = {"dtype": dtype, "shape": [int(s) for s in shape], "data_offsets": [off, off + n]}
            self._expected.append((name, dtype, n))
            off += n
        entries = {k: entries[k] for k in sorted(entries)}
        self.header = _header_bytes(entries, metadata)
        self.total_data = off
        self._f = open(path, "wb")
        self._f.write(struct.pack("<Q", len(self.header)))
        self._f.write(self.header)
        self._next = 0

    def write(self, name: str, t) -> None:
        """t: a torch tensor / numpy array to convert to the declared dtype, or raw bytes / a numpy array that
        already holds the file's representation (pass numpy only for raw data: it is written as is)."""
        ename, dtype, n = self._expected[self._next]
        if ename != name:
            raise ValueError(f"expected tensor {ename}, got {name}")
        if isinstance(t, np.ndarray):  # raw little-endian array already in the file's dtype: no copy
            b = memoryview(np.ascontiguousarray(t)).cast("B")
        elif isinstance(t, (bytes, bytearray, memoryview)):
            b = t
        else:
            b = to_dtype_bytes(t, dtype)
        if len(b) != n:
            raise ValueError(f"{name}: {len(b)} bytes, expected {n}")
        self._f.write(b)
        self._next += 1

    def close(self) -> None:
        if self._next != len(self._expected):
            raise ValueError("not all declared tensors were written")
        self._f.close()


def save_safetensors(path: str, tensors: dict, dtypes: dict | str = "F32", order: Sequence[str] | None = None,
                     metadata: dict | None = None) -> None:
    """tensors: name -> tensor; dtypes: one dtype for all or name -> dtype; order: data layout order."""
    order = list(order) if order is not None else list(tensors)
    assert sorted(order) == sorted(tensors), "order must list every tensor once"
    dt = (lambda n: dtypes) if isinstance(dtypes, str) else (lambda n: dtypes[n])
    specs = [(n, dt(n), list(tensors[n].shape)) for n in order]
    w = SafetensorsStreamWriter(path, specs, metadata)
    for n in order:
        w.write(n, tensors[n])
    w.close()


def read_safetensors_header(path: str) -> tuple[dict, dict, int]:
    """Returns (entries, metadata, data_start)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        hdr = json.loads(f.read(n).decode("utf-8"))
    meta = hdr.pop("__metadata__", {})
    return hdr, meta, 8 + n


def load_safetensors(path: str, as_float64: bool = True) -> tuple[dict, dict]:
    """Returns ({name: torch tensor}, metadata). Float tensors are upcast exactly to float64 by default."""
    entries, meta, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        data = f.read()[start:]
    out = {}
    for name, e in entries.items():
        a, b = e["data_offsets"]
        buf = data[a:b]
        shape = tuple(e["shape"])
        dt = e["dtype"]
        if dt == "BF16":
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=_NP_DTYPE[dt])
        arr = np.array(arr).reshape(shape)
        t = torch.from_numpy(arr)
        if as_float64 and dt in ("F64", "F32", "F16", "BF16"):
            t = t.to(torch.float64)
        out[name] = t
    return out, meta


# ----------------------------------------------------------------------------------------------------------
# GPT-2 byte-level BPE
# ----------------------------------------------------------------------------------------------------------

GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"


def byte_symbols() -> list[tuple[int, str]]:
    """GPT-2's byte -> printable-unicode-symbol table, in GPT-2's order (the order of ids 0..255).

    Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves and come first; the other 68
    bytes follow in increasing byte order and map to U+0100, U+0101, ...
    """
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = [(b, chr(b)) for b in keep]
    extra = 0
    for b in range(256):
        if b not in keep:
            table.append((b, chr(0x100 + extra)))
            extra += 1
    return table


BYTE_TO_SYM = dict(byte_symbols())
SYM_TO_BYTE = {s: b for b, s in BYTE_TO_SYM.items()}


def pretokenize(text: str) -> list[str]:
    """Split text with GPT-2's pattern and map each piece's UTF-8 bytes to byte symbols."""
    return ["".join(BYTE_TO_SYM[b] for b in piece.encode("utf-8")) for piece in GPT2_SPLIT.findall(text)]


class BPETokenizer:
    def __init__(self, vocab: dict[str, int], merges: Sequence[tuple[str, str]]):
        self.vocab = dict(vocab)
        self.inv = {i: s for s, i in self.vocab.items()}
        self.merges = [tuple(m) for m in merges]
        self.rank = {m: r for r, m in enumerate(self.merges)}
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def from_files(cls, vocab_path: str, merges_path: str) -> "BPETokenizer":
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
        merges = []
        with open(merges_path, encoding="utf-8") as f:
            for line in f.read().split("\n"):
                if not line or line.startswith("#version"):
                    continue
                a, b = line.split(" ")
                merges.append((a, b))
        return cls(vocab, merges)

    @property
    def eot_id(self) -> int:
        return self.vocab[EOT]

    def bpe(self, word: str) -> list[str]:
        """Merge symbols of one pre-token: repeatedly merge every occurrence of the lowest-ranked pair."""
        if word in self._cache:
            return self._cache[word]
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                r = self.rank.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = (parts[i], parts[i + 1]), r
            if best is None:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == best[0] and parts[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        return [self.vocab[p] for w in pretokenize(text) for p in self.bpe(w)]

    def token_bytes(self, i: int) -> bytes:
        s = self.inv[i]
        if s == EOT:
            return s.encode("utf-8")
        return bytes(SYM_TO_BYTE[c] for c in s)

    def decode(self, ids: Iterable[int]) -> str:
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", errors="replace")


def learn_bpe(texts: Sequence[str], n_merges: int) -> list[tuple[str, str]]:
    """Deterministic BPE training over GPT-2 pre-tokens.

    At each step merge the most frequent adjacent pair (ties: lexicographically smallest pair). A pair whose
    concatenation is already a token is skipped, so every merge adds exactly one new token
    (vocab = 256 + n_merges + 1, as in GPT-2).
    """
    counts: dict[str, int] = {}
    for t in texts:
        for w in pretokenize(t):
            counts[w] = counts.get(w, 0) + 1
    words = {w: list(w) for w in counts}
    tokens = set(BYTE_TO_SYM.values())
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        pc: dict[tuple[str, str], int] = {}
        for w, parts in words.items():
            c = counts[w]
            for i in range(len(parts) - 1):
                p = (parts[i], parts[i + 1])
                pc[p] = pc.get(p, 0) + c
        cands = sorted((p for p in pc if p[0] + p[1] not in tokens), key=lambda p: (-pc[p], p))
        if not cands:
            raise ValueError(f"corpus too small: only {len(merges)} merges possible")
        a, b = cands[0]
        merges.append((a, b))
        tokens.add(a + b)
        for w, parts in words.items():
            if len(parts) < 2:
                continue
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            words[w] = out
    return merges


def build_vocab(merges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """ids 0..255: byte symbols in GPT-2 order; then one id per merge in rank order; then <|endoftext|>."""
    vocab = {s: i for i, (_, s) in enumerate(byte_symbols())}
    for a, b in merges:
        assert a + b not in vocab, f"duplicate token {a + b!r}"
        vocab[a + b] = len(vocab)
    vocab[EOT] = len(vocab)
    return vocab


def write_tokenizer_files(out_dir: str, vocab: dict[str, int], merges: Sequence[tuple[str, str]],
                          ensure_ascii: bool = True) -> None:
    """vocab.json (compact; ensure_ascii=True escapes non-ASCII like OpenAI's encoder.json) and merges.txt."""
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(vocab, ensure_ascii=ensure_ascii, separators=(",", ":")))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


# ----------------------------------------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------------------------------------

def gpt2_config(n_layer: int, n_head: int, n_embd: int, n_positions: int, vocab_size: int, eot_id: int,
                torch_dtype: str = "float32") -> dict:
    """A config.json in the shape of Hugging Face's gpt2 config (keys sorted as HF writes them)."""
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": eot_id,
        "embd_pdrop": 0.1,
        "eos_token_id": eot_id,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": n_positions,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_inner": None,
        "n_layer": n_layer,
        "n_positions": n_positions,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "torch_dtype": torch_dtype,
        "transformers_version": "4.26.1",
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    return cfg


def write_config(out_dir: str, cfg: dict) -> None:
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def gpt2_tensor_shapes(n_layer: int, n_embd: int, n_positions: int, vocab_size: int,
                       d_mlp: int | None = None) -> dict[str, tuple[int, ...]]:
    """Parameter names (no prefix, no buffers) -> shape, HF GPT2Model layout."""
    d = n_embd
    f = d_mlp or 4 * d
    s = {"wte.weight": (vocab_size, d), "wpe.weight": (n_positions, d)}
    for l in range(n_layer):
        p = f"h.{l}."
        s[p + "ln_1.weight"] = (d,)
        s[p + "ln_1.bias"] = (d,)
        s[p + "attn.c_attn.weight"] = (d, 3 * d)
        s[p + "attn.c_attn.bias"] = (3 * d,)
        s[p + "attn.c_proj.weight"] = (d, d)
        s[p + "attn.c_proj.bias"] = (d,)
        s[p + "ln_2.weight"] = (d,)
        s[p + "ln_2.bias"] = (d,)
        s[p + "mlp.c_fc.weight"] = (d, f)
        s[p + "mlp.c_fc.bias"] = (f,)
        s[p + "mlp.c_proj.weight"] = (f, d)
        s[p + "mlp.c_proj.bias"] = (d,)
    s["ln_f.weight"] = (d,)
    s["ln_f.bias"] = (d,)
    return s


# ----------------------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------------------

def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)  # biased, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * w + b


PRE_GELU_MODES = ("pre", "on")
POST_GELU_MODES = ("off", "set", "scale", "add")
HEAD_MODES = ("off", "scale")


class GPT2Reference:
    """GPT-2 forward pass in float64 with TransformerLens hooks and LM-Debugger interventions.

    Interventions: dicts {"layer", "index", "mode", "value", "positions"} with positions None (= every
    position) or a list of 0-based positions. Modes act on neuron i of layer l's MLP:
      pre   V: c_fc output u_i := V (before GELU, so m_i = gelu(V))
      on     : u_i := S*_l + 0.01 (LM-Debugger's switch; S*_l = max_j |m_j|*||v_j|| of the clean run at
               the last position); pass the resolved pre-GELU value in "value" (see resolve_on)
      off    : m_i := 0
      set   V: m_i := V
      scale F: m_i *= F
      add   V: m_i += V
    Pre-GELU writes are applied first, then post-GELU ones, each in list order.
    An intervention with a "head" key (instead of "index") acts on attention head h of layer l: its
    slice of hook_z, z[t, h, :], at the listed positions (so its hook_result scales the same way):
      off    : z_h := 0
      scale F: z_h *= F
    """

    def __init__(self, weights: dict[str, torch.Tensor], config: dict):
        w = {}
        for k, v in weights.items():
            k2 = k[len("transformer."):] if k.startswith("transformer.") else k
            if k2.endswith(".attn.bias") or k2.endswith(".attn.masked_bias"):
                continue
            w[k2] = v.to(torch.float64)
        self.w = w
        self.cfg = config
        self.n_layer = int(config["n_layer"])
        self.n_head = int(config["n_head"])
        self.d = int(config["n_embd"])
        self.n_ctx = int(config["n_positions"])
        self.eps = float(config["layer_norm_epsilon"])
        self.vocab_size = int(config["vocab_size"])
        self.d_mlp = int(config.get("n_inner") or 4 * self.d)
        assert config.get("activation_function", "gelu_new") == "gelu_new"
        assert self.w["wte.weight"].shape == (self.vocab_size, self.d)
        self.value_norms = [self.w[f"h.{l}.mlp.c_proj.weight"].norm(dim=1) for l in range(self.n_layer)]

    @classmethod
    def from_dir(cls, model_dir: str) -> "GPT2Reference":
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        w, _ = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        return cls(w, cfg)

    # -- pieces ----------------------------------------------------------------------------------------
    def ln_f(self, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, self.w["ln_f.weight"], self.w["ln_f.bias"], self.eps)

    def unembed(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w["wte.weight"].T

    def value_vector(self, layer: int, index: int) -> torch.Tensor:
        return self.w[f"h.{layer}.mlp.c_proj.weight"][index]

    @staticmethod
    def _positions(T: int, positions):
        if positions is None:
            return list(range(T))
        return [p for p in positions if 0 <= p < T]

    # -- forward ---------------------------------------------------------------------------------------
    def forward(self, ids: Sequence[int], interventions: Sequence[dict] | None = None, hooks: bool = True,
                edits: dict | None = None):
        """Returns (logits [T, V] float64, cache dict of TransformerLens hook name -> tensor).

        edits: hook name -> function(tensor) -> tensor, applied where the hook is (TransformerLens's
        run_with_hooks); the pass continues from what it returns (activation patching uses it)."""
        ids = list(ids)
        T = len(ids)
        if T < 1 or T > self.n_ctx:
            raise ValueError(f"sequence length {T} outside 1..{self.n_ctx}")
        w, H, d = self.w, self.n_head, self.d
        dh = d // H
        ivs = list(interventions or [])
        for iv in ivs:
            if iv["mode"] not in (HEAD_MODES if "head" in iv else PRE_GELU_MODES + POST_GELU_MODES):
                raise ValueError(f"unknown mode {iv['mode']} for {'a head' if 'head' in iv else 'a neuron'}")
            if iv["mode"] == "on" and iv.get("value") is None:
                raise ValueError("mode 'on' needs a resolved value (use resolve_on)")
        cache: dict[str, torch.Tensor] = {}

        def hook(name, t):
            if edits and name in edits:
                t = edits[name](t)
            if hooks:
                cache[name] = t.clone()
            return t

        idx = torch.tensor(ids, dtype=torch.long)
        emb = hook("hook_embed", w["wte.weight"][idx])
        pos = hook("hook_pos_embed", w["wpe.weight"][:T])
        x = emb + pos
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        for l in range(self.n_layer):
            p = f"h.{l}."
            x = hook(f"blocks.{l}.hook_resid_pre", x)
            h = hook(f"blocks.{l}.ln1.hook_normalized",
                     layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps))
            qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
            q, k, v = (hook(f"blocks.{l}.attn.hook_{n}", t.reshape(T, H, dh)) for n, t in zip("qkv", qkv.split(d, dim=-1)))
            # TransformerLens's attn_scores: scaled, masked with -inf, before the softmax.
            scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(dh)
            scores = hook(f"blocks.{l}.attn.hook_attn_scores", scores.masked_fill(~causal, float("-inf")))
            pattern = hook(f"blocks.{l}.attn.hook_pattern", torch.softmax(scores, dim=-1))
            z = torch.einsum("hqk,khd->qhd", pattern, v)
            for iv in ivs:
                if iv["layer"] == l and "head" in iv:
                    for t in self._positions(T, iv.get("positions")):
                        z[t, iv["head"]] = 0.0 if iv["mode"] == "off" else z[t, iv["head"]] * float(iv["value"])
            z = hook(f"blocks.{l}.attn.hook_z", z)
            # Each head's output through its own d_head rows of W_O, without the bias.
            result = hook(f"blocks.{l}.attn.hook_result",
                          torch.einsum("qhd,hdm->qhm", z, w[p + "attn.c_proj.weight"].reshape(H, dh, d)))
            attn_out = hook(f"blocks.{l}.hook_attn_out", result.sum(dim=1) + w[p + "attn.c_proj.bias"])
            x = hook(f"blocks.{l}.hook_resid_mid", x + attn_out)
            h2 = hook(f"blocks.{l}.ln2.hook_normalized",
                      layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps))
            u = h2 @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
            for iv in ivs:
                if iv["layer"] == l and "head" not in iv and iv["mode"] in PRE_GELU_MODES:
                    for t in self._positions(T, iv.get("positions")):
                        u[t, iv["index"]] = float(iv["value"])
            u = hook(f"blocks.{l}.mlp.hook_pre", u)
            m = gelu_new(u)
            for iv in ivs:
                if iv["layer"] == l and "head" not in iv and iv["mode"] in POST_GELU_MODES:
                    i = iv["index"]
                    for t in self._positions(T, iv.get("positions")):
                        if iv["mode"] == "off":
                            m[t, i] = 0.0
                        elif iv["mode"] == "set":
                            m[t, i] = float(iv["value"])
                        elif iv["mode"] == "scale":
                            m[t, i] = m[t, i] * float(iv["value"])
                        elif iv["mode"] == "add":
                            m[t, i] = m[t, i] + float(iv["value"])
            m = hook(f"blocks.{l}.mlp.hook_post", m)
            mlp_out = hook(f"blocks.{l}.hook_mlp_out", m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"])
            x = hook(f"blocks.{l}.hook_resid_post", x + mlp_out)
        xf = hook("ln_final.hook_normalized", self.ln_f(x))
        logits = self.unembed(xf)
        return logits, cache

    # -- LM-Debugger helpers -----------------------------------------------------------------------------
    def sub_update_scores(self, cache: dict, layer: int, pos: int = -1) -> torch.Tensor:
        """s_i = |m_i| * ||v_i||_2 at one position."""
        m = cache[f"blocks.{layer}.mlp.hook_post"][pos]
        return m.abs() * self.value_norms[layer]

    def resolve_on(self, ids: Sequence[int], interventions: Sequence[dict]) -> list[dict]:
        """Copy of `interventions` where every mode 'on' gets value = S*_l + 0.01 from the clean run."""
        out = [dict(iv) for iv in interventions]
        if any(iv["mode"] == "on" for iv in out):
            _, clean = self.forward(ids)
            for iv in out:
                if iv["mode"] == "on":
                    iv["value"] = float(self.sub_update_scores(clean, iv["layer"]).max()) + 0.01
        return out

    # -- attention heads and attribution ---------------------------------------------------------------
    def head_outputs(self, cache: dict, layer: int, pos: int = -1):
        """Each head's output at one position: hook_result [H, d], its norms [H], and its projection to the
        vocabulary wte · result_h [H, V] (no layer norm, as for a value vector)."""
        r = cache[f"blocks.{layer}.attn.hook_result"][pos]
        return r, r.norm(dim=-1), self.unembed(r)

    def attribute(self, cache: dict, target: int, distractor: int | None = None, pos: int = -1,
                  top_neurons: int = 10) -> tuple[list[dict], float]:
        """Direct logit attribution of the final logit of `target` (minus `distractor`'s) at `pos`.

        ln_f's scale sigma = sqrt(var(x) + eps) is frozen at that position (TransformerLens's
        apply_ln_to_stack); centring is linear, so a residual component c contributes
        u · (gamma * (c - mean(c))) / sigma, with u = wte[target] (- wte[distractor]); ln_f's bias adds u · beta.
        Parts, in forward order: embed, pos_embed; per layer every head L{l}H{h} (its hook_result), the
        attention bias, the FFN sub-updates m_i v_i listed (the top_neurons largest |value| over all layers,
        ties by (layer, index)) and the rest summed per layer, the FFN bias; then ln_f's bias.
        Returns (parts [{name, kind, layer?, head?, index?, count?, value}], sigma)."""
        w, L, H = self.w, self.n_layer, self.n_head
        x = cache[f"blocks.{L - 1}.hook_resid_post"][pos]
        sigma = torch.sqrt(((x - x.mean()) ** 2).mean() + self.eps)
        u = w["wte.weight"][target] - (w["wte.weight"][distractor] if distractor is not None else 0.0)
        g = w["ln_f.weight"] * u

        def value(c):  # c [..., d]
            return ((c - c.mean(dim=-1, keepdim=True)) @ g) / sigma

        neuron = {}
        for l in range(L):
            m = cache[f"blocks.{l}.mlp.hook_post"][pos]
            neuron[l] = m * value(w[f"h.{l}.mlp.c_proj.weight"])
        ranked = sorted(((l, i) for l in range(L) for i in range(self.d_mlp)),
                        key=lambda li: (-abs(float(neuron[li[0]][li[1]])), li[0], li[1]))
        listed = set(ranked[:top_neurons])
        parts = [{"name": "embed", "kind": "embed", "value": float(value(cache["hook_embed"][pos]))},
                 {"name": "pos_embed", "kind": "pos_embed", "value": float(value(cache["hook_pos_embed"][pos]))}]
        for l in range(L):
            p = f"h.{l}."
            heads = value(cache[f"blocks.{l}.attn.hook_result"][pos])
            for h in range(H):
                parts.append({"name": f"L{l}H{h}", "kind": "head", "layer": l, "head": h, "value": float(heads[h])})
            parts.append({"name": f"L{l} attn bias", "kind": "attn_bias", "layer": l,
                          "value": float(value(w[p + "attn.c_proj.bias"]))})
            mine = sorted((i for (ll, i) in listed if ll == l), key=lambda i: (-abs(float(neuron[l][i])), i))
            for i in mine:
                parts.append({"name": f"L{l}D{i}", "kind": "neuron", "layer": l, "index": i,
                              "value": float(neuron[l][i])})
            rest = [i for i in range(self.d_mlp) if (l, i) not in listed]
            if rest:
                parts.append({"name": f"L{l} other neurons", "kind": "neurons", "layer": l, "count": len(rest),
                              "value": float(neuron[l][rest].sum())})
            parts.append({"name": f"L{l} mlp bias", "kind": "mlp_bias", "layer": l,
                          "value": float(value(w[p + "mlp.c_proj.bias"]))})
        parts.append({"name": "ln_final bias", "kind": "ln_final_bias", "value": float(u @ w["ln_f.bias"])})
        return parts, float(sigma)

    def generate_greedy(self, ids: Sequence[int], n_new: int, interventions: Sequence[dict] | None = None):
        """Greedy decoding, recomputing the whole sequence each step; interventions with positions=None
        apply at every position including generated ones. Returns (new_ids, per-step top1-top2 margins)."""
        seq = list(ids)
        new, margins = [], []
        for _ in range(n_new):
            logits, _ = self.forward(seq, interventions, hooks=False)
            last = logits[-1]
            top2 = torch.topk(last, 2)
            nxt = int(top2.indices[0])
            margins.append(float(top2.values[0] - top2.values[1]))
            new.append(nxt)
            seq.append(nxt)
        return new, margins


    # -- activation patching (lmdbg's core/analysis/patching.h) -------------------------------------------
    def patch_edits(self, source_cache: dict, hook: str, layer: int, positions: Sequence[int], offset: int,
                    head: int | None = None) -> dict:
        """Edits that replace blocks.{layer}.hook_{hook} at target positions p by the source's at p + offset
        (the prompts aligned at their ends: offset = T_source - T_target). hook "result" is
        attn.hook_result [pos, head, d_model], and only `head`'s output is replaced (the other heads keep
        the target's; attn_out is their sum plus b_O, as TransformerLens's patch of hook_result)."""
        name = f"blocks.{layer}.attn.hook_result" if hook == "result" else f"blocks.{layer}.hook_{hook}"
        src = source_cache[name]

        def replace(t):
            t = t.clone()
            for p in positions:
                if hook == "result":
                    t[p, head] = src[p + offset, head]
                else:
                    t[p] = src[p + offset]
            return t
        return {name: replace}

    @staticmethod
    def metric(logits_last: torch.Tensor, metric: dict) -> float:
        """{type: logit|prob|logitDiff, token, distractor?} of one row of final logits."""
        t = metric["token"]
        if metric["type"] == "logit":
            return float(logits_last[t])
        if metric["type"] == "prob":
            return float(torch.softmax(logits_last, dim=-1)[t])
        return float(logits_last[t] - logits_last[metric["distractor"]])

    def patch(self, source: Sequence[int], target: Sequence[int], hook: str, layer: int, positions, metric: dict,
              head: int | None = None):
        """Returns (patched metric, clean = the source's, corrupt = the target's, patched argmax)."""
        off = len(source) - len(target)
        src_logits, src_cache = self.forward(source)
        tgt_logits, _ = self.forward(target, hooks=False)
        logits, _ = self.forward(target, hooks=False,
                                 edits=self.patch_edits(src_cache, hook, layer, positions, off, head))
        return (self.metric(logits[-1], metric), self.metric(src_logits[-1], metric), self.metric(tgt_logits[-1], metric),
                int(torch.argmax(logits[-1])))

    def patch_sweep(self, source: Sequence[int], target: Sequence[int], hook: str, metric: dict,
                    head: int | None = None):
        """metric[layer][p] with one target position patched at a time (None where p + offset < 0)."""
        off = len(source) - len(target)
        _, src_cache = self.forward(source)
        out = []
        for layer in range(self.n_layer):
            row = []
            for p in range(len(target)):
                if p + off < 0:
                    row.append(None)
                    continue
                logits, _ = self.forward(target, hooks=False,
                                         edits=self.patch_edits(src_cache, hook, layer, [p], off, head))
                row.append(self.metric(logits[-1], metric))
            out.append(row)
        return out


def topk_desc(values: torch.Tensor, k: int) -> list[int]:
    """Indices of the k largest values, ties broken by smaller index (deterministic)."""
    vals = values.tolist()
    return sorted(range(len(vals)), key=lambda i: (-vals[i], i))[:k]
