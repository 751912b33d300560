#!/usr/bin/env python3
"""Independent reference for src/wordpiece.c: HuggingFace BertTokenizer's algorithm
(BasicTokenizer with do_lower_case, strip_accents, tokenize_chinese_chars, then
WordpieceTokenizer), written out from HF's definitions over Python's unicodedata, with the
vocabulary read from a GGUF file. transformers is not needed.

    python3 tools/wordpiece_ref.py VOCAB.gguf --check INP OUT   # verify against llama.cpp's cases
    python3 tools/wordpiece_ref.py VOCAB.gguf --fixture FILE    # write the extra test cases

The fixture is a TSV: escaped text, TAB, the ids without [CLS]/[SEP] (space-separated).
Escapes: \\\\ \\t \\n \\r and \\xHH for a raw byte (controls, separators, invalid UTF-8).
"""
import random
import struct
import sys
import unicodedata

# ---- a tiny GGUF reader (metadata only) ----

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}


def read_gguf_metadata(path):
    data = open(path, "rb").read()
    assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] in (2, 3)
    n_kv = struct.unpack_from("<Q", data, 16)[0]
    pos = 24

    def string():
        nonlocal pos
        n = struct.unpack_from("<Q", data, pos)[0]
        s = data[pos + 8:pos + 8 + n].decode("utf-8")
        pos += 8 + n
        return s

    def value(t):
        nonlocal pos
        if t == 8:
            return string()
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            return [value(et) for _ in range(n)]
        v = struct.unpack_from(SCALAR[t], data, pos)[0]
        pos += struct.calcsize(SCALAR[t])
        return v

    meta = {}
    for _ in range(n_kv):
        key = string()
        t = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        meta[key] = value(t)
    return meta


def load_vocab(path):
    """HF vocab dict (token -> id) from llama.cpp's stored form, and the special ids."""
    meta = read_gguf_metadata(path)
    assert meta["tokenizer.ggml.model"] == "bert"
    vocab = {}
    for i, tok in enumerate(meta["tokenizer.ggml.tokens"]):
        if tok.startswith("\u2581"):
            hf = tok[1:]
        elif tok.startswith("[") and tok.endswith("]") and len(tok) >= 2:
            hf = tok
        else:
            hf = "##" + tok
        vocab[hf] = i
    unk = meta.get("tokenizer.ggml.unknown_token_id", 100)
    return vocab, unk


# ---- HF BasicTokenizer + WordpieceTokenizer ----

def is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c).startswith("C")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    out = []
    for c in text:
        if ord(c) == 0 or ord(c) == 0xFFFD or is_control(c):
            continue
        out.append(" " if is_whitespace(c) else c)
    text = "".join(" %s " % c if is_chinese_char(ord(c)) else c for c in out)
    text = unicodedata.normalize("NFC", text)  # as in transformers >= 4.34
    words = []
    for token in text.split():
        token = token.lower()
        token = "".join(c for c in unicodedata.normalize("NFD", token)
                        if unicodedata.category(c) != "Mn")
        current = None
        for c in token:
            if is_punctuation(c):
                words.append(c)
                current = None
            else:
                if current is None:
                    words.append("")
                    current = len(words) - 1
                words[current] += c
    return " ".join(words).split()


def wordpiece(word, vocab, unk, max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                found = vocab[sub]
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def encode(text, vocab, unk):
    return [i for w in basic_tokenize(text) for i in wordpiece(w, vocab, unk)]


# ---- llama.cpp's .inp/.out cases ----

def read_cases(inp, out):
    text = open(inp, encoding="utf-8").read()
    sep = "\n__ggml_vocab_test__\n"
    assert text.endswith(sep)
    inputs = text[:-len(sep)].split(sep)
    expected = open(out, encoding="utf-8").read().split("\n")
    if expected and expected[-1] == "":
        expected.pop()
    assert len(inputs) == len(expected), (len(inputs), len(expected))
    return [(t, [int(x) for x in e.split()]) for t, e in zip(inputs, expected)]


# ---- extra cases ----

WORDS = [
    # English, code
    "Hello", "world", "unaffable", "tokenization", "getUserName", "parse_http2_frame",
    "MAX_RETRY_COUNT", "foo.bar()", "x+=1;", "https://example.com/a?b=c&d=e", "/usr/lib/x.so",
    "C++", "don't", "I'm", "e-mail", "3.14159", "1,000,000", "#include", "<stdio.h>", "==>",
    "$HOME", "@decorator", "{}[]()", "a_b_c", "CamelCaseWord", "ALLCAPS", "x86_64",
    # accents, Latin extensions
    "café", "naïve", "Führer", "résumé", "Ångström", "Cửa", "Việt", "São", "Paulo", "Øresund",
    "straße", "Łódź", "Dvořák", "Ærø", "ﬁnance", "Ǆemal", "ǅ", "ǈ",
    # combining sequences, some out of canonical order
    "e\u0301", "a\u0323\u0301", "a\u0301\u0323", "o\u0308\u0304", "\u0301alone", "n\u0303o",
    "x\u0489y", "a\u20dd", "q\u0327\u0331",
    # Turkish, Greek (final sigma), Cyrillic, Armenian, Georgian
    "İstanbul", "İİ", "ıi", "KIRMIZI", "I\u0307", "ΟΔΟΣ", "ΣΑΣ", "Σ", "ΑΣ.", "ΑΣ1", "ΑΣ'Β",
    "Σ'Α", "ΆΣ\u0301", "ὈΔΥΣΣΕΎΣ", "Ἀθῆναι", "Москва", "ПРИВЕТ", "ёлка", "Ёж", "Їжак", "Ջերմուկ",
    "ႠႡ", "Ა", "ᲐᲑ",
    # CJK, Japanese, Korean
    "中文", "我想在apple工作1314151天～", "日本語のテキスト", "カタカナ", "ｶﾀｶﾅ", "한국어", "안녕하세요",
    "\uf900\uf901", "\U00020000x", "\u3000full\u3000width", "ＡＢＣｄｅｆ", "１２３",
    # other scripts
    "العربية", "עברית", "हिन्दी", "नमस्ते", "தமிழ்", "ไทย", "ລາວ", "ᏣᎳᎩ", "ꮳꮃꭹ", "𐐀𐐨", "Ⅻⅻ", "ⓐⒶ",
    "𝐀𝐁𝐂", "ℌℍ", "K", "Ω", "Å",
    # emoji and symbols
    "🚀", "😶\u200d🌫️", "👍🏽", "✅", "❤️", "🦙🦙", "½", "²³", "°C", "€100", "£", "¥", "©®™", "§¶",
    "…", "—", "–", "«quoted»", "„German“", "‘single’", "¿Qué?", "¡Hola!", "·", "•", "※",
    # controls, format characters, odd whitespace
    "a\u00adb", "zero\u200bwidth", "\ufeffbom", "a\u200db", "x\x07y", "tab\there", "line\nbreak",
    "cr\rlf", "nb\u00a0sp", "a\u2028b", "a\u2029b", "a\x85b", "a\x0bb", "a\x0cb", "a\x1cb",
    "a\u2003b", "a\u202fb", "\ue000priv", "\U000f0000x", "un\u0378assigned", "a\x00b", "a\ufffdb",
    "a\u180eb", "a\u2060b", "\u202eRTL",
]

LONG = ["a" * 100, "a" * 101, "é" * 101, "ab" * 60, "x" * 99 + "é", "🚀" * 101,
        "supercalifragilisticexpialidocious" * 3]


def extra_cases(rng):
    cases = list(WORDS) + LONG
    cases += [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))) for _ in range(250)]
    cases += ["".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))) for _ in range(80)]
    # random code points from interesting ranges
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x52F),
              (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x3000, 0x30FF), (0xAC00, 0xD7A3),
              (0xFF00, 0xFFEF), (0x1F300, 0x1FAFF), (0x10400, 0x1044F), (0x0, 0x1F)]
    for _ in range(120):
        s = []
        for _ in range(rng.randint(1, 12)):
            lo, hi = rng.choice(ranges)
            s.append(chr(rng.randint(lo, hi)))
        cases.append("".join(s))
    return cases


def invalid_utf8_cases():
    raw = [b"ab\xffcd", b"\xc3", b"x\xc3(y", b"\xe2\x82", b"ok \xed\xa0\x80 no", b"\xf4\x90\x80\x80z",
           b"\xc0\xafslash", b"\xe0\x80\xafq", b"caf\xc3\xa9\xc3", b"\x80\x80\x80", b"\xf0\x9f\x9a",
           b"good \xf0\x9f\x9a\x80 \xf0\x9f\x9a bad", b"\xfe\xff", b"a\xf8\x88\x80\x80\x80b"]
    return raw


def escape(data: bytes, text_is_valid: bool):
    out = []
    if text_is_valid:
        for c in data.decode("utf-8"):
            cat = unicodedata.category(c)
            if c == "\\":
                out.append("\\\\")
            elif c == "\t":
                out.append("\\t")
            elif c == "\n":
                out.append("\\n")
            elif c == "\r":
                out.append("\\r")
            elif cat.startswith("C") or (cat.startswith("Z") and c != " "):
                out.extend("\\x%02x" % b for b in c.encode("utf-8"))
            else:
                out.append(c)
        return "".join(out)
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b < 0x20 or b >= 0x7F:
            out.append("\\x%02x" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    vocab, unk = load_vocab(sys.argv[1])
    if sys.argv[2] == "--check":
        cases = read_cases(sys.argv[3], sys.argv[4])
        bad = [(t, e, encode(t, vocab, unk)) for t, e in cases if encode(t, vocab, unk) != e]
        for t, e, got in bad:
            print("MISMATCH %r\n  expected %s\n  got      %s" % (t, e, got))
        print("%d cases, %d mismatches" % (len(cases), len(bad)))
        sys.exit(1 if bad else 0)
    if sys.argv[2] == "--fixture":
        rng = random.Random(20261126)
        lines = ["# Generated by tools/wordpiece_ref.py (HF BertTokenizer algorithm, Python %s, "
                 "Unicode %s) over %s." % (sys.version.split()[0], unicodedata.unidata_version,
                                           sys.argv[1].split("/")[-1]),
                 "# escaped text<TAB>ids without [CLS]/[SEP]; escapes \\\\ \\t \\n \\r \\xHH"]
        seen = set()
        for text in extra_cases(rng):
            if text in seen:
                continue
            seen.add(text)
            ids = encode(text, vocab, unk)
            lines.append("%s\t%s" % (escape(text.encode("utf-8"), True), " ".join(map(str, ids))))
        for raw in invalid_utf8_cases():
            ids = encode(raw.decode("utf-8", errors="replace"), vocab, unk)
            lines.append("%s\t%s" % (escape(raw, False), " ".join(map(str, ids))))
        with open(sys.argv[3], "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print("%d cases written to %s" % (len(lines) - 2, sys.argv[3]))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
