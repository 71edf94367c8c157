"""Spaced review (FSRS): what scheduling costs with 1,000 cards, and a simulated learner over 30 days.

    .venv/bin/python benchmarks/review.py [--out docs/results/review.json]

No index, no embedding model, no LLM: the corpus is chunked directly, quizzes are fill-in-the-blank or multiple
choice, answers are scripted, time is an injected clock (no sleeping). Progress goes to a temporary data dir.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _common import ROOT, machine

from tutor.knowledge.corpus import build_chunks
from tutor.knowledge.layers import Taxonomy
from tutor.learning import schedule
from tutor.learning.coach import Coach
from tutor.learning.grading import Grade
from tutor.learning.progress import MASTERED, ProgressStore
from tutor.learning.quiz import QuizItem

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self):
        return self.t


def cost(tmp: Path, taxonomy: Taxonomy, n_cards: int = 1000, rounds: int = 200) -> dict:
    """Milliseconds per first grade (card created), per review, for due() and for progress() with `n_cards`."""
    clock = Clock()
    store = ProgressStore(tmp / "cost.sqlite", taxonomy, clock, schedule.make_scheduler())
    items = [QuizItem(id=f"q-{k:010x}", layer=1 + k % 14, question="Which company makes most advanced chips?",
                      kind="mcq" if k % 2 else "short", answer="TSMC", chunk_id="c1", doc="d.txt",
                      span="TSMC makes about 90% of the most advanced chips.", choices=["TSMC", "Intel", "AMD", "Arm"],
                      fact="entity") for k in range(n_cards)]
    store.save_items("bench", items)
    rng = random.Random(1)
    record = []
    for k, item in enumerate(items):
        score = rng.choice((0.0, 0.5, 1.0, 1.0))
        g = Grade(item.id, score >= 0.99, score, item.chunk_id, item.span, "match", item.layer, "", item.answer)
        t = time.perf_counter()
        store.record("bench", item, g, "x")
        record.append(time.perf_counter() - t)
        clock.t += timedelta(seconds=1)
    clock.t += timedelta(days=20)  # most cards are due now
    timings: dict[str, list[float]] = {"due": [], "progress": [], "review": []}
    for _ in range(rounds):
        t = time.perf_counter()
        due = store.due("bench", 10)
        timings["due"].append(time.perf_counter() - t)
        t = time.perf_counter()
        store.progress("bench")
        timings["progress"].append(time.perf_counter() - t)
        card = due[0]
        g = Grade(card.item.id, True, 1.0, card.item.chunk_id, card.item.span, "match", card.item.layer, "", "TSMC")
        t = time.perf_counter()
        store.review("bench", card.item, g, "TSMC", card.version)
        timings["review"].append(time.perf_counter() - t)
    ms = lambda xs: round(statistics.median(xs) * 1000, 2)  # noqa: E731
    return {"cards": n_cards, "rounds": rounds, "first_grade_ms": ms(record), "review_ms": ms(timings["review"]),
            "due_10_ms": ms(timings["due"]), "progress_ms": ms(timings["progress"]),
            "due_now": store.due_count("bench")}


def simulate(tmp: Path, taxonomy: Taxonomy, chunks, days: int = 30) -> dict:
    """Two learners take the same 5-question quiz on L3 on day 0, scripted 4 right and 1 wrong. `reviewer` reviews
    every due card each morning (right when the card was last right, else right on the second try); `stopper`
    reviews the same way for the first 7 days, then stops; `never` never reviews. Mastery of L3 each day."""
    clock = Clock()
    store = ProgressStore(tmp / "sim.sqlite", taxonomy, clock, schedule.make_scheduler(fuzz=False))
    coach = Coach(taxonomy, lambda: chunks, None, store, "x", False)
    learners = {"reviewer": days, "stopper": 7, "never": 0}
    for who in learners:
        items = coach.quiz(who, 3, 5, "mcq", seed=11).items
        for k, item in enumerate(items):
            answer = item.answer if k else next(c for c in item.choices if c != item.answer)
            coach.grade(item.id, answer, who)
    history: dict[str, list[float]] = {who: [] for who in learners}
    reviews = {who: 0 for who in learners}
    for day in range(days + 1):
        for who, until in learners.items():
            if day < until:
                for _ in range(3):  # a missed card comes back within minutes: up to three passes a morning
                    for card in coach.due(who, 50).cards:
                        last = store.card(card.item.id).last_score
                        answer = card.item.answer if last > 0 or _ > 0 else next(
                            c for c in card.item.choices if c != card.item.answer)
                        coach.review(card.item.id, answer, who, version=card.version)
                        reviews[who] += 1
                    clock.t += timedelta(minutes=15)
                clock.t -= timedelta(minutes=45)
            history[who].append(coach.progress(who)[2]["mastery"])
        clock.t += timedelta(days=1)
    below = {who: next((d for d, m in enumerate(h) if d > 0 and m < MASTERED), None) for who, h in history.items()}
    return {"days": days, "mastered_at": MASTERED, "mastery_by_day": history, "reviews": reviews,
            "first_day_below_mastered": below}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs/results/review.json")
    args = ap.parse_args()
    taxonomy = Taxonomy.load(ROOT / "corpus")
    chunks = [c for c in build_chunks(ROOT / "corpus", taxonomy, 160, 24) if c.layer >= 1]
    tmp = Path(tempfile.mkdtemp(prefix="bench-review-"))
    res = {"machine": machine(), "cost": cost(tmp, taxonomy), "simulation": simulate(tmp, taxonomy, chunks)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(res["cost"], indent=1))
    sim = res["simulation"]
    for who, h in sim["mastery_by_day"].items():
        print(f"{who:>9}: reviews {sim['reviews'][who]:>3}  " + " ".join(f"{m:.2f}" for m in h[::3]))
    print("first day below mastered:", sim["first_day_below_mastered"])


if __name__ == "__main__":
    main()
