#!/usr/bin/env python3
"""Generate ml/tokenizer/wordpiece_tables.go: the Unicode tables behind the
Go WordPiece tokenizer, extracted from the Hugging Face `tokenizers` library
itself.

Why probe the library instead of reading unicodedata: BertNormalizer and
BertPreTokenizer draw on three Unicode sources of different ages (the
unicode_categories crate for Cc/Cf/Co/Mn/P*, unicode-normalization-alignments
for NFD, and Rust's std for to_lowercase/is_whitespace). No single Unicode
version (not Python's unicodedata, not Go's unicode package) reproduces all
three; asking the library about every code point does, by construction.

Usage (from the repo root):
    python3 tools/wordpiece_tables.py ml/tokenizer/wordpiece_tables.go

The script checks its own model of the normalizer against the library on
every code point and on random strings of combining marks, and exits non-zero
if they differ. Python's unicodedata is used only to pick reference marks for
canonical combining classes and for the statistics in the report.
"""

import argparse
import random
import sys
import unicodedata

import tokenizers
from tokenizers import NormalizedString
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer

ALL = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
HANGUL_S, HANGUL_COUNT = 0xAC00, 11172


def nfd(s):
    n = NormalizedString(s)
    n.nfd()
    return n.normalized


def lower(s):
    n = NormalizedString(s)
    n.lowercase()
    return n.normalized


def hangul(c):
    i = c - HANGUL_S
    l, v, t = 0x1100 + i // 588, 0x1161 + (i % 588) // 28, 0x11A7 + i % 28
    return chr(l) + chr(v) + (chr(t) if t != 0x11A7 else "")


def fail(msg):
    sys.exit("wordpiece_tables: " + msg)


def probe():
    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    pre = BertPreTokenizer()
    t = dict(removed=set(), space=set(), chinese=set(), mn=set(), ws=set(), punct=set(),
             decomp={}, lower={}, ccc={})
    for c in ALL:
        ch = chr(c)
        out = clean.normalize_str(ch)
        if out == "":
            t["removed"].add(c)
        elif out == " ":
            t["space"].add(c)
        elif out != ch:
            fail(f"clean_text maps U+{c:04X} to {out!r}")
        out = chinese.normalize_str(ch)
        if out == " " + ch + " ":
            t["chinese"].add(c)
        elif out != ch:
            fail(f"handle_chinese_chars maps U+{c:04X} to {out!r}")
        d = nfd(ch)
        if d != ch:
            if HANGUL_S <= c < HANGUL_S + HANGUL_COUNT:
                if d != hangul(c):
                    fail(f"NFD of Hangul U+{c:04X} is not algorithmic")
            else:
                t["decomp"][c] = d
        elif strip.normalize_str(ch) == "":
            t["mn"].add(c)
        lo = lower(ch)
        if lo != ch:
            t["lower"][c] = lo
        parts = [p for p, _ in pre.pre_tokenize_str("x" + ch + "x")]
        if parts == ["x", "x"]:
            t["ws"].add(c)
        elif parts == ["x", ch, "x"]:
            t["punct"].add(c)
        elif parts != ["x" + ch + "x"]:
            fail(f"BertPreTokenizer splits U+{c:04X} as {parts!r}")
    probe_ccc(t)
    return t


def reorders(x, y):
    """Whether canonical ordering moves y before x (ccc(x) > ccc(y) > 0)."""
    return x != y and nfd("a" + x + y) == "a" + y + x


def probe_ccc(t):
    stable = [c for c in ALL if c not in t["decomp"] and not HANGUL_S <= c < HANGUL_S + HANGUL_COUNT]
    nonstarters = [c for c in stable
                   if reorders(chr(c), "\u0334") or reorders("\u0301", chr(c))]
    # One reference mark per combining class, as old as possible, that the
    # library also treats as a non-starter; classes never change once assigned.
    refs = {}
    ns = set(nonstarters)
    for c in ALL:
        v = unicodedata.combining(chr(c))
        if v and v not in refs and c in ns:
            refs[v] = chr(c)
    vals = sorted(refs)
    for i, v in enumerate(vals):
        for w in vals[i + 1:]:
            if not reorders(refs[w], refs[v]) or reorders(refs[v], refs[w]):
                fail(f"reference marks for classes {v} and {w} do not order")
    for c in nonstarters:
        ch = chr(c)
        lo, hi = 0, len(vals)  # first class index not below ccc(c)
        while lo < hi:
            mid = (lo + hi) // 2
            if reorders(ch, refs[vals[mid]]):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(vals) or reorders(refs[vals[lo]], ch):
            fail(f"combining class of U+{c:04X} matches no reference mark")
        t["ccc"][c] = vals[lo]


def model(t, s, lowercase):
    """The algorithm wordpiece.go implements, in Python, for self-checking."""
    out, pending = [], []

    def emit(x):
        if ord(x) in t["mn"]:
            return
        out.append(t["lower"].get(ord(x), x))

    def flush():
        pending.sort(key=lambda x: t["ccc"][ord(x)])
        for x in pending:
            emit(x)
        pending.clear()

    for ch in s:
        c = ord(ch)
        if c in t["removed"]:
            continue
        if c in t["space"]:
            ch = " "
        seq = [" ", ch, " "] if c in t["chinese"] else [ch]
        for y in seq:
            if not lowercase:
                out.append(y)
                continue
            c2 = ord(y)
            d = hangul(c2) if HANGUL_S <= c2 < HANGUL_S + HANGUL_COUNT else t["decomp"].get(c2, y)
            for x in d:
                if ord(x) in t["ccc"]:
                    pending.append(x)
                else:
                    flush()
                    emit(x)
    flush()
    return "".join(out)


def check(t):
    full = {lc: BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lc)
            for lc in (True, False)}
    for lc, norm in full.items():
        for c in ALL:
            got, want = model(t, chr(c), lc), norm.normalize_str(chr(c))
            if got != want:
                fail(f"model(U+{c:04X}, lowercase={lc}) = {got!r}, library {want!r}")
    # Random strings of non-starters, decomposables and letters exercise the
    # canonical reordering the per-code-point check cannot see.
    rng = random.Random(1)
    pool = [chr(c) for c in sorted(t["ccc"])] + [chr(c) for c in sorted(t["decomp"])][::7] + list("aZ ,\u034f")
    for _ in range(100000):
        s = "".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))
        for lc, norm in full.items():
            if model(t, s, lc) != norm.normalize_str(s):
                fail(f"model({s!r}, lowercase={lc}) differs from the library")
    # Only U+0020 may reach the pre-tokenizer as whitespace: every other
    # whitespace character is mapped or removed by clean_text first.
    for c in t["ws"]:
        if c != 0x20 and c not in t["space"] and c not in t["removed"]:
            fail(f"whitespace U+{c:04X} survives clean_text")
    outputs = set()
    for c in ALL:
        if c not in t["removed"] and c not in t["space"]:
            outputs.update(model(t, chr(c), True))
    if any(ord(x) in t["ws"] and x != " " for x in outputs):
        fail("normalization produces whitespace other than U+0020")
    for c in range(0x80):
        if c in t["decomp"] or c in t["mn"] or c in t["ccc"] or c in t["chinese"]:
            fail(f"ASCII U+{c:04X} has a non-trivial property")
        want = chr(c + 32) if 0x41 <= c <= 0x5A else None
        if t["lower"].get(c) != want:
            fail(f"lowercase of ASCII U+{c:04X} is {t['lower'].get(c)!r}")


def stats(t):
    """Where the library departs from Python's unicodedata, for the report."""
    cat = lambda c: unicodedata.category(chr(c))
    other = {c for c in ALL if cat(c) in ("Cc", "Cf", "Co") and c not in (9, 10, 13)} | {0, 0xFFFD}
    mn = {c for c in ALL if cat(c) == "Mn"}
    punct = {c for c in ALL if cat(c).startswith("P") or (c < 0x80 and chr(c) in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")}
    dec = {}
    for c in ALL:
        d = unicodedata.normalize("NFD", chr(c))
        if d != chr(c) and not HANGUL_S <= c < HANGUL_S + HANGUL_COUNT:
            dec[c] = d
    lines = [f"Python unicodedata {unicodedata.unidata_version} vs the library:"]
    for name, mine, ref in (("removed (Cc/Cf/Co)", t["removed"], other), ("Mn", t["mn"], mn),
                            ("punctuation", t["punct"], punct)):
        lines.append(f"  {name}: {len(mine)} code points; {len(ref - mine)} only in unicodedata, "
                     f"{len(mine - ref)} only in the library")
    diff = sorted(set(dec) ^ set(t["decomp"]) | {c for c in dec if t["decomp"].get(c, dec[c]) != dec[c]})
    lines.append(f"  NFD: {len(t['decomp'])} decompositions; {len(diff)} differ")
    return lines


def ranges(cs):
    out = []
    for c in sorted(cs):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def range_table(name, doc, cs):
    r16 = [r for r in ranges(cs) if r[1] <= 0xFFFF]
    r32 = [r for r in ranges(cs) if r[1] > 0xFFFF]
    # A range straddling U+FFFF is split, as unicode.RangeTable requires.
    for r in [r for r in ranges(cs) if r[0] <= 0xFFFF < r[1]]:
        r16.append([r[0], 0xFFFF])
        r32.insert(0, [0x10000, r[1]])
        r32.remove(r)
    r16.sort()
    r32.sort()
    latin = sum(1 for r in r16 if r[1] <= 0xFF)
    lines = [f"// {doc}", f"var {name} = &unicode.RangeTable{{"]
    if r16:
        lines.append("\tR16: []unicode.Range16{")
        lines += chunk([f"{{0x{a:04x}, 0x{b:04x}, 1}}" for a, b in r16], 5, "\t\t")
        lines.append("\t},")
    if r32:
        lines.append("\tR32: []unicode.Range32{")
        lines += chunk([f"{{0x{a:05x}, 0x{b:05x}, 1}}" for a, b in r32], 5, "\t\t")
        lines.append("\t},")
    if latin:
        lines.append(f"\tLatinOffset: {latin},")
    lines.append("}")
    return lines


def chunk(items, n, indent="\t"):
    return [indent + " ".join(x + "," for x in items[i:i + n]) for i in range(0, len(items), n)]


def go_string(s):
    return '"' + "".join(f"\\u{ord(x):04x}" if ord(x) <= 0xFFFF else f"\\U{ord(x):08x}" for x in s) + '"'


def mapping(name, doc, m):
    lines = [f"// {doc}", f"var {name} = [...]wpMapping{{"]
    lines += chunk([f"{{0x{c:04x}, {go_string(s)}}}" for c, s in sorted(m.items())], 5)
    lines.append("}")
    return lines


def render(t):
    ccc = []
    for c in sorted(t["ccc"]):
        v = t["ccc"][c]
        if ccc and ccc[-1][1] == c - 1 and ccc[-1][2] == v:
            ccc[-1][1] = c
        else:
            ccc.append([c, c, v])
    ascii_flags = []
    for c in range(0x80):
        f = []
        if c in t["removed"]:
            f.append("wpRemoved")
        if c in t["space"]:
            f.append("wpSpace")
        if c in t["punct"]:
            f.append("wpPunct")
        ascii_flags.append("|".join(f) or "0")
    out = [
        "// Code generated by tools/wordpiece_tables.py; DO NOT EDIT.",
        "// Command (repo root): python3 tools/wordpiece_tables.py ml/tokenizer/wordpiece_tables.go",
        f"// Source: Hugging Face tokenizers {tokenizers.__version__} (BertNormalizer, BertPreTokenizer),",
        "// probed code point by code point; see the script for why.",
        "",
        "package tokenizer",
        "",
        'import "unicode"',
        "",
        '// wpTablesSource names the library version the tables were extracted from.',
        f'const wpTablesSource = "tokenizers {tokenizers.__version__}"',
        "",
        "// wpASCII holds the clean_text and pre-tokenizer flags of ASCII, the common case.",
        "var wpASCII = [128]uint8{",
    ]
    out += chunk(ascii_flags, 8)
    out.append("}")
    out.append("")
    out += range_table("wpRemovedTable", "wpRemovedTable holds the characters clean_text deletes (NUL, U+FFFD, Cc/Cf/Co as the library sees them, except tab/LF/CR).", t["removed"])
    out.append("")
    out += range_table("wpSpaceTable", "wpSpaceTable holds the characters clean_text turns into U+0020.", t["space"])
    out.append("")
    out += range_table("wpChineseTable", "wpChineseTable holds the characters handle_chinese_chars surrounds with spaces.", t["chinese"])
    out.append("")
    out += range_table("wpNonspacingTable", "wpNonspacingTable holds the characters strip_accents deletes after NFD (Mn as the library sees it).", t["mn"])
    out.append("")
    out += range_table("wpPunctTable", "wpPunctTable holds the characters BertPreTokenizer isolates as punctuation.", t["punct"])
    out.append("")
    out.append("// wpCCC holds the canonical combining classes of the non-starters NFD reorders, as ranges.")
    out.append("var wpCCC = [...]wpCCCRange{")
    out += chunk([f"{{0x{a:04x}, 0x{b:04x}, {v}}}" for a, b, v in ccc], 5)
    out.append("}")
    out.append("")
    out += mapping("wpDecomp", "wpDecomp holds the full canonical decompositions (NFD), Hangul syllables excepted (computed).", t["decomp"])
    out.append("")
    out += mapping("wpLower", "wpLower holds Rust's char::to_lowercase for every character it changes.", t["lower"])
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="Go file to write, e.g. ml/tokenizer/wordpiece_tables.go")
    args = ap.parse_args()
    t = probe()
    check(t)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(render(t))
    print(f"tokenizers {tokenizers.__version__}: wrote {args.out}")
    for k in ("removed", "space", "chinese", "mn", "punct", "decomp", "lower", "ccc"):
        print(f"  {k}: {len(t[k])}")
    print("\n".join(stats(t)))


if __name__ == "__main__":
    main()
