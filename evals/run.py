"""`tutor eval`: run the tutor over the eval set, score it (RAGAS + our own checks), write the report.

Our metrics, per item (an item the tutor failed on with an error scores 0 where it applies):
- layer_citation_accuracy: of an answered in-corpus item's citations, the share whose layer is a gold
  layer (0 when it cites nothing);
- citation_validity: of all citations, the share whose quote is a verbatim span of its chunk;
- calc_accuracy: a calculation item is right when a number in the answer is within the tolerance;
- refusal_accuracy: out-of-corpus items refused, in-corpus items answered;
- hit_at_5: the top 5 passages for the tutor's search query cover a gold quote.
Each is also broken down per gold layer and per question kind. RAGAS's LLM metrics are judged on the
first `judge_subset` in-corpus items; its non-LLM metrics on every answered in-corpus item.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evals import judge as judge_mod
from evals.dataset import EvalItem
from tutor.errors import TutorError

HEADLINE = ("faithfulness", "answer_relevancy", "context_precision", "context_recall", "layer_citation_accuracy",
            "citation_validity", "calc_accuracy", "refusal_accuracy", "hit_at_5")
OURS = ("layer_citation_accuracy", "citation_validity", "calc_accuracy", "refusal_accuracy", "hit_at_5")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")

Progress = Callable[[str, int, int], None]


@dataclass
class JudgeOptions:
    base_url: str | None = None  # None: the tutor's own LLM endpoint (the embedded server by default)
    model: str | None = None
    api_key: str | None = None
    subset: int | None = None  # in-corpus items judged by the LLM; None: all; 0: no LLM judge
    timeout: float = 600.0


@dataclass
class Row:
    item: EvalItem
    answer: str = ""
    plain: str = ""  # the answer's body without citation labels: what the judge reads
    refused: bool = False
    error: str | None = None
    citations: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)
    search_query: str = ""
    seconds: float = 0.0
    top5: list[str] = field(default_factory=list)
    scores: dict[str, float | None] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # metric -> why it has no score


def numbers_in(text: str) -> list[float]:
    out = []
    for m in _NUMBER.findall(text):
        try:
            out.append(float(m.replace(",", "")))
        except ValueError:
            pass
    return out


class GoldIndex:
    """Where each gold quote lies: its span in the document and the indexed chunks that overlap it."""

    def __init__(self, chunks, corpus_dir: Path):
        self.chunks = {c.chunk_id: c for c in chunks}
        self._by_doc: dict[str, list] = {}
        for c in chunks:
            self._by_doc.setdefault(c.doc, []).append(c)
        self._texts: dict[str, str] = {}
        self.corpus_dir = corpus_dir

    def text(self, doc: str) -> str:
        if doc not in self._texts:
            self._texts[doc] = (self.corpus_dir / doc).read_text(encoding="utf-8")
        return self._texts[doc]

    def span(self, doc: str, quote: str) -> tuple[int, int]:
        start = self.text(doc).find(quote)
        if start < 0:
            raise ValueError(f"a gold quote is not in {doc}: {quote[:60]!r}")
        return start, start + len(quote)

    def gold_chunks(self, item: EvalItem) -> list[str]:
        out = []
        for q in item.quotes:
            s, e = self.span(q.doc, q.quote)
            need = min(30, (e - s + 1) // 2)
            for c in self._by_doc.get(q.doc, []):
                if min(e, c.char_end) - max(s, c.char_start) >= need and c.chunk_id not in out:
                    out.append(c.chunk_id)
        return out

    def covered(self, item: EvalItem, chunk_ids: list[str]) -> bool:
        """Whether the passages cover at least one gold quote completely (neighbouring passages may join)."""
        got = [self.chunks[c] for c in chunk_ids if c in self.chunks]
        for q in item.quotes:
            s, e = self.span(q.doc, q.quote)
            ranges = sorted((c.char_start, c.char_end) for c in got if c.doc == q.doc and c.char_end > s and c.char_start < e)
            pos = s
            for a, b in ranges:
                if a > pos:
                    break
                pos = max(pos, b)
            if pos >= e:
                return True
        return False


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return round(statistics.fmean(vals), 4) if vals else None


def answer_items(app, items: list[EvalItem], progress: Progress | None = None) -> list[Row]:
    rows = []
    for i, item in enumerate(items):
        row = Row(item)
        t0 = time.perf_counter()
        try:
            reply = app.tutor.ask(item.question, list(item.history))
        except TutorError as e:
            row.error = str(e)
        else:
            row.answer, row.plain, row.refused, row.search_query = reply.answer, reply.plain, reply.refused, reply.search_query
            row.citations = [c.to_json() for c in reply.citations]
            row.passages = [{"chunk_id": p.chunk_id, "doc": p.doc, "layer": p.layer, "text": p.text}
                            for p in reply.passages]
            if item.in_corpus:
                row.top5 = [h.chunk.chunk_id for h in app.search(reply.search_query or item.question, k=5)]
        row.seconds = round(time.perf_counter() - t0, 2)
        rows.append(row)
        if progress:
            progress("answering", i + 1, len(items))
    return rows


def score_ours(rows: list[Row], gold: GoldIndex) -> None:
    for r in rows:
        it, s = r.item, r.scores
        answered = r.error is None and not r.refused
        s["refusal_accuracy"] = 0.0 if r.error else float(r.refused == (not it.in_corpus))
        if it.in_corpus:
            s["hit_at_5"] = float(gold.covered(it, r.top5)) if r.error is None else 0.0
            if r.error is not None or r.refused:
                s["layer_citation_accuracy"] = 0.0
            else:
                cited = [c["layer"] for c in r.citations]
                s["layer_citation_accuracy"] = sum(1 for x in cited if x in it.gold_layers) / len(cited) if cited else 0.0
        if r.citations:
            valid = [c["quote"] and c["quote"] in gold.chunks.get(c["chunk_id"], _NoChunk).text for c in r.citations]
            s["citation_validity"] = sum(valid) / len(valid)
        if it.kind == "calc" and it.expected is not None:
            tol = it.tolerance if it.tolerance is not None else abs(it.expected) * 0.01
            s["calc_accuracy"] = float(answered and any(abs(x - it.expected) <= tol for x in numbers_in(r.answer)))


class _NoChunk:
    text = ""


def _samples(rows: list[Row], gold: GoldIndex) -> list[judge_mod.Sample]:
    out = []
    for r in rows:
        if not r.item.in_corpus or r.error is not None or r.refused:
            continue
        gold_ids = gold.gold_chunks(r.item)
        out.append(judge_mod.Sample(
            id=r.item.id, question=r.item.question, answer=r.plain,
            contexts=[p["text"] for p in r.passages], context_ids=[p["chunk_id"] for p in r.passages],
            reference=r.item.reference, reference_contexts=[gold.chunks[c].text for c in gold_ids],
            reference_context_ids=gold_ids))
    return out


def _not_judged(rows: list[Row], names, judged_ids: set[str], why_skipped: str) -> None:
    for r in rows:
        if not r.item.in_corpus or r.item.id in judged_ids:
            continue
        for n in names:
            r.failures.setdefault(n, why_skipped)


def score_ragas(rows: list[Row], gold: GoldIndex, judge: JudgeOptions, app, progress: Progress | None,
                notes: dict) -> None:
    samples = _samples(rows, gold)
    by_id = {r.item.id: r for r in rows}
    for r in rows:  # in-corpus items the tutor refused or failed: nothing for RAGAS to judge
        if r.item.in_corpus and (r.error is not None or r.refused):
            why = "the tutor failed on this item" if r.error else "the tutor refused this in-corpus question"
            for n in (*judge_mod.NON_LLM_METRICS, *judge_mod.LLM_METRICS):
                r.failures[n] = why
    done = [0]

    def tick(stage: str, total: int):
        def f():
            done[0] += 1
            if progress:
                progress(stage, done[0], total)
        return f

    for sid, metrics in judge_mod.non_llm_scores(samples, tick("ragas (non-LLM)", len(samples))).items():
        for name, sc in metrics.items():
            by_id[sid].scores[name] = sc.value
            if sc.error:
                by_id[sid].failures[name] = sc.error

    in_corpus_ids = [r.item.id for r in rows if r.item.in_corpus]
    chosen = set(in_corpus_ids if judge.subset is None else in_corpus_ids[: max(0, judge.subset)])
    to_judge = [s for s in samples if s.id in chosen]
    if judge.subset == 0:
        notes["llm_metrics"] = "not computed: the LLM judge was switched off (--judge-subset 0)"
        _not_judged(rows, judge_mod.LLM_METRICS, set(), "LLM judge off")
        return
    if not to_judge:
        notes["llm_metrics"] = "not computed: no answered in-corpus item was chosen for judging"
        return
    base_url, model, key = judge_endpoint(app, judge)
    notes["judge"] = f"{base_url} · {model}"
    done[0] = 0
    t0 = time.perf_counter()
    results = judge_mod.llm_scores(to_judge, base_url, model, key, judge.timeout,
                                   lambda text: app.embedder.encode_query(text).tolist(),
                                   tick("ragas (judge)", len(to_judge) * len(judge_mod.LLM_METRICS)))
    notes["judge_seconds"] = round(time.perf_counter() - t0, 1)
    for sid, metrics in results.items():
        for name, sc in metrics.items():
            by_id[sid].scores[name] = sc.value
            if sc.error:
                by_id[sid].failures[name] = sc.error
    _not_judged(rows, judge_mod.LLM_METRICS, chosen, f"not in the judged subset (the first {judge.subset} in-corpus items)")


def judge_endpoint(app, judge: JudgeOptions) -> tuple[str, str, str | None]:
    """The judge's URL, model and key: the given ones, else the tutor's own LLM endpoint."""
    from tutor.llm.client import OpenAIChatModel

    s = app.settings
    if judge.base_url:
        model = judge.model or OpenAIChatModel(judge.base_url, judge.api_key, None, timeout=30, max_retries=0).model
        return judge.base_url, model, judge.api_key
    if app.embedded_llm:
        return app.local_server().base_url, judge.model or s.llm_model or "local", None
    key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
    return s.openai_base_url, judge.model or app.llm.model, key


def aggregate(rows: list[Row], names) -> dict:
    """Means overall, per gold layer and per kind (items without a score for a metric don't count for it)."""
    overall = {n: _mean(r.scores.get(n) for r in rows) for n in names}
    per_layer: dict[int, dict] = {}
    for layer in range(1, 15):
        sel = [r for r in rows if layer in r.item.gold_layers]
        if sel:
            per_layer[layer] = {"n": len(sel), **{n: _mean(r.scores.get(n) for r in sel) for n in names}}
    per_kind: dict[str, dict] = {}
    for kind in dict.fromkeys(r.item.kind for r in rows):
        sel = [r for r in rows if r.item.kind == kind]
        per_kind[kind] = {"n": len(sel), **{n: _mean(r.scores.get(n) for r in sel) for n in names}}
    return {"overall": overall, "per_layer": per_layer, "per_kind": per_kind}


def why_missing(rows: list[Row], metric: str, notes: dict) -> str:
    if metric in judge_mod.LLM_METRICS and "llm_metrics" in notes:
        return notes["llm_metrics"]
    reasons = sorted({r.failures[metric] for r in rows if metric in r.failures})
    if metric == "calc_accuracy" and not any(r.item.kind == "calc" for r in rows):
        return "no calculation items in this run"
    if metric == "citation_validity" and not any(r.citations for r in rows):
        return "no answer in this run had a citation"
    if metric in ("hit_at_5", "layer_citation_accuracy") and not any(r.item.in_corpus for r in rows):
        return "no in-corpus items in this run"
    return "; ".join(reasons[:3]) or "no item could be scored"


def run(app, items: list[EvalItem], judge: JudgeOptions, progress: Progress | None = None) -> dict:
    """Answer and score `items`; returns the report (see evals/report.py for the files written from it)."""
    t0 = time.perf_counter()
    gold = GoldIndex(app.store.chunks(), app.settings.corpus_dir)
    rows = answer_items(app, items, progress)
    t_answer = time.perf_counter() - t0
    score_ours(rows, gold)
    notes: dict = {}
    t1 = time.perf_counter()
    score_ragas(rows, gold, judge, app, progress, notes)
    t_ragas = time.perf_counter() - t1
    names = (*HEADLINE[:4], *OURS, *judge_mod.NON_LLM_METRICS)
    agg = aggregate(rows, names)
    missing = {n: why_missing(rows, n, notes) for n in names if agg["overall"][n] is None}
    answered = [r.seconds for r in rows if r.error is None]
    return {
        "n": len(rows),
        "metrics": {n: agg["overall"][n] for n in HEADLINE},
        "ragas_non_llm": {n: agg["overall"][n] for n in judge_mod.NON_LLM_METRICS},
        "not_computed": missing,
        "scored_items": {n: sum(1 for r in rows if r.scores.get(n) is not None) for n in names},
        "per_layer": agg["per_layer"],
        "per_kind": agg["per_kind"],
        "timing": {"total_s": round(time.perf_counter() - t0, 1), "answering_s": round(t_answer, 1),
                   "scoring_s": round(t_ragas, 1), "judge_s": notes.get("judge_seconds"),
                   "median_answer_s": round(statistics.median(answered), 2) if answered else None},
        "errors": [{"id": r.item.id, "error": r.error} for r in rows if r.error],
        "judge": notes.get("judge"),
        "llm": app.describe()["llm"],
        "items": [{"id": r.item.id, "kind": r.item.kind, "question": r.item.question,
                   "gold_layers": list(r.item.gold_layers), "answer": r.answer, "refused": r.refused,
                   "error": r.error, "cited_layers": sorted({c["layer"] for c in r.citations}),
                   "citations": r.citations, "search_query": r.search_query, "seconds": r.seconds,
                   "scores": r.scores, "failures": r.failures} for r in rows],
    }
