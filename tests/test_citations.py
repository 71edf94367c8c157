"""Citations are mapped, checked and repaired in code."""

from __future__ import annotations

from tutor.answering.citations import CitationMapper, StreamRewriter, best_quote, sentences
from tutor.types import Passage

CHIPS = Passage("c1", "deep.txt", 3, "AI Chips & Accelerators", 0.1,
                "GPUs are massively parallel processors. HBM is high-bandwidth memory stacked next to the GPU die. "
                "The H100 carries 80 GB of HBM3.")
POWER = Passage("p1", "deep.txt", 5, "Data Centers & Power", 0.1,
                "A GB200 NVL72 rack holds 72 GPUs and draws about 120 kW. Such racks need liquid cooling.")


def mapper():
    return CitationMapper([CHIPS, POWER])


def test_numbers_become_layer_labels_with_verbatim_quotes():
    a = mapper().attach("HBM is memory stacked beside the GPU [1]. A rack draws about 120 kW [2].")
    assert a.text == ("HBM is memory stacked beside the GPU [L3 · AI Chips & Accelerators]. "
                      "A rack draws about 120 kW [L5 · Data Centers & Power].")
    assert [(c.chunk_id, c.quote) for c in a.citations] == [
        ("c1", "HBM is high-bandwidth memory stacked next to the GPU die."),
        ("p1", "A GB200 NVL72 rack holds 72 GPUs and draws about 120 kW."),
    ]


def test_marker_after_the_period_cites_the_sentence_before_it():
    a = mapper().attach("Racks need liquid cooling. [2] GPUs are parallel processors. [1]")
    assert a.citations[0].quote == "Such racks need liquid cooling."
    assert a.citations[1].quote == "GPUs are massively parallel processors."


def test_multiple_and_invalid_markers():
    a = mapper().attach("Both matter [1, 2]. Nonsense [7]. Also [L9 · Training Data] and [L5].")
    assert "[7]" not in a.text and "Training Data" not in a.text
    assert a.dropped == ["[7]", "[L9 · Training Data]"]
    assert a.text.count("[L5 · Data Centers & Power]") == 2
    assert {c.chunk_id for c in a.citations} == {"c1", "p1"}


def test_brackets_that_are_not_markers_are_left_alone():
    a = mapper().attach("Arrays like [a, b] are fine [1].", repair=False)
    assert "[a, b]" in a.text


def test_uncited_factual_sentence_is_repaired_only_on_clear_overlap():
    a = mapper().attach("The H100 carries 80 GB of HBM3 memory. Bananas are yellow and grow in tropical places.")
    assert a.repaired == 1 and a.text.startswith("The H100 carries 80 GB of HBM3 memory [L3 · AI Chips & Accelerators].")
    assert a.uncited == ["Bananas are yellow and grow in tropical places."]


def test_quotes_are_always_verbatim_and_bounded():
    long = Passage("x", "d", 1, "Raw Materials", 0.1, "word " * 200)
    q = best_quote(long.text, "word")
    assert q in long.text and len(q) <= 300
    for s, e in sentences(CHIPS.text):
        assert CHIPS.text[s:e].strip() == CHIPS.text[s:e]


def test_operands_are_traced_to_passages():
    src = mapper().operand_sources("72 * 120")
    assert [(n, p.chunk_id) for n, p, _ in src] == [("72", "p1"), ("120", "p1")]
    assert all(q in p.text for _, p, q in src)
    assert mapper().operand_sources("1,200 + 999") == []


def test_stream_rewriter_never_emits_raw_markers():
    r = StreamRewriter(mapper())
    out = "".join(r.feed(t) for t in ["HBM is", " stacked [", "1", "]. Racks [2", "] and [x] [", "9]."]) + r.flush()
    assert out == "HBM is stacked [L3 · AI Chips & Accelerators]. Racks [L5 · Data Centers & Power] and [x]."
    r = StreamRewriter(mapper())
    out = "".join(r.feed(t) for t in ["an unclosed [ bracket", " goes on\n", "fine"]) + r.flush()
    assert out == "an unclosed [ bracket goes on\nfine"
