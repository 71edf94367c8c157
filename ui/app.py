"""The browser UI: a thin Gradio layer over `TutorApp` (no retrieval or prompt logic lives here).

Layout: the stack map (14 layers, bottom to top) on the left, the chat in the middle, the sources of
each answer on the right. Each browser session keeps its own conversation in `gr.State`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from tutor.app import TutorApp
from tutor.errors import TutorError
from ui import render
from ui.render import Session, Turn

ASSETS = Path(__file__).resolve().parent / "assets"
N_EXAMPLES = 4
EXAMPLE_LAYERS = (3, 2, 12, 5)  # first-visit questions: chips, fabs, serving, power
ALL_LAYERS = "All layers"


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

    def respond(message: str, scope: str, session: Session | None, selected: int | None):
        """Ask the tutor; streams the answer into the chat, then fills the sources panel and marks the map.

        `scope` is "All layers" or one layer ("L3 · AI Chips & Accelerators"): retrieval searches only there.
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
        for kind, payload in app.tutor.stream(text, session.history, layer=layer):
            if kind == "status" and not answer:
                session.chat[-1] = {"role": "assistant", "content": render.status_html(payload)}
            elif kind == "token":
                answer += payload
                session.chat[-1] = {"role": "assistant", "content": render.answer_html(answer, turn, streaming=True)}
            elif kind == "answer":
                answer = payload
                session.chat[-1] = {"role": "assistant", "content": render.answer_html(answer, turn, streaming=True)}
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
        session.chat[-1] = {"role": "assistant", "content": render.answer_html(reply.answer, turn, reply.refused)}
        session.turns.append(Turn(text, reply))
        session.history = [*session.history, {"role": "user", "content": text},
                           {"role": "assistant", "content": reply.answer}]
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

    with gr.Blocks(title="Stack Tutor · learn the AI stack", fill_width=True) as demo:
        session = gr.State(None)
        selected = gr.State(None)
        with gr.Row(elem_id="topbar"):
            gr.HTML('<div class="brand"><span class="logo">▤</span><div><h1>Stack Tutor</h1>'
                    "<p>Learn the 14 layers of the AI stack, from raw materials to applications. "
                    "Every answer cites the layer it comes from.</p></div></div>")
            status_html = gr.HTML(status(), elem_id="status")
        with gr.Row(elem_id="main", equal_height=False):
            with gr.Column(scale=2, min_width=250, elem_id="stack-col"):
                gr.HTML('<div class="panel-title">The stack</div><div class="legend"><span class="g-app">applications'
                        '</span><span class="g-model">models</span><span class="g-sys">systems</span>'
                        '<span class="g-hw">hardware</span></div>')
                layer_buttons = [gr.Button(render.layer_button_label(lay), size="sm", elem_id=f"layer-{lay.number}",
                                           elem_classes=render.layer_classes(lay.number, set(), None))
                                 for lay in reversed(layers)]
                detail = gr.Markdown(render.layer_detail_md(None, 0, False), elem_id="layer-detail",
                                     sanitize_html=True)
                with gr.Column(visible=False, elem_id="layer-actions") as layer_actions:
                    ask_layer = gr.Button("Ask about this layer", size="sm", variant="secondary", elem_id="ask-layer")
                    only_layer = gr.Button("Search only this layer", size="sm", variant="secondary",
                                           elem_id="only-layer")
            with gr.Column(scale=5, min_width=420, elem_id="chat-col"):
                chatbot = gr.Chatbot(label="Conversation", elem_id="chat", height=600, show_label=False,
                                     buttons=["copy"],
                                     placeholder=("### Ask me about the AI stack\nHow chips are made, why networking "
                                                  "limits training, what inference costs… I answer from three "
                                                  "documents and cite the layer behind every fact."),
                                     examples=_examples(app), feedback_options=None, sanitize_html=True,
                                     layout="bubble", autoscroll=True)
                with gr.Row(elem_id="composer"):
                    box = gr.Textbox(label="Question", placeholder="Ask a question about any layer of the AI stack…",
                                     show_label=False,
                                     lines=1, max_lines=6, scale=8, container=False, elem_id="question",
                                     autofocus=True, submit_btn=False)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="send")
                with gr.Row(elem_id="composer-options"):
                    scope = gr.Dropdown([(f"Search: {x}", x) for x in scopes], value=ALL_LAYERS,
                                        label="Search in", elem_id="scope", scale=3, min_width=200, container=False)
                    reset = gr.Button("New chat", variant="secondary", scale=1, min_width=100,
                                      elem_id="reset")
            with gr.Column(scale=3, min_width=320, elem_id="sources-col"):
                gr.HTML('<div class="panel-title">Sources</div>')
                sources = gr.HTML(render.sources_html(None, titles), label="Sources", elem_id="sources", padding=False)

        outputs = [chatbot, sources, box, session, *layer_buttons]
        ask = dict(fn=respond, inputs=[box, scope, session, selected], outputs=outputs,
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
    return demo


def launch(app: TutorApp, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           block: bool = True) -> gr.Blocks:
    demo = build(app)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, share=share, inbrowser=False, quiet=True, show_error=False,
                prevent_thread_lock=not block, theme=_theme(), css=(ASSETS / "style.css").read_text(),
                js=(ASSETS / "tutor.js").read_text(), footer_links=[], ssr_mode=False, pwa=False, mcp_server=False)
    return demo
