"""Quiz items for a blind review of their questions: 3 short-answer items per layer (42), made by the quiz
generator with the embedded LLM phrasing them, each with its answer, span and whether the LLM or the template
wrote it (kept out of the review sheet).

    .venv/bin/python benchmarks/quiz_questions.py --out DIR [--per-layer 3] [--seed 7]
    .venv/bin/python benchmarks/quiz_questions.py --blind OLD.jsonl NEW.jsonl --out DIR   # shuffled sheet + key
    .venv/bin/python benchmarks/quiz_questions.py --score DIR                             # after labelling

Uses the default index (`tutor ingest`, or TUTOR_DATA_DIR); progress goes to a temporary data dir.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from _common import machine

from tutor.app import TutorApp
from tutor.learning.coach import Coach
from tutor.learning.progress import ProgressStore
from tutor.settings import Settings


def generate(out: Path, per_layer: int, seed: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-quiz-"))
    rows, stats = [], []
    with TutorApp(Settings()) as app:
        app.start_llm()
        coach = Coach(app.taxonomy, app.store.chunks, lambda: app.llm, ProgressStore(tmp / "p.sqlite", app.taxonomy),
                      "bench", True)
        t0 = time.perf_counter()
        for layer in range(1, 15):
            quiz = coach.quiz("bench", layer, per_layer, "short", seed=seed + layer)
            stats.append(quiz.stats.to_json())
            rows += [{"layer": i.layer, "fact": i.fact, "question": i.question, "answer": i.answer, "span": i.span,
                      "source": i.source} for i in quiz.items]
        seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "items.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    llm_q = sum(s["llm_questions"] for s in stats)
    summary = {"machine": machine(), "items": len(rows), "llm_questions": llm_q,
               "llm_passed": sum(s["llm_passed"] for s in stats), "seconds": round(seconds, 1),
               "rejected": {k: sum(s["rejected"].get(k, 0) for s in stats) for s in stats for k in s["rejected"]}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def blind(old: Path, new: Path, out: Path, seed: int) -> None:
    items = [{**json.loads(line), "pipeline": name} for name, path in (("old", old), ("new", new))
             for line in path.read_text().splitlines() if line.strip()]
    random.Random(seed).shuffle(items)
    out.mkdir(parents=True, exist_ok=True)
    sheet = [{"n": k + 1, "layer": it["layer"], "question": it["question"], "answer": it["answer"], "span": it["span"],
              "label": "", "reason": ""} for k, it in enumerate(items)]
    (out / "sheet.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sheet))
    (out / "key.jsonl").write_text("".join(json.dumps({"n": k + 1, "pipeline": it["pipeline"], "source": it["source"]})
                                           + "\n" for k, it in enumerate(items)))


def score(out: Path) -> None:
    sheet = {r["n"]: r for r in map(json.loads, (out / "sheet.jsonl").read_text().splitlines())}
    key = {r["n"]: r for r in map(json.loads, (out / "key.jsonl").read_text().splitlines())}
    res: dict = {}
    for n, r in sheet.items():
        if r["label"] not in ("good", "poor"):
            raise SystemExit(f"item {n} is not labelled good/poor")
        for group in (key[n]["pipeline"], f'{key[n]["pipeline"]}/{key[n]["source"]}'):
            g = res.setdefault(group, {"items": 0, "good": 0})
            g["items"] += 1
            g["good"] += r["label"] == "good"
    for g in res.values():
        g["share_good"] = round(g["good"] / g["items"], 3)
    (out / "score.json").write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(json.dumps(res, indent=2, sort_keys=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--per-layer", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--blind", nargs=2, type=Path, metavar=("OLD", "NEW"))
    ap.add_argument("--score", type=Path)
    a = ap.parse_args()
    if a.score:
        score(a.score)
    elif a.blind:
        blind(*a.blind, a.out, a.seed)
    else:
        generate(a.out, a.per_layer, a.seed)


if __name__ == "__main__":
    main()
