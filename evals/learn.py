"""Evals of the tutoring features (`tutor eval-learn`).

1. Grading agreement: `grading_set.jsonl` holds learner answers (split "dev": used while tuning the grader;
   "heldout": written afterwards, before the grader was run on them) to generated quiz items (right, partly
   right, wrong, off-topic, prompt injection), each with the grade a teacher would give. The tutor's
   grader (`tutor.learning.grading.grade`, with the configured LLM for the unclear ones) grades each; agreement is
   the share where right/not right matches (the issue's target: ≥ 90 %), with the exact-score agreement
   and the disagreements listed.
2. Generation: quizzes on every layer with the LLM phrasing questions; reports the share of generated
   items that pass the mechanical checks (all candidates, and the LLM-phrased questions alone) and why
   the others were rejected.
"""

from __future__ import annotations

import json
import random
import time
import tomllib
from collections import Counter
from pathlib import Path

from tutor.learning.grading import grade
from tutor.learning.quiz import GenerationStats, QuizItem, generate

HERE = Path(__file__).resolve().parent
GRADING_SET = HERE / "grading_set.jsonl"
THRESHOLDS = HERE / "thresholds.toml"


def load_grading_set(path: Path = GRADING_SET) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            row["item"] = QuizItem.from_record(row["item"])
            row["line"] = n
            rows.append(row)
    return rows


def learn_minimums(path: Path = THRESHOLDS) -> dict[str, float]:
    return {k: float(v) for k, v in tomllib.loads(path.read_text(encoding="utf-8")).get("learn", {}).items()}


def run_grading(rows: list[dict], taxonomy, judge, progress=None) -> dict:
    t0 = time.perf_counter()
    calls = Counter()

    def counted(prompt: str) -> str:
        calls["llm"] += 1
        return judge(prompt)

    results, per_cat = [], {}
    for k, row in enumerate(rows, start=1):
        item = row["item"]
        t = time.perf_counter()
        try:
            g = grade(item, row["answer"], taxonomy.get(item.layer).label, counted if judge else None)
            got, score, method, error = g.correct, g.score, g.method, None
        except Exception as e:  # noqa: BLE001 - an error is a disagreement, never a pass
            got, score, method, error = None, None, "error", f"{type(e).__name__}: {e}"
        agree = got is not None and got == row["expected_correct"]
        results.append({"line": row["line"], "split": row.get("split", "dev"), "category": row["category"], "question": item.question, "answer": row["answer"],
                        "expected_score": row["expected_score"], "score": score, "correct": got, "agree": agree,
                        "score_agree": score == row["expected_score"], "method": method, "error": error,
                        "seconds": round(time.perf_counter() - t, 3)})
        c = per_cat.setdefault(row["category"], {"n": 0, "agree": 0})
        c["n"] += 1
        c["agree"] += agree
        if progress:
            progress("grading", k, len(rows))
    n = len(results)
    splits = {}
    for r in results:
        sp = splits.setdefault(r["split"], {"n": 0, "agree": 0})
        sp["n"] += 1
        sp["agree"] += r["agree"]
    return {
        "n": n,
        "agreement": round(sum(r["agree"] for r in results) / n, 4) if n else None,
        "by_split": {k: {**v, "agreement": round(v["agree"] / v["n"], 4)} for k, v in sorted(splits.items())},
        "score_agreement": round(sum(r["score_agree"] for r in results) / n, 4) if n else None,
        "by_category": {k: {**v, "agreement": round(v["agree"] / v["n"], 4)} for k, v in sorted(per_cat.items())},
        "by_method": dict(Counter(r["method"] for r in results)),
        "llm_calls": calls["llm"],
        "seconds": round(time.perf_counter() - t0, 2),
        "disagreements": [r for r in results if not r["agree"]],
        "results": results,
    }


def run_generation(coach, per_layer: int = 2, kinds=("short", "mcq"), seed: int = 0, progress=None) -> dict:
    """Generate `per_layer` items of each kind on every layer (nothing is saved) and count the checks' verdicts."""
    chunks, pool = coach._corpus()
    phrase = coach._phrase()
    stats = GenerationStats()
    t0 = time.perf_counter()
    items: list[QuizItem] = []
    layers = [layer.number for layer in coach.taxonomy if layer.number >= 1]
    total = len(layers) * len(kinds)
    done = 0
    for layer in layers:
        for kind in kinds:
            items += generate([c for c in chunks if c.layer == layer], layer, coach.taxonomy.name(layer), per_layer, kind,
                              phrase=phrase, recent_questions=set(), recent_spans=set(), pool=pool,
                              rng=random.Random(seed + layer), stats=stats)
            done += 1
            if progress:
                progress("generating", done, total)
    s = stats.to_json()
    return {
        "items": len(items),
        "candidates": s["candidates"],
        "passed": s["passed"],
        "pass_rate": round(s["passed"] / s["candidates"], 4) if s["candidates"] else None,
        "llm_questions": s["llm_questions"],
        "llm_passed": s["llm_passed"],
        "llm_pass_rate": round(s["llm_passed"] / s["llm_questions"], 4) if s["llm_questions"] else None,
        "rejected": s["rejected"],
        "by_source": dict(Counter(i.source for i in items)),
        "by_fact": dict(Counter(i.fact for i in items)),
        "seconds": round(time.perf_counter() - t0, 2),
        "examples": [i.to_json() | {"source": i.source} for i in items[:: max(1, len(items) // 12)]],
    }


def check(report: dict, minimums: dict[str, float]) -> list[str]:
    values = {"grading_agreement": report["grading"]["agreement"],
              "generation_pass_rate": (report.get("generation") or {}).get("pass_rate")}
    problems = []
    for name, minimum in minimums.items():
        v = values.get(name)
        if v is None:
            if name in values and report.get("generation") is None and name.startswith("generation"):
                continue  # generation was not run
            problems.append(f"{name}: not computed; the gate needs ≥ {minimum:.2f}")
        elif v < minimum:
            problems.append(f"{name}: {v:.3f} < {minimum:.2f}")
    return problems


def summary(report: dict) -> str:
    g = report["grading"]
    lines = ["# Tutoring eval", "",
             f"Grading agreement: **{g['agreement']:.1%}** right/not-right on {g['n']} learner answers "
             f"(exact score {g['score_agreement']:.1%}); {g['llm_calls']} LLM grading calls, {g['seconds']:.0f} s.", "",
             "By split: " + ", ".join(f"{k} {v['agreement']:.1%} of {v['n']}" for k, v in g["by_split"].items())
             + " (dev: the answers the grading rules were tuned on; heldout: written before the grader ever saw them).", "",
             "| category | answers | agreement |", "|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['agreement']:.0%} |" for k, v in g["by_category"].items()]
    if g["disagreements"]:
        lines += ["", "Disagreements:", ""]
        lines += [f"- line {d['line']} ({d['category']}): “{d['answer'][:80]}” expected {d['expected_score']}, got "
                  f"{d['score']} ({d['method']}{'; ' + d['error'] if d['error'] else ''})" for d in g["disagreements"]]
    gen = report.get("generation")
    if gen:
        lines += ["", f"Generation: **{gen['pass_rate']:.1%}** of {gen['candidates']} candidate items passed the mechanical "
                      f"checks; LLM-phrased questions {gen['llm_passed']}/{gen['llm_questions']} "
                      f"({(gen['llm_pass_rate'] or 0):.1%}) kept, the rest fell back to fill-in-the-blank; "
                      f"{gen['items']} items in {gen['seconds']:.0f} s.", "",
                  "Rejections: " + (", ".join(f"{k} {v}" for k, v in sorted(gen["rejected"].items(), key=lambda kv: -kv[1])) or "none")]
    if report.get("gate"):
        lines += ["", "Gate: " + ("passed" if report["gate"]["passed"] else "FAILED: " + "; ".join(report["gate"]["problems"]))]
    return "\n".join(lines) + "\n"


def run(app, generation: bool = True, per_layer: int = 2, minimums: dict | None = None, progress=None) -> dict:
    coach = app.coach
    report = {"grading": run_grading(load_grading_set(), app.taxonomy, coach._judge(), progress),
              "generation": run_generation(coach, per_layer, progress=progress) if generation else None,
              "llm": app.describe()["llm"]}
    if minimums is not None:
        problems = check(report, minimums)
        report["gate"] = {"passed": not problems, "problems": problems, "minimums": minimums}
    return report


def write(report: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "learn-report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (out_dir / "learn-summary.md").write_text(summary(report), encoding="utf-8")
