package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ticket-enricher/enricher"
)

// Files of a sentence-transformers model directory that Load reads.
const (
	configFile       = "config.json"
	sbertConfigFile  = "sentence_bert_config.json"
	poolingFile      = "1_Pooling/config.json"
	modulesFile      = "modules.json"
	tokenizerCfgFile = "tokenizer_config.json"
	weightsFile      = "model.safetensors"
	vocabFile        = "vocab.txt"
)

// pullHint ends every "model missing" error, so that whoever reads it (an
// operator, a CI log) knows the one command that fixes it.
const pullHint = "run `enricher models pull` (`enricher models pull --help` says how without the Hugging Face Hub) to get the model"

// config is the part of the model's configuration the forward pass needs:
// transformers' BertConfig, sentence-transformers' max_seq_length and the
// tokenizer's casing.
type config struct {
	Hidden       int     `json:"hidden_size"`
	Heads        int     `json:"num_attention_heads"`
	Layers       int     `json:"num_hidden_layers"`
	Intermediate int     `json:"intermediate_size"`
	Eps          float64 `json:"layer_norm_eps"`
	Vocab        int     `json:"vocab_size"`
	MaxPositions int     `json:"max_position_embeddings"`
	TypeVocab    int     `json:"type_vocab_size"`
	HiddenAct    string  `json:"hidden_act"`
	ModelType    string  `json:"model_type"`
	PositionType string  `json:"position_embedding_type"`

	maxSeqLen int  // sentence_bert_config.json: tokens per text, [CLS] and [SEP] included
	lowercase bool // tokenizer_config.json do_lower_case (true when absent)
}

// headDim is the width of one attention head.
func (c *config) headDim() int { return c.Hidden / c.Heads }

// pooling is 1_Pooling/config.json. Only mean pooling is implemented, the
// mode all-MiniLM-L6-v2 was trained with; the other flags are read so that a
// model that asks for them is refused instead of silently mis-pooled.
type pooling struct {
	Dim             int   `json:"word_embedding_dimension"`
	CLS             bool  `json:"pooling_mode_cls_token"`
	Mean            bool  `json:"pooling_mode_mean_tokens"`
	Max             bool  `json:"pooling_mode_max_tokens"`
	MeanSqrtLen     bool  `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean    *bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken       *bool `json:"pooling_mode_lasttoken"`
	IncludePrompt   *bool `json:"include_prompt"`
	PoolingModeName any   `json:"pooling_mode"`
}

// module is one entry of modules.json, the pipeline sentence-transformers
// builds: Transformer, then Pooling, then Normalize for this model.
type module struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

// readConfig reads and checks every configuration file of the model in dir.
func readConfig(dir string) (*config, error) {
	var c config
	if err := readJSON(dir, configFile, &c); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, invalidFile(dir, configFile, err)
	}

	var sb struct {
		MaxSeqLength int `json:"max_seq_length"`
	}
	if err := readJSON(dir, sbertConfigFile, &sb); err != nil {
		return nil, err
	}
	switch {
	case sb.MaxSeqLength < 2:
		return nil, invalidFile(dir, sbertConfigFile, fmt.Errorf("max_seq_length %d leaves no room for [CLS] and [SEP]", sb.MaxSeqLength))
	case sb.MaxSeqLength > c.MaxPositions:
		return nil, invalidFile(dir, sbertConfigFile, fmt.Errorf("max_seq_length %d exceeds max_position_embeddings %d", sb.MaxSeqLength, c.MaxPositions))
	}
	c.maxSeqLen = sb.MaxSeqLength

	var p pooling
	if err := readJSON(dir, poolingFile, &p); err != nil {
		return nil, err
	}
	if err := p.check(c.Hidden); err != nil {
		return nil, invalidFile(dir, poolingFile, err)
	}

	var mods []module
	if err := readJSON(dir, modulesFile, &mods); err != nil {
		return nil, err
	}
	if err := checkModules(mods); err != nil {
		return nil, invalidFile(dir, modulesFile, err)
	}

	// The tokenizer's casing: absent file or field means uncased, BERT's
	// default and this model's.
	tc := struct {
		Lower *bool `json:"do_lower_case"`
	}{}
	if err := readJSON(dir, tokenizerCfgFile, &tc); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	c.lowercase = tc.Lower == nil || *tc.Lower
	return &c, nil
}

// check refuses configurations the engine does not implement, rather than
// computing something that only looks like an embedding.
func (c *config) check() error {
	switch {
	case c.ModelType != "" && c.ModelType != "bert":
		return fmt.Errorf("model_type %q is not bert", c.ModelType)
	case c.Hidden <= 0 || c.Heads <= 0 || c.Layers <= 0 || c.Intermediate <= 0 || c.Vocab <= 0 || c.MaxPositions <= 0:
		return fmt.Errorf("hidden_size %d, num_attention_heads %d, num_hidden_layers %d, intermediate_size %d, vocab_size %d and max_position_embeddings %d must all be positive",
			c.Hidden, c.Heads, c.Layers, c.Intermediate, c.Vocab, c.MaxPositions)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.Eps <= 0:
		return fmt.Errorf("layer_norm_eps %g must be positive", c.Eps)
	case c.HiddenAct != "" && c.HiddenAct != "gelu":
		return fmt.Errorf("hidden_act %q is not supported (only the exact erf gelu is)", c.HiddenAct)
	case c.PositionType != "" && c.PositionType != "absolute":
		return fmt.Errorf("position_embedding_type %q is not supported (only absolute is)", c.PositionType)
	}
	if c.TypeVocab == 0 {
		c.TypeVocab = 2 // transformers' default
	}
	return nil
}

// check accepts mean pooling only.
func (p *pooling) check(hidden int) error {
	if p.Dim != hidden {
		return fmt.Errorf("word_embedding_dimension %d differs from the encoder's hidden_size %d", p.Dim, hidden)
	}
	if s, ok := p.PoolingModeName.(string); ok && s != "mean" {
		return fmt.Errorf("pooling_mode %q is not supported (only mean pooling is)", s)
	}
	others := p.CLS || p.Max || p.MeanSqrtLen ||
		(p.WeightedMean != nil && *p.WeightedMean) || (p.LastToken != nil && *p.LastToken)
	if !p.Mean || others {
		return fmt.Errorf("pooling modes cls=%t mean=%t max=%t mean_sqrt_len=%t weightedmean=%t lasttoken=%t are not supported (only mean pooling alone is)",
			p.CLS, p.Mean, p.Max, p.MeanSqrtLen, p.WeightedMean != nil && *p.WeightedMean, p.LastToken != nil && *p.LastToken)
	}
	if p.IncludePrompt != nil && !*p.IncludePrompt {
		return errors.New("include_prompt false is not supported (the prompt tokens would have to be left out of the mean)")
	}
	return nil
}

// checkModules requires the Transformer, Pooling, Normalize pipeline: the
// engine always normalizes, so a model without Normalize would give vectors
// sentence-transformers does not.
func checkModules(mods []module) error {
	want := []string{"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", "sentence_transformers.models.Normalize"}
	got := make([]string, len(mods))
	for i, m := range mods {
		got[i] = m.Type
	}
	if len(got) != len(want) {
		return fmt.Errorf("modules are %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("modules are %q, want %q", got, want)
		}
	}
	return nil
}

// readJSON decodes dir/name into v. A missing file keeps fs.ErrNotExist in
// the chain (for optional files) and says how to get the model.
func readJSON(dir, name string, v any) error {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return missingFile(dir, name, err)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return invalidFile(dir, name, err)
	}
	return nil
}

// missingFile is the error for a model file that does not exist: the model
// has not been pulled (ENOTREADY, the service cannot embed yet).
func missingFile(dir, name string, err error) error {
	return enricher.Errorf(enricher.ENOTREADY, "load model %s: %s is missing; %s: %w", dir, name, pullHint, err)
}

// invalidFile is the error for a model file that exists but is not what the
// engine expects: a corrupt download or a different model.
func invalidFile(dir, name string, err error) error {
	return enricher.Errorf(enricher.ENOTREADY, "load model %s: %s: %w; the directory does not hold a valid all-MiniLM-L6-v2 (run `enricher models verify`, or pull it again)", dir, name, err)
}
