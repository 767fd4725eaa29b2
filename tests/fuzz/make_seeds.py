#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/). Small on purpose:
each seed is a well-formed input (or a near miss) that reaches deep into its parser.
Usage: python3 tests/fuzz/make_seeds.py   (standard library only; rewrites the seed files)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests/fixtures/models")


def read(*p):
    with open(os.path.join(*p), "rb") as f:
        return f.read()


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    h, off, blob = {}, 0, b""
    if metadata is not None:
        h["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blob += raw
    hs = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        hs += b" " * ((8 - (len(hs) + 8) % 8) % 8)
    return struct.pack("<Q", len(hs)) + hs + blob


def f32(*xs):
    return struct.pack("<%df" % len(xs), *xs)


def main():
    # ---- safetensors ----
    put("safetensors", "two_f32", safetensors([("a", "F32", [2, 2], f32(1, 2, 3, 4)), ("b", "F32", [3], f32(5, 6, 7))]))
    put("safetensors", "dtypes", safetensors([
        ("h", "F16", [2], b"\x00\x3c\x00\xc0"), ("bf", "BF16", [1, 2], b"\x80\x3f\x00\x40"),
        ("i", "I64", [1], struct.pack("<q", -5)), ("u", "U8", [3], b"xyz"), ("t", "BOOL", [1], b"\x01"),
        ("d", "F64", [1], struct.pack("<d", 0.5)), ("w", "I32", [], struct.pack("<i", 7))]))
    put("safetensors", "metadata_empty_tensor", safetensors([("e", "F32", [0, 4], b""), ("s", "F32", [], f32(1))],
                                                            metadata={"format": "pt", "n": "1"}))
    put("safetensors", "empty_header", struct.pack("<Q", 2) + b"{}")
    put("safetensors", "unknown_dtype", safetensors([("x", "F8_E4M3", [4], b"abcd")]))
    put("safetensors", "unpadded", safetensors([("x", "F32", [1], f32(3))], pad=False))
    st = read(FIX, "l2-f16", "model.safetensors")
    n = struct.unpack("<Q", st[:8])[0]
    header = st[8:8 + n]
    put("safetensors", "fixture_header_only", st[:8 + n])  # offsets past the (missing) data

    # ---- model_load: first byte = which file is replaced ----
    put("model_load", "header", b"\x01" + header)
    h = json.loads(header)
    h["ln_f.bias"]["data_offsets"] = [0, 128]
    put("model_load", "header_overlap", b"\x01" + json.dumps(h).encode())
    put("model_load", "config", b"\x02" + read(FIX, "l2-f16", "config.json"))
    put("model_load", "vocab", b"\x03" + read(FIX, "l2-f16", "vocab.json"))
    put("model_load", "merges", b"\x04" + read(FIX, "l2-f16", "merges.txt"))
    put("model_load", "data_large_values", b"\x05" + struct.pack("<I", 4096) + f32(3e38, -3e38, 1e30, 65504, 1e-45) * 8)
    put("model_load", "whole_small", b"\x00" + safetensors([("wte.weight", "F16", [2, 2], b"\x00\x3c" * 4)]))
    # Streamed through ModelBuilder: byte 0 = mode + 6 * chunking (1: 977-byte chunks, 2: 4096, 3: cycling).
    put("model_load", "stream_header_977", bytes([1 + 6 * 1]) + header)
    put("model_load", "stream_config_4096", bytes([2 + 6 * 2]) + read(FIX, "l2-f16", "config.json"))
    put("model_load", "stream_data_cycling", bytes([5 + 6 * 3]) + struct.pack("<I", 100000) + f32(1e30, -2.5, 7) * 4)

    # ---- config ----
    put("config", "fixture", read(FIX, "l2-f16", "config.json"))
    put("config", "gpt2_small", json.dumps({
        "activation_function": "gelu_new", "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
        "n_inner": None, "n_layer": 12, "n_positions": 1024, "layer_norm_epsilon": 1e-5, "vocab_size": 50257,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False}))
    put("config", "minimal_n_ctx", '{"n_layer":1,"n_head":1,"n_embd":8,"n_ctx":4,"vocab_size":300,"n_inner":16}')
    put("config", "largest", json.dumps({"n_layer": 1024, "n_head": 1024, "n_embd": 65536, "n_positions": 1 << 20,
                                         "vocab_size": 1 << 22, "n_inner": 1 << 20}))

    # ---- tokenizer_files: 0 vocab, 1 merges, 2 vocab NUL merges ----
    vocab = read(FIX, "l2-f16", "vocab.json")
    merges = read(FIX, "l2-f16", "merges.txt")
    put("tokenizer_files", "vocab", b"\x00" + vocab)
    put("tokenizer_files", "merges", b"\x01" + merges)
    put("tokenizer_files", "both", b"\x02" + vocab + b"\x00" + merges)
    put("tokenizer_files", "merges_crlf", b"\x01" + merges.replace(b"\n", b"\r\n"))

    # ---- tokenizer (GPT-2's real files): text ----
    put("tokenizer", "english", "The capital of France is Paris. It's 2024, isn't it? I'll say: they've 12,345 cats.")
    put("tokenizer", "whitespace", "a  b\t\tc\n\n\nd   \n  e \r\n f    ")
    put("tokenizer", "unicode", "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600\U0001F44D \u0410\u0411\u0412 \u00bd\u2163 \u200b")
    put("tokenizer", "special", "<|endoftext|>Hello<|endoftext|> world<|endof")
    put("tokenizer", "invalid_utf8", b"ok \xff\xfe \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf end")
    put("tokenizer", "long_word", "a" * 300 + " " + "ab" * 100)

    # ---- interventions: 0 spec, 1 interventions JSON, 2 trace options, 3 interventions run ----
    put("interventions", "spec_off", b"\x00" + b"1:120:off")
    put("interventions", "spec_scale_positions", b"\x00" + b"0:7:scale=2.5@0,3,4")
    ivs = [{"layer": 0, "index": 3, "mode": "off"}, {"layer": 1, "index": 10, "mode": "scale", "value": 3, "positions": [1, 2]},
           {"layer": 1, "index": 11, "mode": "on"}, {"layer": 0, "index": 0, "mode": "set", "value": -1.5, "positions": None},
           {"layer": 0, "index": 1, "mode": "pre", "value": 4}, {"layer": 1, "index": 2, "mode": "add", "value": 0.25}]
    put("interventions", "json", b"\x01" + json.dumps(ivs).encode())
    put("interventions", "trace_options", b"\x02" + json.dumps({"topK": 5, "positions": [0, 4], "subUpdates": 3, "valueTopK": 2,
                                                               "rawLens": True, "attention": True, "interventions": ivs[:3]}).encode())
    put("interventions", "trace_all", b"\x02" + b'{"positions":"all"}')
    put("interventions", "run", b"\x03" + json.dumps(ivs).encode())


if __name__ == "__main__":
    main()
