"""The core's structure: labels formatted and parsed in one place, Reply and history as data, one event-stream
helper, the stratified eval sample, and a thread-safe LLM start."""

from __future__ import annotations

import threading
import time

import pytest

from evals import dataset as ds
from tutor import labels, streaming
from tutor.answering.agent import earlier_text, socratic_turn, validate_history
from tutor.answering.prompts import HINT_TAIL
from tutor.errors import InvalidInput, TutorError
from tutor.types import Reply


def test_labels_round_trip_and_strip():
    text = f"HBM is stacked memory {labels.bracketed(3, 'AI Chips & Accelerators')}. Power {labels.bracketed(5, 'Data Centers')}."
    segs = labels.segments(text)
    assert "".join(s.text for s in segs) == text, "the segments give the text back"
    assert [(s.layer, s.layer_name) for s in segs if s.layer] == [(3, "AI Chips & Accelerators"), (5, "Data Centers")]
    assert labels.strip(text) == "HBM is stacked memory. Power."
    assert labels.segments("no citations") == [labels.Segment("no citations")]


def test_reply_is_composed_from_its_fields():
    r = Reply("q", body="CoWoS is packaging [L2 · Semiconductor Fabrication].", suggestion="What is HBM?")
    assert r.answer == "CoWoS is packaging [L2 · Semiconductor Fabrication].\n\nTry next: What is HBM?"
    assert r.plain == "CoWoS is packaging."
    out = r.to_json()
    assert out["answer"] == r.answer and out["body"] == r.body and out["suggested_question"] == "What is HBM?"
    assert out["segments"][1] == {"layer": 2, "layer_name": "Semiconductor Fabrication"}
    hint = Reply("q", body="A hint.", mode="hint", invitation=HINT_TAIL)
    assert hint.answer == f"A hint.\n\n{HINT_TAIL}" and hint.history_entry() == {"role": "assistant", "content": "A hint.",
                                                                                    "mode": "hint"}


def test_socratic_state_comes_from_the_histories_mode():
    asked = {"role": "user", "content": "What is CoWoS?"}
    # Our front ends send the mode: no text search of the hint is needed.
    turn = socratic_turn("TSMC's packaging", [asked, {"role": "assistant", "content": "Anything at all.", "mode": "hint"}])
    assert turn.mode == "reveal" and turn.question == "What is CoWoS?" and turn.attempt == "TSMC's packaging"
    assert socratic_turn("TSMC's packaging", [asked, {"role": "assistant", "content": f"x\n\n{HINT_TAIL}",
                                                      "mode": "answer"}]).mode == "hint"
    # A plain-text client (no mode) that sends the composed answer back still works.
    assert socratic_turn("TSMC's packaging", [asked, {"role": "assistant", "content": f"x\n\n{HINT_TAIL}"}]).mode == "reveal"
    with pytest.raises(InvalidInput, match="mode must be one of"):
        validate_history([asked, {"role": "assistant", "content": "x", "mode": "lecture"}], 4000)
    assert validate_history([{"role": "assistant", "content": "x", "mode": "hint"}], 4000)[0]["mode"] == "hint"


def test_earlier_answers_reach_the_llm_without_labels_or_tails():
    composed = Reply("q", body="CoWoS [L2 · Semiconductor Fabrication] matters.", suggestion="Why?").answer
    assert earlier_text({"role": "assistant", "content": composed}) == "CoWoS matters."
    assert earlier_text({"role": "user", "content": "Try next: keep my words"}) == "Try next: keep my words"


def test_events_stream_emitted_events_then_the_result_or_a_readable_error():
    def job(emit):
        emit("item", 1)
        emit("item", 2)
        return "done"

    assert list(streaming.events(job)) == [("item", 1), ("item", 2), ("result", "done")]

    def broken(emit):
        emit("item", 1)
        raise ZeroDivisionError("boom")

    out = list(streaming.events(broken))
    assert out[0] == ("item", 1) and out[-1][0] == "error" and isinstance(out[-1][1], TutorError)
    assert "ZeroDivisionError" in str(out[-1][1])
    ours = TutorError("Clear message.", "Do this.")
    assert list(streaming.events(lambda emit: (_ for _ in ()).throw(ours)))[-1] == ("error", ours)


def test_the_gate_sample_is_fixed_stratified_and_in_file_order():
    items = ds.load()
    sample = ds.stratified(items, 16)
    assert len(sample) == 16 and sample == ds.stratified(items, 16)
    assert {i.kind for i in sample} == set(ds.KINDS)
    order = {it.id: n for n, it in enumerate(items)}
    assert [order[i.id] for i in sample] == sorted(order[i.id] for i in sample)
    assert ds.stratified(items, 1000) == items and len(ds.stratified(items, 6)) == 6


def test_the_embedded_llm_starts_once_however_many_ask_at_once(tmp_path, monkeypatch):
    import tutor.app as app_mod
    from fixtures.tutor import make_settings

    starts = []

    class SlowServer:
        def __init__(self, *a, **kw):
            self.port, self.last_start_seconds = 1234, 0.2

        @property
        def base_url(self):
            if not starts:
                time.sleep(0.2)  # a slow start: the other threads arrive while it runs
                starts.append(1)
            return "http://127.0.0.1:1234/v1"

        def stop(self):
            pass

    monkeypatch.setattr(app_mod, "LocalServer", SlowServer)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x")
    app = app_mod.TutorApp(make_settings(tmp_path / "data", llm_model_file=model))
    servers, llms = [], []

    def first_question():
        app.start_llm()
        servers.append(app.local_server())
        llms.append(app.llm)

    threads = [threading.Thread(target=first_question) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 1 and len({id(s) for s in servers}) == 1 and len({id(m) for m in llms}) == 1
