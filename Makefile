# The two commands a newcomer needs: `make run` starts the service on the
# embedded backends (./data); `make test` runs every test CI runs.
GO       ?= go
FUZZTIME ?= 5s
DATA     ?= ./data

.PHONY: run build test vet fuzz bench bench-memory cross

run:
	$(GO) run ./cmd/enricher serve --data $(DATA)

build:
	CGO_ENABLED=0 $(GO) build -o bin/enricher ./cmd/enricher

test: vet cross
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# The product is pure Go: it must build without cgo and for arm64.
cross:
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/enricher
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build -o /dev/null ./cmd/enricher

# A short run of every fuzzer over its corpus and fresh inputs; run longer
# with `make fuzz FUZZTIME=5m`.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseTicket$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzTicketScanner$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseNotification$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzPostTickets$$' -fuzztime $(FUZZTIME) ./httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./ml/safetensors
	$(GO) test -run '^$$' -fuzz '^FuzzWordPiece$$' -fuzztime $(FUZZTIME) ./ml/tokenizer

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Peak memory of `enricher enrich` on 1k, 10k and 100k tickets (flat = streaming).
bench-memory:
	bash bench/enrich-memory.sh
