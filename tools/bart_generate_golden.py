#!/usr/bin/env python3
"""Golden generate() outputs of the random BART test models, for ml/bart's Generate.

For every model that tools/bart_golden.py wrote under ml/bart/testdata (tiny, tiny-f16
computed in float32 from its float16 weights, odd) and every input of its golden.jsonl,
it runs transformers' model.generate() under each of SETTINGS (greedy and beam search,
including distilbart-cnn's summarization settings) and records the generated ids.

Every generation option is passed explicitly through a fresh GenerationConfig that also
replaces the model's own, so that nothing leaks in from the saved generation_config.json
(which, e.g., lacks forced_bos_token_id). forced_*_token_id None means "not forced".

Writes ml/bart/testdata/:
  generate_settings.jsonl  one line per (model, setting): every generate() option
  generate_golden.jsonl    one line per (model, setting, input):
                           {"model", "setting", "input" (line index in golden.jsonl),
                            "out" (generated ids, decoder_start_token_id first), "stop"
                            ("eos" or "max_length")}

Usage (from the repo root):
    HF_HUB_OFFLINE=1 python3 tools/bart_generate_golden.py --dir ml/bart/testdata
"""

import argparse
import json
import os

import torch
from transformers import BartForConditionalGeneration, GenerationConfig

MODELS = ["tiny", "tiny-f16", "odd"]

_COMMON = dict(decoder_start_token_id=2, bos_token_id=0, pad_token_id=1,
               do_sample=False, num_return_sequences=1, use_cache=True)

# The random models never choose </s> (2) on their own, so most settings use instead, as
# eos_token_id (and forced_eos_token_id), a token each model produces now and then
# ("alt"), so that both EOS-terminated and max_length-terminated hypotheses occur.
ALT_EOS = {"tiny": 3806, "tiny-f16": 3806, "odd": 3997}

SETTINGS = [
    dict(name="greedy", num_beams=1, max_length=20, min_length=0, no_repeat_ngram_size=0,
         length_penalty=1.0, early_stopping=False, eos_token_id="alt",
         forced_bos_token_id=None, forced_eos_token_id=None),
    dict(name="greedy-min5-forced", num_beams=1, max_length=20, min_length=5, no_repeat_ngram_size=0,
         length_penalty=1.0, early_stopping=False, eos_token_id="alt",
         forced_bos_token_id=0, forced_eos_token_id="alt"),
    dict(name="greedy-ngram3", num_beams=1, max_length=20, min_length=0, no_repeat_ngram_size=3,
         length_penalty=1.0, early_stopping=False, eos_token_id="alt",
         forced_bos_token_id=None, forced_eos_token_id=None),
    dict(name="greedy-min5-ngram3-forced", num_beams=1, max_length=20, min_length=5, no_repeat_ngram_size=3,
         length_penalty=1.0, early_stopping=False, eos_token_id=2,
         forced_bos_token_id=0, forced_eos_token_id=2),
    # distilbart-cnn-6-6's task_specific_params.summarization, with short lengths.
    dict(name="beam4-distilbart", num_beams=4, max_length=24, min_length=5, no_repeat_ngram_size=3,
         length_penalty=2.0, early_stopping=True, eos_token_id=2,
         forced_bos_token_id=0, forced_eos_token_id=2),
    dict(name="beam4-distilbart-alteos", num_beams=4, max_length=24, min_length=5, no_repeat_ngram_size=3,
         length_penalty=2.0, early_stopping=True, eos_token_id="alt",
         forced_bos_token_id=0, forced_eos_token_id="alt"),
    # The other early-stopping heuristic, no forced tokens.
    dict(name="beam3-noearly", num_beams=3, max_length=20, min_length=0, no_repeat_ngram_size=0,
         length_penalty=1.0, early_stopping=False, eos_token_id="alt",
         forced_bos_token_id=None, forced_eos_token_id=None),
]


def resolve(s, model):
    """The setting's options for model, "alt" replaced by the model's ALT_EOS."""
    return {k: (ALT_EOS[model] if v == "alt" else v) for k, v in s.items()}


def gen_config(opts):
    kw = {k: v for k, v in opts.items() if k != "name"}
    return GenerationConfig(**_COMMON, **kw)


def load(d, name):
    model = BartForConditionalGeneration.from_pretrained(os.path.join(d, name))
    return model.float().eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    with open(os.path.join(args.dir, "generate_settings.jsonl"), "w") as f:
        for name in MODELS:
            for s in SETTINGS:
                opts = dict(model=name, **resolve(s, name), **_COMMON)
                f.write(json.dumps(opts, separators=(",", ":")) + "\n")
    stats = {}
    with open(os.path.join(args.dir, "generate_golden.jsonl"), "w") as f:
        for name in MODELS:
            model = load(args.dir, name)
            with open(os.path.join(args.dir, name, "golden.jsonl")) as g:
                inputs = [json.loads(line)["ids"] for line in g]
            for s in SETTINGS:
                s = resolve(s, name)
                gc = gen_config(s)
                model.generation_config = gen_config(s)
                for i, ids in enumerate(inputs):
                    with torch.no_grad():
                        out = model.generate(torch.tensor([ids]), generation_config=gc)
                    out = [int(t) for t in out[0]]
                    stop = "eos" if out[-1] == s["eos_token_id"] and len(out) > 1 else "max_length"
                    if stop == "eos" and len(out) == s["max_length"] and s["forced_eos_token_id"] is not None:
                        stop = "max_length"  # the forced EOS
                    key = (name, s["name"], stop)
                    stats[key] = stats.get(key, 0) + 1
                    f.write(json.dumps({"model": name, "setting": s["name"], "input": i, "out": out,
                                        "stop": stop}, separators=(",", ":")) + "\n")
    for k in sorted(stats):
        print(*k, stats[k])


if __name__ == "__main__":
    main()
