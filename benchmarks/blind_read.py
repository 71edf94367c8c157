"""A blind read of two pipelines' answers: shuffle them so a reviewer can't tell which wrote which, then score
the reviewer's grades per pipeline.

    .venv/bin/python benchmarks/blind_read.py make  OLD/answers.jsonl NEW/answers.jsonl --out evals/blind_read_v2
    (a reviewer who did not write the change grades <out>/to_grade.jsonl into <out>/graded.jsonl)
    .venv/bin/python benchmarks/blind_read.py score --out evals/blind_read_v2

`make` keeps the items both files answered, gives every answer a random id, writes the answers in a random
order to to_grade.jsonl (question, reference answer, the answer as the learner read it, without the "Try next"
line, which is measured separately) and which pipeline wrote each id to key.json (not for the reviewer).
A grade is one of correct / partly / wrong / invents (states a claim the documents don't support, whatever
else it gets right) / refused, with a reason. `score` writes summary.json: per pipeline and kind, the share of
each grade.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

GRADES = ("correct", "partly", "wrong", "invents", "refused")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make(old: Path, new: Path, out: Path, seed: int) -> None:
    a, b = {r["id"]: r for r in _read(old)}, {r["id"]: r for r in _read(new)}
    both = [i for i in a if i in b]
    rng = random.Random(seed)
    rows, key = [], {}
    for item in both:
        for name, r in (("old", a[item]), ("new", b[item])):
            aid = f"a{rng.randrange(16**6):06x}"
            key[aid] = {"pipeline": name, "pipeline_name": r.get("pipeline"), "item": item, "kind": r["kind"]}
            rows.append({"answer_id": aid, "item": item, "kind": r["kind"], "question": r["question"],
                         "reference": r["reference"],
                         "answer": re.sub(r"\n\nTry next: .*\Z", "", r["answer"], flags=re.S)})
    rng.shuffle(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "to_grade.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (out / "key.json").write_text(json.dumps(key, indent=1), encoding="utf-8")
    print(f"{len(rows)} answers of {len(both)} items -> {out / 'to_grade.jsonl'}")


def score(out: Path) -> dict:
    key = json.loads((out / "key.json").read_text(encoding="utf-8"))
    graded = _read(out / "graded.jsonl")
    unknown = [g for g in graded if g.get("answer_id") not in key or g.get("grade") not in GRADES]
    if unknown:
        raise SystemExit(f"{len(unknown)} graded rows have an unknown answer_id or grade, e.g. {unknown[0]}")
    by: dict[str, Counter] = {}
    for g in graded:
        k = key[g["answer_id"]]
        in_corpus = k["kind"] != "out_of_corpus"
        groups = [k["pipeline"], f"{k['pipeline']}/{'in_corpus' if in_corpus else 'out_of_corpus'}"]
        if in_corpus:
            groups.append(f"{k['pipeline']}/{k['kind']}")
        for group in groups:
            by.setdefault(group, Counter())[g["grade"]] += 1
    summary = {}
    for group, c in sorted(by.items()):
        n = sum(c.values())
        summary[group] = {"n": n, **{g: round(c[g] / n, 3) for g in GRADES}}
    # what a learner gets right: an in-corpus question answered correctly, an out-of-corpus one refused
    for p in ("old", "new"):
        rows = [(key[g["answer_id"]], g["grade"]) for g in graded if key[g["answer_id"]]["pipeline"] == p]
        good = sum((k["kind"] != "out_of_corpus" and gr == "correct") or (k["kind"] == "out_of_corpus" and gr == "refused")
                   for k, gr in rows)
        summary[p]["right_for_the_learner"] = round(good / len(rows), 3) if rows else None
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("old", type=Path)
    m.add_argument("new", type=Path)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--seed", type=int, default=14)
    s = sub.add_parser("score")
    s.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.cmd == "make":
        make(args.old, args.new, args.out, args.seed)
    else:
        score(args.out)


if __name__ == "__main__":
    main()
