#!/usr/bin/env python3
"""Write the golden embeddings the Go all-MiniLM-L6-v2 engine must reproduce.

The texts are the labeled tickets' text (subject + ". " + body, as
enricher.Ticket.Text builds it: the subject alone when the body is empty and
the body alone when the subject is), their subjects alone, and hand-written
edge cases (empty and whitespace-only strings, single words, texts far longer
than the 256-token limit, accents, emoji, CJK, RTL, zero-width characters,
repeated punctuation). Each is embedded by sentence-transformers on the CPU
exactly as a user of the model would call it, so the file is the reference
for the whole pipeline: tokenizer, BERT encoder, mean pooling and the model's
own Normalize module. The token ids the model's tokenizer gives are stored
too, to cross-check the Go tokenizer on the same texts.

Output: one JSON object per line, {"text", "ids", "embedding"}, embeddings as
the shortest repr of each float32; and OUT's sibling golden.meta.json with the
library versions and the figures checked here (count, norms).

Usage (from the repo root; `make models` puts the model in .cache/models/sentence-transformers/all-MiniLM-L6-v2):
    HF_HUB_OFFLINE=1 python3 tools/embed_golden.py DIR \\
        ../shared/data/tickets-labeled.jsonl ml/bert/testdata/golden.jsonl
"""

import hashlib
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

MIN_TEXTS = 300

LONG_WORDS = (
    "the quarterly export keeps failing after the migration and our finance "
    "team cannot close the books until the dashboard shows the right totals "
)

EDGE_CASES = [
    "",
    " ",
    "   \t\n  ",
    "\n",
    "hello",
    "Hello",
    "HELLO",
    "a",
    "?",
    "!!!",
    "??!!??!!",
    "......",
    "---",
    "refund",
    "unsubscribe",
    "supercalifragilisticexpialidocious",
    "a" * 150,
    "x" * 99,
    "antidisestablishmentarianism " * 3,
    "Help!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "why??? why??? why???",
    "Can't log in... again... :(",
    "URGENT: prod down!!! 500 errors on /api/v2/orders?id=123&x=y",
    "email me at jane.doe+support@example.com or call +1 (555) 010-9999",
    "Café crème brûlée naïve résumé Zürich",
    "Königstraße 12, 80331 München",
    "Ελληνικά κείμενα και ΚΕΦΑΛΑΙΑ",
    "Привет, не могу войти в аккаунт",
    "مرحبا، لا أستطيع تسجيل الدخول",
    "שלום, החשבון שלי נחסם",
    "我无法登录我的账户，请帮忙",
    "ログインできません。パスワードをリセットしてください。",
    "비밀번호를 재설정할 수 없습니다",
    "ภาษาไทย ไม่สามารถเข้าสู่ระบบได้",
    "हिन्दी में सहायता चाहिए",
    "🔥🔥🔥 everything is on fire 🚒",
    "👍",
    "😀😃😄😁😆😅😂🤣",
    "👩‍💻 the developer emoji (ZWJ sequence) 🏳️‍🌈",
    "zero\u200bwidth\u200cjoiners\u200dhere\ufeff",
    "tab\tseparated\tvalues\tand\r\nwindows newlines",
    "control \x01\x02\x7f characters",
    "[CLS] [SEP] [MASK] [PAD] [UNK] literally typed",
    "mixed 中文 and English and 日本語 text",
    "ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ ＡＢＣ １２３",
    "ﬁ ﬂ ligatures and ½ ² ℃ ™ symbols",
    "Ω ≈ ç √ ∫ ˜ µ ≤ ≥ ÷",
    "1234567890 3.14159 -42 1e10 0x1F",
    "version 2.3.1-beta+build.5 broke SSO (SAML) for *.example.org",
    LONG_WORDS * 30,
    ("Bonjour, je n'arrive pas à me connecter depuis la mise à jour. " * 40).strip(),
    " ".join(str(i) for i in range(400)),
    "emoji " * 300,
    "日本語のテキスト" * 60,
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ticket_text(t):
    """enricher.Ticket.Text: subject + ". " + body, or whichever is set."""
    subject, body = t.get("subject") or "", t.get("body") or ""
    if subject == "":
        return body
    if body == "":
        return subject
    return subject + ". " + body


def load_texts(path):
    tickets = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                tickets.append(json.loads(line))
    texts = [ticket_text(t) for t in tickets]
    texts += [t.get("subject") or "" for t in tickets]
    texts += EDGE_CASES
    # Keep the first occurrence of each text: duplicates add nothing.
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out, len(tickets)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: embed_golden.py MODEL_DIR LABELED_JSONL OUT")
    model_dir, labeled, out = sys.argv[1:]
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    if model.max_seq_length != 256:
        sys.exit(f"max_seq_length is {model.max_seq_length}, want 256")

    texts, n_tickets = load_texts(labeled)
    if len(texts) < MIN_TEXTS:
        sys.exit(f"only {len(texts)} distinct texts, want at least {MIN_TEXTS}")

    emb = model.encode(
        texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False
    ).astype(np.float32)
    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
    if not np.allclose(norms, 1.0, atol=1e-5):
        bad = int(np.argmax(np.abs(norms - 1)))
        sys.exit(f"norm of {texts[bad]!r} is {norms[bad]}, want 1 (is Normalize in modules.json?)")

    with open(out, "w", encoding="utf-8") as f:
        for text, vec in zip(texts, emb):
            # model.tokenize is what encode runs (it strips the text first).
            ids = model.tokenize([text])["input_ids"][0].tolist()
            rec = {
                "text": text,
                "ids": [int(i) for i in ids],
                # str of a numpy float32 is its shortest round-trip form,
                # which float64 and JSON carry unchanged.
                "embedding": [float(str(x)) for x in vec],
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    meta = {
        "model_safetensors_sha256": sha256(os.path.join(model_dir, "model.safetensors")),
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "texts": len(texts),
        "tickets": n_tickets,
        "max_seq_length": model.max_seq_length,
        "batch_size": 32,
        "device": "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "numpy": np.__version__,
        "norm_min": float(norms.min()),
        "norm_max": float(norms.max()),
        "modules": [type(m).__name__ for m in model],
    }
    meta_path = os.path.join(os.path.dirname(out), "golden.meta.json")
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {len(texts)} embeddings to {out} and {meta_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
