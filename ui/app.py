"""The browser UI: a thin Gradio layer over `TutorApp` (no retrieval or prompt logic lives here).

Two tabs. Chat: the stack map (14 layers, bottom to top) on the left, the chat in the middle (with a
Socratic-mode switch), the sources of each answer on the right. Learn: a quiz on a layer, one question at a
time, graded against its passage (shown, cited), or a review of the cards FSRS says are due ("Review (N due)",
the same one-question flow, each answer rescheduling its card), the learner's mastery, retention and due cards
over the stack and the next layer to study (`TutorApp.coach`). Each browser session keeps its own conversation and quiz in `gr.State`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from tutor import streaming
from tutor.app import TutorApp
from tutor.errors import TutorError
from tutor.streaming import as_error
from ui import render
from ui.render import Session, Turn

ASSETS = Path(__file__).resolve().parent / "assets"
N_EXAMPLES = 4
MAX_REVIEW_SESSION = 10  # due cards asked per "Review" session (the rest wait for the next one)
EXAMPLE_LAYERS = (3, 2, 12, 5)  # first-visit questions: chips, fabs, serving, power
ALL_LAYERS = "All layers"
RECOMMENDED = "Recommended next"


@dataclass
class QuizState:
    """One browser session's quiz: its items (answers stay server-side), where the learner is, and the grades."""

    learner: str = ""
    items: list = field(default_factory=list)
    pos: int = 0
    graded: dict = field(default_factory=dict)  # item id -> Grade
    review: bool = False  # a review of due cards (graded and rescheduled by FSRS), not a new quiz
    versions: dict = field(default_factory=dict)  # item id -> the card's version when it was asked (review)

    @property
    def current(self):
        return self.items[self.pos] if 0 <= self.pos < len(self.items) else None


def _theme() -> gr.themes.Base:
    # System fonts only: a Google font would make the browser reach the internet.
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="amber", neutral_hue="slate",
        font=["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def _examples(app: TutorApp) -> list[dict]:
    items = app.tutor.suggestions.items if app.tutor.suggestions else []
    picks = [next((s.question for s in items if s.layer == n), None) for n in EXAMPLE_LAYERS]
    return [{"text": q} for q in picks if q][:N_EXAMPLES]


def _bind(fn, n: int):
    def handler(session: Session | None):
        return fn(n, session)

    return handler


def build(app: TutorApp) -> gr.Blocks:
    """The Blocks app for one TutorApp (shared by every session; each session's state is its own)."""
    layers = list(app.taxonomy)
    by_number = {layer.number: layer for layer in layers}
    counts = {d["layer"]: d["chunks"] for d in app.layer_overview()}
    titles = app.document_titles
    concurrency = app.llm_concurrency

    def buttons(session: Session | None, selected: int | None) -> list:
        touched = session.touched if session else set()
        return [gr.Button(elem_classes=render.layer_classes(lay.number, touched, selected))
                for lay in reversed(layers)]

    scopes = {ALL_LAYERS: None, **{render.scope_label(layer): layer.number for layer in layers}}

    def respond(message: str, scope: str, session: Session | None, selected: int | None, socratic: bool = False):
        """Ask the tutor; streams the answer into the chat, then fills the sources panel and marks the map.

        `scope` is "All layers" or one layer ("L3 · AI Chips & Accelerators"): retrieval searches only there.
        `socratic`: hints first; the learner's next message (a try, or "show me") gets the answer.
        """
        session = session or Session()
        text = message if isinstance(message, str) else ""
        skip_map = [gr.skip()] * len(layers)
        if not text.strip():
            yield session.chat, gr.skip(), gr.skip(), session, *skip_map
            return
        turn = len(session.turns)
        layer = scopes.get(scope)
        session.chat = [*session.chat, {"role": "user", "content": render.user_html(text)},
                        {"role": "assistant", "content": render.status_html("Reading the documents…")}]
        yield session.chat, gr.skip(), "", session, *skip_map
        answer = ""
        reply = error = None
        for kind, payload in app.tutor.stream(text, session.history, layer=layer, socratic=bool(socratic)):
            if kind == "status" and not answer:
                session.chat[-1] = {"role": "assistant", "content": render.status_html(payload)}
            elif kind == "token":
                answer += payload
                session.chat[-1] = {"role": "assistant", "content": render.streaming_html(answer, turn)}
            elif kind == "answer":
                answer = payload
                session.chat[-1] = {"role": "assistant", "content": render.streaming_html(answer, turn)}
            elif kind == "reply":
                reply = payload
            elif kind == "error":
                error = payload
            else:
                continue
            if kind in ("status", "token", "answer"):
                yield session.chat, gr.skip(), gr.skip(), session, *skip_map
        if reply is None:
            err = error or TutorError("The tutor stopped without an answer.", "Please ask again.")
            session.chat[-1] = {"role": "assistant", "content": render.error_html(err)}
            # The question goes back into the box, so nothing the learner typed is lost.
            yield session.chat, gr.skip(), text, session, *skip_map
            return
        session.chat[-1] = {"role": "assistant", "content": render.reply_html(reply, turn)}
        session.turns.append(Turn(text, reply))
        session.history = [*session.history, {"role": "user", "content": text}, reply.history_entry()]
        yield session.chat, render.sources_html(session, titles), gr.skip(), session, *buttons(session, selected)

    def clear(selected: int | None):
        session = Session()
        return [], render.sources_html(None, titles), "", session, *buttons(session, selected)

    def select_layer(n: int, session: Session | None):
        layer = by_number[n]
        touched = session.touched if session else set()
        return (n, render.layer_detail_md(layer, counts.get(n, 0), n in touched),
                gr.Column(visible=True), gr.Textbox(placeholder=f"Ask about L{n} · {layer.name}…"),
                *buttons(session, n))

    def keep_to_layer(selected: int | None) -> str:
        return render.scope_label(by_number[selected]) if selected else ALL_LAYERS

    def layer_question(selected: int | None) -> str:
        if not selected:
            return ""
        return f"What is the {by_number[selected].name} layer of the AI stack, and why does it matter?"

    def example(evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    def status() -> str:
        return render.status_line(app.describe())

    # -- the Learn view -------------------------------------------------------------------------------------
    coach = app.coach
    quiz_layers = {RECOMMENDED: None, **{render.scope_label(layer): layer.number for layer in layers}}

    def board(learner: str):
        """The mastery chart and the next step for `learner` (or an error where the chart goes)."""
        try:
            rows = coach.progress(learner)
            step = coach.next_step(learner, reviews_first=False)  # the study step; due cards: the Review button
            return render.mastery_html(rows, step["layer"]), render.next_step_html(step)
        except Exception as e:  # noqa: BLE001 - a bad name or an unreadable database is shown, never a dead page
            return render.quiz_error_html(as_error(e)), ""

    def show(state: QuizState):
        """The current question and the right answer widget (choices or a text box)."""
        item = state.current
        if item is None:
            return (render.quiz_status_html("Pick a layer and start a quiz."), gr.Radio(visible=False, value=None),
                    gr.Textbox(visible=False, value=""))
        q = render.quiz_question_html(item, state.pos + 1, len(state.items), by_number[item.layer].label,
                                      "Review" if state.review else "Question")
        if item.kind == "mcq":
            return q, gr.Radio(choices=item.choices, value=None, visible=True), gr.Textbox(visible=False, value="")
        return q, gr.Radio(visible=False, value=None), gr.Textbox(visible=True, value="")

    def new_quiz(learner: str, layer_choice: str, kind: str, n: float, state: QuizState | None):
        """Generate a quiz, showing progress as each question is ready (the LLM phrases them: seconds each)."""
        state = state or QuizState()
        count = int(n or 3)
        stream = streaming.events(lambda emit: coach.quiz(learner, quiz_layers.get(layer_choice), count, kind,
                                                          on_item=lambda item: emit("item", item)), name="quiz")
        ready = 0
        # The old quiz is put away while the new one is written, so no answer goes to a question no longer shown.
        state = QuizState(learner=state.learner)
        yield (render.quiz_status_html(f"Writing question 1 of {count} from the documents…"),
               gr.Radio(visible=False, value=None), gr.Textbox(visible=False), "", state, gr.skip(), gr.skip())
        for kind_, payload in stream:
            if kind_ == "item":
                ready += 1
                if ready < count:
                    yield (render.quiz_status_html(f"Writing question {ready + 1} of {count}…"), gr.skip(), gr.skip(),
                           gr.skip(), state, gr.skip(), gr.skip())
                continue
            if kind_ == "error":
                yield (render.quiz_error_html(payload), gr.skip(), gr.skip(), gr.skip(), state, gr.skip(), gr.skip())
                return
            quiz = payload  # ("result", Quiz)
            state = QuizState(learner=quiz.learner, items=quiz.items)
            note = f"Your learning path chose this layer. {quiz.reason}" if quiz.chosen_by_path else ""
            yield (*show(state), render.quiz_status_html(note) if note else "", state, *board(quiz.learner))
            return

    def check(choice: str | None, answer: str, state: QuizState | None):
        """Grade the current answer; an unusable answer is an error shown here, the answer stays and nothing counts."""
        state = state or QuizState()
        item = state.current
        if item is None:
            return render.quiz_error_html("Start a quiz first."), gr.skip(), gr.skip(), state
        given = choice if item.kind == "mcq" else answer
        given = given if given is not None else ""
        note = ""
        try:
            if state.review:
                result = coach.review(item.id, given, state.learner, version=state.versions.get(item.id))
                grade, note = result.grade, render.next_review_note(result, coach.now())
            else:
                grade = coach.grade(item.id, given, state.learner)
        except Exception as e:  # noqa: BLE001 - shown in the Learn view; the answer stays and nothing is recorded
            return render.quiz_error_html(as_error(e)), gr.skip(), gr.skip(), state
        state.graded[item.id] = grade
        return render.feedback_html(grade, titles.get(item.doc, item.doc), note), *board(state.learner), state

    def review_button(learner: str):
        """The review button, with the learner's due count ("Review (3 due)"); off when nothing is due."""
        try:
            n = coach.store.due_count(coach.learner(learner))
        except Exception:  # noqa: BLE001 - a bad name is shown by the chart's own handler
            return gr.Button("Review (0 due)", interactive=False)
        return gr.Button(f"Review ({n} due)", interactive=n > 0)

    def start_review(learner: str, state: QuizState | None):
        """The cards due now, asked one at a time like a quiz (longest due first)."""
        state = state or QuizState()
        try:
            queue = coach.due(learner, MAX_REVIEW_SESSION)
        except Exception as e:  # noqa: BLE001 - a bad name or an unreadable database: shown, nothing changes
            return (render.quiz_error_html(as_error(e)), gr.skip(), gr.skip(), "", state)
        if not queue.cards:
            return (render.quiz_status_html(render.nothing_due_text(queue, coach.now())),
                    gr.Radio(visible=False, value=None), gr.Textbox(visible=False), "", QuizState(learner=queue.learner))
        state = QuizState(learner=queue.learner, items=[c.item for c in queue.cards], review=True,
                          versions={c.item.id: c.version for c in queue.cards})
        more = queue.total_due - len(queue.cards)
        note = f"{more} more due after these." if more > 0 else ""
        return (*show(state), render.quiz_status_html(note) if note else "", state)

    def next_question(state: QuizState | None):
        state = state or QuizState()
        if state.items and state.pos < len(state.items) - 1:
            state.pos += 1
            return (*show(state), "", state)
        done = sum(g.correct for g in state.graded.values())
        what = "Review" if state.review else "Quiz"
        msg = (f"{what} finished: {done} of {len(state.items)} right. "
               "Start another one, or take the recommended next step."
               if state.items else "Pick a layer and start a quiz.")
        return render.quiz_status_html(msg), gr.Radio(visible=False, value=None), gr.Textbox(visible=False), "", state

    def follow_path(learner: str):
        try:
            step = coach.next_step(learner, reviews_first=False)
        except Exception:  # noqa: BLE001 - the quiz that follows shows the error
            return RECOMMENDED
        return render.scope_label(by_number[step["layer"]])

    with gr.Blocks(title="Stack Tutor · learn the AI stack", fill_width=True) as demo:
        session = gr.State(None)
        selected = gr.State(None)
        with gr.Row(elem_id="topbar"):
            gr.HTML('<div class="brand"><span class="logo">▤</span><div><h1>Stack Tutor</h1>'
                    "<p>Learn the 14 layers of the AI stack, from raw materials to applications. "
                    "Every answer cites the layer it comes from.</p></div></div>")
            status_html = gr.HTML(status(), elem_id="status")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat-tab", elem_id="chat-tab"):
                with gr.Row(elem_id="main", equal_height=False):
                    with gr.Column(scale=2, min_width=250, elem_id="stack-col"):
                        gr.HTML('<div class="panel-title">The stack</div><div class="legend">'
                                '<span class="g-app">applications'
                                '</span><span class="g-model">models</span><span class="g-sys">systems</span>'
                                '<span class="g-hw">hardware</span></div>')
                        layer_buttons = [gr.Button(render.layer_button_label(lay), size="sm",
                                                   elem_id=f"layer-{lay.number}",
                                                   elem_classes=render.layer_classes(lay.number, set(), None))
                                         for lay in reversed(layers)]
                        detail = gr.Markdown(render.layer_detail_md(None, 0, False), elem_id="layer-detail",
                                             sanitize_html=True)
                        with gr.Column(visible=False, elem_id="layer-actions") as layer_actions:
                            ask_layer = gr.Button("Ask about this layer", size="sm", variant="secondary",
                                                  elem_id="ask-layer")
                            only_layer = gr.Button("Search only this layer", size="sm", variant="secondary",
                                                   elem_id="only-layer")
                    with gr.Column(scale=5, min_width=420, elem_id="chat-col"):
                        chatbot = gr.Chatbot(label="Conversation", elem_id="chat", height=600, show_label=False,
                                             buttons=["copy"],
                                             placeholder=("### Ask me about the AI stack\nHow chips are made, why "
                                                          "networking limits training, what inference costs… I answer "
                                                          "from three "
                                                          "documents and cite the layer behind every fact."),
                                             examples=_examples(app), feedback_options=None, sanitize_html=True,
                                             layout="bubble", autoscroll=True)
                        with gr.Row(elem_id="composer"):
                            box = gr.Textbox(label="Question",
                                             placeholder="Ask a question about any layer of the AI stack…",
                                             show_label=False,
                                             lines=1, max_lines=6, scale=8, container=False, elem_id="question",
                                             autofocus=True, submit_btn=False)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="send")
                        with gr.Row(elem_id="composer-options"):
                            scope = gr.Dropdown([(f"Search: {x}", x) for x in scopes], value=ALL_LAYERS,
                                                label="Search in", elem_id="scope", scale=3, min_width=200,
                                                container=False)
                            socratic = gr.Checkbox(False, label="Socratic mode (hints first)", elem_id="socratic",
                                                   scale=2, min_width=160, container=False)
                            reset = gr.Button("New chat", variant="secondary", scale=1, min_width=100,
                                              elem_id="reset")
                    with gr.Column(scale=3, min_width=320, elem_id="sources-col"):
                        gr.HTML('<div class="panel-title">Sources</div>')
                        sources = gr.HTML(render.sources_html(None, titles), label="Sources", elem_id="sources",
                                          padding=False)
            with gr.Tab("Learn", id="learn-tab", elem_id="learn-tab"):
                with gr.Row(elem_id="learn", equal_height=False):
                    with gr.Column(scale=5, min_width=420, elem_id="quiz-col"):
                        with gr.Row(elem_id="quiz-options"):
                            learner = gr.Textbox(app.settings.learner, label="Learner", elem_id="learner", scale=2,
                                                 max_lines=1, min_width=140)
                            quiz_layer = gr.Dropdown(list(quiz_layers), value=RECOMMENDED, label="Layer",
                                                     elem_id="quiz-layer", scale=3, min_width=200)
                            quiz_kind = gr.Radio([("Short answer", "short"), ("Multiple choice", "mcq")], value="mcq",
                                                 label="Kind", elem_id="quiz-kind", scale=2, min_width=200)
                            quiz_n = gr.Number(3, label="Questions", minimum=1, maximum=10, precision=0,
                                               elem_id="quiz-n", scale=1, min_width=90)
                        with gr.Row():
                            new_quiz_btn = gr.Button("New quiz", variant="primary", elem_id="new-quiz")
                            review_btn = gr.Button("Review (0 due)", variant="secondary", elem_id="review",
                                                   interactive=False)
                        question = gr.HTML(render.quiz_status_html("Pick a layer and start a quiz."),
                                           label="Question", elem_id="quiz-question", padding=False)
                        choices = gr.Radio([], label="Your answer", visible=False, elem_id="quiz-choices")
                        answer = gr.Textbox(label="Your answer", visible=False, elem_id="quiz-answer", max_lines=4,
                                            placeholder="Type your answer (a guess is fine)…")
                        with gr.Row():
                            check_btn = gr.Button("Check answer", variant="primary", elem_id="check")
                            next_btn = gr.Button("Next question", variant="secondary", elem_id="next-question")
                        feedback = gr.HTML("", label="Feedback", elem_id="quiz-feedback", padding=False)
                    with gr.Column(scale=4, min_width=360, elem_id="progress-col"):
                        mastery0, step0 = board(app.settings.learner)
                        next_step = gr.HTML(step0, label="Next step", elem_id="next-step", padding=False)
                        follow = gr.Button("Quiz me on it", size="sm", variant="secondary", elem_id="quiz-next-step")
                        mastery = gr.HTML(mastery0, label="Mastery", elem_id="mastery", padding=False)

        outputs = [chatbot, sources, box, session, *layer_buttons]
        ask = dict(fn=respond, inputs=[box, scope, session, selected, socratic], outputs=outputs,
                   concurrency_limit=concurrency, concurrency_id="tutor", show_progress="hidden")
        box.submit(**ask, api_name="respond")
        send.click(**ask, api_visibility="private")
        reset.click(clear, inputs=[selected], outputs=outputs, api_name="reset")
        chatbot.clear(clear, inputs=[selected], outputs=outputs, api_visibility="private")
        chatbot.example_select(example, outputs=[box], api_visibility="private").then(**ask, api_visibility="private")
        ask_layer.click(layer_question, inputs=[selected], outputs=[box], api_visibility="private").then(
            **ask, api_visibility="private")
        only_layer.click(keep_to_layer, inputs=[selected], outputs=[scope], api_visibility="private")
        for lay, btn in zip(reversed(layers), layer_buttons, strict=True):
            btn.click(_bind(select_layer, lay.number), inputs=[session],
                      outputs=[selected, detail, layer_actions, box, *layer_buttons], api_visibility="private",
                      show_progress="hidden")
        demo.load(status, outputs=[status_html], api_visibility="private", show_progress="hidden")

        quiz_state = gr.State(None)
        quiz_out = [question, choices, answer, feedback, quiz_state, mastery, next_step]
        start = dict(fn=new_quiz, inputs=[learner, quiz_layer, quiz_kind, quiz_n, quiz_state], outputs=quiz_out,
                     concurrency_limit=concurrency, concurrency_id="tutor", show_progress="hidden")
        due_label = dict(fn=review_button, inputs=[learner], outputs=[review_btn], api_visibility="private",
                         show_progress="hidden")
        new_quiz_btn.click(**start, api_name="quiz").then(**due_label)
        graded = [feedback, mastery, next_step, quiz_state]
        check_btn.click(check, inputs=[choices, answer, quiz_state], outputs=graded, api_name="grade",
                        show_progress="hidden").then(**due_label)
        answer.submit(check, inputs=[choices, answer, quiz_state], outputs=graded, api_visibility="private",
                      show_progress="hidden").then(**due_label)
        review_btn.click(start_review, inputs=[learner, quiz_state],
                         outputs=[question, choices, answer, feedback, quiz_state], api_name="review",
                         show_progress="hidden")
        next_btn.click(next_question, inputs=[quiz_state], outputs=[question, choices, answer, feedback, quiz_state],
                       api_name="next_question", show_progress="hidden")
        learner.change(board, inputs=[learner], outputs=[mastery, next_step], api_name="progress",
                       show_progress="hidden").then(**due_label)
        demo.load(board, inputs=[learner], outputs=[mastery, next_step], api_visibility="private",
                  show_progress="hidden").then(**due_label)
        follow.click(follow_path, inputs=[learner], outputs=[quiz_layer], api_visibility="private").then(
            **{**start, "api_visibility": "private"})
    return demo


def launch(app: TutorApp, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           block: bool = True) -> gr.Blocks:
    demo = build(app)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, share=share, inbrowser=False, quiet=True, show_error=False,
                prevent_thread_lock=not block, theme=_theme(), css=(ASSETS / "style.css").read_text(),
                js=(ASSETS / "tutor.js").read_text(), footer_links=[], ssr_mode=False, pwa=False, mcp_server=False)
    return demo
