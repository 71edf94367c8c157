"""The UI's HTML: everything from a learner or a model is escaped; chips, quotes and sources come out right."""

from __future__ import annotations

import re

from tutor.errors import InvalidInput
from tutor.types import Citation, Layer, Passage, Reply, ToolCall
from ui import render

P1 = Passage("c1", "002.txt", 3, "AI Chips & Accelerators", 0.9, "GPUs do matrix math. HBM feeds them <fast>.", 0.7)
P2 = Passage("c2", "001.txt", 2, "Semiconductor Fabrication", 0.8, "TSMC runs CoWoS lines.", 0.6)
TITLES = {"002.txt": "Deep dive", "001.txt": "Essay"}


def reply(**kw) -> Reply:
    base = dict(question="q", body="GPUs do matrix math [L3 · AI Chips & Accelerators].",
                citations=[Citation(3, "AI Chips & Accelerators", "c1", "002.txt", "GPUs do matrix math.")],
                passages=[P1, P2], search_query="what do gpus do",
                tool_calls=[ToolCall("search_corpus", {"query": "what do gpus do"}, "…")])
    base.update(kw)
    return Reply(**base)


def test_labels_become_chips_that_point_at_their_turns_sources():
    html = render.reply_html(reply(body="Fact one [L3 · AI Chips & Accelerators]. Fact two [L12 · Inference & Serving]."), turn=4)
    assert html.count('class="cite-chip') == 2
    assert 'href="#src-t4-L3"' in html and 'href="#src-t4-L12"' in html
    assert ">L3 · AI Chips &amp; Accelerators</a>" in html
    assert "g-hw" in html and "g-model" in html


def test_model_and_learner_text_is_escaped():
    evil = 'Look <img src=x onerror="alert(1)"> <script>alert(2)</script> [L3 · AI Chips & Accelerators]'
    html = render.reply_html(reply(body=evil), turn=0)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert 'class="cite-chip' in html  # our own markup is still added after escaping
    assert render.user_html("<b>hi</b>") == "&lt;b&gt;hi&lt;/b&gt;"
    # a label-looking bracket with markup inside cannot smuggle tags through the chip
    assert "<b>" not in render.reply_html(reply(body="x [L3 · <b>bold</b>]"), 0)
    assert "<b>" not in render.streaming_html("x [L3 · <b>bold</b>] and <b>", 0)


def test_huge_question_is_shown_clipped_with_its_length():
    shown = render.user_html("a" * 100_000)
    assert len(shown) < 700 and "100,000 characters" in shown


def test_try_next_becomes_a_button_and_is_not_a_chip():
    r = reply(body="An answer [L3 · AI Chips & Accelerators].", suggestion='Why "HBM"?')
    html = render.reply_html(r, turn=1)
    assert 'class="try-next"' in html and 'data-question="Why &quot;HBM&quot;?"' in html
    assert "Try next:" not in html.split('<button', 1)[0]
    # Made from the field, not from the text: an answer that merely says "Try next:" is no button.
    plain = render.reply_html(reply(body="An answer.\n\nTry next: nothing"), turn=1)
    assert 'class="try-next"' not in plain
    hint = render.reply_html(reply(body="A hint [L3 · AI Chips & Accelerators].", mode="hint",
                                   invitation="Have a go <now>."), turn=2)
    assert 'class="invitation"' in hint and "Have a go &lt;now&gt;." in hint and "try-next" not in hint


def test_streaming_cursor_and_status_and_error():
    assert "cursor" in render.streaming_html("partial [L3 · AI Chips & Accelerators]", 0)
    assert 'class="cite-chip' in render.streaming_html("partial [L3 · AI Chips & Accelerators]", 0)
    assert "cursor" not in render.reply_html(reply(body="done"), 0)
    assert render.status_html("Searching <docs>…") == '<span class="tutor-status">Searching &lt;docs&gt;…</span>'
    err = render.error_html(InvalidInput("The question is <empty>.", "Ask something."))
    assert "&lt;empty&gt;" in err and "Ask something." in err and "tutor-error" in err


def test_sources_highlight_the_verbatim_quote_in_its_passage():
    s = render.Session(turns=[render.Turn("What do GPUs do?", reply())])
    html = render.sources_html(s, TITLES)
    assert '<mark>GPUs do matrix math.</mark> HBM feeds them &lt;fast&gt;.' in html
    assert 'data-anchor="src-t0-L3"' in html and "Deep dive" in html
    assert "Also read, not cited (1)" in html and "TSMC runs CoWoS lines." in html
    assert "searched for “what do gpus do”" in html
    assert s.touched == {3}


def test_sources_list_newest_turn_first_and_open():
    s = render.Session(turns=[render.Turn("first question", reply()), render.Turn("second question", reply())])
    html = render.sources_html(s, TITLES)
    assert html.index("second question") < html.index("first question")
    assert html.count("<details class=\"src-turn\"") == 2 and html.count('data-turn="1" open') == 1


def test_refused_and_uncited_answers_say_so():
    refused = reply(body="The documents don't cover that.", citations=[], refused=True)
    html = render.sources_html(render.Session(turns=[render.Turn("q", refused)]), TITLES)
    assert "Nothing in the documents answers this" in html and "src-card cited" not in html
    uncited = reply(citations=[])
    assert "no citation" in render.sources_html(render.Session(turns=[render.Turn("q", uncited)]), TITLES)
    assert "Sources appear here" in render.sources_html(None, TITLES)


def test_calculation_shows_in_how_it_was_answered():
    r = reply(tool_calls=[ToolCall("search_corpus", {"query": "nvl72"}, "…"),
                          ToolCall("calculator", {"expression": "72 * 8"}, "576")])
    assert "calculated 72 * 8 = 576" in render.sources_html(render.Session(turns=[render.Turn("q", r)]), TITLES)


def test_layer_map_classes_and_detail():
    assert render.layer_classes(3, {3}, 3) == ["layer-btn", "g-hw", "touched", "selected"]
    assert render.layer_classes(13, set(), None) == ["layer-btn", "g-app"]
    md = render.layer_detail_md(Layer(12, "Inference & Serving", "Serving <models>."), 25, True)
    assert "L12 · Inference &amp; Serving" in md and "&lt;models&gt;" in md and "25 passages" in md
    assert "cited in this conversation" in md


def test_status_line_names_llm_embedder_and_index():
    info = {"llm": "embedded llama.cpp · qwen", "embedder": "all-MiniLM-L6-v2", "index": "Qdrant <x>"}
    html = render.status_line(info)
    assert "embedded llama.cpp" in html and "all-MiniLM-L6-v2" in html and "Qdrant &lt;x&gt;" in html


# -- the Learn view -------------------------------------------------------------------------------------
def _item(**kw):
    from tutor.learning.quiz import QuizItem

    base = dict(id="q-0123456789", layer=3, question="Which <b>memory</b> feeds GPUs?", kind="short", answer="HBM",
                chunk_id="c1", doc="002.txt", span="HBM feeds them <fast>.")
    base.update(kw)
    return QuizItem(**base)


def _grade(score: float, **kw):
    from tutor.learning.grading import Grade

    label = "L3 · AI Chips & Accelerators"
    base = dict(item_id="q-0123456789", correct=score >= 0.99, score=score, chunk_id="c1", span="HBM feeds them <fast>.",
                layer=3, label=label, answer="HBM <x>")
    base.update(kw)
    return Grade(**base)


def test_quiz_question_shows_its_place_layer_and_id_but_not_the_answer():
    html = render.quiz_question_html(_item(), 2, 5, "L3 · AI Chips & Accelerators")
    assert "Question 2 of 5" in html and "Item q-0123456789" in html and "Short answer" in html
    assert "L3 · AI Chips &amp; Accelerators" in html and "g-hw" in html
    assert "&lt;b&gt;memory&lt;/b&gt;" in html and "<b>" not in html
    assert "HBM" not in html and "feeds them" not in html  # neither the answer nor its span
    assert "Multiple choice" in render.quiz_question_html(_item(kind="mcq", choices=list("ABCD")), 1, 1, "L3 · x")


def test_feedback_quotes_the_span_with_its_chip_and_document_escaped():
    html = render.feedback_html(_grade(0.0), "Deep <dive>")
    assert "Not quite · score 0" in html and 'class="quiz-feedback wrong"' in html
    assert "The answer is HBM &lt;x&gt;." in html and "The passage says" not in html.split("<blockquote")[0]
    assert "“HBM feeds them &lt;fast&gt;.”" in html  # the span, as a quote
    assert '<span class="cite-chip">L3 · AI Chips &amp; Accelerators</span>' in html and "Deep &lt;dive&gt;" in html
    assert "[L3" not in html  # the label became the chip
    assert "<fast>" not in html and "<x>" not in html and "<dive>" not in html
    right = render.feedback_html(_grade(1.0), "Deep dive")
    assert "Correct · score 1" in right and 'class="quiz-feedback right"' in right and "Correct: HBM &lt;x&gt;." in right
    partly = render.feedback_html(_grade(0.5, missing="the <unit>."), "Deep dive", note="Already <graded>.")
    assert "Partly right · score 0.5" in partly and "Already &lt;graded&gt;." in partly
    assert "Missing: the &lt;unit&gt;." in partly
    # A repeat (the learner had answered this item) says its grade stands: the rule is the core's, shown here.
    repeat = render.feedback_html(_grade(0.0, repeat=True), "Deep dive")
    assert "its grade stands" in repeat and "Not quite · score 0" in repeat


def test_mastery_chart_runs_bottom_to_top_with_bars_attempts_and_marks():
    rows = [{"layer": n, "name": f"Layer <{n}>", "mastery": 0.0, "attempts": 0, "mastered": False}
            for n in range(1, 15)]
    rows[2] = {"layer": 3, "name": "AI Chips & Accelerators", "mastery": 0.857, "attempts": 4, "mastered": True}
    rows[3] = {"layer": 4, "name": "Networking", "mastery": 0.5, "attempts": 1, "mastered": False}
    html = render.mastery_html(rows, next_layer=4)
    ids = [int(x) for x in re.findall(r'id="m-(\d+)"', html)]
    assert ids == list(range(14, 0, -1))  # L14 at the top, like the stack map
    row3 = html[html.index('id="m-3"'):].split("</div>")[0]
    assert "width:86%" in row3 and 'aria-valuenow="86"' in row3 and "86%" in row3 and "4 answers" in row3
    assert 'class="m-mark"' in row3 and "mastered" in row3
    row4 = html[html.index('id="m-4"'):].split("</div>")[0]
    assert "1 answer<" in row4 and "m-mark" not in row4 and "study next" in row4
    assert re.findall(r'class="m-row[^"]* next" id="m-(\d+)"', html) == ["4"]
    assert "Layer &lt;5&gt;" in html and "<5>" not in html


def test_next_step_names_the_layer_and_why():
    html = render.next_step_html({"layer": 12, "name": "Inference & Serving", "reason": "Because <reasons>.",
                                  "mastery": 0.0, "attempts": 0, "prerequisites": [11]})
    assert "L12 · Inference &amp; Serving" in html and "Because &lt;reasons&gt;." in html and "g-model" in html
    assert render.quiz_error_html(InvalidInput("The answer is <empty>.", "Type it.")).count("&lt;empty&gt;") == 1
