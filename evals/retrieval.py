"""Retrieval quality on the development set (evals/retrieval_dev.jsonl).

A question is a hit at cutoff k when the supporting quote's character span lies inside the union of the
spans of the top-k passages from the quote's document (a quote is almost always inside one passage;
the union only matters when it straddles two neighbouring passages that were both retrieved).
"Hit within a token budget" concatenates the passages in rank order up to the budget (cl100k tokens;
the passage that overflows is cut at the budget) and asks the same of what fits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

EVALS_DIR = Path(__file__).resolve().parent
DEV_SET = EVALS_DIR / "retrieval_dev.jsonl"
BUDGET_TOKENS = 1000


@dataclass(frozen=True)
class DevItem:
    id: str
    question: str
    doc: str
    layer: int
    quote: str
    alt_quotes: tuple[str, ...] = ()  # the same fact stated elsewhere in the document, also a hit


@dataclass(frozen=True)
class Passage:
    doc: str
    start: int
    end: int
    text: str


def load_dev(path: Path = DEV_SET) -> list[DevItem]:
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [DevItem(**(r | {"alt_quotes": tuple(r.get("alt_quotes", ()))})) for r in rows]


@lru_cache(maxsize=None)
def _doc_text(corpus_dir: Path, doc: str) -> str:
    return (corpus_dir / doc).read_text(encoding="utf-8")


def quote_spans(corpus_dir: Path, item: DevItem) -> list[tuple[int, int]]:
    """Character spans of the item's supporting quote and its alternatives in the document."""
    text = _doc_text(corpus_dir, item.doc)
    spans = []
    for q in (item.quote, *item.alt_quotes):
        start = text.find(q)
        if start < 0:
            raise ValueError(f"{item.id}: quote not found in {item.doc}: {q[:60]!r}")
        spans.append((start, start + len(q)))
    return spans


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken  # TIKTOKEN_CACHE_DIR points at the encodings llama-index-core ships (tutor._offline)

    return tiktoken.get_encoding("cl100k_base")


def n_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def _covers(passages: list[Passage], doc: str, span: tuple[int, int]) -> bool:
    s, e = span
    ranges = sorted((p.start, p.end) for p in passages if p.doc == doc and p.end > s and p.start < e)
    pos = s
    for a, b in ranges:
        if a > pos:
            return False
        pos = max(pos, b)
        if pos >= e:
            return True
    return False


def _hit(passages: list[Passage], doc: str, spans: list[tuple[int, int]]) -> bool:
    return any(_covers(passages, doc, span) for span in spans)


def within_budget(passages: list[Passage], budget: int = BUDGET_TOKENS) -> list[Passage]:
    """The passages that fit in `budget` tokens in rank order; the one that overflows is cut to fit."""
    out, used = [], 0
    enc = _encoding()
    for p in passages:
        toks = enc.encode(p.text, disallowed_special=())
        if used + len(toks) <= budget:
            out.append(p)
            used += len(toks)
            continue
        room = budget - used
        if room > 0:
            cut = enc.decode(toks[:room])
            out.append(Passage(p.doc, p.start, p.start + len(cut), cut))
        break
    return out


def score(ranked: list[list[Passage]], items: list[DevItem], corpus_dir: Path) -> dict:
    """hit@1, hit@5, MRR (over the top 10) and hit within the token budget, plus per-question ranks."""
    ranks, budget_hits, tokens_top5 = [], [], []
    for passages, item in zip(ranked, items):
        spans = quote_spans(corpus_dir, item)
        rank = next((r for r in range(1, min(len(passages), 10) + 1) if _hit(passages[:r], item.doc, spans)), None)
        ranks.append(rank)
        budget_hits.append(_hit(within_budget(passages), item.doc, spans))
        tokens_top5.append(sum(n_tokens(p.text) for p in passages[:5]))
    n = len(items)
    return {
        "n": n,
        "hit@1": sum(1 for r in ranks if r == 1) / n,
        "hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None) / n,
        "hit@1k_tokens": sum(budget_hits) / n,
        "median_tokens_top5": sorted(tokens_top5)[n // 2],
        "misses@5": [it.id for it, r in zip(items, ranks) if r is None or r > 5],
    }
