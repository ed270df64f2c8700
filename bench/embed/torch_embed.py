"""The PyTorch half of `make bench-embed`: embeds a list of texts with
sentence-transformers on the CPU, following the same protocol as
bench/embed/main.go so that run.py can time both engines on the same work.

  1. load the model (offline, from the cache dir), embed texts[0] alone,
     print "FIRST" (the driver measures cold start from spawn to this line);
  2. one untimed warm-up pass over all texts at --batch;
  3. one timed pass at --batch: texts in order, in chunks of --batch, one
     encode() call per chunk; print {"batch_ms": [...], "total_s": ...};
  4. write the timed pass's vectors to --vectors as little-endian float32.

The thread count is --threads (torch.set_num_threads); the driver also sets
OMP_NUM_THREADS/MKL_NUM_THREADS to it.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.environ.get("MINILM_DIR"))
    ap.add_argument("--texts", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--vectors")
    args = ap.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)

    model = SentenceTransformer(args.model, device="cpu")

    def embed(chunk):
        return model.encode(chunk, batch_size=len(chunk), show_progress_bar=False,
                            convert_to_numpy=True)

    embed(texts[:1])
    print("FIRST", flush=True)

    def run_pass(ms=None):
        out = []
        for i in range(0, len(texts), args.batch):
            t0 = time.perf_counter()
            v = embed(texts[i:i + args.batch])
            if ms is not None:
                ms.append((time.perf_counter() - t0) * 1e3)
            out.append(v)
        return np.concatenate(out).astype("<f4")

    run_pass()  # warm-up
    ms = []
    t0 = time.perf_counter()
    vecs = run_pass(ms)
    total = time.perf_counter() - t0
    # Untimed: the tokens PyTorch computed (each chunk padded to its longest
    # text, truncated at max_seq_length) against the texts' real tokens.
    prep = getattr(model, "preprocess", None) or model.tokenize  # tokenize before 6.x
    real = padded = 0
    for i in range(0, len(texts), args.batch):
        lens = prep(texts[i:i + args.batch])["attention_mask"].sum(dim=1)
        real += int(lens.sum())
        padded += int(lens.max()) * len(lens)
    print(json.dumps({"batch_ms": ms, "total_s": total, "dim": int(vecs.shape[1]),
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "real_tokens": real, "padded_tokens": padded}), flush=True)
    if args.vectors:
        vecs.tofile(args.vectors)


if __name__ == "__main__":
    sys.exit(main())
