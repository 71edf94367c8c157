"""The tutoring eval: the grading set is sound (fast), and `tutor eval-learn --check` passes on the embedded LLM (slow)."""

from __future__ import annotations

import json

import pytest

from evals.learn import GRADING_SET, learn_minimums, load_grading_set
from tutor.knowledge.facts import contains
from tutor.learning.quiz import check_item

from fixtures.tutor import run_tutor


@pytest.fixture(scope="module")
def chunks(app):
    return {c.chunk_id: c for c in app.store.chunks()}


def test_grading_set_is_sound(chunks):
    rows = load_grading_set()
    assert len(rows) >= 30
    assert {r["category"] for r in rows} >= {"right", "partly", "wrong", "off-topic", "injection"}
    assert {r["split"] for r in rows} == {"dev", "heldout"} and sum(r["split"] == "heldout" for r in rows) >= 25
    for r in rows:
        item = r["item"]
        chunk = chunks[item.chunk_id]  # the items are real generated items of the current corpus
        assert item.span in chunk.text and item.layer == chunk.layer and contains(item.span, item.answer)
        assert check_item(item, chunk.text, set(), set()) == []
        assert r["expected_score"] in (0, 0.5, 1) and r["expected_correct"] == (r["expected_score"] == 1)
        if item.kind == "mcq" and r["category"] != "mcq-letter":
            assert r["answer"] in item.choices
    assert learn_minimums(GRADING_SET.parent / "thresholds.toml")["grading_agreement"] >= 0.9


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_eval_learn_gate_passes_on_the_embedded_llm(index_copy, netguard_log, model_file, tmp_path):
    out = tmp_path / "out"
    r = run_tutor(["eval-learn", "--check", "--json", "--per-layer", "1", "--out", str(out)], index_copy, netguard_log,
                  env_extra={"TUTOR_LLM_MODEL_FILE": str(model_file)}, timeout=1200)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    report = json.loads(r.stdout)
    g, gen = report["grading"], report["generation"]
    assert g["n"] >= 90 and g["agreement"] >= 0.9 and g["by_split"]["heldout"]["agreement"] >= 0.85
    assert g["by_category"]["injection"]["agreement"] == 1.0, "an injection must never be graded correct"
    assert g["llm_calls"] >= 1, "the unclear answers must reach the LLM"
    assert gen["items"] >= 28 and gen["llm_questions"] >= 1 and gen["pass_rate"] >= 0.8
    assert report["gate"]["passed"]
    assert (out / "learn-report.json").exists() and "Grading agreement" in (out / "learn-summary.md").read_text()
