#!/usr/bin/env bash
# Shows that `enricher enrich` streams: peak RSS for 1,000, 10,000 and
# 100,000 tickets should be about the same. Tickets are the labeled set,
# repeated with fresh ids. Embeddings are off by default (ENRICH_FLAGS), since
# 100,000 of them take minutes on two cores and the model adds a constant,
# not a per-ticket, amount; ENRICH_FLAGS= measures with them.
#   bash bench/enrich-memory.sh            (from the repository root)
set -euo pipefail
ENRICH_FLAGS=${ENRICH_FLAGS---embeddings=false}
cd "$(dirname "$0")/.."
labeled=../shared/data/tickets-labeled.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/enricher" ./cmd/enricher

printf '%-9s %10s %12s %12s\n' tickets seconds "peak RSS" "tickets/s"
for n in 1000 10000 100000; do
  awk -v n="$n" '
    { lines[NR] = $0 }
    END { for (i = 0; i < n; i++) { l = lines[i % NR + 1]; sub(/"ticket_id": "[^"]*"/, "\"ticket_id\": \"MEM-" i "\"", l); print l } }
  ' "$labeled" > "$work/in.jsonl"
  /usr/bin/time -f '%e %M' -o "$work/time" "$work/enricher" enrich $ENRICH_FLAGS "$work/in.jsonl" > "$work/out.jsonl"
  read -r secs kb < "$work/time"
  lines=$(wc -l < "$work/out.jsonl")
  [ "$lines" -eq "$n" ] || { echo "expected $n output lines, got $lines" >&2; exit 1; }
  awk -v n="$n" -v s="$secs" -v kb="$kb" 'BEGIN { printf "%-9d %10.2f %9.1f MiB %12.0f\n", n, s, kb/1024, (s > 0 ? n/s : 0) }'
done
