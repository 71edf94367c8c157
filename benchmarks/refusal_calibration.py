"""Calibrate the out-of-corpus threshold: the best passage's cosine similarity to the question.

    .venv/bin/python benchmarks/refusal_calibration.py [--out docs/results/refusal_calibration.json]

Calibration set: evals/refusal_dev.jsonl (20 out-of-corpus, 10 in-corpus) plus the 45 in-corpus
questions of evals/retrieval_dev.jsonl. The threshold is the largest that refuses no in-corpus calibration
question with a margin (in-corpus questions must not be refused); its accuracy is then reported on the
held-out set evals/refusal_heldout.jsonl, which played no part in choosing it. Retrieval only: the LLM's
own "the documents don't cover that" (for near misses above the threshold) is measured by the evals.
"""

from __future__ import annotations

import argparse
import json

from _common import ROOT, machine, memory_settings

from tutor.app import TutorApp

MARGIN = 0.03


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "evals" / name).read_text().splitlines() if line.strip()]


def best_similarity(app: TutorApp, question: str) -> float:
    hits = app.search(question, k=app.settings.context_passages)
    return max((h.similarity for h in hits if h.similarity is not None), default=0.0)


def accuracy(rows: list[dict], threshold: float) -> dict:
    out_rows = [r for r in rows if not r["in_corpus"]]
    in_rows = [r for r in rows if r["in_corpus"]]
    refused_out = [r for r in out_rows if r["sim"] < threshold]
    refused_in = [r for r in in_rows if r["sim"] < threshold]
    return {
        "n_out": len(out_rows), "n_in": len(in_rows),
        "out_refused": round(len(refused_out) / max(len(out_rows), 1), 3),
        "in_answered": round(1 - len(refused_in) / max(len(in_rows), 1), 3),
        "accuracy": round((len(refused_out) + len(in_rows) - len(refused_in)) / max(len(rows), 1), 3),
        "out_not_refused": [f"{r['kind']}: {r['question']} ({r['sim']:.3f})" for r in out_rows if r["sim"] >= threshold],
        "in_refused": [f"{r['question']} ({r['sim']:.3f})" for r in refused_in],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "refusal_calibration.json"))
    args = ap.parse_args()
    calib = load("refusal_dev.jsonl") + [{"question": d["question"], "in_corpus": True, "kind": "dev"}
                                         for d in load("retrieval_dev.jsonl")]
    held = load("refusal_heldout.jsonl")
    with TutorApp(memory_settings()) as app:
        app.ingest()
        for r in calib + held:
            r["sim"] = best_similarity(app, r["question"])
    min_in = min(r["sim"] for r in calib if r["in_corpus"])
    threshold = round(min_in - MARGIN, 2)
    by_kind: dict[str, list[float]] = {}
    for r in calib + held:
        by_kind.setdefault(("in/" if r["in_corpus"] else "out/") + r["kind"], []).append(round(r["sim"], 3))
    report = {
        "machine": machine(),
        "threshold": threshold,
        "rule": f"lowest in-corpus calibration similarity ({min_in:.3f}) minus a {MARGIN} margin",
        "calibration": accuracy(calib, threshold),
        "heldout": accuracy(held, threshold),
        "similarity_by_kind": {k: {"min": min(v), "median": sorted(v)[len(v) // 2], "max": max(v)} for k, v in sorted(by_kind.items())},
    }
    print(json.dumps(report, indent=2))
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
