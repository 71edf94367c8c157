"""The answer-quality held-out set (evals/heldout_v2.jsonl, issue 14): well-formed and grounded in the corpus.

Written before any tuning and never tuned on. Every quote is verbatim in its document, every calculation
recomputes with the safe calculator from numbers in its quotes or its question, out-of-corpus items carry
no quotes, and the set keeps the sizes the issue asks for. Pure Python and fast.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tutor.answering.calculator import evaluate

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "evals" / "heldout_v2.jsonl"
ROWS = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def _numbers(text: str) -> set[float]:
    return {float(n) for n in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))}


def test_sizes_the_issue_asks_for():
    kinds = Counter(r["kind"] for r in ROWS)
    assert kinds["calc"] >= 20 and kinds["fact"] + kinds["conceptual"] >= 20
    near = [r for r in ROWS if r["kind"] == "out_of_corpus" and r["note"].startswith("near")]
    assert len(near) >= 20 and kinds["out_of_corpus"] > len(near), "near and far out-of-corpus questions"
    assert len({r["id"] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_each_item_is_grounded(row):
    docs = {q["doc"] for q in row["quotes"]}
    for q in row["quotes"]:
        assert q["quote"] in (ROOT / "corpus" / q["doc"]).read_text(encoding="utf-8"), q["quote"][:80]
    if row["kind"] == "out_of_corpus":
        assert not row["quotes"] and row["reference"] == "The documents don't cover this."
        return
    assert row["quotes"] and docs and row["gold_layers"] and all(1 <= n <= 14 for n in row["gold_layers"])
    if row["kind"] == "calc":
        value = evaluate(row["expression"])
        assert abs(value - row["expected"]) <= max(row["tolerance"], 1e-9), (value, row["expected"])
        have = set().union(*(_numbers(q["quote"]) for q in row["quotes"])) | _numbers(row["question"])
        used = {float(n) for n in NUMBER.findall(row["expression"])}
        assert used <= have | {1.0, 2.0, 100.0}, f"operands not in the quotes or question: {used - have}"
