#!/usr/bin/env python3
"""Build small random BART models and the golden outputs the Go engine (ml/bart) must reproduce.

The Hugging Face Hub is unreachable from our machines, so the BART forward pass is
verified on random BartForConditionalGeneration models that have
distilbart-cnn-6-6's architecture (post-norm layers, learned positions with offset 2,
layernorm_embedding, exact gelu, no embedding scaling, tied LM head plus
final_logits_bias) but small dimensions. Weights are drawn from a fixed seed with a
larger spread than transformers' init (std 0.02 gives near-constant outputs that
would hide mistakes), and the LayerNorm parameters and final_logits_bias are
randomized too, so that every piece of the model moves the outputs.

For each configuration it writes ml/bart/testdata/<name>/:
  config.json, generation_config.json, model.safetensors
                 save_pretrained(safe_serialization=True)
  golden.jsonl   one line per input:
    ids            encoder input ids (BartTokenizerFast from ml/tokenizer/testdata/bpe
                   over the labeled tickets, plus edge lengths 1, 2 and ~300)
    enc_rows       {row index: encoder last hidden state row} for rows 0, 1, n-1
    enc_mean       mean over rows of the encoder last hidden state
    dec_ids        teacher-forced decoder input: decoder_start_token_id, then 5 ids
    logits_idx, logits_val   logits of the last decoder position at a fixed sample
                   of vocabulary ids (every 31st id, plus the top 8)
    logits_full    base64 of all float32 logits of the last position (first 6
                   inputs only, to keep the files small)
    pos_max, pos_argmax   max and argmax of the logits at every decoder position
and the F16 configuration holds weights saved in float16 with goldens computed
in float32 from those weights upcast (the Go engine computes in float32).
testdata/meta.json records the versions.

Usage (from the repo root):
    HF_HUB_OFFLINE=1 python3 tools/bart_golden.py --tickets ../shared/data/tickets-labeled.jsonl \\
        --bpe ml/tokenizer/testdata/bpe --out-dir ml/bart/testdata
"""

import argparse
import base64
import json
import os
import platform

import numpy as np
import torch
import transformers
from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast

SEED = 20261129
DEC_STEPS = 5
FULL_LOGITS = 6

# distilbart-cnn-6-6's architecture flags with small sizes.
CONFIGS = {
    "tiny": dict(d_model=64, encoder_attention_heads=4, decoder_attention_heads=4,
                 encoder_ffn_dim=128, decoder_ffn_dim=128, encoder_layers=2, decoder_layers=2,
                 max_position_embeddings=1026),
    "odd": dict(d_model=48, encoder_attention_heads=6, decoder_attention_heads=3,
                encoder_ffn_dim=77, decoder_ffn_dim=101, encoder_layers=3, decoder_layers=1,
                max_position_embeddings=320),
}
F16_OF = "tiny"


def make_config(sizes):
    return BartConfig(
        vocab_size=8000, activation_function="gelu", scale_embedding=False,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        forced_bos_token_id=0, forced_eos_token_id=2,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        tie_word_embeddings=True, **sizes)


def make_model(sizes, seed):
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(make_config(sizes))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layernorm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))
        model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape, generator=g))
    return model.eval()


def inputs(tickets_path, bpe_dir):
    tok = BartTokenizerFast.from_pretrained(bpe_dir)
    texts = []
    with open(tickets_path) as f:
        for line in f:
            t = json.loads(line)
            texts.append(t["subject"] + "\n" + t["body"])
    seqs = [tok(t, truncation=True, max_length=300)["input_ids"] for t in texts[:56]]
    long_ids = tok("\n\n".join(texts[56:90]), truncation=True, max_length=300)["input_ids"]
    seqs += [[0], [0, 2], [2, 0], long_ids]
    return seqs


def decoder_ids(ids):
    filler = [0, 100, 2500, 7000, 31, 2]
    return [2] + (ids + filler)[:DEC_STEPS]


def rnd(v):
    return [float(f"{x:.7g}") for x in v]


def golden_lines(model, seqs):
    lines = []
    for i, ids in enumerate(seqs):
        dec = decoder_ids(ids)
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), decoder_input_ids=torch.tensor([dec]), use_cache=False)
        enc = out.encoder_last_hidden_state[0].float().numpy()
        logits = out.logits[0].float().numpy()
        last = logits[-1]
        n = len(ids)
        rows = sorted({0, min(1, n - 1), n - 1})
        top = np.argsort(-last)[:8]
        idx = sorted(set(range(0, last.shape[0], 31)) | {int(t) for t in top})
        line = {
            "ids": ids,
            "enc_rows": {str(r): rnd(enc[r]) for r in rows},
            "enc_mean": rnd(enc.astype(np.float64).mean(axis=0)),
            "dec_ids": dec,
            "logits_idx": idx,
            "logits_val": rnd(last[idx]),
            "pos_max": rnd(logits.max(axis=1)),
            "pos_argmax": [int(a) for a in logits.argmax(axis=1)],
        }
        if i < FULL_LOGITS:
            line["logits_full"] = base64.b64encode(last.astype("<f4").tobytes()).decode()
        lines.append(line)
    return lines


def write(out_dir, name, model, golden_model, seqs):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    with open(os.path.join(d, "golden.jsonl"), "w") as f:
        for line in golden_lines(golden_model, seqs):
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    print(f"{name}: {len(seqs)} inputs -> {d}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", required=True)
    ap.add_argument("--bpe", required=True)
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    seqs = inputs(args.tickets, args.bpe)
    for i, (name, sizes) in enumerate(CONFIGS.items()):
        model = make_model(sizes, SEED + 10 * i)
        write(args.out_dir, name, model, model, seqs)
        if name == F16_OF:
            half = make_model(sizes, SEED + 10 * i).to(torch.float16)
            # Goldens in float32 from the float16 weights, as the Go engine computes.
            up = make_model(sizes, SEED + 10 * i)
            up.load_state_dict({k: v.float() for k, v in half.state_dict().items()})
            write(args.out_dir, name + "-f16", half, up.eval(), seqs)
    meta = {"torch": torch.__version__, "transformers": transformers.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "seed": SEED,
            "configs": CONFIGS, "f16_of": F16_OF}
    with open(os.path.join(args.out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
