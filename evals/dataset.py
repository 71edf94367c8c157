"""The grounding eval set (evals/dataset.jsonl): learner questions with reference answers, gold layers,
verbatim supporting quotes and, for calculations, the expected value. Checked by tests/test_eval_dataset.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVALS_DIR = Path(__file__).resolve().parent
DATASET = EVALS_DIR / "dataset.jsonl"
KINDS = ("fact", "multi_hop", "calc", "conceptual", "out_of_corpus", "follow_up")


@dataclass(frozen=True)
class Quote:
    doc: str
    quote: str


@dataclass(frozen=True)
class EvalItem:
    id: str
    kind: str
    question: str
    history: tuple[dict, ...]
    reference: str
    gold_layers: tuple[int, ...]
    quotes: tuple[Quote, ...]
    expected: float | None = None
    tolerance: float | None = None
    expression: str | None = None

    @property
    def in_corpus(self) -> bool:
        return self.kind != "out_of_corpus"


class DatasetError(ValueError):
    pass


def load(path: Path = DATASET, kinds: list[str] | None = None) -> list[EvalItem]:
    """The items of the eval set, in file order, optionally only some kinds."""
    if kinds:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise DatasetError(f"unknown kind(s) {', '.join(unknown)}; the kinds are {', '.join(KINDS)}")
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"cannot read the eval set {path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            item = EvalItem(
                id=str(r["id"]), kind=str(r["kind"]), question=str(r["question"]),
                history=tuple(r.get("history") or ()), reference=str(r.get("reference", "")),
                gold_layers=tuple(int(x) for x in r.get("gold_layers") or ()),
                quotes=tuple(Quote(str(q["doc"]), str(q["quote"])) for q in r.get("quotes") or ()),
                expected=None if r.get("expected") is None else float(r["expected"]),
                tolerance=None if r.get("tolerance") is None else float(r["tolerance"]),
                expression=r.get("expression"),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise DatasetError(f"{path.name} line {n} is malformed ({type(e).__name__}: {e})") from None
        if item.kind not in KINDS:
            raise DatasetError(f"{path.name} line {n}: unknown kind {item.kind!r}")
        if not kinds or item.kind in kinds:
            items.append(item)
    return items


def stratified(items: list[EvalItem], n: int) -> list[EvalItem]:
    """A fixed sample of `n` items with every kind in it: each kind gets a share of `n` in proportion to its
    size (at least one, two where it can), its items picked evenly spread through the file. Deterministic:
    the same file gives the same sample, in file order."""
    by_kind: dict[str, list[EvalItem]] = {}
    for it in items:
        by_kind.setdefault(it.kind, []).append(it)
    if n >= len(items):
        return list(items)
    want = {k: min(len(v), max(1 if n < 2 * len(by_kind) else 2, round(n * len(v) / len(items))))
            for k, v in by_kind.items()}
    while sum(want.values()) > n:  # trim the largest shares first
        k = max(want, key=lambda k: (want[k], len(by_kind[k])))
        want[k] -= 1
    while sum(want.values()) < n:  # fill the kinds with most items left
        k = max((k for k in want if want[k] < len(by_kind[k])), key=lambda k: len(by_kind[k]) - want[k])
        want[k] += 1
    chosen = set()
    for k, v in by_kind.items():
        m = want[k]
        chosen |= {v[(2 * i + 1) * len(v) // (2 * m)].id for i in range(m)} if m else set()
    return [it for it in items if it.id in chosen]
