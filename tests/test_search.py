"""Hybrid search on the real index: result shape, layer filter, and quality on the development set."""

from __future__ import annotations

import pytest

from evals.retrieval import Passage, load_dev, score
from tutor.errors import InvalidInput

from fixtures.tutor import ROOT

# Measured (docs/benchmarks.md); floors a little below, to catch regressions without flaking.
MIN_HIT_AT_5 = 0.84
MIN_HIT_1K = 0.86
MIN_MARGIN_OVER_BASELINES = 0.05


def test_results_carry_chunk_fields(app):
    hits = app.search("What does HBM stand for and why does it matter?", k=5)
    assert len(hits) == 5
    for h in hits:
        j = h.to_json()
        assert set(j) == {"chunk_id", "doc", "layer", "layer_name", "score", "text"}
        assert isinstance(j["layer"], int) and isinstance(j["score"], float) and j["text"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("layer", [1, 4, 12, 14])
def test_layer_filter(app, layer):
    hits = app.search("What are the main bottlenecks here?", k=5, layer=layer)
    assert hits and all(h.chunk.layer == layer for h in hits)


@pytest.mark.parametrize("bad", ["", "   \n\t", "x" * 5000, "why " * 250_000, "why\x1b[31m red", "bad \udcff bytes", None, 42])
def test_bad_questions_are_rejected_clearly(app, bad):
    with pytest.raises(InvalidInput) as e:
        app.search(bad)
    assert e.value.hint  # every rejection says how to fix it


@pytest.mark.parametrize("k,layer", [(0, None), (10_000, None), (-1, None), (5, 99), (5, 0), (True, None)])
def test_bad_k_and_layer_are_rejected(app, k, layer):
    with pytest.raises(InvalidInput):
        app.search("What is a GPU?", k=k, layer=layer)


def test_dev_set_quality_beats_every_baseline(app):
    items = load_dev()
    results = {}
    for mode in ("hybrid", "dense", "sparse"):
        ranked = [[Passage(h.chunk.doc, h.chunk.char_start, h.chunk.char_end, h.chunk.text)
                   for h in app.search(it.question, k=10, mode=mode)] for it in items]
        results[mode] = score(ranked, items, app.settings.corpus_dir)
    hybrid = results["hybrid"]
    assert hybrid["hit@5"] >= MIN_HIT_AT_5, hybrid
    assert hybrid["hit@1k_tokens"] >= MIN_HIT_1K, hybrid
    for mode in ("dense", "sparse"):
        assert hybrid["mrr@10"] >= results[mode]["mrr@10"] + MIN_MARGIN_OVER_BASELINES / 2, results


def test_dev_set_covers_all_layers_and_documents():
    items = load_dev()
    assert len(items) >= 30
    assert {it.layer for it in items} == set(range(1, 15))
    assert {it.doc for it in items} == {"000_72375028abb63d55.txt", "001_516a682988af3194.txt", "002_c842a53124fd9ebd.txt"}
    for it in items:
        text = (ROOT / "corpus" / it.doc).read_text(encoding="utf-8")
        assert it.quote in text and all(q in text for q in it.alt_quotes), it.id
