"""The Learn tab's review mode in-process: the real index, the real progress store and FSRS scheduler, the
Gradio app served by this process and driven with gradio_client, an injectable clock (no sleeps), no LLM
(template questions)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from tutor.llm.local import free_port
from fixtures.tutor import make_settings

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


def _row(mastery_html: str, layer: int) -> str:
    m = re.search(rf'<div class="m-row[^"]*" id="m-{layer}".*?</div>', mastery_html)
    assert m, mastery_html[:500]
    return m.group(0)


def _item_id(question_html: str) -> str:
    m = re.search(r"Item (q-[0-9a-f]{10})", question_html)
    assert m, question_html
    return m.group(1)


@pytest.fixture
def review_ui(index_copy):
    from gradio_client import Client

    from tutor.app import TutorApp
    from ui.app import launch

    clock = Clock()
    app = TutorApp(make_settings(index_copy, quiz_llm_questions=False, review_fuzz=False), clock=clock)
    port = free_port()
    demo = launch(app, port=port, block=False)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), app, clock
    finally:
        demo.close()
        app.close()


def test_review_mode_asks_due_cards_and_reschedules_them(review_ui):
    c, app, clock = review_ui
    # nothing answered yet: the review says how cards come to be
    status, *_ = c.predict("ada", api_name="/review")
    assert "No cards yet" in status and "Start a quiz" in status

    question, *_ = c.predict("ada", "L3 · AI Chips & Accelerators", "mcq", 2, api_name="/quiz")
    first = app.coach.item(_item_id(question))
    fb, mastery, _step = c.predict(first.answer, "", api_name="/grade")
    assert "Correct" in fb
    question2, *_ = c.predict(api_name="/next_question")
    second = app.coach.item(_item_id(question2))
    wrong = next(ch for ch in second.choices if ch != second.answer)
    fb, mastery, _step = c.predict(wrong, "", api_name="/grade")
    assert "Not quite" in fb
    status, *_ = c.predict("ada", api_name="/review")  # the wrong one comes back in a minute, not yet
    assert "No cards are due" in status and "next review is in 1 minute" in status

    clock.t += timedelta(minutes=2)
    question, choices, _answer, _fb = c.predict("ada", api_name="/review")
    assert "Review 1 of 1" in question and _item_id(question) == second.id and choices["visible"]
    fb, mastery, _step = c.predict(second.answer, "", api_name="/grade")
    assert "Correct" in fb and html.escape(second.span) in fb
    assert re.search(r"Rated (good|easy): next review in \d+ (minute|hour|day)s?\.", html.unescape(fb)), fb
    assert len(app.coach.store.reviews("ada", second.id)) == 2  # the first grade and this review
    again, *_ = c.predict(second.answer, "", api_name="/grade")  # a second click on the same card counts once
    assert "reviewed meanwhile" in again and len(app.coach.store.reviews("ada", second.id)) == 2
    done, *_ = c.predict(api_name="/next_question")
    assert "Review finished: 1 of 1 right" in done

    # a month without review: both cards due, the chart shows it and retention falls
    before = {r["layer"]: r for r in app.coach.progress("ada")}[3]
    clock.t += timedelta(days=60)
    rows = {r["layer"]: r for r in app.coach.progress("ada")}
    assert rows[3]["due"] == 2 and rows[3]["retention"] < before["retention"]
    mastery, _step = c.predict("ada", api_name="/progress")
    assert "2 due" in _row(mastery, 3) and "retention" in _row(mastery, 3) and " due" not in _row(mastery, 4)
    question, *_ = c.predict("ada", api_name="/review")
    assert "Review 1 of 2" in question


def test_review_mode_errors_are_shown_and_change_nothing(review_ui):
    c, app, _clock = review_ui
    bad, *_ = c.predict("../etc", api_name="/review")
    assert "tutor-error" in bad and "learner name" in bad
    fb, *_ = c.predict(None, "my answer", api_name="/grade")  # no quiz or review started
    assert "Start a quiz first" in fb
