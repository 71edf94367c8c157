"""Summarise the output of `tutor ask --batch FILE --json` (JSON Lines), e.g. over the dev set:

    .venv/bin/tutor ask --batch evals/retrieval_dev.jsonl --json > docs/results/ask_batch_dev.jsonl
    .venv/bin/python benchmarks/ask_batch_summary.py docs/results/ask_batch_dev.jsonl

Checks every citation's quote against the indexed chunk text, and reports answered / refused / cited
shares, the share of answers citing the question's gold layer (when the input has "layer"), and median
timings.
"""

from __future__ import annotations

import json
import sys

from _common import ROOT, median

from tutor.app import TutorApp
from tutor.settings import Settings


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    gold = {}
    dev = ROOT / "evals" / "retrieval_dev.jsonl"
    for line in dev.read_text().splitlines():
        d = json.loads(line)
        gold[d["question"]] = d.get("layer")
    with TutorApp(Settings()) as app:
        chunks = {c.chunk_id: c for c in app.store.chunks()}
    ok = [r for r in rows if "error" not in r]
    answered = [r for r in ok if not r["refused"]]
    cited = [r for r in answered if r["citations"]]
    quotes = [c for r in ok for c in r["citations"]]
    valid = [c for c in quotes if c["chunk_id"] in chunks and c["quote"] in chunks[c["chunk_id"]].text]
    with_gold = [r for r in answered if gold.get(r["question"]) is not None]
    gold_hit = [r for r in with_gold if any(c["layer"] == gold[r["question"]] for c in r["citations"])]
    summary = {
        "lines": len(rows), "errors": len(rows) - len(ok), "refused": len(ok) - len(answered),
        "answered_with_citations": round(len(cited) / max(len(answered), 1), 3),
        "citations": len(quotes), "quotes_verbatim": round(len(valid) / max(len(quotes), 1), 3),
        "cites_gold_layer": round(len(gold_hit) / max(len(with_gold), 1), 3),
        "calculator_calls": sum(1 for r in ok for t in r["tool_calls"] if t["name"] == "calculator"),
        "total_s_median": round(median([r["timings"]["total_s"] for r in ok]), 2),
        "first_token_s_median": round(median([r["timings"]["llm_first_token_s"] for r in ok
                                              if "llm_first_token_s" in r["timings"]]), 2),
        "uncited_sentences_per_answer_median": median([len(r.get("uncited_sentences", [])) for r in answered]),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
