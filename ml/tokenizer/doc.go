// Package tokenizer turns ticket text into the token ids our native models
// expect, reproducing the Hugging Face tokenizers the reference models were
// trained with id for id: a different id is a different embedding, so
// "close enough" is a bug here.
//
// WordPiece is the BERT uncased tokenizer used by all-MiniLM-L6-v2. Its
// Unicode behaviour comes from tables extracted from the Hugging Face
// library itself (tools/wordpiece_tables.py), not from Go's unicode
// package, because the library mixes several Unicode versions.
package tokenizer
