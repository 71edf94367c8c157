"""HTML for the browser UI, made from the tutor's public types. Pure functions: no Gradio, no retrieval.

Everything that came from a learner or a model is HTML-escaped here before our own markup (citation
chips, highlighted quotes) is added, so an answer can never inject markup into the page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from tutor import labels
from tutor.errors import TutorError
from tutor.labels import Segment
from tutor.learning.schedule import describe_wait
from tutor.types import Layer, Reply

MAX_SHOWN_QUESTION = 600  # characters of a (huge) question echoed back in the chat


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def layer_group(n: int) -> str:
    """The four bands of the stack, for colour: hardware, systems, models, applications."""
    return "hw" if n <= 5 else "sys" if n <= 8 else "model" if n <= 12 else "app"


@dataclass
class Turn:
    question: str
    reply: Reply


@dataclass
class Session:
    """One browser session's conversation. Lives in `gr.State`, so sessions never share it."""

    history: list[dict] = field(default_factory=list)  # what the tutor sees: [{"role", "content"}]
    chat: list[dict] = field(default_factory=list)  # what the chat shows: rendered messages
    turns: list[Turn] = field(default_factory=list)

    @property
    def touched(self) -> set[int]:
        """Layers the conversation's answers cited."""
        return {c.layer for t in self.turns for c in t.reply.citations}


# -- chat messages -------------------------------------------------------------------------------------
def user_html(question: str) -> str:
    shown = question if len(question) <= MAX_SHOWN_QUESTION else (
        question[:MAX_SHOWN_QUESTION] + f"… ({len(question):,} characters)")
    return esc(shown)


def chip(layer: int, layer_name: str, turn: int) -> str:
    """A layer citation as a chip that opens the cited passage in the sources panel."""
    return (f'<a class="cite-chip g-{layer_group(layer)}" href="#src-t{turn}-L{layer}" data-turn="{turn}" '
            f'data-layer="{layer}" title="Show the cited passage">{esc(labels.label(layer, layer_name))}</a>')


def body_html(segments: list[Segment], turn: int) -> str:
    """An answer's body: its text escaped, its citations as chips."""
    return "".join(esc(s.text) if s.layer is None else chip(s.layer, s.layer_name or "", turn) for s in segments).strip()


def answer_html(segments: list[Segment], turn: int, refused: bool = False, streaming: bool = False,
                suggestion: str | None = None, invitation: str = "") -> str:
    out = body_html(segments, turn)
    if refused:
        out = f'<div class="refusal">{out}</div>'
    if invitation:
        out += f'\n\n<p class="invitation">{esc(invitation)}</p>'
    if streaming:
        out += '<span class="cursor">▍</span>'
    if suggestion:
        out += (f'\n\n<button class="try-next" data-question="{esc(suggestion)}" title="Ask this next">'
                f'Try next: {esc(suggestion)}</button>')
    return out


def reply_html(reply: Reply, turn: int) -> str:
    """A finished answer, composed from the reply's fields."""
    return answer_html(reply.segments, turn, reply.refused, suggestion=reply.suggestion, invitation=reply.invitation)


def streaming_html(body_so_far: str, turn: int) -> str:
    """The body while it streams in (its citations already rewritten as labels by the tutor)."""
    return answer_html(labels.segments(body_so_far), turn, streaming=True)


def status_html(text: str) -> str:
    return f'<span class="tutor-status">{esc(text)}</span>'


def error_html(err: TutorError) -> str:
    hint = f'<div class="hint">{esc(err.hint)}</div>' if err.hint else ""
    return f'<div class="tutor-error"><strong>I couldn\'t answer that.</strong> {esc(err.message)}{hint}</div>'


# -- the sources panel ---------------------------------------------------------------------------------
def highlighted(text: str, quote: str) -> str:
    """The passage, escaped, with the quoted span marked (the quote is verbatim, checked by the tutor)."""
    i = text.find(quote) if quote else -1
    if i < 0:
        return esc(text)
    return f"{esc(text[:i])}<mark>{esc(quote)}</mark>{esc(text[i + len(quote):])}"


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _card(anchor: str, layer: int, layer_name: str, doc_title: str, body: str, cited: bool) -> str:
    return (f'<div class="src-card{" cited" if cited else ""} g-{layer_group(layer)}" data-anchor="{anchor}">'
            f'<div class="src-head"><span class="src-layer">L{layer} · {esc(layer_name)}</span>'
            f'<span class="src-doc">{esc(doc_title)}</span></div>'
            f'<div class="src-text">{body}</div></div>')


def _how(reply: Reply) -> str:
    steps = []
    for t in reply.tool_calls:
        if t.name == "search_corpus":
            q = t.arguments.get("query") or reply.search_query
            layer = t.arguments.get("layer")
            where = f" in layer {layer}" if layer else ""
            steps.append(f"searched{where} for “{esc(_clip(str(q), 90))}”")
        elif t.name == "calculator":
            expr = esc(_clip(str(t.arguments.get("expression", "")), 80))
            steps.append(f"calculated {expr} = {esc(_clip(t.result, 60))}" if not t.error
                         else f"tried to calculate {expr} (error)")
    return " · ".join(steps)


def turn_sources(turn: int, t: Turn, titles: dict[str, str], open_: bool) -> str:
    r = t.reply
    by_id = {p.chunk_id: p for p in r.passages}
    cards: list[str] = []
    seen: set[str] = set()
    for c in r.citations:
        if c.chunk_id in seen:
            continue
        seen.add(c.chunk_id)
        quotes = [x.quote for x in r.citations if x.chunk_id == c.chunk_id]
        p = by_id.get(c.chunk_id)
        body = highlighted(p.text, quotes[0]) if p else f"<mark>{esc(c.quote)}</mark>"
        if p:
            for q in quotes[1:]:  # a second quote from the same passage: mark it too (it is verbatim there)
                eq = esc(q)
                if eq in body and f"<mark>{eq}" not in body:
                    body = body.replace(eq, f"<mark>{eq}</mark>", 1)
        cards.append(_card(f"src-t{turn}-L{c.layer}", c.layer, c.layer_name, titles.get(c.doc, c.doc), body, True))
    others = [p for p in r.passages if p.chunk_id not in seen]
    if r.refused:
        note = '<p class="src-note">Nothing in the documents answers this, so nothing is cited.'
        note += " The nearest passages are below.</p>" if others else "</p>"
    elif not cards:
        note = '<p class="src-note">This answer has no citation: treat it with care.</p>'
    else:
        note = ""
    extra = ""
    if others:
        extra = (f'<details class="src-more"><summary>Also read, not cited ({len(others)})</summary>'
                 + "".join(_card(f"src-t{turn}-x", p.layer, p.layer_name, titles.get(p.doc, p.doc), esc(p.text), False)
                           for p in others) + "</details>")
    how = _how(r)
    how_html = f'<p class="src-how">How I answered: {how}</p>' if how else ""
    return (f'<details class="src-turn" data-turn="{turn}"{" open" if open_ else ""}>'
            f'<summary><span class="src-q">{esc(_clip(t.question, 110))}</span>'
            f'<span class="src-count">{len(cards)} cited</span></summary>'
            f"{note}{''.join(cards)}{extra}{how_html}</details>")


def sources_html(session: Session | None, titles: dict[str, str]) -> str:
    if session is None or not session.turns:
        return ('<div class="src-empty"><p><strong>Sources appear here.</strong></p>'
                "<p>Every answer cites the layer of the stack each fact comes from. Click a citation chip "
                "to see the passage, with the quoted words highlighted.</p></div>")
    last = len(session.turns) - 1
    return "".join(turn_sources(i, session.turns[i], titles, i == last) for i in range(last, -1, -1))


# -- the stack map -------------------------------------------------------------------------------------
def scope_label(layer: Layer) -> str:
    return layer.label


def layer_button_label(layer: Layer) -> str:
    return f"{layer.number:>2}  {layer.name}"


def layer_classes(n: int, touched: set[int], selected: int | None) -> list[str]:
    classes = ["layer-btn", f"g-{layer_group(n)}"]
    if n in touched:
        classes.append("touched")
    if n == selected:
        classes.append("selected")
    return classes


def layer_detail_md(layer: Layer | None, chunks: int, touched: bool) -> str:
    if layer is None:
        return ("**The AI stack, bottom to top.** Pick a layer to read what it covers, ask about it, "
                "or keep answers to it. Layers your answers cite are marked ●.")
    seen = " · cited in this conversation" if touched else ""
    return f"**L{layer.number} · {esc(layer.name)}**\n\n{esc(layer.summary)}\n\n<small>{chunks} passages{seen}</small>"


def status_line(info: dict[str, str]) -> str:
    parts = [("LLM", info.get("llm", "?")), ("Embedder", info.get("embedder", "?")), ("Index", info.get("index", "?"))]
    return '<div class="status-line">' + "".join(
        f'<span><b>{esc(k)}</b> {esc(v)}</span>' for k, v in parts) + "</div>"


# -- the Learn view -------------------------------------------------------------------------------------
def quiz_question_html(item, pos: int, total: int, label: str, what: str = "Question") -> str:
    """One quiz question (never its answer or span), with its place in the quiz (or review) and its item id."""
    g = layer_group(item.layer)
    kind = "Multiple choice" if item.kind == "mcq" else "Short answer"
    return (f'<div class="quiz-q g-{g}"><div class="quiz-meta"><span class="quiz-pos">{esc(what)} {pos} of {total}</span>'
            f'<span class="cite-chip">{esc(label)}</span><span>{kind}</span>'
            f'<span class="quiz-id">Item {esc(item.id)}</span></div>'
            f'<div class="quiz-text">{esc(item.question)}</div></div>')


def next_review_note(result, now) -> str:
    """After a review: the FSRS rating it became and when the card comes back ("Rated good: next review in 4 days.")."""
    if result.repeat:
        return "This card was reviewed meanwhile (another window or process): that review counts. Go on with “Next question”."
    return f"Rated {result.rating}: next review {describe_wait(result.due - now)}."


def nothing_due_text(queue, now) -> str:
    """What the review mode says when no card is due: when the next one is, or how cards come to be."""
    if not queue.known:
        return "No cards yet: every question you answer in a quiz becomes a card to review. Start a quiz first."
    if queue.next_due is None:
        return "No cards are due, and none is waiting."
    return f"No cards are due: the next review is {describe_wait(queue.next_due - now)}. Take a new quiz meanwhile."


def quiz_status_html(text: str) -> str:
    return f'<div class="quiz-q"><span class="tutor-status">{esc(text)}</span></div>'


def quiz_error_html(err: TutorError | str) -> str:
    return f'<div class="tutor-error">⚠ {esc(str(err))}</div>'


def feedback_html(grade, doc_title: str, note: str = "") -> str:
    """A grade: right / partly / not quite, the feedback, and the span it was graded against, cited."""
    verdict, cls = {"correct": ("Correct", "right"), "partly": ("Partly right", "partly"),
                    "wrong": ("Not quite", "wrong")}[grade.verdict]
    why = grade.missing.rstrip(".")
    if grade.verdict == "correct":
        feedback = f"Correct: {grade.answer}."
    elif grade.verdict == "partly":
        feedback = f"Partly right. The answer is {grade.answer}." + (f" Missing: {why}." if why else "")
    else:
        feedback = f"Not quite{f' ({why})' if why else ''}. The answer is {grade.answer}."
    if grade.repeat and not note:
        note = "You have answered this question: its grade stands. Go on with “Next question”."
    g = layer_group(grade.layer)
    note_html = f'<p class="quiz-note">{esc(note)}</p>' if note else ""
    return (f'<div class="quiz-feedback {cls}"><div class="verdict">{verdict} · score {grade.score:g}</div>'
            f"{note_html}<p>{esc(feedback)}</p>"
            f'<blockquote class="span g-{g}">“{esc(grade.span)}”<div class="span-source"><span class="cite-chip">'
            f'{esc(grade.label)}</span> <span class="span-doc">{esc(doc_title)}</span></div></blockquote></div>')


def mastery_html(rows: list[dict], next_layer: int | None = None) -> str:
    """Mastery per layer as bars over the stack (L14 at the top, like the stack map): %, answers, cards due now and
    retention (FSRS's mean expected recall of the layer's cards), ✔ when mastered.

    `next_layer` (the learning path's next step) is outlined.
    """
    out = ['<div class="mastery"><div class="panel-title">Your mastery of the stack</div>']
    for r in reversed(rows):
        n, pct, attempts = r["layer"], round(r["mastery"] * 100), r["attempts"]
        classes = f"m-row g-{layer_group(n)}" + (" done" if r["mastered"] else "")
        classes += " next" if n == next_layer else ""
        mark = '<b class="m-mark" title="mastered">✔</b> ' if r["mastered"] else ""
        due, cards = r.get("due", 0), r.get("cards", 0)
        tip = f"L{n} · {r['name']}: mastery {pct}%, {attempts} answer{'s' if attempts != 1 else ''}"
        if cards:
            tip += f", {cards} card{'s' if cards != 1 else ''}, retention {round(r.get('retention', 0.0) * 100)}%"
            tip += f", {due} due now" if due else ""
        classes += " due" if due else ""
        due_html = f' · <b class="m-due" title="cards due for review">{due} due</b>' if due else ""
        tip += " · mastered" if r["mastered"] else " · study next" if n == next_layer else ""
        out.append(f'<div class="{classes}" id="m-{n}" title="{esc(tip)}">'
                   f'<span class="m-name">{n:>2} · {esc(r["name"])}</span>'
                   f'<span class="m-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
                   f'aria-valuenow="{pct}" aria-label="L{n} mastery"><span style="width:{pct}%"></span></span>'
                   f'<span class="m-val">{pct}%</span>'
                   f'<span class="m-state">{mark}{attempts} answer{"s" if attempts != 1 else ""}{due_html}</span></div>')
    out.append("</div>")
    return "".join(out)


def next_step_html(step: dict) -> str:
    g = layer_group(step["layer"])
    return (f'<div class="next-step g-{g}"><div class="panel-title">Study next</div>'
            f'<div class="ns-layer">L{step["layer"]} · {esc(step["name"])}</div><p>{esc(step["reason"])}</p></div>')
