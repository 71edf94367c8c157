"""The eval suite's scoring, report and gate, on hand-made rows (fast), and the RAGAS adapters against a
real OpenAI-protocol server that answers nonsense (the judge failing must not end the run)."""

from __future__ import annotations

import json

import pytest

from evals import dataset as ds
from evals import report as rep
from evals.judge import Sample, llm_scores, non_llm_scores
from evals.run import GoldIndex, Row, aggregate, numbers_in, score_ours
from tutor.answering.agent import earlier_text
from tutor.types import Chunk, Reply

from fixtures.tutor import ROOT, run_tutor

DOC = "002_c842a53124fd9ebd.txt"
TEXT = (ROOT / "corpus" / DOC).read_text(encoding="utf-8")
QUOTE = "A leading-edge fab takes 3-5 years from groundbreaking to volume production."


def chunk(cid: str, start: int, end: int, layer: int = 2) -> Chunk:
    return Chunk(cid, DOC, layer, "Semiconductor Fabrication", TEXT[start:end], start, end)


@pytest.fixture
def gold() -> GoldIndex:
    s = TEXT.index(QUOTE)
    chunks = [chunk("before", s - 400, s + 40), chunk("after", s + 40, s + 500), chunk("far", 0, 300, layer=1)]
    return GoldIndex(chunks, ROOT / "corpus")


def item(kind="fact", **kw) -> ds.EvalItem:
    base = dict(id="t1", kind=kind, question="How long does a fab take to build?", history=(), reference="3-5 years.",
                gold_layers=(2,), quotes=(ds.Quote(DOC, QUOTE),))
    base.update(kw)
    return ds.EvalItem(**base)


def cite(cid: str, quote: str, layer: int = 2) -> dict:
    return {"layer": layer, "layer_name": "x", "chunk_id": cid, "doc": DOC, "quote": quote}


def test_gold_chunks_and_coverage_across_a_chunk_boundary(gold):
    it = item()
    assert gold.gold_chunks(it) == ["before", "after"]
    assert gold.covered(it, ["before", "after"])  # the quote straddles them: both together cover it
    assert not gold.covered(it, ["after", "far"])
    assert not gold.covered(it, [])


def test_our_metrics_on_hand_made_rows(gold):
    quote_in_after = gold.chunks["after"].text[5:60]
    rows = [
        Row(item(), answer="Three to five years [L2 · x].", citations=[cite("after", quote_in_after)],
            top5=["before", "after"]),
        Row(item(id="t2"), answer="…", citations=[cite("after", quote_in_after), cite("far", "not in it", layer=1)],
            top5=["far"]),
        Row(item(id="t3"), refused=True),  # in-corpus refused: wrong
        Row(item(id="t4", kind="out_of_corpus", gold_layers=(), quotes=()), refused=True),  # right
        Row(item(id="t5", kind="calc", expected=4.301, tolerance=0.043), answer="about 4.3 times (45,000 / 10,462)"),
        Row(item(id="t6", kind="calc", expected=4.301, tolerance=0.043), answer="about 5 times"),
        Row(item(id="t7"), error="LLM unreachable"),
    ]
    score_ours(rows, gold)
    s = {r.item.id: r.scores for r in rows}
    assert s["t1"] == {"refusal_accuracy": 1.0, "hit_at_5": 1.0, "layer_citation_accuracy": 1.0, "citation_validity": 1.0}
    assert s["t2"]["layer_citation_accuracy"] == 0.5 and s["t2"]["citation_validity"] == 0.5 and s["t2"]["hit_at_5"] == 0.0
    assert s["t3"]["refusal_accuracy"] == 0.0 and s["t3"]["layer_citation_accuracy"] == 0.0
    assert s["t4"] == {"refusal_accuracy": 1.0}
    assert s["t5"]["calc_accuracy"] == 1.0 and s["t6"]["calc_accuracy"] == 0.0
    assert s["t7"]["refusal_accuracy"] == 0.0 and s["t7"]["hit_at_5"] == 0.0  # a failure never scores as a pass
    agg = aggregate(rows, ("refusal_accuracy", "calc_accuracy", "hit_at_5"))
    assert agg["overall"]["refusal_accuracy"] == round(5 / 7, 4)
    assert agg["per_kind"]["calc"]["calc_accuracy"] == 0.5 and agg["per_layer"][2]["n"] == 6


def test_answer_text_for_judging_and_numbers():
    body = "CoWoS is packaging [L2 · Semiconductor Fabrication]. It matters [L3 · AI Chips]."
    reply = Reply("What is CoWoS?", body, suggestion="Why HBM?")
    assert reply.plain == "CoWoS is packaging. It matters."  # what the judge reads: no labels, no suggestion
    # A client that sends the whole composed answer back as plain history: the LLM reads the same text.
    assert earlier_text({"role": "assistant", "content": reply.answer}) == reply.plain
    assert numbers_in("from $1,200.5 to 3 GPUs, -4 and 4.3x") == [1200.5, 3.0, -4.0, 4.3]


def test_dataset_loader_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "kind": "fact"}\n', encoding="utf-8")
    with pytest.raises(ds.DatasetError, match="line 1 is malformed"):
        ds.load(bad)
    with pytest.raises(ds.DatasetError, match="unknown kind"):
        ds.load(kinds=["facts"])
    assert {i.kind for i in ds.load(kinds=["calc"])} == {"calc"}


def report_fixture(**metrics) -> dict:
    base = {m: 0.8 for m in rep.HEADLINE}
    base.update(metrics)
    return {"n": 2, "metrics": base, "ragas_non_llm": {"id_context_recall": 0.7},
            "not_computed": {m: "no calculation items in this run" for m, v in base.items() if v is None},
            "per_layer": {2: {"n": 2, "hit_at_5": 1.0}}, "per_kind": {"fact": {"n": 2, "hit_at_5": 1.0}},
            "timing": {"total_s": 10.0, "answering_s": 8.0, "scoring_s": 2.0, "judge_s": None, "median_answer_s": 4.0},
            "errors": [], "judge": None, "llm": "test",
            "items": [{"id": "t1", "kind": "fact", "question": "<script>alert(1)</script>", "gold_layers": [2],
                       "answer": "<img src=x onerror=alert(1)>", "refused": False, "error": None, "cited_layers": [2],
                       "citations": [], "search_query": "q", "seconds": 4.0, "scores": {"hit_at_5": 1.0},
                       "failures": {"faithfulness": "the judge's output could not be parsed (NaN)"}}]}


def test_gate_fails_below_minimum_and_on_missing_metrics():
    assert rep.check(report_fixture(), {"hit_at_5": 0.75, "id_context_recall": 0.6}) == []
    problems = rep.check(report_fixture(hit_at_5=0.5, calc_accuracy=None), {"hit_at_5": 0.75, "calc_accuracy": 0.1})
    assert problems[0].startswith("hit_at_5: 0.500 < 0.75")
    assert "calc_accuracy: not computed (no calculation items" in problems[1]


def test_report_files_compare_with_the_previous_run_and_escape_everything(tmp_path):
    first = rep.write(report_fixture(hit_at_5=0.6), tmp_path, {2: "Semiconductor Fabrication"}, {"hit_at_5": 0.7})
    assert first["previous"] is None and first["gate"]["passed"] is False
    second = rep.write(report_fixture(hit_at_5=0.9), tmp_path, {2: "Semiconductor Fabrication"}, {"hit_at_5": 0.7})
    assert second["previous"]["metrics"]["hit_at_5"] == 0.6 and second["gate"]["passed"] is True
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["metrics"]["hit_at_5"] == 0.9 and saved["previous"]["metrics"]["hit_at_5"] == 0.6
    page = (tmp_path / "report.html").read_text()
    assert "<script" not in page and "<img" not in page and "&lt;img src=x" in page
    assert "▲ 0.30" in page and 'class="prev"' in page and "L2 · Semiconductor Fabrication" in page
    assert "could not be parsed" in page
    md = (tmp_path / "summary.md").read_text()
    assert "| Retrieval hit@5 | 0.90 |  | 0.60 | 0.70 |" in md and "Gate: **passed**" in md


def test_ragas_non_llm_metrics_run_offline():
    same = "A leading-edge fab takes 3-5 years from groundbreaking to volume production."
    samples = [Sample("a", "q", "answer", [same, "Something else entirely about GPUs."], ["c1", "c2"], "ref",
                      [same], ["c1"])]
    scores = non_llm_scores(samples)["a"]
    assert scores["id_context_precision"].value == 0.5 and scores["id_context_recall"].value == 1.0
    assert scores["nonllm_context_recall"].value == 1.0
    assert 0.4 <= scores["nonllm_context_precision"].value <= 1.0


@pytest.mark.slow
def test_a_judge_that_answers_nonsense_fails_each_score_and_the_run_goes_on(fake_openai):
    judge = fake_openai("ok")
    samples = [Sample(i, "What is CoWoS?", "CoWoS is TSMC's packaging.", ["CoWoS is TSMC's packaging."], ["c1"],
                      "CoWoS is packaging.", ["CoWoS is TSMC's packaging."], ["c1"]) for i in ("a", "b")]
    out = llm_scores(samples, judge.url, "fake-model", None, 60, lambda t: [1.0, 0.0, 0.0])
    assert set(out) == {"a", "b"}
    for row in out.values():
        assert set(row) == {"faithfulness", "answer_relevancy", "context_precision", "context_recall"}
        # "Hello there [1]." is no verdict: every score fails, with the parser's reason, and nothing raises
        assert all(sc.value is None and "pars" in sc.error for sc in row.values()), row


def test_cli_rejects_bad_options_cleanly(tmp_path, netguard_log):
    r = run_tutor(["eval", "--kinds", "facts,calc"], tmp_path / "d", netguard_log, timeout=120)
    assert r.returncode == 2 and "unknown kind(s) facts" in r.stderr.decode() and "Traceback" not in r.stderr.decode()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    r = run_tutor(["eval", "--dataset", str(bad)], tmp_path / "d", netguard_log, timeout=120)
    assert r.returncode == 2 and "line 1 is malformed" in r.stderr.decode()
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("[minimum\n", encoding="utf-8")
    r = run_tutor(["eval", "--check", str(thresholds)], tmp_path / "d", netguard_log, timeout=120)
    assert r.returncode == 1 and "Cannot read the thresholds file" in r.stderr.decode()


def test_a_broken_ragas_install_fails_the_scores_not_the_run(monkeypatch):
    import ragas.metrics

    def broken(*a, **kw):
        raise ImportError("rapidfuzz is required for string distance")

    monkeypatch.setattr(ragas.metrics, "NonLLMContextRecall", broken)
    samples = [Sample("a", "q", "answer", ["ctx"], ["c1"], "ref", ["ctx"], ["c1"])]
    scores = non_llm_scores(samples)["a"]
    assert all(sc.value is None and "rapidfuzz" in sc.error for sc in scores.values())
