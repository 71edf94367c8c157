"""Answer quality and speed, the classic pipeline against the grounded one, same questions, same run.

    .venv/bin/python benchmarks/answers.py [--sets heldout,dev] [--kinds calc,out_of_corpus] [--limit N]
                                           [--out docs/results/answers]

For each question both pipelines answer in turn (interleaved, so machine noise hits both alike), on the
embedded LLM. Mechanical metrics per set and pipeline:
- calculation accuracy (a number in the answer within the item's tolerance of the expected value; a grounded
  reply that gives only the figures, no result, counts as wrong), and for the grounded pipeline the share of
  calculations it gave a result for and how many of those were right;
- out-of-corpus refusal, near and far separately, and in-corpus answered;
- supported-sentence rate: every sentence of the shown answer checked by `grounded.supported` against all
  passages the tutor was shown and the question (a stricter source than the grounded pipeline's own check,
  which uses only the chosen sentences), and numbers-grounded rate (every number of the answer in a shown
  passage, the question or its calculation);
- layer-citation accuracy (a cited layer is a gold layer), answer length in sentences, and the share of
  suggestions that restate the question (embedding cosine >= 0.8 or the same words);
- time to the first shown token and to the whole answer (medians), prompt tokens and LLM calls.
Writes answers.jsonl (every answer, for the blind read) and summary.json / summary.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from _common import ROOT, machine

from evals import dataset as ds
from evals.run import numbers_in
from tutor.answering import grounded
from tutor.answering.agent import AgentConfig, Tutor
from tutor.answering.citations import sentences as spans
from tutor.answering.suggestions import Suggestions
from tutor.knowledge.bm25 import STOP_WORDS, tokenize
from tutor.app import TutorApp
from tutor.settings import Settings

SETS = {"heldout": ds.EVALS_DIR / "heldout_v2.jsonl", "dev": ds.DATASET,
        "calcdev": ds.EVALS_DIR / "calc_dev.jsonl", "refusaldev": ds.EVALS_DIR / "refusal_dev.jsonl",
        "nearoocdev": ds.EVALS_DIR / "near_ooc_dev.jsonl", "retrievaldev": ds.EVALS_DIR / "retrieval_dev.jsonl"}


def load_set(name: str) -> tuple[list[ds.EvalItem], dict[str, str]]:
    """The items of a set and each item's note ("near …" marks a near-domain out-of-corpus question). The two
    calibration sets (calc_dev, refusal_dev, near_ooc_dev, and retrieval_dev's in-corpus questions: dev sets, tuned
    on) are read into the eval set's shape."""
    path = SETS[name]
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if name in ("heldout", "dev"):
        return ds.load(path), {r["id"]: r.get("note", "") for r in raw}
    items, notes = [], {}
    for n, r in enumerate(raw, 1):
        iid = f"{name}{n:02d}"
        if name == "calcdev":
            items.append(ds.EvalItem(iid, "calc", r["question"], (), r.get("note", ""), (int(r["layer"]),), (),
                                     float(r["expected"]), float(r["tolerance"]), r["expression"]))
        elif name == "retrievaldev":
            items.append(ds.EvalItem(iid, "fact", r["question"], (), r["quote"], (int(r["layer"]),), ()))
        else:
            kind = "fact" if r["in_corpus"] else "out_of_corpus"
            items.append(ds.EvalItem(iid, kind, r["question"], (), "", (), ()))
        notes[iid] = r.get("kind", "")
    return items, notes


def _sentences(text: str) -> list[str]:
    text = re.sub(r"\n\nTry next: .*\Z", "", text, flags=re.S)
    return [text[s:e] for s, e in spans(text) if len(text[s:e].strip()) > 3]


def _supported_metric(sentence: str, sources: list[str]) -> bool:
    """The supported-sentence check the first measurements used (grounded.supported as of c412d6c), frozen so that
    runs before and after a change of the tutor's own check are scored alike. Stricter than the tutor's check
    now: a capitalised first word ("However", "According") not in the passages counts as an unsupported name."""
    text = re.sub(r"\[[^\]]*\]", "", sentence)
    if not grounded.numbers_grounded(text, sources):
        return False
    joined = " ".join(sources)
    names = {e for e in grounded._ENTITY.findall(text) if e not in {"I", "AI"}}
    names |= {w for w in grounded._CAPITALISED.findall(" " + text) if w.lower() not in STOP_WORDS}
    if any(e.lower() not in joined.lower() for e in names):
        return False
    words = set(tokenize(text))
    return not words or len(words & set(tokenize(joined))) / len(words) >= grounded.MIN_SUPPORTED_SHARE


def score(item, reply, embedder) -> dict:
    body = reply.body
    shown = [p.text for p in reply.passages] + [item.question] + [t.result for t in reply.tool_calls
                                                                   if t.name == "calculator"]
    sents = [] if reply.refused else _sentences(body)
    checks = [_supported_metric(s, shown) for s in sents]
    nums_ok = [grounded.numbers_grounded(re.sub(r"\[[^\]]*\]", "", s), shown) for s in sents]
    row = {"refused": reply.refused, "sentences": len(sents), "supported": sum(checks), "numbers_ok": sum(nums_ok)}
    if item.kind == "calc" and item.expected is not None:
        # a reply that gives the figures but no result ("I can't be sure which figures …") computed nothing
        row["calc_result"] = not reply.refused and not reply.usage.get("calc_unsure")
        row["calc_right"] = row["calc_result"] and any(abs(x - item.expected) <= (item.tolerance or 0.01 * abs(item.expected))
                                                        for x in numbers_in(body))
    cited = {c.layer for c in reply.citations}
    if item.in_corpus and cited:
        row["layer_right"] = bool(cited & set(item.gold_layers))
    if reply.suggestion:
        a, b = embedder.encode([item.question, reply.suggestion])
        cos = float((a @ b) / ((a @ a) ** 0.5 * (b @ b) ** 0.5))
        same = set(re.findall(r"\w+", item.question.lower())) == set(re.findall(r"\w+", reply.suggestion.lower()))
        row["suggestion_repeats"] = cos >= 0.8 or same
    return row


def summarize(rows: list[dict]) -> dict:
    def share(key, pred=lambda r: True):
        vals = [r[key] for r in rows if key in r and pred(r)]
        return round(sum(map(bool, vals)) / len(vals), 3) if vals else None

    near = [r for r in rows if r["kind"] == "out_of_corpus" and r["note"].startswith("near")]
    far = [r for r in rows if r["kind"] == "out_of_corpus" and not r["note"].startswith("near")]
    inc = [r for r in rows if r["kind"] != "out_of_corpus"]
    sents = sum(r["sentences"] for r in rows)
    return {
        "n": len(rows),
        "calc_accuracy": share("calc_right"),
        "calc_with_result": share("calc_result"),
        "calc_right_when_given": share("calc_right", lambda r: r.get("calc_result")),
        "refusal_near": round(sum(r["refused"] for r in near) / len(near), 3) if near else None,
        "refusal_far": round(sum(r["refused"] for r in far) / len(far), 3) if far else None,
        "in_corpus_answered": round(sum(not r["refused"] for r in inc) / len(inc), 3) if inc else None,
        "supported_sentence_rate": round(sum(r["supported"] for r in rows) / sents, 3) if sents else None,
        "numbers_grounded_rate": round(sum(r["numbers_ok"] for r in rows) / sents, 3) if sents else None,
        "layer_citation_accuracy": share("layer_right"),
        "sentences_median": statistics.median([r["sentences"] for r in rows if not r["refused"]] or [0]),
        "suggestion_repeats_question": share("suggestion_repeats"),
        "first_token_s_median": round(statistics.median([r["first_token_s"] for r in rows]), 2),
        "total_s_median": round(statistics.median([r["total_s"] for r in rows]), 2),
        "prompt_tokens_median": statistics.median([r["prompt_tokens"] for r in rows]),
        "llm_calls_median": statistics.median([r["llm_calls"] for r in rows]),
        "errors": sum(1 for r in rows if r.get("error")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="heldout,dev")
    ap.add_argument("--kinds", default=None)
    ap.add_argument("--limit", type=int, default=None, help="at most N items per set (a stratified sample)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "answers")
    ap.add_argument("--pipelines", default="classic,grounded")
    ap.add_argument("--show", action="store_true", help="print every answer (and the dropped sentences) as it comes")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = args.kinds.split(",") if args.kinds else None
    pipelines = args.pipelines.split(",")
    settings = Settings()
    with TutorApp(settings) as app:
        app.ensure_index()
        app.start_llm()
        base = app.tutor
        tutors = {p: Tutor(base.toolbox, base.llm, AgentConfig(**{**vars(base.config), "pipeline": p}),
                           Suggestions.load(settings.corpus_dir)) for p in pipelines}
        embedder = app.embedder
        rows, answers = [], []
        for set_name in args.sets.split(","):
            items, notes = load_set(set_name)
            items = [i for i in items if not kinds or i.kind in kinds]
            if args.limit:
                items = ds.stratified(items, args.limit)
            for n, item in enumerate(items, 1):
                for pipeline in pipelines:
                    t0 = time.perf_counter()
                    first = []
                    try:
                        reply = tutors[pipeline].ask(item.question, list(item.history),
                                                     on_event=lambda k, p: k == "token" and not first
                                                     and first.append(time.perf_counter() - t0))
                    except Exception as e:  # noqa: BLE001 - counted as an error, the run goes on
                        rows.append({"set": set_name, "pipeline": pipeline, "id": item.id, "kind": item.kind,
                                     "note": notes.get(item.id, ""), "error": str(e), "refused": False, "sentences": 0,
                                     "supported": 0, "numbers_ok": 0, "first_token_s": 0, "total_s": 0,
                                     "prompt_tokens": 0, "llm_calls": 0})
                        continue
                    total = time.perf_counter() - t0
                    row = {"set": set_name, "pipeline": pipeline, "id": item.id, "kind": item.kind,
                           "note": notes.get(item.id, ""), **score(item, reply, embedder),
                           "first_token_s": round(first[0] if first else total, 3), "total_s": round(total, 3),
                           "prompt_tokens": reply.usage.get("prompt_tokens", 0), "llm_calls": reply.usage.get("llm_calls", 0)}
                    rows.append(row)
                    answers.append({"set": set_name, "pipeline": pipeline, "id": item.id, "kind": item.kind,
                                    "question": item.question, "reference": item.reference, "answer": reply.answer,
                                    "refused": reply.refused, "dropped": reply.dropped, "usage": reply.usage,
                                    "citations": [c.to_json() for c in reply.citations]})
                if args.show:
                    for a in answers[-len(pipelines):]:
                        print(f"--- {a['pipeline']} {item.id} Q: {item.question}\n{a['answer']}\n"
                              f"dropped: {a['dropped']}\nusage: {a.get('usage')}", flush=True)
                print(f"{set_name} {n}/{len(items)} {item.id} " + " | ".join(
                    f"{r['pipeline']}: {r['total_s']:.1f}s{' refused' if r['refused'] else ''}"
                    + (f" calc={'ok' if r.get('calc_right') else 'no'}" if 'calc_right' in r else "")
                    for r in rows[-len(pipelines):]), flush=True)
    summary = {"machine": machine(), "llm": "embedded Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
               "by": {f"{s}/{p}": summarize([r for r in rows if r["set"] == s and r["pipeline"] == p])
                      for s in args.sets.split(",") for p in pipelines}}
    for s in args.sets.split(","):
        if "classic" in pipelines and "grounded" in pipelines:
            c, g = summary["by"][f"{s}/classic"], summary["by"][f"{s}/grounded"]
            summary[f"{s}/ratios"] = {k: round(g[k] / c[k], 2) for k in ("first_token_s_median", "total_s_median",
                                                                        "prompt_tokens_median") if c[k]}
    (args.out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (args.out / "answers.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers),
                                            encoding="utf-8")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
