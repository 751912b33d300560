#!/usr/bin/env python3
"""Generates src/unicode_tables.c from Python's unicodedata (run: python3 tools/gen_unicode.py).

The tables answer the questions HuggingFace's BertTokenizer asks Python: the general category
classes it tests (Zs, C*, P*, Mn), str.lower() per code point (with the Cased/Case_Ignorable
properties Python uses for the final-sigma rule), and the full canonical decomposition and
combining classes behind unicodedata.normalize("NFD"). Hangul syllables are decomposed
algorithmically in C and are left out of the table.

The generated file also carries a digest of every code point's answers computed straight from
unicodedata; tests/unit/test_wordpiece.c recomputes it through the C lookups, so a bug in
either the tables or the lookup code is caught for all 1.1M code points.
"""
import sys
import unicodedata as ud

OUT = "src/unicode_tables.c"
MAX_CP = 0x110000

F_ZS, F_OTHER, F_PUNCT, F_MN, F_CASED, F_IGNORABLE = 1, 2, 4, 8, 16, 32


def code_points():
    return (cp for cp in range(MAX_CP) if not 0xD800 <= cp <= 0xDFFF)


def is_hangul_syllable(cp):
    return 0xAC00 <= cp <= 0xD7A3


def final_sigma_props(c):
    """(cased and not case-ignorable, case-ignorable) as Python's str.lower() sees them.

    Python does not expose the properties, so they are read off lower()'s final-sigma rule:
    c + "Σ" ends in final sigma iff c is cased and not ignorable; "A" + c + "Σ" also does when
    c is ignorable (skipped, so the cased "A" decides)."""
    cased = (c + "\u03a3").lower()[-1] == "\u03c2"
    through_a = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"
    return cased, through_a and not cased


def flags_of(cp):
    c = chr(cp)
    cat = ud.category(c)
    f = 0
    if cat == "Zs":
        f |= F_ZS
    if cat.startswith("C"):
        f |= F_OTHER
    if cat.startswith("P"):
        f |= F_PUNCT
    if cat == "Mn":
        f |= F_MN
    cased, ignorable = final_sigma_props(c)
    if cased:
        f |= F_CASED
    if ignorable:
        f |= F_IGNORABLE
    return f


def lower_of(cp):
    c = chr(cp)
    if cp == 0x3A3:
        return [0x3C3]  # the context-free answer; the final-sigma rule is applied in C
    return [ord(x) for x in c.lower()]


def nfd_of(cp):
    return [ord(x) for x in ud.normalize("NFD", chr(cp))]


def range_table(value_of):
    """Sorted (lo, value) entries: value holds from lo up to the next entry's lo - 1."""
    out, prev = [], None
    for cp in range(MAX_CP):
        v = value_of(cp)
        if v != prev:
            out.append((cp, v))
            prev = v
    return out


def lower_runs():
    """Runs (lo, n, stride, delta) covering every code point whose lowercase is one other
    code point: lo, lo+stride, ... (n of them) map to themselves + delta."""
    singles = []
    for cp in code_points():
        low = lower_of(cp)
        if len(low) == 1 and low[0] != cp:
            singles.append((cp, low[0] - cp))
        elif len(low) > 1:
            assert cp == 0x130, "unexpected multi-character lowercase %04X" % cp
    runs, i = [], 0
    while i < len(singles):
        lo, delta = singles[i]
        best_n, best_stride = 1, 1
        for stride in (1, 2):
            n = 1
            while (i + n < len(singles) and singles[i + n][0] == lo + n * stride
                   and singles[i + n][1] == delta and n < 0xFFFF):
                n += 1
            if n > best_n:
                best_n, best_stride = n, stride
        runs.append((lo, best_n, best_stride, delta))
        i += best_n
    return runs


def digest():
    """FNV-1a over every code point's flags, lowercase, NFD and combining class."""
    h = 0xCBF29CE484222325

    def mix(v):
        nonlocal h
        for _ in range(4):
            h ^= v & 0xFF
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            v >>= 8

    for cp in code_points():
        mix(cp)
        mix(flags_of(cp))
        low = lower_of(cp)
        mix(len(low))
        for x in low:
            mix(x)
        d = nfd_of(cp)
        mix(len(d))
        for x in d:
            mix(x)
        mix(ud.combining(chr(cp)))
    return h


def emit_u32_rows(f, values, per_line=8, fmt="0x%08x"):
    for i in range(0, len(values), per_line):
        f.write("    " + ", ".join(fmt % v for v in values[i:i + per_line]) + ",\n")


def main():
    classes = range_table(flags_of)
    cccs = range_table(lambda cp: ud.combining(chr(cp)))
    runs = lower_runs()
    decomp = []
    for cp in code_points():
        if is_hangul_syllable(cp):
            continue
        d = nfd_of(cp)
        if d != [cp]:
            decomp.append((cp, d))
    max_decomp = max(len(d) for _, d in decomp)
    assert max_decomp <= 4
    data, offsets = [], []
    for _, d in decomp:
        offsets.append(len(data))
        data.extend(d)
    offsets.append(len(data))
    assert len(data) < 0x10000
    # After HF's clean-up (C* dropped, Zs -> space) these are the only characters Python's
    # str.split() still splits on; wordpiece.c hard-codes them.
    assert [cp for cp in code_points() if chr(cp).isspace() and not flags_of(cp) & (F_ZS | F_OTHER)
            ] == [0x2028, 0x2029]
    # Hangul check: the algorithm in C must agree with unicodedata.
    for cp in range(0xAC00, 0xD7A4):
        s = cp - 0xAC00
        alg = [0x1100 + s // 588, 0x1161 + (s % 588) // 28] + ([0x11A7 + s % 28] if s % 28 else [])
        assert alg == nfd_of(cp)

    with open(OUT, "w", encoding="utf-8") as f:
        f.write("/* unicode_tables.c — GENERATED by tools/gen_unicode.py from Python %s's unicodedata\n"
                " * (Unicode %s). Do not edit; rerun: python3 tools/gen_unicode.py\n"
                " * %d class ranges, %d combining-class ranges, %d lowercase runs, %d decompositions. */\n"
                % (sys.version.split()[0], ud.unidata_version, len(classes), len(cccs), len(runs),
                   len(decomp)))
        f.write('#include "unicode.h"\n\n#include <stddef.h>\n\n/* clang-format off */\n')
        f.write('const char unicode_version[] = "%s";\n' % ud.unidata_version)
        f.write("const uint64_t unicode_table_digest = 0x%016xull;\n\n" % digest())
        f.write("/* (first code point << 8) | UNICODE_F_* flags, up to the next entry. */\n")
        f.write("static const uint32_t class_ranges[%d] = {\n" % len(classes))
        emit_u32_rows(f, [(lo << 8) | v for lo, v in classes])
        f.write("};\n\n/* (first code point << 8) | canonical combining class, up to the next entry. */\n")
        f.write("static const uint32_t ccc_ranges[%d] = {\n" % len(cccs))
        emit_u32_rows(f, [(lo << 8) | v for lo, v in cccs])
        f.write("};\n\n/* lo, lo+stride, ... (n code points) lowercase to themselves + delta. */\n")
        f.write("static const struct {\n    uint32_t lo;\n    uint16_t n;\n    uint8_t stride;\n"
                "    int32_t delta;\n} lower_runs[%d] = {\n" % len(runs))
        for lo, n, stride, delta in runs:
            f.write("    {0x%05x, %d, %d, %d},\n" % (lo, n, stride, delta))
        f.write("};\n\n/* Code points with a canonical decomposition (sorted); the i-th decomposes to\n"
                " * decomp_data[decomp_off[i] .. decomp_off[i + 1]). */\n")
        f.write("static const uint32_t decomp_cp[%d] = {\n" % len(decomp))
        emit_u32_rows(f, [cp for cp, _ in decomp], fmt="0x%05x")
        f.write("};\nstatic const uint16_t decomp_off[%d] = {\n" % len(offsets))
        emit_u32_rows(f, offsets, per_line=12, fmt="%d")
        f.write("};\nstatic const uint32_t decomp_data[%d] = {\n" % len(data))
        emit_u32_rows(f, data, fmt="0x%05x")
        f.write("};\n\n")
        f.write("/* clang-format on */\n\n")
        f.write(LOOKUPS)


LOOKUPS = r"""/* Index of the last entry whose first code point (entry >> 8) is <= cp. */
static size_t range_find(const uint32_t *table, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((table[mid] >> 8) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

unsigned unicode_flags(uint32_t cp)
{
    if (cp >= UNICODE_CP_LIMIT) return UNICODE_F_OTHER;
    return class_ranges[range_find(class_ranges, sizeof class_ranges / sizeof *class_ranges, cp)] &
           0xff;
}

unsigned unicode_ccc(uint32_t cp)
{
    if (cp >= UNICODE_CP_LIMIT) return 0;
    return ccc_ranges[range_find(ccc_ranges, sizeof ccc_ranges / sizeof *ccc_ranges, cp)] & 0xff;
}

size_t unicode_lower(uint32_t cp, uint32_t out[UNICODE_MAX_LOWER])
{
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) { /* LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + COMBINING DOT ABOVE */
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    size_t lo = 0, hi = sizeof lower_runs / sizeof *lower_runs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lower_runs[mid].lo <= cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    out[0] = cp;
    if (lo > 0) {
        uint32_t first = lower_runs[lo - 1].lo, off = cp - first;
        if (off % lower_runs[lo - 1].stride == 0 &&
            off / lower_runs[lo - 1].stride < lower_runs[lo - 1].n)
            out[0] = (uint32_t)((int32_t)cp + lower_runs[lo - 1].delta);
    }
    return 1;
}

size_t unicode_nfd(uint32_t cp, uint32_t out[UNICODE_MAX_DECOMP])
{
    if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable: L V (T) */
        uint32_t s = cp - 0xAC00;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + (s % 588) / 28;
        if (s % 28 == 0) return 2;
        out[2] = 0x11A7 + s % 28;
        return 3;
    }
    size_t lo = 0, hi = sizeof decomp_cp / sizeof *decomp_cp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (decomp_cp[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == sizeof decomp_cp / sizeof *decomp_cp || decomp_cp[lo] != cp) {
        out[0] = cp;
        return 1;
    }
    size_t n = 0;
    for (uint16_t i = decomp_off[lo]; i < decomp_off[lo + 1]; i++)
        out[n++] = decomp_data[i];
    return n;
}
"""

if __name__ == "__main__":
    main()
