#!/usr/bin/env python3
"""Train a small byte-level BPE and write the golden ids the Go BPE must reproduce.

The real BART vocabulary is on the Hugging Face Hub, which our machines cannot
reach, so this script trains a RoBERTa/BART-style byte-level BPE (vocab about
8000, special tokens <s>=0 <pad>=1 </s>=2 <unk>=3 and <mask> last) with the
`tokenizers` library on a deterministic corpus: the labeled tickets plus
generated multilingual text (fixed seed). It writes:

  testdata/bpe/vocab.json, testdata/bpe/merges.txt   the trained model
  testdata/bpe_golden.jsonl   {"text", "ids", "decoded"} per text, from a
      tokenizer built as BartTokenizerFast builds it: ByteLevel pre-tokenizer
      (add_prefix_space=False), RobertaProcessing (<s> ... </s>), ByteLevel
      decoder, <mask> with lstrip, truncation at 1024; decoded is
      decode(ids, skip_special_tokens=True)
  testdata/bpe_classes.txt    how the library's pre-tokenizer regex classifies
      every code point (L letter, N number, S whitespace, P anything else), as
      hex ranges, probed through the pre-tokenizer itself: this is the Unicode
      the library really uses (16.0 in 0.23.3; Go 1.26's unicode is 15.0)
  ../bpe_tables.go            the same ranges as the Go table the tokenizer uses

It then checks that transformers' BartTokenizerFast, loaded from the saved
vocab.json and merges.txt, gives the same ids (and decoded text) on every text,
and reports each difference.

Usage (from the repo root):
    python3 tools/bpe_golden.py --tickets ../shared/data/tickets-labeled.jsonl \\
        --out-dir ml/tokenizer/testdata
"""

import argparse
import json
import os
import random

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SEED = 20261129
VOCAB_SIZE = 8000
MAX_LEN = 1024
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]

WORDS = {
    "en": "the invoice login error export report dashboard account password reset billing customer team data "
          "sync failed cannot access please help urgent slow page button email notification integration".split(),
    "de": "Rechnung Anmeldung Fehler Konto Passwort zurücksetzen Kunde Daten Größe Straße schön über Bericht "
          "funktioniert nicht bitte dringend Übersicht Änderung".split(),
    "fr": "facture connexion erreur compte mot de passe réinitialiser client données déjà très "
          "problème ça marche pas s'il vous plaît urgent aperçu élève où".split(),
    "es": "factura inicio sesión error cuenta contraseña cliente datos año mañana niño "
          "problema no funciona por favor urgente informe".split(),
    "pt": "fatura conta senha cliente dados não está funcionando ação informação".split(),
    "ru": "счёт вход ошибка аккаунт пароль сбросить клиент данные отчёт не работает пожалуйста срочно".split(),
    "el": "λογαριασμός σφάλμα κωδικός πελάτης δεδομένα παρακαλώ επείγον Ελληνικά".split(),
    "zh": "发票 登录 错误 账户 密码 重置 客户 数据 报告 无法 访问 请 帮助 紧急".split(),
    "ja": "請求書 ログイン エラー アカウント パスワード お客様 データ 報告 できません お願いします".split(),
    "ko": "청구서 로그인 오류 계정 비밀번호 고객 데이터 보고서 안녕하세요 도와주세요".split(),
    "ar": "فاتورة تسجيل الدخول خطأ حساب كلمة المرور عميل بيانات تقرير من فضلك".split(),
    "he": "חשבונית התחברות שגיאה חשבון סיסמה לקוח נתונים דוח בבקשה".split(),
    "hi": "चालान लॉगिन त्रुटि खाता पासवर्ड ग्राहक डेटा रिपोर्ट कृपया".split(),
    "tr": "fatura giriş hata hesap şifre müşteri veri rapor lütfen İstanbul ılık".split(),
    "vi": "hóa đơn đăng nhập lỗi tài khoản mật khẩu khách hàng dữ liệu".split(),
}
PUNCT = [".", ",", "!", "?", ":", ";", " -", " —", "...", "!!", "?!", " (ok)", " 42", " 3.14", " 2026", " #1"]
EMOJI = ["😀", "👍🏽", "🎉", "❤️", "👨\u200d👩\u200d👧", "🇩🇪", "🔥", "✅"]

EDGE = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\t\n\r ", "\n\n\n", "  \n  ", " \t x", "\u00a0", "\u3000", "\u2028\u2029",
    " \u00a0\u2000\u2001\u2002\u200a\u202f\u205f\u3000 ", "\u1680\u180e\u0085\x0b\x0c\x1c\x1d\x1e\x1f",
    "a  b", "a   b", "a    b", "a\tb", "a \tb", "a\t b", "a\n b", "a \n b", "a\n\nb", "a\n \nb", "  lead", "trail  ",
    "two  spaces  between  words", "tab\tand  \tmixed \t\n whitespace", " x", "  x", "   x", " \u00a0x", "\u00a0 x",
    "x \u00a0", "1  2", "!  ?", "word \n", " 1", "  1", " !", "  !", " é", "  é",
    "'s 't 're 've 'm 'll 'd", "it's they're we've I'm you'll he'd can't", "IT'S THEY'RE WE'VE I'M YOU'LL HE'D DON'T",
    "It'S tHey'Re", "DON'T don't Don't dOn'T", "it’s don’t we’re", "''s 'ss '' ' 's", "'sup 'tis 'really 'verb 'mad 'llama 'dog",
    "x's y't z're 1's !'s ''t", " 's", "  's", "rock'n'roll o'clock O'Neil", "l'été d'accord qu'il", "'", "''", "'''",
    "'s'", "'S", "'LL 'lL", "he said 'hello'", "\"quoted\" 'single' `back`",
    "café résumé naïve", "Café RÉSUMÉ NAÏVE", "mañana Ñandú", "Ångström Å", "straße STRASSE ẞ", "Ǆemal ǅ ǆ",
    "e\u0301 E\u0301 a\u0300\u0316 o\u0308\u0304", "\u0301", "\u0301\u0302\u0303", " \u0308 ", "a\u0334\u0301b",
    "\u0345 \u0345a \u03b1\u0345\u0301", "Ελληνικά άέήίόύώ", "Русский ЁЖИК ёжик Й й", "İstanbul ISTANBUL ıi İı",
    "ﬁnance ﬂow ﬀ ﬃ", "Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３！？", "ｶﾀｶﾅ ﾊﾝｶｸ",
    "😀 😃 🥰 🫠 👍🏽 👍🏿", "👨\u200d👩\u200d👧\u200d👦 family", "🏳\ufe0f\u200d🌈 flag", "🇩🇪🇫🇷 flags", "❤\ufe0f ❤ ☺\ufe0e",
    "emoji😀inside", "😀😀😀😀😀😀😀😀", " 😀", "a😀b😀c",
    "中文测试，你好世界。", "日本語のテキスト、ひらがなカタカナ。", "한국어 텍스트 안녕하세요", "漢字かなカナ한글mixed",
    "\U00020000\U0002a6df\U0002a700\U0002b820\U00030000", "مرحبا بالعالم، كيف حالك؟", "שלום עולם! מה שלומך?",
    "العربية\u200fעברית\u200e", "\u0627\u064b\u0644\u0651", "zero\u200bwidth", "non\u200cjoiner", "joiner\u200dx",
    "bom\ufeffhere", "word\u2060joiner", "\u200b\u200c\u200d\ufeff\u2060", "soft\u00adhyphen",
    "\u202aLTR\u202c \u202bRTL\u202c \u2066iso\u2069", "\u180emongolian",
    "nul\x00byte", "unit\x1fsep", "del\x7fete", "nel\u0085line", "bell\x07 tab\tvt\x0bff\x0ccr\r", "\x1c\x1d\x1e\x1f",
    "replacement \ufffd char", "private \ue000\uf8ff use \U000f0000", "\U0010ffff\U000e0001\U000e007f",
    "a" * 100, "a" * 101, "b" * 150 + " ok", "x" + "\u0301" * 150, "supercalifragilisticexpialidocious" * 3,
    "pneumonoultramicroscopicsilicovolcanoconiosis", "Donaudampfschifffahrtsgesellschaftskapitän",
    "Hello, world! (Really?) [yes] {no} <maybe>", "!!!???...,,,;;;:::", "a-b_c.d/e\\f|g~h^i", "--- === *** ### ___",
    "¿Qué? ¡Sí! «guillemets» „Anführung“ ‹›", "— – ‐ ‒ … ‰ ′ ″ † ‡ • ※ ‼ ⁂", "§¶©®™°±×÷", "$100 €50 £20 ¥1000 ₹500 ₿",
    "3.14159 2,718 1e-10 0x1F 0b1010 -42 +7 1/2 ½ ¾ ² ³ ⁴ ₁₂", "٠١٢٣٤٥٦٧٨٩ ۰۱۲ ०१२३", "Ⅰ Ⅱ Ⅻ ⅰ ⅱ ① ② ⑳ 〇",
    "12345678901234567890", "1,000,000.00", "v1.2.3-rc.4+build.5", "2026-11-29T03:38:00Z", "+1 (555) 123-4567",
    "https://example.com/path?q=1&r=two#frag", "http://user:pass@host:8080/a/b.html", "ftp://files.example.org/pub/x.tar.gz",
    "mail jane.doe+tag@example.co.uk now", "support@quillmetrics.io", "@mention #hashtag $TICKER",
    "func main() { fmt.Println(\"hi\") }", "SELECT * FROM users WHERE id = 42;", "x := []int{1, 2, 3} // comment",
    "if (a && b || !c) { return a->b; }", "<div class=\"x\">Hello</div>", "{\"key\": [1, 2, {\"n\": null}]}",
    "def f(x):\n    return x ** 2\n", "\tindented\n\t\tcode\n", "C:\\Users\\jane\\file.txt", "a=b&&c||d!=e",
    "∀x∈ℝ: x²≥0 ∑∫∂√∞≈≠≤≥", "𝐀𝐁𝐂 𝒜ℬ𝒞 𝔸𝔹ℂ 𝟘𝟙𝟚", "Ω ohm Ω K kelvin K Å angstrom Å",
    "\u0915\u094d\u0937 हिन्दी नमस्ते", "தமிழ் கொ", "ไทย ภาษาไทย", "བོད་ཡིག", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ",
    "Tiếng Việt có dấu", "Ðð Þþ Ææ Øø Œœ Łł Đđ Ħħ", "ǅ ǈ ǋ ǲ ᾈ ᾙ ῼ",
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<s></s>", "hello <mask> world", "hello<mask>world", "hello  <mask>",
    "hello \t\n<mask>!", "<mask><mask> <mask>", "x <s> y </s> z", "<S> <Mask> < s>", "<<s>>", "</s", "<mask",
    " <mask>", "<unk>nown <pad>ding", "\u00a0<mask>", "\u3000<mask>",
]


# Whitespace <mask> with lstrip may swallow (Rust's char::is_whitespace) or not; golden only, not training.
MASK_EDGE = ["</s> <mask>", "</s>  <mask>", "a\x1c<mask>", "a\u200b<mask>", "a\u0085<mask>", "a\u2028\u3000 <mask>b",
             "<mask> <mask>  <mask>", "x\t<mask>\t"]


def tickets(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                out.append((t["subject"], t["body"]))
    return out


def sentence(rng):
    lang = rng.choice(sorted(WORDS))
    ws = [rng.choice(WORDS[lang]) for _ in range(rng.randint(3, 14))]
    if rng.random() < 0.5:
        ws[0] = ws[0][:1].upper() + ws[0][1:]
    s = " ".join(ws)
    if rng.random() < 0.3:
        s += " " + rng.choice(EMOJI)
    return s + rng.choice(PUNCT)


def corpus(ts, rng):
    out = [s + ". " + b for s, b in ts] * 3
    out += [" ".join(sentence(rng) for _ in range(rng.randint(1, 5))) for _ in range(6000)]
    out += EDGE
    out += random_texts(rng, 4000)  # merges inside many scripts' multi-byte characters
    return out


BLOCKS = [
    (0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x530, 0x58F), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0x980, 0x9FF), (0xB80, 0xBFF), (0xE00, 0xE7F),
    (0xF00, 0xFFF), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x13A0, 0x13FF), (0x1680, 0x169F), (0x1AB0, 0x1AFF),
    (0x1C80, 0x1CBF), (0x1DC0, 0x1DFF), (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20FF),
    (0x2100, 0x214F), (0x2150, 0x218F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF), (0x2500, 0x257F),
    (0x2E00, 0x2E7F), (0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF), (0x3190, 0x31FF), (0x4E00, 0x9FFF),
    (0xA490, 0xA4CF), (0xA960, 0xA97F), (0xAB30, 0xAB6F), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xF900, 0xFAFF),
    (0xFB00, 0xFB4F), (0xFB50, 0xFDFF), (0xFE00, 0xFE0F), (0xFE30, 0xFE6F), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFF),
    (0x10000, 0x1007F), (0x10300, 0x1034F), (0x11000, 0x1107F), (0x16A40, 0x16A6F), (0x1D100, 0x1D1FF),
    (0x1D400, 0x1D7FF), (0x1E900, 0x1E95F), (0x1F000, 0x1F0FF), (0x1F300, 0x1FAFF), (0x20000, 0x2A6DF),
    (0x2B740, 0x2B81F), (0x2EBF0, 0x2EE5F), (0x31350, 0x323AF), (0xE0000, 0xE01EF), (0xF0000, 0xF00FF),
    (0x0, 0x1F), (0x7F, 0x9F),
]


def random_texts(rng, n):
    words = ["the", "Invoice", "login", "ERROR", "api", "Café", "naïve", "2FA", "SSO", "don't", "IT'S", "export",
             "csv", "'s", "'ll", "  ", "\t", "\n\n", "123", "4.5", "!!"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.3:
                parts.append(rng.choice(words))
            else:
                lo, hi = rng.choice(BLOCKS)
                parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
            parts.append(rng.choice([" ", "", "", "  ", "\n", ", ", "\u00a0", " \t", "'"]))
        s = "".join(parts)
        out.append("".join(ch for ch in s if not 0xD800 <= ord(ch) <= 0xDFFF))
    return out


def mutate(rng, text):
    """A ticket with random accents, case changes, odd spacing and characters inserted."""
    pool = ["\u0301", "\u0308", "\u200b", "\u00a0", "é", "Ñ", "ß", "İ", "中", "😀", "\x00", "ﬁ", "–", "…", "Σ",
            "  ", "\t", "\n", "   ", "'S", "’", "<mask>", "\u3000", "٣", "\u0665"]
    chars = list(text)
    for _ in range(rng.randint(1, 10)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(pool))
    s = "".join(chars)
    return s.upper() if rng.random() < 0.2 else s


def sweep(step):
    """Code points between ASCII letters and digits, 48 per text, every step-th block of 48."""
    texts = []
    cps = [c for c in range(0, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    blocks = [cps[i:i + 48] for i in range(0, len(cps), 48)]
    for b in blocks[::step]:
        texts.append(" ".join("a" + chr(c) + "1" + chr(c) + chr(c) + " " + chr(c) for c in b))
    return texts


def golden_texts(ts, rng):
    texts = [s + ". " + b for s, b in ts] + [s for s, _ in ts] + [b for _, b in ts]
    texts += EDGE + MASK_EDGE
    joined = " ".join(s + ". " + b for s, b in ts)
    texts += [joined[:3000], joined[:6000], joined, "word " * 1100, "a, " * 600, "日本" * 700, "ab" * 5000,
              "😀" * 400, " " * 3000, "x" * 3000 + " y", "\n" * 2000 + "end", "1" * 2500]
    texts += [" ".join(sentence(rng) for _ in range(rng.randint(1, 6))) for _ in range(400)]
    texts += [mutate(rng, texts[i % len(ts)]) for i in range(300)]
    texts += random_texts(rng, 700)
    texts += sweep(97)
    return texts


def train(texts, out_dir):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - 1, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    os.makedirs(out_dir, exist_ok=True)
    tok.model.save(out_dir)
    vocab_path, merges_path = os.path.join(out_dir, "vocab.json"), os.path.join(out_dir, "merges.txt")
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    for i, s in enumerate(SPECIALS):
        assert vocab[s] == i, (s, vocab[s])
    vocab["<mask>"] = len(vocab)  # BART's <mask> is the last id
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    return vocab_path, merges_path


def bart_like(vocab_path, merges_path, mask_lstrip=True):
    """The tokenizer BartTokenizerFast builds from vocab.json and merges.txt."""
    tok = Tokenizer(models.BPE.from_file(vocab_path, merges_path))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True) for s in SPECIALS] +
                           [AddedToken("<mask>", lstrip=mask_lstrip, rstrip=False, special=True)])
    tok.enable_truncation(MAX_LEN)
    tok.no_padding()
    return tok


def classes(path, go_path):
    """Probe the pre-tokenizer for each code point's class and write the ranges."""
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)

    def n(s):
        return len(pre.pre_tokenize_str(s))

    def cls(c):
        ch = chr(c)
        if n("a" + ch) == 1:
            return "L"
        if n("1" + ch) == 1:
            return "N"
        if n("!" + ch) == 1:
            return "P"
        return "S"

    ranges = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        k = cls(c)
        if ranges and ranges[-1][2] == k and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c, k])
    write_go_table(ranges, go_path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# code point classes of the tokenizers {tokenizers.__version__} GPT-2 pre-tokenizer regex: lo hi class\n")
        for lo, hi, k in ranges:
            f.write(f"{lo:X} {hi:X} {k}\n")
    return len(ranges)


def write_go_table(ranges, path):
    """The non-ASCII letter, number and whitespace ranges as Go source; every
    other code point is P. Go's own unicode tables are an older Unicode
    version than the library's regex engine, hence a table of our own."""
    kinds = {"L": "bpeLetter", "N": "bpeNumber", "S": "bpeSpace"}
    lines = [
        "// Code generated by tools/bpe_golden.py; DO NOT EDIT.",
        "",
        "package tokenizer",
        "",
        f"// bpeTablesSource is the library the class ranges were probed from.",
        f'const bpeTablesSource = "tokenizers {tokenizers.__version__}"',
        "",
        "// bpeRanges holds, sorted, the code points from U+0080 up that the GPT-2",
        "// pre-tokenizer regex of the library treats as \\p{L}, \\p{N} or \\s; all",
        "// others are \"anything else\" ([^\\s\\p{L}\\p{N}]).",
        "var bpeRanges = [...]bpeRange{",
    ]
    for lo, hi, k in ranges:
        if hi < 0x80 or k == "P":
            continue
        lines.append(f"\t{{0x{max(lo, 0x80):X}, 0x{hi:X}, {kinds[k]}}},")
    lines.append("}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def check_transformers(vocab_path, merges_path, texts, rows):
    try:
        from transformers import BartTokenizerFast
        import transformers
    except ImportError as e:
        print(f"transformers not importable ({e}): BartTokenizerFast check skipped")
        return
    # As a model directory with only vocab.json and merges.txt (distilbart-cnn-6-6 has no tokenizer.json).
    bart = BartTokenizerFast.from_pretrained(os.path.dirname(vocab_path))
    mask = bart._tokenizer.get_added_tokens_decoder()[bart.mask_token_id]
    id_diff = dec_diff = mask_only = 0
    for text, row in zip(texts, rows):
        ids = bart(text, truncation=True, max_length=MAX_LEN)["input_ids"]
        if ids != row["ids"]:
            id_diff += 1
            # BART's published tokenizer.json (and transformers 4) give <mask> lstrip=True; count texts
            # where that is the only cause: whitespace right before "<mask>".
            if "<mask>" in text and ids == tok_no_lstrip(vocab_path, merges_path).encode(text).ids:
                mask_only += 1
            elif id_diff - mask_only <= 5:
                print(f"  ids differ for {text[:60]!r}: transformers {ids[:12]}..., tokenizers {row['ids'][:12]}...")
        dec = bart.decode(row["ids"], skip_special_tokens=True)
        if dec != row["decoded"]:
            dec_diff += 1
            if dec_diff <= 5:
                print(f"  decode differs for {text[:60]!r}: transformers {dec[:60]!r}, tokenizers {row['decoded'][:60]!r}")
    print(f"transformers {transformers.__version__} BartTokenizerFast.from_pretrained (<mask> lstrip={mask.lstrip}): "
          f"{id_diff} of {len(texts)} id sequences differ, {mask_only} of them only by <mask> lstrip; "
          f"{dec_diff} decoded texts differ (clean_up_tokenization_spaces={bart.clean_up_tokenization_spaces})")


_NO_LSTRIP = {}


def tok_no_lstrip(vocab_path, merges_path):
    if not _NO_LSTRIP:
        t = bart_like(vocab_path, merges_path, mask_lstrip=False)
        _NO_LSTRIP["t"] = t
    return _NO_LSTRIP["t"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", required=True, help="tickets-labeled.jsonl")
    ap.add_argument("--out-dir", required=True, help="the package's testdata directory")
    args = ap.parse_args()
    rng = random.Random(SEED)
    ts = tickets(args.tickets)
    vocab_path, merges_path = train(corpus(ts, rng), os.path.join(args.out_dir, "bpe"))
    tok = bart_like(vocab_path, merges_path)
    texts = golden_texts(ts, rng)
    rows = []
    roundtrip_fail = 0
    with open(os.path.join(args.out_dir, "bpe_golden.jsonl"), "w", encoding="utf-8") as f:
        for text in texts:
            ids = tok.encode(text).ids
            row = {"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True)}
            rows.append(row)
            if len(ids) < MAX_LEN and not any(s in text for s in SPECIALS + ["<mask>"]) and row["decoded"] != text:
                roundtrip_fail += 1
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"tokenizers {tokenizers.__version__}: vocab {tok.get_vocab_size()}, {len(texts)} golden texts, "
          f"{roundtrip_fail} untruncated texts without special tokens where decode(encode(s)) != s")
    go_path = os.path.join(os.path.dirname(os.path.abspath(args.out_dir)), "bpe_tables.go")
    print(f"{classes(os.path.join(args.out_dir, 'bpe_classes.txt'), go_path)} code point class ranges -> {go_path}")
    check_transformers(vocab_path, merges_path, texts, rows)


if __name__ == "__main__":
    main()
