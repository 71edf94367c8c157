"""The eval dataset (evals/dataset.jsonl): well-formed, grounded in the corpus, held out from the dev sets.

Every quote must be a verbatim span of its document, every calculation must recompute (with the project's safe
calculator) from numbers that appear in its quotes, and the set must keep its minimum coverage of kinds, layers and
documents. Pure Python and fast: no index, no model.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from tutor.answering.calculator import evaluate

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
EVALS = ROOT / "evals"
DATASET = EVALS / "dataset.jsonl"

SLIDES, ESSAY, DEEP = "000_72375028abb63d55.txt", "001_516a682988af3194.txt", "002_c842a53124fd9ebd.txt"
KINDS = {"fact", "multi_hop", "calc", "conceptual", "out_of_corpus", "follow_up"}
MIN_COUNTS = {"fact": 20, "multi_hop": 6, "calc": 8, "conceptual": 8, "out_of_corpus": 8, "follow_up": 6}
MIN_TOTAL = 56
LAYERS = set(range(1, 15))
OOC_REFERENCE = "The documents don't cover this."
FIELDS = {"id", "kind", "question", "history", "reference", "gold_layers", "quotes",
          "expected", "tolerance", "expression"}
OPTIONAL = {"note"}
MAX_QUOTE_CHARS = 320
# Numbers a calculation may use without finding them in its quotes: unit conversions, midpoints, percentages.
ALLOWED_CONSTANTS = {1.0, 2.0, 100.0, 1000.0, 1e6}
# The opening words of each layer's section in the deep dive (its headings were lost in extraction); the closing
# cross-layer section (layer 0) starts at CROSS_LAYER. Same boundaries as tests/test_corpus.py, found by text here.
SECTION_OPENINGS = {
    1: "The physical foundation of the entire AI stack.",
    2: "The most capital-intensive manufacturing process on Earth.",
    3: "Purpose-built silicon for the math that powers AI.",
    4: "The nervous system connecting thousands of GPUs into coherent training clusters.",
    5: "Data centers are the physical substrate of AI.",
    6: "The software that makes AI hardware programmable.",
    7: "The programming environment where researchers and engineers define, train",
    8: "The engineering discipline of training neural networks across thousands of GPUs.",
    9: "The raw material that models learn from.",
    10: "The mathematical structures that learn. This layer covers",
    11: "How raw models become useful and safe. This layer covers",
    12: "Serving trained models efficiently in production.",
    13: "The integration layer between AI models and applications.",
    14: "Where AI meets humans. This layer covers",
}
CROSS_LAYER = "Chips (L3) + NVLink (L4) + CUDA (L6)"
PRONOUNS = re.compile(r"\b(it|its|it's|they|them|their|that|those|this|these|he|his|she|her)\b", re.IGNORECASE)
QUOTE_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
EXPR_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
EXPR_CHARS = re.compile(r"[0-9.eE+\-*/() ]+")


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def items() -> tuple[dict, ...]:
    return tuple(_load(DATASET))


@cache
def document(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _ids(kind: str | None = None) -> list[str]:
    return [it["id"] for it in items() if kind is None or it["kind"] == kind]


def _item(item_id: str) -> dict:
    return next(it for it in items() if it["id"] == item_id)


def _in_corpus() -> list[dict]:
    return [it for it in items() if it["kind"] != "out_of_corpus"]


@cache
def _section_starts() -> list[tuple[int, int]]:
    text = document(DEEP)
    starts = []
    for layer, opening in SECTION_OPENINGS.items():
        assert text.count(opening) == 1, f"layer {layer}'s opening is not unique in the deep dive: {opening!r}"
        starts.append((text.index(opening), layer))
    assert text.count(CROSS_LAYER) == 1
    starts.append((text.index(CROSS_LAYER), 0))
    starts.sort()
    assert [layer for _, layer in starts] == [*range(1, 15), 0], "the deep dive's sections are out of order"
    return starts


def deep_dive_layer(offset: int) -> int | None:
    """The layer whose section of the deep dive holds `offset` (None for the summary lines before layer 1)."""
    layer = None
    for start, number in _section_starts():
        if offset >= start:
            layer = number
    return layer


# ---------------------------------------------------------------- structure


def test_every_line_parses_into_an_object():
    lines = [line for line in DATASET.read_text(encoding="utf-8").splitlines()]
    assert lines, "the dataset is empty"
    for n, line in enumerate(lines, 1):
        assert line.strip(), f"line {n} is blank"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {n} is not a JSON object"


def test_fields_and_types():
    for it in items():
        keys = set(it)
        assert FIELDS <= keys, f"{it.get('id')}: missing {FIELDS - keys}"
        assert keys <= FIELDS | OPTIONAL, f"{it['id']}: unknown fields {keys - FIELDS - OPTIONAL}"
        assert re.fullmatch(r"e\d{3}", it["id"]), it["id"]
        assert it["kind"] in KINDS, f"{it['id']}: kind {it['kind']!r}"
        assert isinstance(it["question"], str) and len(it["question"].strip()) >= 10, it["id"]
        assert isinstance(it["reference"], str) and it["reference"].strip(), it["id"]
        assert isinstance(it["history"], list), it["id"]
        assert isinstance(it["gold_layers"], list), it["id"]
        assert isinstance(it["quotes"], list), it["id"]
        assert isinstance(it.get("note", ""), str), it["id"]


def test_ids_and_questions_are_unique():
    ids = Counter(_ids())
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    questions = Counter(_norm(it["question"]) for it in items())
    assert not [q for q, n in questions.items() if n > 1], "duplicate questions"


def test_minimum_counts():
    counts = Counter(it["kind"] for it in items())
    assert sum(counts.values()) >= MIN_TOTAL, counts
    for kind, minimum in MIN_COUNTS.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} < {minimum}"


def test_gold_layers_are_valid():
    for it in items():
        layers = it["gold_layers"]
        assert all(isinstance(x, int) and not isinstance(x, bool) for x in layers), it["id"]
        assert set(layers) <= LAYERS, f"{it['id']}: {layers}"
        assert len(layers) == len(set(layers)), f"{it['id']}: repeated layer"
        if it["kind"] != "out_of_corpus":
            assert layers, f"{it['id']}: an in-corpus item needs at least one gold layer"


def test_facts_cover_every_layer_and_every_document():
    facts = [it for it in items() if it["kind"] == "fact"]
    covered = {layer for it in facts for layer in it["gold_layers"]}
    assert covered == LAYERS, f"layers without a fact: {sorted(LAYERS - covered)}"
    docs = Counter(doc for it in facts for doc in {q["doc"] for q in it["quotes"]})
    assert docs[SLIDES] >= 2, docs
    assert docs[ESSAY] >= 2, docs
    assert docs[DEEP] >= 1, docs


def test_every_layer_is_gold_at_least_twice():
    counts = Counter(layer for it in _in_corpus() for layer in it["gold_layers"])
    thin = {layer: counts[layer] for layer in LAYERS if counts[layer] < 2}
    assert not thin, f"layers that are gold for fewer than two items: {thin}"


# ---------------------------------------------------------------- quotes


@pytest.mark.parametrize("item_id", _ids())
def test_quotes_are_verbatim_spans_of_their_documents(item_id):
    it = _item(item_id)
    for quote in it["quotes"]:
        assert set(quote) == {"doc", "quote"}, f"{item_id}: quote fields {set(quote)}"
        assert (CORPUS / quote["doc"]).is_file(), f"{item_id}: no document {quote['doc']}"
        text = quote["quote"]
        assert isinstance(text, str) and len(text.strip()) >= 10, f"{item_id}: quote too short: {text!r}"
        assert len(text) <= MAX_QUOTE_CHARS, f"{item_id}: quote of {len(text)} chars (keep it to a sentence or two)"
        assert text in document(quote["doc"]), f"{item_id}: not a verbatim span of {quote['doc']}: {text!r}"


def test_quotes_stay_before_the_essays_reader_comments():
    comments = document(ESSAY).index("Very Informative Blog.")  # content_ends_before in corpus/documents.toml
    for it in items():
        for quote in it["quotes"]:
            if quote["doc"] == ESSAY:
                assert document(ESSAY).index(quote["quote"]) < comments, f"{it['id']}: quotes a reader comment"


def test_deep_dive_quotes_come_from_a_gold_layers_section():
    for it in _in_corpus():
        for quote in it["quotes"]:
            if quote["doc"] != DEEP:
                continue
            text = document(DEEP)
            offsets = [m.start() for m in re.finditer(re.escape(quote["quote"]), text)]
            if not offsets:
                continue  # reported by test_quotes_are_verbatim_spans_of_their_documents
            sections = {deep_dive_layer(o) for o in offsets}
            assert sections & set(it["gold_layers"]), (
                f"{it['id']}: quote sits in section(s) {sections}, gold layers are {it['gold_layers']}: "
                f"{quote['quote']!r}")


def test_section_lookup_matches_known_passages():
    text = document(DEEP)
    assert deep_dive_layer(text.index("An H100 has 132 SMs.")) == 3
    assert deep_dive_layer(text.index("Slurm: HPC job scheduler")) == 6
    assert deep_dive_layer(text.index("Stopped exporting to China")) == 1
    assert deep_dive_layer(text.index("Open-source (LLaMA, PyTorch, ROCm)")) == 0
    assert deep_dive_layer(0) is None


# ---------------------------------------------------------------- kinds


@pytest.mark.parametrize("item_id", _ids("out_of_corpus"))
def test_out_of_corpus_items_have_no_grounding(item_id):
    it = _item(item_id)
    assert it["quotes"] == [] and it["gold_layers"] == [] and it["history"] == []
    assert it["reference"] == OOC_REFERENCE
    assert it["expected"] is None and it["tolerance"] is None and it["expression"] is None


def test_out_of_corpus_mixes_far_and_near_questions():
    notes = [it.get("note", "") for it in items() if it["kind"] == "out_of_corpus"]
    assert sum(n.startswith("far") for n in notes) >= 4, notes
    assert sum(n.startswith("near") for n in notes) >= 4, notes


@pytest.mark.parametrize("item_id", [i for i in _ids() if _item(i)["kind"] != "out_of_corpus"])
def test_in_corpus_items_are_grounded(item_id):
    it = _item(item_id)
    assert it["quotes"], f"{item_id}: no supporting quote"
    assert it["reference"] != OOC_REFERENCE


@pytest.mark.parametrize("item_id", _ids("follow_up"))
def test_follow_ups_carry_a_well_formed_history(item_id):
    it = _item(item_id)
    history = it["history"]
    assert len(history) >= 2, f"{item_id}: a follow-up needs an earlier exchange"
    for n, turn in enumerate(history):
        assert set(turn) == {"role", "content"}, f"{item_id}: turn {n} fields {set(turn)}"
        assert turn["role"] in {"user", "assistant"}, f"{item_id}: turn {n} role {turn['role']!r}"
        assert isinstance(turn["content"], str) and turn["content"].strip(), f"{item_id}: turn {n} is empty"
        expected_role = "user" if n % 2 == 0 else "assistant"
        assert turn["role"] == expected_role, f"{item_id}: turns must alternate, starting with the user"
    assert history[-1]["role"] == "assistant", f"{item_id}: the history must end with the assistant's answer"
    assert PRONOUNS.search(it["question"]), f"{item_id}: the question should lean on the history (it/they/that...)"


def test_only_follow_ups_have_history():
    for it in items():
        if it["kind"] != "follow_up":
            assert it["history"] == [], f"{it['id']}: only follow_up items carry a history"


@pytest.mark.parametrize("item_id", _ids("multi_hop"))
def test_multi_hop_items_need_two_passages(item_id):
    it = _item(item_id)
    assert len(it["quotes"]) >= 2, f"{item_id}: a multi-hop item needs two passages"
    docs = {q["doc"] for q in it["quotes"]}
    if len(docs) == 1:
        (doc,) = docs
        offsets = [document(doc).index(q["quote"]) for q in it["quotes"]]
        assert max(offsets) - min(offsets) > 2000, f"{item_id}: the passages are too close to count as two hops"


def test_non_calc_items_have_no_calculation():
    for it in items():
        if it["kind"] != "calc":
            assert it["expected"] is None and it["tolerance"] is None and it["expression"] is None, it["id"]


# ---------------------------------------------------------------- calculations


@pytest.mark.parametrize("item_id", _ids("calc"))
def test_calculations_recompute_within_tolerance(item_id):
    it = _item(item_id)
    expression, expected, tolerance = it["expression"], it["expected"], it["tolerance"]
    assert isinstance(expression, str) and EXPR_CHARS.fullmatch(expression), (
        f"{item_id}: the expression may use only numbers and + - * / ** ( ): {expression!r}")
    assert isinstance(expected, (int, float)) and not isinstance(expected, bool), item_id
    assert isinstance(tolerance, (int, float)) and 0 < tolerance <= max(abs(expected) * 0.02, 1e-9), (
        f"{item_id}: tolerance {tolerance} should be positive and at most 2% of the expected value")
    value = evaluate(expression)
    assert abs(value - expected) <= tolerance, f"{item_id}: {expression} = {value}, expected {expected} ± {tolerance}"


@pytest.mark.parametrize("item_id", _ids("calc"))
def test_calculation_operands_come_from_the_quotes(item_id):
    it = _item(item_id)
    quoted = {float(m.group().replace(",", "")) for q in it["quotes"] for m in QUOTE_NUMBER.finditer(q["quote"])}
    operands = [float(m.group()) for m in EXPR_NUMBER.finditer(it["expression"])]
    assert operands, f"{item_id}: no numbers in {it['expression']!r}"
    missing = [x for x in operands if x not in quoted and x not in ALLOWED_CONSTANTS]
    assert not missing, f"{item_id}: {missing} appear in none of the quotes (quoted numbers: {sorted(quoted)})"
    assert any(x in quoted for x in operands), f"{item_id}: no operand comes from the corpus"


# ---------------------------------------------------------------- held out from the dev sets


def test_questions_are_not_copies_of_the_dev_sets():
    seen = set()
    for name in ("retrieval_dev.jsonl", "calc_dev.jsonl", "refusal_dev.jsonl", "refusal_heldout.jsonl"):
        path = EVALS / name
        if path.exists():
            seen |= {_norm(row["question"]) for row in _load(path)}
    assert seen, "the dev sets are missing"
    clashes = [it["id"] for it in items() if _norm(it["question"]) in seen]
    assert not clashes, f"questions copied from a dev set: {clashes}"
