"""Ingest is idempotent, re-indexes a changed document, and --rebuild starts clean. Real model, real Qdrant."""

from __future__ import annotations

import shutil

import pytest

from tutor.app import TutorApp

from fixtures.tutor import ROOT, make_settings


class CountingApp(TutorApp):
    """The real app, counting how many texts the real embedder encodes."""

    encoded = 0

    @property
    def embedder(self):
        e = super().embedder
        if not getattr(e, "_counted", False):
            real = e.encode

            def encode(texts, progress=None):
                CountingApp.encoded += len(texts)
                return real(texts, progress)

            e.encode, e._counted = encode, True
        return e


@pytest.fixture
def corpus_copy(tmp_path):
    dest = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", dest)
    return dest


def test_reingest_of_unchanged_corpus_adds_nothing(index_copy):
    with CountingApp(make_settings(index_copy)) as app:
        before = app.store.count()
        CountingApp.encoded = 0
        report = app.ingest()
        assert report.unchanged and report.added == 0
        assert app.store.count() == before
        assert CountingApp.encoded == 0


def test_changed_document_is_reindexed_and_the_rest_kept(index_copy, corpus_copy):
    essay = corpus_copy / "001_516a682988af3194.txt"
    text = essay.read_text(encoding="utf-8")
    old_line = "Simply put, we’re just scratching the surface"
    assert old_line in text
    essay.write_text(text.replace(old_line, "Put plainly, we have barely scratched the surface"), encoding="utf-8")
    with CountingApp(make_settings(index_copy, corpus_dir=corpus_copy)) as app:
        before = {c.chunk_id: c for c in app.store.chunks()}
        CountingApp.encoded = 0
        report = app.ingest()
        after = {c.chunk_id: c for c in app.store.chunks()}
    assert not report.unchanged
    assert 1 <= report.added <= 4 and report.removed == report.added  # only the changed passages
    assert 1 <= CountingApp.encoded <= 4
    assert len(after) == len(before)
    assert any(old_line in c.text for c in before.values())
    assert not any(old_line in c.text for c in after.values())
    assert any("Put plainly" in c.text for c in after.values())
    deep = [cid for cid, c in before.items() if c.doc.startswith("002")]
    assert all(cid in after for cid in deep)  # the other documents are untouched


def test_rebuild_starts_clean(index_copy):
    with CountingApp(make_settings(index_copy)) as app:
        n = app.store.count()
        CountingApp.encoded = 0
        report = app.ingest(rebuild=True)
        assert not report.unchanged and report.chunks == n == app.store.count()
        assert CountingApp.encoded == n


def test_every_indexed_chunk_has_a_layer_and_offsets(app):
    chunks = app.store.chunks()
    texts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "corpus").glob("*.txt")}
    for c in chunks:
        assert 0 <= c.layer <= 14 and c.layer_name
        assert texts[c.doc][c.char_start:c.char_end] == c.text
        assert all(1 <= s <= 14 and s != c.layer for s in c.secondary_layers)
    assert {c.doc for c in chunks} == set(texts)
