// Package tokenizer turns ticket text into the token ids our native models
// expect, reproducing the Hugging Face tokenizers the reference models were
// trained with id for id: a different id is a different embedding, so
// "close enough" is a bug here.
//
// WordPiece is the BERT uncased tokenizer used by all-MiniLM-L6-v2. Its
// Unicode behaviour comes from tables extracted from the Hugging Face
// library itself (tools/wordpiece_tables.py), not from Go's unicode
// package, because the library mixes several Unicode versions.
//
// BPE is the byte-level BPE of RoBERTa and BART (distilbart-cnn-6-6): the
// GPT-2 byte-to-unicode table, the GPT-2 pre-tokenization pattern split by
// hand (Go's regexp has no lookahead), merges by rank, <s> ... </s>, and
// byte-level decoding. Its letter/number/space classes are generated from
// the library too (tools/bpe_golden.py), since the library uses Unicode 16
// and Go's unicode package 15. The real BART vocabulary is not reachable
// here, so the golden files come from a BPE trained with the library.
package tokenizer
