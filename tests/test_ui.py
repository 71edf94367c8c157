"""The browser UI, as users reach it: `tutor ui` runs as a real subprocess (with the network guard) and is
driven through `gradio_client` and through Debian's chromium with Playwright.

Two servers:
- one on a scripted OpenAI-compatible server that echoes each question back (the fake_openai fixture in
  mode "echo"), so concurrent sessions can be told apart and LLM failures produced on demand;
- one on embedded defaults (the packaged model on llama.cpp), for a real answer over the API and in
  the browser.
"""

from __future__ import annotations

import html
import os
import re
import signal
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tutor.llm.local import free_port

from fixtures.processes import Service
from fixtures.tutor import ROOT, TUTOR_BIN, child_env, copy_index, run_tutor

pytestmark = pytest.mark.slow

ARTIFACTS = Path(os.environ.get("TUTOR_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# In-corpus questions (each clears the refusal threshold), one per session in the concurrency test.
QUESTIONS = [
    "What is CoWoS packaging?",
    "What does an EUV lithography machine cost?",
    "Why is HBM memory important for AI chips?",
    "What is NVLink used for?",
    "Why is power the binding constraint for data centers?",
    "What does CUDA do for NVIDIA?",
    "What is the KV cache in inference?",
    "What is RLHF in training and alignment?",
]


class UIServer(Service):
    """`tutor ui` (serving once /config answers; stopped with SIGINT, as Ctrl-C would)."""

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=False)


def start_ui(data_dir: Path, netguard_log: Path, env_extra: dict, log: Path, timeout: float = 240) -> UIServer:
    port = free_port()
    return UIServer([TUTOR_BIN, "ui"], port=port, log=log, name="`tutor ui`", ready_url=f"http://127.0.0.1:{port}/config",
                    env=child_env(data_dir, netguard_log, TUTOR_UI_PORT=str(port), **env_extra), cwd=data_dir,
                    timeout=timeout, stop_signal=signal.SIGINT, new_session=True)


def text_of(message: dict) -> str:
    """A chat message's text, whichever shape gradio_client returns it in."""
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else str(content)


def ask(client, question: str, scope: str = "All layers") -> tuple[list, list[dict], str, str]:
    """Submit through the public /respond endpoint; returns (all streamed outputs, final chat, sources, box)."""
    job = client.submit(question, scope, api_name="/respond")
    chat, sources, box = job.result(timeout=600)
    return job.outputs(), chat, sources, box


# -- a UI on the scripted echo LLM ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_llm(fake_openai):
    return fake_openai("echo")


@pytest.fixture(scope="module")
def echo_ui(session_index, tmp_path_factory, netguard_log, fake_llm):
    data = copy_index(session_index, tmp_path_factory.mktemp("ui-echo"))
    # the classic pipeline shows what the LLM writes, so the echo tells sessions apart; the grounded default would
    # (rightly) drop an echo as unsupported (its UI path is the real-model test below and test_llm_integration.py)
    server = start_ui(data, netguard_log, {"OPENAI_BASE_URL": fake_llm.url, "TUTOR_LLM_TIMEOUT": "20",
                                           "TUTOR_ANSWER_PIPELINE": "classic"}, data / "ui.log")
    yield server
    assert server.stop() == 0, server.log.read_text()[-2000:]


def test_answer_streams_into_the_chat_with_chips_and_sources(echo_ui):
    outputs, chat, sources, box = ask(echo_ui.client(), QUESTIONS[0])
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert text_of(chat[0]) == QUESTIONS[0]
    answer = text_of(chat[1])
    assert "You asked: What is CoWoS packaging?" in answer
    assert 'class="cite-chip' in answer and 'href="#src-t0-L' in answer
    # streamed: the assistant message grew over several updates before the final one
    partial = {text_of(o[0][-1]) for o in outputs if o and o[0] and o[0][-1]["role"] == "assistant"}
    assert len(partial) >= 4, partial
    assert any("tutor-status" in p for p in partial)
    assert 'class="src-card cited' in sources and "<mark>" in sources and "What is CoWoS packaging?" in sources
    assert outputs[0][2] == ""  # the box empties as soon as the question is sent…
    assert box == {"__type__": "update"}  # …and the final update leaves it alone (the learner may be typing)


def test_eight_concurrent_sessions_get_their_own_answers(echo_ui):
    clients = [echo_ui.client() for _ in QUESTIONS]
    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(lambda cq: ask(*cq), zip(clients, QUESTIONS, strict=True)))
    for q, (_, chat, sources, _) in zip(QUESTIONS, results, strict=True):
        assert [text_of(m) for m in chat if m["role"] == "user"] == [q]
        assert f"You asked: {q}" in text_of(chat[-1])
        others = [o for o in QUESTIONS if o != q]
        assert not any(o in text_of(chat[-1]) or o in sources for o in others)
    # a second question in one session leaves the others' conversations alone
    _, chat0, _, _ = ask(clients[0], "And what is TSMC's role in it?")
    assert len(chat0) == 4 and text_of(chat0[0]) == QUESTIONS[0]
    _, chat1, _, _ = ask(clients[1], QUESTIONS[1])
    assert [text_of(m) for m in chat1 if m["role"] == "user"] == [QUESTIONS[1], QUESTIONS[1]]


def test_hostile_input_is_shown_as_text(echo_ui):
    evil = '<img src=x onerror="alert(1)"> What is CoWoS packaging? <script>alert(2)</script>'
    _, chat, sources, _ = ask(echo_ui.client(), evil)
    for m in chat:
        assert "<img" not in text_of(m) and "<script" not in text_of(m)
    assert "&lt;img" in text_of(chat[0]) and "<script" not in sources


def test_huge_input_is_refused_in_the_chat_and_kept_in_the_box(echo_ui):
    huge = "Why do GPUs need HBM? " * 5000  # ~110 KB
    _, chat, _, box = ask(echo_ui.client(), huge)
    assert "couldn't answer" in text_of(chat[-1]) and "the limit is" in text_of(chat[-1])
    assert len(text_of(chat[0])) < 700  # echoed clipped
    assert box == huge  # nothing the learner typed is lost
    client = echo_ui.client()
    _, chat, _, _ = ask(client, "   ")
    assert chat == []  # an empty question sends nothing


def test_llm_failure_is_a_readable_message_and_the_next_question_works(echo_ui, fake_llm):
    client = echo_ui.client()
    fake_llm.stop()
    try:
        _, chat, _, box = ask(client, QUESTIONS[2])
    finally:
        fake_llm.restart()
    err = text_of(chat[-1])
    assert "tutor-error" in err and "OPENAI_BASE_URL" in err, err
    assert box == QUESTIONS[2]  # the question goes back into the box
    _, chat, _, _ = ask(client, QUESTIONS[2])
    assert f"You asked: {QUESTIONS[2]}" in text_of(chat[-1])
    assert len(chat) == 4  # the failed turn stays visible; the next one answers


def test_reset_clears_only_this_session(echo_ui):
    a, b = echo_ui.client(), echo_ui.client()
    ask(a, QUESTIONS[3])
    ask(b, QUESTIONS[4])
    chat, sources, box = a.predict(api_name="/reset")
    assert chat == [] and "Sources appear here" in sources
    _, chat_b, _, _ = ask(b, QUESTIONS[5])
    assert len(chat_b) == 4


def test_search_scope_keeps_retrieval_to_one_layer(echo_ui):
    import re

    client = echo_ui.client()
    _, chat, sources, _ = ask(client, "Why is power the binding constraint?", scope="L5 · Data Centers & Power")
    layers = re.findall(r'class="src-layer">L(\d+) ·', sources)
    assert layers and set(layers) == {"5"}, layers
    _, _, everywhere, _ = ask(client, "What is CoWoS packaging?")  # the default scope again: all layers
    assert "L2 ·" in everywhere.split('data-turn="0"')[0]
    with pytest.raises(Exception, match="(?i)choice|value"):
        ask(client, "What is CoWoS?", scope="L99 · Nowhere")


def test_binds_loopback_only_by_default(echo_ui):
    port_hex = f"{echo_ui.port:04X}"
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if Path(table).exists():
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and local.endswith(":" + port_hex):
                    listening.append(local.split(":")[0])
    assert listening == ["0100007F"], listening


def test_port_in_use_is_a_clean_error(echo_ui, index_copy, netguard_log):
    r = run_tutor(["ui", "--port", str(echo_ui.port)], index_copy, netguard_log,
                  env_extra={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, timeout=120)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert f"Cannot serve on 127.0.0.1:{echo_ui.port}" in err and "--port" in err and "Traceback" not in err


def test_help_explains_the_options(netguard_log):
    r = run_tutor(["ui", "--help"], None, netguard_log)
    out = r.stdout.decode()
    assert r.returncode == 0 and "--host" in out and "--port" in out and "--share" in out and "127.0.0.1" in out


# -- the Learn view and Socratic mode (echo LLM: quiz questions fall back to fill-in-the-blanks) ------------------
def _item_id(question_html: str) -> str:
    m = re.search(r"Item (q-[0-9a-f]{10})", question_html)
    assert m, question_html
    return m.group(1)


def _stored_item(data_dir: Path, item_id: str):
    from tutor.knowledge.layers import Taxonomy
    from tutor.learning.progress import ProgressStore

    return ProgressStore(data_dir / "progress.sqlite", Taxonomy.load(ROOT / "corpus")).item(item_id)


def _attempts(data_dir: Path, learner: str) -> int:
    if not (data_dir / "progress.sqlite").exists():
        return 0
    with sqlite3.connect(data_dir / "progress.sqlite") as db:
        return db.execute("SELECT count(*) FROM attempts WHERE learner = ?", (learner,)).fetchone()[0]


def _row(mastery_html: str, layer: int) -> str:
    """One layer's row of the mastery chart (so a count can't be read off a neighbouring row)."""
    m = re.search(rf'<div class="m-row[^"]*" id="m-{layer}".*?</div>', mastery_html)
    assert m, mastery_html[:500]
    return m.group(0)


def _title(doc: str) -> str:
    from tutor.knowledge.corpus import load_manifest

    return {d.file: d.title for d in load_manifest(ROOT / "corpus")}[doc]


def test_learn_quiz_grades_with_the_cited_span_and_progress_survives_a_restart(index_copy, tmp_path, netguard_log,
                                                                              fake_llm):
    data = index_copy
    env = {"OPENAI_BASE_URL": fake_llm.url, "TUTOR_LLM_TIMEOUT": "20"}
    server = start_ui(data, netguard_log, env, tmp_path / "ui1.log")
    try:
        c = server.client()
        job = c.submit("ada", "L3 · AI Chips & Accelerators", "mcq", 2, api_name="/quiz")
        question, choices, _answer, _fb, mastery, step = job.result(timeout=300)
        assert any("Writing question" in str(o[0]) for o in job.outputs()), "quiz generation shows progress"
        assert "Question 1 of 2" in question and "L3 · AI Chips &amp; Accelerators" in question
        item = _stored_item(data, _item_id(question))
        shown = [ch[0] for ch in choices["choices"]]
        assert sorted(shown) == sorted(item.choices) and choices["visible"]
        assert "Next: " not in step and "L1 · Raw Materials" in step  # the path for a new learner

        fb, mastery, step = c.predict(None, "", api_name="/grade")  # nothing chosen: an error, nothing recorded
        assert "tutor-error" in fb and "empty" in fb and _attempts(data, "ada") == 0
        fb, mastery, step = c.predict(item.answer, "", api_name="/grade")
        assert "Correct" in fb and html.escape(item.span) in fb and "cite-chip" in fb and "L3 · AI Chips" in fb
        assert html.escape(_title(item.doc)) in fb  # the span's document, by title
        # one card of the three a layer needs: recall 100 % now, times coverage 1/3
        assert "1 answer<" in _row(mastery, 3) and 'aria-valuenow="33"' in _row(mastery, 3)
        assert _attempts(data, "ada") == 1 and "0 answers<" in _row(mastery, 2)
        again, *_ = c.predict(item.answer, "", api_name="/grade")  # one grade per question: a retry doesn't count
        assert "grade stands" in again and _attempts(data, "ada") == 1

        question2, choices2, *_ = c.predict(api_name="/next_question")
        item2 = _stored_item(data, _item_id(question2))
        assert "Question 2 of 2" in question2 and item2.id != item.id
        wrong = next(ch for ch in item2.choices if ch != item2.answer)
        fb, mastery, *_ = c.predict(wrong, "", api_name="/grade")
        assert "Not quite" in fb and html.escape(item2.answer) in fb and html.escape(item2.span) in fb
        assert "L3 · AI Chips &amp; Accelerators</span>" in fb and "2 answers<" in _row(mastery, 3)
        assert _attempts(data, "ada") == 2
        done, *_ = c.predict(api_name="/next_question")
        assert "Quiz finished: 1 of 2 right" in done

        # another session, another learner: its own quiz and progress
        other = server.client()
        mastery_b, _ = other.predict("bob", api_name="/progress")
        assert "0 answers<" in _row(mastery_b, 3)
        bad, _ = other.predict("../etc", api_name="/progress")
        assert "tutor-error" in bad and "learner name" in bad
    finally:
        assert server.stop() == 0
    server = start_ui(data, netguard_log, env, tmp_path / "ui2.log")  # the same data dir, a new process
    try:
        mastery, step = server.client().predict("ada", api_name="/progress")
        assert "2 answers<" in _row(mastery, 3) and 'aria-valuenow="0"' not in _row(mastery, 3)
        assert "L1 · Raw Materials" in step
    finally:
        assert server.stop() == 0


def test_socratic_switch_gives_a_cited_hint_first(echo_ui):
    client = echo_ui.client()
    chat, _sources, _box = client.predict("What is CoWoS packaging?", "All layers", True, api_name="/respond")
    hint = text_of(chat[-1])
    # a hint built from the documents (facts blanked, cited), not the LLM's answer (the echo server's "You asked")
    assert "___" in hint and "show me" in hint and 'class="cite-chip' in hint and "You asked" not in hint
    chat, sources, _box = client.predict("show me", "All layers", True, api_name="/respond")
    assert "You asked: What is CoWoS packaging?" in text_of(chat[-1])  # the answer to the question, on request
    assert len(chat) == 4 and 'class="src-card cited' in sources
    # the switch off (the default, and what older callers get): a direct answer
    chat, _, _ = echo_ui.client().predict("What is CoWoS packaging?", "All layers", api_name="/respond")
    assert "You asked: What is CoWoS packaging?" in text_of(chat[-1]) and "___" not in text_of(chat[-1])


def watched_page(browser, url: str, height: int):
    """A new page, with the requests it makes outside the tutor at `url` and its script errors recorded."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1440, "height": height})
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((url, "data:", "blob:", "about:")) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, outside, errors


def _learn_in_the_browser(url: str, data: Path, browser) -> None:
    """The Learn tab as a learner uses it (echo LLM: fill-in-the-blank questions, answers graded in code)."""
    page, outside, errors = watched_page(browser, url, 1000)
    page.goto(url)
    page.wait_for_selector("#chat", timeout=60_000)
    page.get_by_role("tab", name="Learn").click()
    page.wait_for_selector("#mastery .m-row", timeout=30_000)
    rows = page.locator("#mastery .m-row .m-name").all_inner_texts()
    assert len(rows) == 14 and rows[0].strip().startswith("14") and rows[-1].strip().startswith("1 ·")  # bottom to top
    learner = "Pat Browser"

    def row(n: int) -> str:
        return page.inner_text(f"#mastery #m-{n}")

    # a bad learner name: said in the Learn view; a good one brings back the chart
    page.fill("#learner input", "../etc")
    page.wait_for_selector("#mastery .tutor-error:has-text('learner name')", timeout=30_000)
    page.fill("#learner input", learner)
    page.wait_for_selector("#mastery #m-3", timeout=30_000)
    assert "0 answers" in row(3) and "L1 · Raw Materials" in page.inner_text("#next-step")
    assert "next" in (page.get_attribute("#mastery #m-1", "class") or "")  # the next step is marked on the chart

    # a short-answer quiz of 2 on L3, with progress while it is written
    page.click("#quiz-layer input")
    page.get_by_role("option", name="L3 · AI Chips & Accelerators").click()
    page.locator("#quiz-kind label", has_text="Short answer").click()
    page.fill("#quiz-n input", "2")
    page.evaluate("""() => { window.__writing = false;
        new MutationObserver(() => { if ((document.querySelector('#quiz-question')?.innerText || '')
            .includes('Writing question')) window.__writing = true; })
        .observe(document.body, { childList: true, subtree: true, characterData: true }); }""")
    page.click("#new-quiz")
    box = page.locator("#quiz-answer textarea, #quiz-answer input").first
    box.wait_for(state="visible", timeout=120_000)
    page.wait_for_selector("#quiz-question .quiz-id", timeout=30_000)
    assert page.evaluate("window.__writing"), "no progress shown while the quiz was written"
    q = page.inner_text("#quiz-question")
    assert "Question 1 of 2" in q and "L3 · AI Chips & Accelerators" in q and "Short answer" in q
    assert not page.locator("#quiz-choices input[type=radio]").count()
    item = _stored_item(data, _item_id(q))
    assert item.layer == 3 and item.kind == "short" and item.answer not in q

    # an empty answer, then one too long: an error in the Learn view, the text stays, nothing is recorded
    page.click("#check")
    page.wait_for_selector("#quiz-feedback .tutor-error:has-text('empty')", timeout=30_000)
    too_long = "HBM stacks DRAM dies. " * 120  # ~2,600 characters; the limit is 2,000
    box.fill(too_long)
    page.click("#check")
    page.wait_for_selector("#quiz-feedback .tutor-error:has-text('2,000')", timeout=30_000)
    assert box.input_value() == too_long
    assert _attempts(data, learner) == 0 and "0 answers" in row(3) and "0%" in row(3)

    # the right answer: graded, the span quoted with its layer chip and document, the chart and next step move
    box.fill(item.answer)
    box.press("Enter")
    page.wait_for_selector("#quiz-feedback .quiz-feedback.right", timeout=60_000)
    fb = page.locator("#quiz-feedback .quiz-feedback")
    assert fb.locator(".verdict").inner_text().startswith("Correct")
    quote = fb.locator("blockquote.span")
    assert " ".join(item.span.split()) in " ".join(quote.inner_text().split())
    chip = quote.locator(".cite-chip")
    assert chip.is_visible() and chip.inner_text() == "L3 · AI Chips & Accelerators"
    assert quote.locator(".span-doc").is_visible() and quote.locator(".span-doc").inner_text() == _title(item.doc)
    page.wait_for_function("() => document.querySelector('#m-3').innerText.includes('1 answer')", timeout=30_000)
    # one card recalled for sure, but one of the three a layer needs for full coverage (FSRS mastery)
    assert page.get_attribute("#m-3 .m-bar", "aria-valuenow") == "33" and "33%" in row(3)
    assert _attempts(data, learner) == 1
    assert "L1 · Raw Materials" in page.inner_text("#next-step")
    page.click("#check")  # the same question again: its grade stands
    page.wait_for_selector("#quiz-feedback .quiz-note", timeout=30_000)
    assert _attempts(data, learner) == 1

    # question 2, answered wrong
    page.click("#next-question")
    page.wait_for_function("() => document.querySelector('#quiz-question').innerText.includes('Question 2 of 2')",
                           timeout=30_000)
    assert box.input_value() == "" and not page.locator("#quiz-feedback .quiz-feedback").count()
    item2 = _stored_item(data, _item_id(page.inner_text("#quiz-question")))
    assert item2.id != item.id
    box.fill("zebra xylophone")
    page.click("#check")
    page.wait_for_selector("#quiz-feedback .quiz-feedback.wrong", timeout=60_000)
    assert item2.answer in page.inner_text("#quiz-feedback")
    page.wait_for_function("() => document.querySelector('#m-3').innerText.includes('2 answers')", timeout=30_000)
    assert _attempts(data, learner) == 2 and int(page.get_attribute("#m-3 .m-bar", "aria-valuenow")) <= 33
    # both answers are review cards now; the wrong one comes back in a minute, so nothing is due yet
    page.wait_for_selector("#review:has-text('Review (0 due)')", timeout=30_000)
    assert page.is_disabled("#review")
    page.screenshot(path=str(ARTIFACTS / "06-learn-graded.png"), full_page=True)
    page.click("#next-question")
    page.wait_for_selector("#quiz-question:has-text('Quiz finished: 1 of 2 right')", timeout=30_000)

    # "Quiz me on it" starts a quiz on the recommended layer
    page.click("#quiz-next-step")
    page.wait_for_function("() => document.querySelector('#quiz-question').innerText.includes('L1 · Raw Materials')",
                           timeout=120_000)
    assert "Question 1 of 2" in page.inner_text("#quiz-question")
    assert "L1 · Raw Materials" in page.input_value("#quiz-layer input")

    # another learner has their own chart; the first one's comes back
    page.fill("#learner input", "Quinn")
    page.wait_for_function("() => document.querySelector('#m-3').innerText.includes('0 answers')", timeout=30_000)
    page.fill("#learner input", learner)
    page.wait_for_function("() => document.querySelector('#m-3').innerText.includes('2 answers')", timeout=30_000)

    # a day later (the wrong answer's card made due in the store): "Review (1 due)", asked like a quiz question
    with sqlite3.connect(data / "progress.sqlite") as db:
        db.execute("UPDATE cards SET due = due - 86400 WHERE item_id = ?", (item2.id,))
    page.fill("#learner input", "Quinn")
    page.wait_for_selector("#review:has-text('Review (0 due)')", timeout=30_000)
    page.fill("#learner input", learner)
    page.wait_for_selector("#review:has-text('Review (1 due)')", timeout=30_000)
    assert "1 due" in row(3)
    page.click("#review")
    page.wait_for_function("() => document.querySelector('#quiz-question').innerText.includes('Review 1 of 1')",
                           timeout=30_000)
    assert _item_id(page.inner_text("#quiz-question")) == item2.id
    box.fill(item2.answer)
    page.click("#check")
    page.wait_for_selector("#quiz-feedback .quiz-feedback.right", timeout=60_000)
    assert "next review in" in page.inner_text("#quiz-feedback")
    page.wait_for_selector("#review:has-text('Review (0 due)')", timeout=30_000)
    assert "1 due" not in row(3) and _attempts(data, learner) == 2  # a review is not a new attempt

    # Socratic mode in the chat: a cited hint first, the answer on "show me"
    page.get_by_role("tab", name="Chat").click()
    page.locator("#socratic input[type=checkbox]").check()
    page.fill("#question textarea", "What is CoWoS packaging?")
    page.click("#send")
    page.wait_for_selector("#chat .message:has-text('show me') a.cite-chip", timeout=120_000)
    assert "You asked" not in page.inner_text("#chat")
    page.fill("#question textarea", "show me")
    page.click("#send")
    page.wait_for_selector("#chat .message:has-text('You asked: What is CoWoS packaging?')", timeout=120_000)
    page.close()
    assert not outside, f"the page reached outside the tutor: {outside[:5]}"
    assert not errors, errors


def test_browser_learn_tab(echo_ui, chromium):
    _learn_in_the_browser(echo_ui.url, echo_ui.log.parent, chromium)


# -- a UI on embedded defaults: a real answer over the API and in a real browser -----------------------------
@pytest.fixture(scope="module")
def real_ui(session_index, tmp_path_factory, netguard_log, model_file):
    data = copy_index(session_index, tmp_path_factory.mktemp("ui-real"))
    server = start_ui(data, netguard_log, {"TUTOR_LLM_MODEL_FILE": str(model_file)}, data / "ui.log")
    yield server
    code = server.stop()
    assert code == 0, server.log.read_text()[-2000:]
    llm_log = data / "logs" / "llm-server.log"
    assert llm_log.exists()  # the embedded server ran…
    left = subprocess.run(["pgrep", "-f", f"llama_cpp.server --model {model_file}.*--port"], capture_output=True)
    mine = [p for p in left.stdout.decode().split() if _cwd_env_has(p, str(data))]
    assert not mine, "the embedded LLM server outlived `tutor ui`"  # …and stopped with it


def _cwd_env_has(pid: str, needle: str) -> bool:
    try:
        return needle.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def test_real_llm_answer_over_the_api(real_ui):
    _, chat, sources, _ = ask(real_ui.client(), "What is CoWoS and why does it matter for AI chips?")
    answer = text_of(chat[-1])
    assert "tutor-error" not in answer and 'class="refusal"' not in answer, answer
    assert 'class="cite-chip' in answer, answer
    assert 'class="src-card cited' in sources and "<mark>" in sources


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        if os.geteuid() != 0:
            pytest.fail("Debian's chromium is missing: `sudo apt-get install -y chromium` (the UI test needs it).")
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, timeout=900,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_browser_end_to_end(real_ui, chromium):
    page, outside, errors = watched_page(chromium, real_ui.url, 900)
    page.goto(real_ui.url)  # never wait for "networkidle": Gradio's queue keeps a stream open
    page.wait_for_selector("#chat", timeout=60_000)
    page.wait_for_selector("#stack-col .layer-btn", timeout=30_000)
    assert page.locator("#stack-col .layer-btn").count() == 14
    labels = page.locator("#stack-col .layer-btn").all_inner_texts()
    assert labels[0].strip().startswith("14") and labels[-1].strip().startswith("1 ")  # bottom to top
    assert "embedded llama.cpp" in page.inner_text("#status") and "all-MiniLM-L6-v2" in page.inner_text("#status")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "01-first-visit.png"))

    page.fill("#question textarea", "What is CoWoS and why does it matter for AI chips?")
    page.click("#send")
    page.wait_for_selector("#chat .tutor-status, #chat .cursor", timeout=60_000)  # it shows progress at once
    page.wait_for_selector("#sources .src-card.cited", timeout=600_000)
    chip = page.locator("#chat a.cite-chip").first
    assert chip.is_visible()
    layer = int(chip.get_attribute("href").rsplit("-L", 1)[1])
    page.screenshot(path=str(ARTIFACTS / "02-answer.png"))

    chip.click()
    card = page.locator(f'#sources .src-card[data-anchor="src-t0-L{layer}"]').first
    page.wait_for_function("el => el.classList.contains('flash')", arg=card.element_handle(), timeout=5_000)
    assert card.is_visible() and card.locator("mark").count() >= 1
    assert f"L{layer} ·" in card.inner_text()

    btn = page.locator(f"#layer-{layer}")
    assert "touched" in (btn.get_attribute("class") or "")  # the map marks the cited layer
    page.click("#layer-3")
    page.wait_for_selector("#layer-detail:has-text('AI Chips & Accelerators')", timeout=10_000)
    page.wait_for_selector("#ask-layer", state="visible", timeout=10_000)
    assert "selected" in (page.locator("#layer-3").get_attribute("class") or "")
    assert "L3 · AI Chips" in (page.get_attribute("#question textarea", "placeholder") or "")
    page.click("#only-layer")
    page.wait_for_function("() => document.querySelector('#scope input').value.includes('L3 ·')", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "03-layer-and-sources.png"))

    # a question that is too long: a readable error in the chat, the text stays in the box, the page works on
    long_q = "Explain HBM. " * 400
    page.fill("#question textarea", long_q)
    page.click("#send")
    page.wait_for_selector("#chat .tutor-error", timeout=60_000)
    assert page.input_value("#question textarea").strip() == long_q.strip()
    page.screenshot(path=str(ARTIFACTS / "04-error.png"))

    # "Try next" asks the suggested question (checked as far as the question being sent)
    page.fill("#question textarea", "")
    suggestion = page.locator("#chat .try-next").first
    suggested = suggestion.inner_text().removeprefix("Try next:").strip()
    assert suggested
    suggestion.click()
    page.wait_for_function("q => [...document.querySelectorAll('#chat [data-testid=user]')].some("
                           "m => m.innerText.includes(q))", arg=suggested, timeout=30_000)

    # another browser session starts empty: no history is shared
    other = chromium.new_page(viewport={"width": 1280, "height": 800})
    other.goto(real_ui.url)
    other.wait_for_selector("#chat", timeout=60_000)
    other.wait_for_timeout(1000)
    assert other.locator("#chat .cite-chip").count() == 0 and other.locator("#sources .src-card").count() == 0
    other.close()

    # the Learn view: a quiz on L3, a graded answer with its cited span, the mastery chart and the next step
    page.get_by_role("tab", name="Learn").click()
    page.wait_for_selector("#mastery .m-row", timeout=30_000)
    assert page.locator("#mastery .m-row").count() == 14 and "Raw Materials" in page.inner_text("#next-step")
    page.click("#quiz-layer input")
    page.get_by_role("option", name="L3 · AI Chips & Accelerators").click()
    page.click("#new-quiz")
    page.wait_for_selector("#quiz-choices input[type=radio]", timeout=300_000)
    assert "Question 1 of 3" in page.inner_text("#quiz-question")
    page.click("#check")  # nothing chosen yet: an error, nothing counted
    page.wait_for_selector("#quiz-feedback .tutor-error", timeout=30_000)
    assert "0 answers" in page.inner_text("#m-3") and _attempts(real_ui.log.parent, "learner") == 0
    page.locator("#quiz-choices label").first.click()
    page.click("#check")
    page.wait_for_selector("#quiz-feedback .verdict", timeout=120_000)
    chip = page.locator("#quiz-feedback blockquote.span .cite-chip")
    assert chip.is_visible() and chip.inner_text().startswith("L3 ·")
    assert page.locator("#quiz-feedback blockquote.span .span-doc").is_visible()
    page.wait_for_function("() => document.querySelector('#m-3').innerText.includes('1 answer')", timeout=30_000)
    assert _attempts(real_ui.log.parent, "learner") == 1 and "L1 · Raw Materials" in page.inner_text("#next-step")
    page.screenshot(path=str(ARTIFACTS / "05-learn.png"), full_page=True)
    page.close()
    assert not outside, f"the page reached outside the tutor: {outside[:5]}"
    assert not errors, errors

