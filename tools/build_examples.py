#!/usr/bin/env python3
"""Builds classify/examples.jsonl, the labeled examples the classifier's
lexicons learn from, out of labeled ticket files (JSON Lines, each ticket with
"expected": {"intent", "urgency"}, or unlabeled-by-ticket phrasing rows with
a top-level "intent" and no ticket_id, which get ids PHR-001...). Run from the repository root:

  python3 tools/build_examples.py ../shared/data/tickets-labeled.jsonl \
      classify/testdata/synthetic-b.jsonl classify/testdata/holdout-a.jsonl \
      classify/testdata/phrasing.jsonl > classify/examples.jsonl

Never edit examples.jsonl by hand; change the sources and run this again.
"""
import json
import sys


def main(paths):
    phrasing = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                t = json.loads(line)
                exp = t.get("expected") or {}
                if "ticket_id" not in t and "intent" in t:
                    phrasing += 1
                    exp, t["ticket_id"] = {"intent": t["intent"]}, f"PHR-{phrasing:03d}"
                if "intent" not in exp:
                    sys.exit(f"{path}:{n}: no expected.intent")
                row = {"id": t["ticket_id"], "subject": t.get("subject") or "",
                       "body": t.get("body") or "", "intent": exp["intent"]}
                if exp.get("urgency"):
                    row["urgency"] = exp["urgency"]
                if isinstance(t.get("priority"), str):
                    row["priority"] = t["priority"]
                print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
