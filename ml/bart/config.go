package bart

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ticket-enricher/enricher"
)

// Files of a transformers BART model directory that Load reads.
const (
	configFile  = "config.json"
	weightsFile = "model.safetensors"
)

// posOffset is BartLearnedPositionalEmbedding's offset: position p of a
// sequence reads row p+2 of the position table (a fairseq leftover that
// transformers keeps for checkpoint compatibility).
const posOffset = 2

// layerNormEps is torch.nn.LayerNorm's default, which BART's layer norms use
// (BartConfig has no eps field).
const layerNormEps = 1e-5

// pullHint ends every "model missing" error so that whoever reads it knows
// the one command that fixes it.
const pullHint = "run `enricher models pull` to get the model"

// Config is the part of transformers' BartConfig the forward pass and the
// generation loop need. It is exported so that the decoding code can read
// the special token ids and limits without parsing config.json again.
type Config struct {
	DModel         int    `json:"d_model"`
	EncoderLayers  int    `json:"encoder_layers"`
	DecoderLayers  int    `json:"decoder_layers"`
	EncoderHeads   int    `json:"encoder_attention_heads"`
	DecoderHeads   int    `json:"decoder_attention_heads"`
	EncoderFFN     int    `json:"encoder_ffn_dim"`
	DecoderFFN     int    `json:"decoder_ffn_dim"`
	Vocab          int    `json:"vocab_size"`
	MaxPositions   int    `json:"max_position_embeddings"`
	Activation     string `json:"activation_function"`
	ScaleEmbedding bool   `json:"scale_embedding"`
	ModelType      string `json:"model_type"`

	PadTokenID          int `json:"pad_token_id"`
	BOSTokenID          int `json:"bos_token_id"`
	EOSTokenID          int `json:"eos_token_id"`
	DecoderStartTokenID int `json:"decoder_start_token_id"`

	// Flags of older (fairseq-era) BartConfigs, such as distilbart-cnn's,
	// that select variants this engine does not implement: they are read
	// only so that a checkpoint asking for them is refused.
	NormalizeBefore     *bool `json:"normalize_before"`
	AddFinalLayerNorm   *bool `json:"add_final_layer_norm"`
	NormalizeEmbedding  *bool `json:"normalize_embedding"`
	StaticPositions     *bool `json:"static_position_embeddings"`
	AddBiasLogits       *bool `json:"add_bias_logits"`
	ExtraPosEmbeddings  *int  `json:"extra_pos_embeddings"`
	TieWordEmbeddings   *bool `json:"tie_word_embeddings"`
	IsEncoderDecoderRaw *bool `json:"is_encoder_decoder"`
}

// check refuses configurations the engine does not implement, rather than
// computing something that only looks like a summary.
func (c *Config) check() error {
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	switch {
	case c.ModelType != "" && c.ModelType != "bart":
		return fmt.Errorf("model_type %q is not bart", c.ModelType)
	case c.DModel <= 0 || c.EncoderLayers <= 0 || c.DecoderLayers <= 0 || c.EncoderHeads <= 0 || c.DecoderHeads <= 0 ||
		c.EncoderFFN <= 0 || c.DecoderFFN <= 0 || c.Vocab <= 0 || c.MaxPositions <= 0:
		return fmt.Errorf("d_model %d, encoder_layers %d, decoder_layers %d, encoder_attention_heads %d, decoder_attention_heads %d, encoder_ffn_dim %d, decoder_ffn_dim %d, vocab_size %d and max_position_embeddings %d must all be positive",
			c.DModel, c.EncoderLayers, c.DecoderLayers, c.EncoderHeads, c.DecoderHeads, c.EncoderFFN, c.DecoderFFN, c.Vocab, c.MaxPositions)
	case c.DModel%c.EncoderHeads != 0 || c.DModel%c.DecoderHeads != 0:
		return fmt.Errorf("d_model %d is not a multiple of encoder_attention_heads %d and decoder_attention_heads %d", c.DModel, c.EncoderHeads, c.DecoderHeads)
	case c.Activation != "gelu":
		return fmt.Errorf("activation_function %q is not supported (only the exact erf gelu is)", c.Activation)
	case isTrue(c.NormalizeBefore):
		return errors.New("normalize_before true (pre-norm layers, mBART) is not supported (only BART's post-norm layers are)")
	case isTrue(c.AddFinalLayerNorm):
		return errors.New("add_final_layer_norm true (mBART) is not supported")
	case isFalse(c.NormalizeEmbedding):
		return errors.New("normalize_embedding false is not supported (BART normalizes the embeddings)")
	case isTrue(c.StaticPositions):
		return errors.New("static_position_embeddings true (sinusoidal positions) is not supported (only learned ones are)")
	case isTrue(c.AddBiasLogits):
		return errors.New("add_bias_logits true is not supported")
	case c.ExtraPosEmbeddings != nil && *c.ExtraPosEmbeddings != posOffset:
		return fmt.Errorf("extra_pos_embeddings %d is not supported (only %d is)", *c.ExtraPosEmbeddings, posOffset)
	case isFalse(c.IsEncoderDecoderRaw):
		return errors.New("is_encoder_decoder false: not an encoder-decoder model")
	}
	for name, id := range map[string]int{"pad_token_id": c.PadTokenID, "bos_token_id": c.BOSTokenID, "eos_token_id": c.EOSTokenID, "decoder_start_token_id": c.DecoderStartTokenID} {
		if id < 0 || id >= c.Vocab {
			return fmt.Errorf("%s %d is outside the vocabulary [0, %d)", name, id, c.Vocab)
		}
	}
	return nil
}

// readConfig reads and checks dir/config.json.
func readConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, configFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missingFile(dir, configFile, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	// BartConfig's defaults for fields a config.json may leave out.
	c := Config{Activation: "gelu", PadTokenID: 1, BOSTokenID: 0, EOSTokenID: 2, DecoderStartTokenID: 2}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, invalidFile(dir, configFile, err)
	}
	if err := c.check(); err != nil {
		return nil, invalidFile(dir, configFile, err)
	}
	return &c, nil
}

// missingFile is the error for a model file that does not exist: the model
// has not been pulled (ENOTREADY, the service cannot summarize yet).
func missingFile(dir, name string, err error) error {
	return enricher.Errorf(enricher.ENOTREADY, "load model %s: %s is missing; %s: %w", dir, name, pullHint, err)
}

// invalidFile is the error for a model file that exists but is not what the
// engine expects: a corrupt download or a different model.
func invalidFile(dir, name string, err error) error {
	return enricher.Errorf(enricher.ENOTREADY, "load model %s: %s: %w; the directory does not hold a valid BART model (run `enricher models verify`, or pull it again)", dir, name, err)
}
