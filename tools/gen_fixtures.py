#!/usr/bin/python3
"""Builds the embedding engine's test fixtures and benchmark models.

Small random-weight models of both architectures we support (bert, nomic-bert) are built in
plain PyTorch (no transformers), written as GGUF v3 files in F32, F16 and Q8_0, and PyTorch's
outputs for a fixed set of texts are recorded as JSON next to them:

    /usr/bin/python3 tools/gen_fixtures.py            # writes tests/fixtures/embed/
    /usr/bin/python3 tools/gen_fixtures.py --check-tokenizer   # reference WordPiece vs llama.cpp
    /usr/bin/python3 tools/gen_fixtures.py --bench DIR  # MiniLM- and nomic-shaped models, full vocab

Run with Debian's python3-torch (/usr/bin/python3). The output is deterministic (fixed seeds),
so re-running it reproduces the committed fixtures.

Reference semantics (what the C engine must match):
- WordPiece as HF BertTokenizer (uncased): clean text (drop NUL, U+FFFD, control and format
  characters; whitespace -> space), split CJK ideographs, lowercase, NFD and drop combining
  marks, split on whitespace and punctuation, then greedy longest-match WordPiece with '##'
  continuations; a word longer than 100 characters or with no match is [UNK].
- Sequence: [CLS] tokens [SEP], truncated to context_length by dropping tokens before [SEP].
- Forward pass and pooling as in ../shared/docs/GGUF.md; reference outputs are f32 outputs of
  the original (unquantised) weights, L2-normalised.
"""
import argparse
import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VOCAB_GGUF = os.path.join(ROOT, "..", "shared", "testdata", "vocab", "ggml-vocab-bert-bge.gguf")
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "embed")

# ---------------------------------------------------------------------------------------------
# GGUF reading (only what the vocabulary file needs) and writing.

GGUF_MAGIC = b"GGUF"
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
_SCALAR_FMT = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
               T_F32: "<f", T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}
DT_F32, DT_F16, DT_Q8_0 = 0, 1, 8
ALIGN = 32


class _Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.d[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        if t == T_STR:
            return self.string()
        if t == T_ARR:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        return self.take(_SCALAR_FMT[t])


def gguf_read_kv(path):
    """Returns the metadata of a GGUF v3 file as {key: value} (tensors are ignored)."""
    with open(path, "rb") as f:
        r = _Reader(f.read())
    if r.d[:4] != GGUF_MAGIC:
        raise ValueError(f"{path}: not a GGUF file")
    r.p = 4
    version = r.take("<I")
    if version != 3:
        raise ValueError(f"{path}: GGUF version {version}, expected 3")
    r.take("<Q")  # tensor count
    n_kv = r.take("<Q")
    kv = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.take("<I"))
    return kv


def f16_round(a):
    return np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float32)


def q8_0_quantize(w):
    """Rows of w (n_in a multiple of 32) -> (bytes in Q8_0 layout, dequantised float32 copy).
    Same rounding as ggml's quantize_row_q8_0_ref: d = amax/127, q = round(x/d)."""
    w = np.asarray(w, dtype=np.float32)
    assert w.shape[-1] % 32 == 0, w.shape
    blocks = w.reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127.0
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.round(blocks * inv[:, None]).astype(np.int8)  # numpy rounds half to even, ggml uses roundf
    # ggml uses roundf (half away from zero); emulate it for exact agreement.
    q = (np.sign(blocks * inv[:, None]) * np.floor(np.abs(blocks * inv[:, None]) + 0.5)).astype(np.int8)
    d16 = d.astype(np.float16)
    rec = np.zeros(len(blocks), dtype=[("d", "<f2"), ("q", "i1", (32,))])
    rec["d"], rec["q"] = d16, q
    deq = (q.astype(np.float32) * d16.astype(np.float32)[:, None]).reshape(w.shape)
    return rec.tobytes(), deq


class GGUFWriter:
    """Collects metadata and tensors, then writes a GGUF v3 file."""

    def __init__(self):
        self.kv = []       # (key, type, value[, elem type])
        self.tensors = []  # (name, dims (contiguous first), ggml type, bytes)

    def add(self, key, vtype, value, elem_type=None):
        self.kv.append((key, vtype, value, elem_type))

    def add_tensor(self, name, array, dtype):
        """array is a numpy array in PyTorch layout ([out, in] for Linear); dims are written
        reversed, so each row is contiguous as GGUF expects. Returns the values the file holds
        (dequantised), as float32 in the same shape."""
        a = np.ascontiguousarray(array, dtype=np.float32)
        dims = list(reversed(a.shape))
        if dtype == DT_F32:
            data, held = a.tobytes(), a
        elif dtype == DT_F16:
            h = a.astype(np.float16)
            data, held = h.tobytes(), h.astype(np.float32)
        elif dtype == DT_Q8_0:
            data, held = q8_0_quantize(a)
        else:
            raise ValueError(dtype)
        self.tensors.append((name, dims, dtype, data))
        return held

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, t, v, et):
        if t == T_STR:
            return self._str(v)
        if t == T_ARR:
            out = struct.pack("<IQ", et, len(v))
            return out + b"".join(self._value(et, x, None) for x in v)
        return struct.pack(_SCALAR_FMT[t], v)

    def write(self, path):
        out = bytearray(GGUF_MAGIC)
        out += struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))
        for key, t, v, et in self.kv:
            out += self._str(key) + struct.pack("<I", t) + self._value(t, v, et)
        offset = 0
        for name, dims, dtype, data in self.tensors:
            out += self._str(name) + struct.pack("<I", len(dims))
            out += b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", dtype, offset)
            offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
        out += b"\0" * (-len(out) % ALIGN)
        for _, _, _, data in self.tensors:
            out += data + b"\0" * (-len(data) % ALIGN)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(out)
        os.replace(tmp, path)
        return len(out)


# ---------------------------------------------------------------------------------------------
# Reference WordPiece tokenizer (HF BertTokenizer, do_lower_case=True).

def _is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf")


def _is_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    chars = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or _is_control(c):
            continue
        if _is_whitespace(c):
            chars.append(" ")
        elif _is_cjk(cp):
            chars += [" ", c, " "]
        else:
            chars.append(c)
    words = []
    for w in "".join(chars).split():
        w = unicodedata.normalize("NFD", w.lower())
        w = "".join(c for c in w if unicodedata.category(c) != "Mn")
        cur = ""
        for c in w:
            if _is_punct(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


class WordPiece:
    def __init__(self, tokens, unk="[UNK]"):
        """tokens: list of vocabulary strings in WordPiece form ('##' continuations)."""
        self.tokens = tokens
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.unk = self.ids[unk]

    def word(self, w):
        if len(w) > 100:
            return [self.unk]
        out, start = [], 0
        while start < len(w):
            end, hit = len(w), None
            while start < end:
                piece = w[start:end] if start == 0 else "##" + w[start:end]
                if piece in self.ids:
                    hit = self.ids[piece]
                    break
                end -= 1
            if hit is None:
                return [self.unk]
            out.append(hit)
            start = end
        return out

    def encode(self, text):
        return [i for w in basic_tokenize(text) for i in self.word(w)]


def vocab_from_llama(tokens):
    """llama.cpp stores '▁word' for word-initial pieces and 'piece' for continuations."""
    out = []
    for t in tokens:
        if t.startswith("\u2581"):
            out.append(t[1:])
        elif t.startswith("[") and t.endswith("]"):
            out.append(t)
        else:
            out.append("##" + t)
    return out


def vocab_to_llama(tokens):
    out = []
    for t in tokens:
        if t.startswith("##"):
            out.append(t[2:])
        elif t.startswith("[") and t.endswith("]"):
            out.append(t)
        else:
            out.append("\u2581" + t)
    return out


def load_bge_vocab():
    kv = gguf_read_kv(VOCAB_GGUF)
    return kv, vocab_from_llama(kv["tokenizer.ggml.tokens"])


def check_tokenizer():
    """Our Python reference against llama.cpp's expected ids for the shared test strings."""
    _, vocab = load_bge_vocab()
    wp = WordPiece(vocab)
    base = VOCAB_GGUF
    with open(base + ".inp", encoding="utf-8") as f:
        inputs = f.read().split("\n__ggml_vocab_test__\n")
    with open(base + ".out", encoding="utf-8") as f:
        outputs = f.read().split("\n")
    bad = 0
    for i, (text, want) in enumerate(zip(inputs, outputs)):
        got = wp.encode(text)
        want = [int(x) for x in want.split()]
        if got != want:
            bad += 1
            print(f"mismatch {i}: {text!r}\n  got  {got}\n  want {want}")
    print(f"{len(inputs)} strings, {bad} mismatches")
    return bad == 0


# ---------------------------------------------------------------------------------------------
# Reference models in plain PyTorch.

POOL_MEAN, POOL_CLS = 1, 2


class Config:
    def __init__(self, name, arch, n_vocab, n_ctx, d, n_layer, n_head, d_ff, pooling,
                 eps=1e-12, rope_base=1000.0, seed=0):
        self.__dict__.update(locals())
        del self.__dict__["self"]


def rope(x, base):
    """NEOX-style rotary embedding over the whole head: x is [B, H, T, hd]; dimension i pairs
    with i + hd/2 and turns by pos * base^(-2i/hd)."""
    hd = x.shape[-1]
    half = hd // 2
    inv = base ** (-torch.arange(0, half, dtype=torch.float64) * 2.0 / hd)
    pos = torch.arange(x.shape[-2], dtype=torch.float64)
    ang = pos[:, None] * inv[None, :]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        bias = c.arch == "bert"
        if bias:
            self.q = nn.Linear(c.d, c.d)
            self.k = nn.Linear(c.d, c.d)
            self.v = nn.Linear(c.d, c.d)
        else:
            self.qkv = nn.Linear(c.d, 3 * c.d, bias=False)
        self.o = nn.Linear(c.d, c.d, bias=bias)
        self.ln1 = nn.LayerNorm(c.d, eps=c.eps)
        self.up = nn.Linear(c.d, c.d_ff, bias=bias)
        if not bias:
            self.gate = nn.Linear(c.d, c.d_ff, bias=False)
        self.down = nn.Linear(c.d_ff, c.d, bias=bias)
        self.ln2 = nn.LayerNorm(c.d, eps=c.eps)

    def forward(self, x, mask):
        c = self.c
        B, T, D = x.shape
        hd = D // c.n_head
        if c.arch == "bert":
            q, k, v = self.q(x), self.k(x), self.v(x)
        else:
            q, k, v = self.qkv(x).split(D, dim=-1)

        def heads(t):
            return t.view(B, T, c.n_head, hd).transpose(1, 2)

        q, k, v = heads(q), heads(k), heads(v)
        if c.arch == "nomic-bert":
            q, k = rope(q, c.rope_base), rope(k, c.rope_base)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        s = s.masked_fill(~mask[:, None, None, :], float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = self.ln1(x + self.o(a))
        if c.arch == "bert":
            f = self.down(F.gelu(self.up(x), approximate="none"))
        else:
            f = self.down(F.silu(self.gate(x)) * self.up(x))
        return self.ln2(x + f)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c.n_vocab, c.d)
        self.types = nn.Embedding(2, c.d)
        if c.arch == "bert":
            self.pos = nn.Embedding(c.n_ctx, c.d)
        self.ln = nn.LayerNorm(c.d, eps=c.eps)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.n_layer)])

    def init_random(self):
        """Well-conditioned random weights: Linear ~ N(0, 0.8/sqrt(in)), biases small, LayerNorm
        weights around 1."""
        g = torch.Generator().manual_seed(self.c.seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if isinstance(self.get_submodule(name.rsplit(".", 1)[0]), nn.LayerNorm):
                    base = 1.0 if name.endswith("weight") else 0.0
                    p.copy_(base + (0.1 if base else 0.02) * torch.randn(p.shape, generator=g))
                elif p.dim() == 2 and not name.startswith(("tok", "types", "pos")):
                    p.copy_(torch.randn(p.shape, generator=g) * (0.8 / math.sqrt(p.shape[1])))
                elif p.dim() == 2:
                    p.copy_(0.5 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))

    def forward(self, ids, lens):
        """ids [B, T] (padded with 0), lens [B] -> L2-normalised pooled embeddings [B, D]."""
        B, T = ids.shape
        mask = torch.arange(T)[None, :] < lens[:, None]
        x = self.tok(ids) + self.types.weight[0]
        if self.c.arch == "bert":
            x = x + self.pos.weight[:T]
        x = self.ln(x)
        for layer in self.layers:
            x = layer(x, mask)
        if self.c.pooling == POOL_CLS:
            pooled = x[:, 0]
        else:
            m = mask[..., None].to(x.dtype)
            pooled = (x * m).sum(1) / lens[:, None].to(x.dtype)
        return F.normalize(pooled, dim=-1)


def gguf_tensors(model):
    """(GGUF name, PyTorch tensor, is a 2-D weight matrix to quantise) for every parameter."""
    c = model.c
    out = [("token_embd.weight", model.tok.weight, True),
           ("token_types.weight", model.types.weight, False)]
    if c.arch == "bert":
        out.append(("position_embd.weight", model.pos.weight, False))
    out += [("token_embd_norm.weight", model.ln.weight, False),
            ("token_embd_norm.bias", model.ln.bias, False)]

    def linear(name, m):
        out.append((name + ".weight", m.weight, True))
        if m.bias is not None:
            out.append((name + ".bias", m.bias, False))

    def norm(name, m):
        out.extend([(name + ".weight", m.weight, False), (name + ".bias", m.bias, False)])

    for i, l in enumerate(model.layers):
        p = f"blk.{i}."
        if c.arch == "bert":
            linear(p + "attn_q", l.q)
            linear(p + "attn_k", l.k)
            linear(p + "attn_v", l.v)
        else:
            linear(p + "attn_qkv", l.qkv)
        linear(p + "attn_output", l.o)
        norm(p + "attn_output_norm", l.ln1)
        linear(p + "ffn_up", l.up)
        if c.arch != "bert":
            linear(p + "ffn_gate", l.gate)
        linear(p + "ffn_down", l.down)
        norm(p + "layer_output_norm", l.ln2)
    return out


# ---------------------------------------------------------------------------------------------
# Fixtures.

TEXTS = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Embedding models map text to vectors so that similar meanings land close together. "
    "This paragraph is deliberately longer than the tiny context window of the fixture models, "
    "so the tokenizer output must be truncated: the engine keeps the first tokens, then closes "
    "the sequence with the separator, exactly like the reference implementation does when it "
    "sees an input that does not fit into the positions the model was trained with.",
    "Crème brûlée à la française, naïve café — Führer, São Paulo",
    "東京は日本の首都です。北京欢迎你",
    "I love pizza 🍕 and rockets 🚀 so much 😀!",
    "def parse_config(path):\n    with open(path) as f:\n        return json.load(f)",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "getUserName MAX_RETRY_COUNT parse_http2_frame",
    "  leading whitespace\t\ttabs\nand\r\nnewlines  ",
    "Привет, мир! Ελληνικά",
    "x",
    "zero\u200bwidth\u00adsoft\u200djoin",
]
QUERY_TEXTS = [1, 2, 7]
PROMPTS = {  # (query, document), as embed.c chooses them by model name
    "bge": ("Represent this sentence for searching relevant passages: ", ""),
    "nomic": ("search_query: ", "search_document: "),
    "none": ("", ""),
}


def build_vocab(full):
    """A small vocabulary keeping bge's ids for [PAD] 0 .. [MASK] 103, then (in bge order)
    ASCII characters, their '##' continuations, the 400 most common words and every token the
    fixture texts and prompts need. Greedy WordPiece over it splits those texts exactly as the
    full vocabulary does, because it keeps every piece the full vocabulary chose."""
    wp = WordPiece(full)
    keep = set(range(104))
    for i, t in enumerate(full):
        bare = t[2:] if t.startswith("##") else t
        if len(bare) == 1 and 33 <= ord(bare) < 127:
            keep.add(i)
    keep.update(range(1996, 2396))
    for text in TEXTS + [q for q, d in PROMPTS.values()] + [d for q, d in PROMPTS.values()]:
        keep.update(wp.encode(text))
    ids = sorted(keep)
    return ids, [full[i] for i in ids]


def sequence(wp, text, n_ctx, cls=101, sep=102):
    ids = wp.encode(text)[: n_ctx - 2]
    return [cls] + ids + [sep]


def embed_ref(model, seqs):
    """PyTorch reference: each sequence alone, and all in one right-padded batch."""
    with torch.no_grad():
        alone = [model(torch.tensor([s]), torch.tensor([len(s)]))[0] for s in seqs]
        T = max(len(s) for s in seqs)
        ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
        batch = model(ids, torch.tensor([len(s) for s in seqs]))
    alone = torch.stack(alone)
    diff = (alone - batch).abs().max().item()
    assert diff < 1e-5, f"reference: batch differs from alone by {diff}"
    return alone


def write_model(path, model, vocab, token_types, dtype, name):
    c = model.c
    w = GGUFWriter()
    a = c.arch
    w.add("general.architecture", T_STR, a)
    w.add("general.name", T_STR, name)
    w.add(f"{a}.context_length", T_U32, c.n_ctx)
    w.add(f"{a}.embedding_length", T_U32, c.d)
    w.add(f"{a}.block_count", T_U32, c.n_layer)
    w.add(f"{a}.feed_forward_length", T_U32, c.d_ff)
    w.add(f"{a}.attention.head_count", T_U32, c.n_head)
    w.add(f"{a}.attention.layer_norm_epsilon", T_F32, c.eps)
    w.add(f"{a}.attention.causal", T_BOOL, False)
    w.add(f"{a}.pooling_type", T_U32, c.pooling)
    if a == "nomic-bert":
        w.add(f"{a}.rope.freq_base", T_F32, c.rope_base)
    w.add("general.file_type", T_U32, {DT_F32: 0, DT_F16: 1, DT_Q8_0: 7}[dtype])
    w.add("tokenizer.ggml.model", T_STR, "bert")
    w.add("tokenizer.ggml.tokens", T_ARR, vocab_to_llama(vocab), T_STR)
    w.add("tokenizer.ggml.token_type", T_ARR, token_types, T_I32)
    for key, v in (("unknown", 100), ("cls", 101), ("seperator", 102), ("padding", 0),
                   ("mask", 103)):
        w.add(f"tokenizer.ggml.{key}_token_id", T_U32, v)
    held = {}
    for tname, t, quant in gguf_tensors(model):
        held[tname] = w.add_tensor(tname, t.detach().numpy(), dtype if quant else DT_F32)
    size = w.write(path)
    return size, held


def make_exact(model, dtype):
    """Replaces every quantisable weight by the values a `dtype` file holds, so that file
    is lossless and the reference is exact for it."""
    with torch.no_grad():
        for _, t, quant in gguf_tensors(model):
            if quant:
                w = GGUFWriter()
                t.copy_(torch.from_numpy(w.add_tensor("x", t.numpy(), dtype)))


def r(x):
    return [float(f"{v:.7g}") for v in x]


def build_fixtures(out_dir):
    kv, full = load_bge_vocab()
    keep_ids, vocab = build_vocab(full)
    types = [kv["tokenizer.ggml.token_type"][i] for i in keep_ids]
    remap = {old: new for new, old in enumerate(keep_ids)}
    wp_full, wp = WordPiece(full), WordPiece(vocab)
    for text in TEXTS:
        assert [remap[i] for i in wp_full.encode(text)] == wp.encode(text), text
    nv = len(vocab)
    models = [
        # (file base, config, prompt set, dtypes, make exact for)
        ("tiny-bert", Config("tiny-bert-random", "bert", nv, 64, 64, 2, 4, 128, POOL_MEAN,
                             seed=1), "none", (DT_F32, DT_F16, DT_Q8_0), None),
        ("tiny-bge", Config("bge-tiny-en-v1.5-random", "bert", nv, 64, 96, 2, 3, 160, POOL_CLS,
                            seed=2), "bge", (DT_F32, DT_F16, DT_Q8_0), None),
        ("tiny-nomic", Config("nomic-embed-text-v1.5-tiny-random", "nomic-bert", nv, 64, 64, 2,
                              4, 160, POOL_MEAN, rope_base=1000.0, seed=3), "nomic",
         (DT_F32, DT_F16, DT_Q8_0), None),
        # MiniLM's shape (one layer); its weights are exactly representable in Q8_0, so the
        # Q8_0 file is lossless and must match as closely as F32.
        ("minilm-shaped", Config("all-MiniLM-L6-v2-shaped-random", "bert", nv, 64, 384, 1, 12,
                                 1536, POOL_MEAN, seed=4), "none", (DT_Q8_0,), DT_Q8_0),
    ]
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for base, c, prompts, dtypes, exact in models:
        torch.manual_seed(c.seed)
        model = Encoder(c)
        model.init_random()
        model.eval()
        if exact is not None:
            make_exact(model, exact)
        qp, dp = PROMPTS[prompts]
        doc_seqs = [sequence(wp, dp + t, c.n_ctx) for t in TEXTS]
        qry_seqs = [sequence(wp, qp + TEXTS[i], c.n_ctx) for i in QUERY_TEXTS]
        docs = embed_ref(model, doc_seqs)
        qrys = embed_ref(model, qry_seqs)
        # The f32 reference must itself be accurate: compare with a float64 run.
        m64 = Encoder(c).double()
        m64.load_state_dict(model.state_dict())
        m64.eval()
        docs64 = embed_ref(m64, doc_seqs)
        cos = (docs.double() * docs64).sum(-1).min().item()
        assert cos > 0.999999, f"{base}: f32 reference vs f64 cosine {cos}"
        files = {}
        for dt in dtypes:
            dname = {DT_F32: "f32", DT_F16: "f16", DT_Q8_0: "q8_0"}[dt]
            fname = f"{base}.{dname}.gguf"
            size, held = write_model(os.path.join(out_dir, fname), model, vocab, types, dt,
                                     c.name)
            total += size
            # How far the file's own (rounded) weights are from the reference: the C engine
            # cannot do better than this, and the test thresholds must leave room for it.
            mq = Encoder(c)
            mq.load_state_dict(model.state_dict())
            with torch.no_grad():
                for tname, t, _ in gguf_tensors(mq):
                    t.copy_(torch.from_numpy(held[tname]))
            mq.eval()
            cos = (embed_ref(mq, doc_seqs) * docs).sum(-1).min().item()
            print(f"{fname}: min cosine of its weights' output vs reference {cos:.7f}",
                  file=sys.stderr)
            files[dname.upper()] = {"file": fname, "exact": exact == dt}
        ref = {
            "name": c.name, "arch": c.arch, "dim": c.d, "context_length": c.n_ctx,
            "pooling": c.pooling, "query_prompt": qp, "document_prompt": dp, "files": files,
            "documents": [{"text": t, "ids": s, "embedding": r(e)}
                          for t, s, e in zip(TEXTS, doc_seqs, docs.tolist())],
            "queries": [{"text": TEXTS[i], "ids": s, "embedding": r(e)}
                        for i, s, e in zip(QUERY_TEXTS, qry_seqs, qrys.tolist())],
        }
        path = os.path.join(out_dir, base + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(ref, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        total += os.path.getsize(path)
        print(f"{base}: {', '.join(files)}; vocab {nv}; {len(TEXTS)} texts", file=sys.stderr)
    print(f"fixtures: {total / 1e6:.2f} MB in {out_dir}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Benchmark models: real shapes, full bge vocabulary, random weights, F32 (large: not committed).

def bench_configs(n_vocab):
    return [
        ("minilm", Config("all-MiniLM-L6-v2-shaped-random", "bert", n_vocab, 512, 384, 6, 12,
                          1536, POOL_MEAN, seed=11)),
        ("nomic", Config("nomic-embed-text-v1.5-shaped-random", "nomic-bert", n_vocab, 2048,
                         768, 12, 12, 3072, POOL_MEAN, rope_base=1000.0, seed=12)),
    ]


def bench_model(c):
    """The benchmark model for config c, with the same random weights every time."""
    torch.manual_seed(c.seed)
    model = Encoder(c)
    model.init_random()
    return model.eval()


def build_bench(out_dir):
    kv, full = load_bge_vocab()
    os.makedirs(out_dir, exist_ok=True)
    for base, c in bench_configs(len(full)):
        path = os.path.join(out_dir, f"bench-{base}.f32.gguf")
        size, _ = write_model(path, bench_model(c), full, kv["tokenizer.ggml.token_type"],
                              DT_F32, c.name)
        print(f"{path}: {size / 1e6:.0f} MB", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT_DIR, help="fixture directory (default: %(default)s)")
    ap.add_argument("--check-tokenizer", action="store_true",
                    help="check the reference WordPiece against llama.cpp's test ids")
    ap.add_argument("--bench", metavar="DIR", help="write the benchmark models into DIR")
    a = ap.parse_args()
    if a.check_tokenizer:
        return 0 if check_tokenizer() else 1
    if a.bench:
        build_bench(a.bench)
        return 0
    if not check_tokenizer():
        return 1
    build_fixtures(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
