"""Corpus: documents unchanged, the deep dive's 14 boundaries, offsets, stable ids, comments excluded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tutor.knowledge.corpus import (UNLABELLED, DocumentSpec, build_chunks, chunk_id, content_end, load_manifest,
                          segment_layers)
from tutor.errors import ConfigError
from tutor.knowledge.layers import Taxonomy

from fixtures.tutor import ROOT

CORPUS = ROOT / "corpus"
DEEP = "002_c842a53124fd9ebd.txt"
SEEDS = ROOT.parent / "shared" / "seeds"

# Line numbers (1-based) where each layer's section starts in the deep dive, and its opening words:
# read off the document by hand.
BOUNDARIES = {
    1: (31, "The physical foundation of the entire AI stack."),
    2: (95, "The most capital-intensive manufacturing process on Earth."),
    3: (213, "Purpose-built silicon for the math that powers AI."),
    4: (300, "The nervous system connecting thousands of GPUs"),
    5: (420, "Data centers are the physical substrate of AI."),
    6: (535, "The software that makes AI hardware programmable."),
    7: (593, "The programming environment where researchers and engineers"),
    8: (655, "The engineering discipline of training neural networks across thousands of GPUs."),
    9: (734, "The raw material that models learn from."),
    10: (829, "The mathematical structures that learn."),
    11: (918, "How raw models become useful and safe."),
    12: (1022, "Serving trained models efficiently in production."),
    13: (1143, "The integration layer between AI models and applications."),
    14: (1274, "Where AI meets humans."),
}
CROSS_LAYER_LINE = 1413


@pytest.fixture(scope="module")
def deep_text() -> str:
    return (CORPUS / DEEP).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def chunks():
    return build_chunks(CORPUS, Taxonomy.load(CORPUS), 160, 24)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the team's seed folder is not beside this checkout")
def test_documents_are_the_seeds_unchanged():
    for seed in SEEDS.glob("*.txt"):
        assert hashlib.sha256((CORPUS / seed.name).read_bytes()).digest() == hashlib.sha256(seed.read_bytes()).digest()


def test_manifest_lists_three_documents():
    specs = load_manifest(CORPUS)
    assert [s.file for s in specs] == ["000_72375028abb63d55.txt", "001_516a682988af3194.txt", DEEP]
    assert all((CORPUS / s.file).is_file() for s in specs)


@pytest.mark.parametrize("layer", sorted(BOUNDARIES))
def test_every_layer_boundary(deep_text, layer):
    sections = {s.layer: s for s in segment_layers(deep_text) if s.section == "section"}
    line, opening = BOUNDARIES[layer]
    seg = sections[layer]
    assert _line_of(deep_text, seg.start) == line
    assert deep_text[seg.start:].startswith(opening)
    # The section runs up to the next one (or to the cross-layer closing section), with no gap.
    next_line = BOUNDARIES[layer + 1][0] if layer < 14 else CROSS_LAYER_LINE
    assert _line_of(deep_text, seg.end) == next_line


def test_closing_section_is_cross_layer_not_layer_14(deep_text):
    segs = segment_layers(deep_text)
    closing = [s for s in segs if s.section == "cross-layer"]
    assert len(closing) == 1 and closing[0].layer == 0
    assert _line_of(deep_text, closing[0].start) == CROSS_LAYER_LINE
    assert deep_text[closing[0].start:].startswith("Chips (L3) + NVLink (L4)")
    assert closing[0].end == len(deep_text)
    layer14 = next(s for s in segs if s.layer == 14 and s.section == "section")
    assert "Chips (L3) + NVLink" not in deep_text[layer14.start:layer14.end]


def test_overview_lines_get_their_own_layer(deep_text):
    overview = [s for s in segment_layers(deep_text) if s.section == "overview" and s.layer > 0]
    assert [s.layer for s in overview] == list(range(1, 15))  # the repeated copy is dropped
    assert deep_text[overview[2].start:overview[2].end].startswith("Purpose-built silicon for matrix math.")


def test_segmentation_finds_sections_in_a_synthetic_document():
    """The method, not the file: opening paragraphs restating their summaries, with decoys around them."""
    summaries = [f"Topic {w} matters. It is about {w} things and {w} stuff." for w in
                 "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november".split()]
    body, expected = [], []
    for s in summaries:
        word = s.split()[1]
        body.append(f"A table row mentions {word} once.")  # a decoy that shares one word
        expected.append(len(body))
        body.append(f"Topic {word} matters a great deal. This section covers {word} things, {word} stuff and more.")
        body.append("Some detail paragraph. " * 5)
    body.append("Closing: L1 and L2 and L3 together.")
    text = "\n".join(["Tagline", *summaries, *body]) + "\n"
    segs = segment_layers(text)
    lines = text.split("\n")
    starts = [_line_of(text, s.start) - 1 for s in segs if s.section == "section"]
    assert starts == [1 + len(summaries) + e for e in expected]
    assert lines[starts[0]].startswith("Topic alpha matters a great deal")
    assert [s for s in segs if s.section == "cross-layer"][0].layer == 0


def test_chunk_offsets_point_into_the_source(chunks):
    texts = {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}
    for c in chunks:
        assert texts[c.doc][c.char_start:c.char_end] == c.text


def test_chunk_ids_are_stable_and_unique(chunks):
    again = build_chunks(CORPUS, Taxonomy.load(CORPUS), 160, 24)
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert chunk_id("a.txt", "same text") == chunk_id("a.txt", "same text")
    assert chunk_id("a.txt", "same text") != chunk_id("a.txt", "same text!")


def test_every_chunk_carries_its_fields_and_layer(chunks):
    for c in chunks:
        assert c.chunk_id and c.doc and c.text.strip()
        if c.doc == DEEP:
            assert 0 <= c.layer <= 14 and c.layer_name
        else:
            assert c.layer == UNLABELLED  # labelled after embedding (tests/test_labeling.py)
    deep_layers = {c.layer for c in chunks if c.doc == DEEP}
    assert deep_layers == set(range(0, 15))


def test_chunks_fit_the_embedder_window(chunks):
    """MiniLM reads 256 word pieces; a longer indexed text (context + passage) would be silently truncated."""
    from transformers import AutoTokenizer

    from tutor.knowledge.embed import resolve_model

    tok = AutoTokenizer.from_pretrained(str(resolve_model("all-MiniLM-L6-v2", ROOT / ".tutor")))
    lengths = [len(tok(c.indexed_text)["input_ids"]) for c in chunks]
    assert max(lengths) <= 256, max(lengths)


def test_reader_comments_are_not_indexed(chunks):
    essay = [c for c in chunks if c.doc == "001_516a682988af3194.txt"]
    assert essay
    joined = "\n".join(c.text for c in essay)
    assert "Very Informative Blog" not in joined and "syntaxscenarios" not in joined
    assert "Microchip was the first" in joined  # the essay's last line of content is kept


def test_missing_comment_marker_is_a_clear_error():
    spec = DocumentSpec("x.txt", "x", "essay", "classify", content_ends_before="No such line")
    with pytest.raises(ConfigError, match="update corpus/documents.toml"):
        content_end("some text\nmore\n", spec)


def test_missing_corpus_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="TUTOR_CORPUS_DIR"):
        Taxonomy.load(tmp_path)


def test_a_chunk_inside_a_table_names_that_tables_header_even_right_after_another_table():
    from tutor.knowledge.corpus import _table_header
    from tutor.types import TABLE_COLUMNS, Chunk, Passage, SearchHit

    text = "intro\n| A | B |\n|---|---|\n| 1 | 2 |\n| C | D |\n|---|---|\n| 3 | 4 |\n| 5 | 6 |\n"
    assert _table_header(text, text.index("| 1 | 2 |")) == "| A | B |"
    assert _table_header(text, text.index("| 5 | 6 |")) == "| C | D |"  # not the first table of the block
    assert _table_header(text, text.index("|---|---|\n| 3")) == "| C | D |"
    assert _table_header(text, text.index("| C | D |")) is None  # starts on its own header row
    assert _table_header(text, text.index("intro")) is None
    chunk = Chunk("c1", "d.txt", 3, "AI Chips", "| 5 | 6 |", 0, 9, (), "s", f"Doc. Layer 3. {TABLE_COLUMNS}| C | D |")
    assert Passage.from_hit(SearchHit(chunk, 1.0)).table_header == "| C | D |"
