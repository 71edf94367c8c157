"""What the tutoring features cost: quiz generation (LLM-phrased and fill-in-the-blank), grading (in code and by
the LLM), progress, and a Socratic hint against a normal answer.

    .venv/bin/python benchmarks/learn.py [--rounds 5] [--out docs/results/learn.json]

Uses the default index (`tutor ingest`) and the embedded LLM; progress goes to a temporary data dir.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, median

from evals.learn import load_grading_set
from tutor.app import TutorApp
from tutor.learning.grading import grade
from tutor.learning.coach import Coach
from tutor.learning.progress import ProgressStore
from tutor.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "docs/results/learn.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-learn-"))
    res: dict = {"machine": machine(), "rounds": args.rounds}
    with TutorApp(Settings()) as app:
        app.start_llm()
        app.tutor.ask("warm-up: what is CoWoS?")

        def coach(llm_questions: bool, name: str) -> Coach:
            return Coach(app.taxonomy, app.store.chunks, lambda: app.llm, ProgressStore(tmp / f"{name}.sqlite", app.taxonomy),
                         "bench", llm_questions)

        first_corpus = coach(False, "cold")
        t = time.perf_counter()
        first_corpus.quiz("bench", 3, 1, "mcq", seed=0)
        res["first_quiz_in_process_s"] = round(time.perf_counter() - t, 3)  # reads the passages and their facts once

        for label, llm in (("template", False), ("llm", True)):
            c = coach(llm, label)
            c._corpus()
            per_item, per_quiz = [], []
            for r in range(args.rounds):
                t = time.perf_counter()
                q = c.quiz("bench", 1 + (r * 3) % 14, 5, "short", seed=r)
                dt = time.perf_counter() - t
                per_quiz.append(dt)
                per_item.append(dt / len(q.items))
            res[f"quiz5_{label}_s"] = round(median(per_quiz), 3)
            res[f"quiz_item_{label}_s"] = round(median(per_item), 3)

        c = coach(False, "grade")
        items = c.quiz("bench", 11, 5, "short", seed=1).items
        mcq = c.quiz("bench", 12, 5, "mcq", seed=1).items
        t_code, t_mcq = [], []
        for it in items:
            t = time.perf_counter(); c.grade(it.id, it.answer, "bench"); t_code.append(time.perf_counter() - t)
        for it in mcq:
            t = time.perf_counter(); c.grade(it.id, "A", "bench"); t_mcq.append(time.perf_counter() - t)
        res["grade_in_code_s"] = round(median(t_code), 4)
        res["grade_mcq_s"] = round(median(t_mcq), 4)
        # The grading set's answers, graded as `tutor grade` would: time per method (code, or the LLM for unclear ones).
        judge, by_method = c._judge(), {}
        for row in load_grading_set():
            t = time.perf_counter()
            g = grade(row["item"], row["answer"], app.taxonomy.get(row["item"].layer).label, judge)
            by_method.setdefault(g.method, []).append(time.perf_counter() - t)
        res["grade_by_method"] = {m: {"n": len(v), "median_s": round(median(v), 4)} for m, v in by_method.items()}
        t_prog = []
        for _ in range(20):
            t = time.perf_counter(); c.progress("bench"); c.next_step("bench"); t_prog.append(time.perf_counter() - t)
        res["progress_and_path_s"] = round(median(t_prog), 4)

        qs = ["What is CoWoS and why does it matter?", "Why is HBM a bottleneck for AI chips?", "What does NCCL do?",
              "What is speculative decoding?", "What is RLHF?"][: args.rounds]
        hint_s, answer_s = [], []
        for q in qs:
            t = time.perf_counter(); app.tutor.ask(q, socratic=True); hint_s.append(time.perf_counter() - t)
            t = time.perf_counter(); app.tutor.ask(q); answer_s.append(time.perf_counter() - t)
        res["socratic_hint_s"] = round(median(hint_s), 3)
        res["answer_s"] = round(median(answer_s), 3)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
