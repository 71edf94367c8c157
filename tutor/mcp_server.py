"""The tutor as an MCP server: its tools, the layers and documents as resources, a Socratic prompt.

`build_server(app)` returns an `MCPServer` (the official `mcp` SDK) over one `TutorApp`; `tutor mcp`
runs it over stdio or streamable HTTP, and tests can also connect to it in-process. This is the only
module that imports `mcp`.

Tools:
  * `search`, `calculate`, `list_layers` are the agent's own `Toolbox` methods (`search_corpus`,
    `calculator`, `list_layers`), registered under MCP names: their descriptions, parameter
    descriptions and checks are declared once, in `tutor/tools.py`.
  * `ask` is `Tutor.ask` (the cited answer `tutor ask --json` prints), with a typed history and Socratic mode.
  * `quiz`, `grade`, `review`, `cards`, `progress` are the tutoring service (`TutorApp.coach`): quizzes checked
    against their passages, grades that cite the span, spaced review of answered items (FSRS), flashcards from
    the checked facts, per-layer mastery and the learning path (what `tutor quiz`, `tutor grade`,
    `tutor review`, `tutor cards` and `tutor progress` print with --json).
Resources: `layer://{n}` (a layer's summary and all its passages, JSON) and `doc://{name}` (a corpus
document's text), each also listed one by one. Prompt: `socratic_session(layer)`.

Bad input never stops the server: a `ToolError` or `TutorError` (and an argument that does not match
the schema) becomes a tool result with `isError` and a message saying how to fix the call; a bad
resource URI or prompt argument becomes a protocol error with the same kind of message.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ToolAnnotations
from pydantic import Field, ValidationError
from typing_extensions import NotRequired, TypedDict

import tutor
from tutor import validate
from tutor.answering.tools import Toolbox, ToolError
from tutor.app import TutorApp
from tutor.errors import InvalidInput, TutorError
from tutor.types import N_LAYERS

log = logging.getLogger("tutor.mcp")

INSTRUCTIONS = (
    "stack-tutor teaches the 14 layers of the AI technology stack (1 raw materials ... 14 applications) from a "
    "fixed set of documents, offline. `ask` answers a question with citations to the layer each fact comes "
    "from, or says the documents don't cover it; `search` returns the passages themselves; `calculate` does "
    "exact arithmetic; `list_layers` shows the layers. `quiz` makes a quiz on a layer, `grade` grades the learner's "
    "answer against its passage (and counts it towards their mastery and makes it a review card), `review` lists "
    "the cards due for spaced review and grades an answer to one, `cards` gives flashcards (front, back with its "
    "layer citation), `progress` shows per-layer mastery (what the learner recalls now: it fades without "
    "reviews), cards due and the next step. Read `layer://{n}` for everything on one layer and "
    "`doc://{name}` for a whole document. The `socratic_session` prompt tutors a learner on one layer."
)
LEARNER_FIELD = Field(description="Whose progress this counts towards (1-64 letters, digits, spaces, . _ @ + -); "
                                  "omit for the server's default learner.")
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class ChatMessage(TypedDict):
    """One earlier message of the conversation."""

    role: Annotated[Literal["user", "assistant"], Field(description="Who said it: the learner (user) or the tutor (assistant).")]
    content: Annotated[str, Field(description="What was said.")]
    mode: NotRequired[Annotated[Literal["answer", "hint", "reveal"], Field(
        description="For the tutor's own turns: the `mode` its reply had (ask returns it), so that after a Socratic "
                    "hint the learner's next message is read as their try.")]]


class _Server(MCPServer):
    """MCPServer whose argument errors read as instructions: not a pydantic dump, not an internal error."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        try:
            return await super().call_tool(name, arguments, context)
        except MCPToolError as e:
            if isinstance(e.__cause__, ValidationError):
                raise MCPToolError(_explain(name, e.__cause__)) from e.__cause__
            if str(e).startswith("Unknown tool"):
                tools = ", ".join(t.name for t in await self.list_tools())
                raise MCPToolError(f"{e}. The tools are: {tools}.") from None
            raise

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context=None):
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as e:  # the SDK's own checks: an unknown prompt or a missing argument
            if not str(e).startswith(("Missing required arguments", "Unknown prompt")):
                raise
            raise _bad_param(f"{e}. prompts/list shows each prompt and its arguments.") from None


def _explain(tool: str, err: ValidationError) -> str:
    problems = []
    for e in err.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "arguments"
        if e["type"] == "missing":
            problems.append(f"`{where}` is required")
        else:
            got = e.get("input")
            shown = repr(got) if len(repr(got)) <= 40 else repr(got)[:37] + "..."
            problems.append(f"`{where}`: {e['msg'][:1].lower()}{e['msg'][1:]} (got {type(got).__name__} {shown})")
    return (f"Invalid arguments for {tool}: {'; '.join(problems)}. "
            "Fix them and call again (the tool's input schema lists each parameter and its type).")


def _tool(fn: Callable) -> Callable:
    """`fn` with its own signature and docstring, raising the tutor's errors as MCP tool errors (isError)."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ToolError, TutorError) as e:
            raise MCPToolError(str(e)) from None

    return call


def _bad_param(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message)


def _layer_number(value: str) -> int:
    """A layer number from a URI or prompt argument (text), or a clear protocol error."""
    text = str(value).strip()
    try:
        n = int(text)
    except ValueError:
        raise _bad_param(f"layer must be a whole number from 1 to {N_LAYERS}, not {text[:40]!r}. "
                         "The list_layers tool names them.") from None
    try:
        return validate.layer(n)
    except InvalidInput as e:
        raise _bad_param(str(e)) from None


def build_server(app: TutorApp) -> MCPServer:
    """The MCP server for `app`. Nothing heavy happens here: the index, the embedding model and the LLM
    are used on the first call that needs them."""
    s = app.settings
    server = _Server(name="stack-tutor", title="Stack Tutor", version=tutor.__version__, instructions=INSTRUCTIONS,
                     log_level="WARNING")

    # -- tools: the agent's own functions, under their MCP names ------------------------------------------
    # The same Toolbox class as the agent's, bound with the search default for people and agents (top_k).
    toolbox = Toolbox(app.corpus, k=s.top_k, max_query_chars=s.max_question_chars)

    def add_tool(fn: Callable, name: str, title: str, annotations: ToolAnnotations = _READ_ONLY) -> None:
        server.add_tool(_tool(fn), name=name, title=title, description=inspect.getdoc(fn), annotations=annotations)

    add_tool(toolbox.search_corpus, "search", "Search the documents")
    add_tool(toolbox.calculator, "calculate", "Calculator")
    add_tool(toolbox.list_layers, "list_layers", "The 14 layers")

    def ask(
        question: Annotated[str, Field(description="The learner's question, in their words (any language).")],
        history: Annotated[list[ChatMessage], Field(
            description="The conversation so far, oldest first, so follow-ups like 'and how much power does it "
                        "draw?' are understood. Omit for a new conversation.")] = [],  # noqa: B006 - never mutated
        layer: Annotated[int | None, Field(description="Only use passages of this layer (1-14); omit for all.")] = None,
        socratic: Annotated[bool, Field(
            description="Socratic mode: a new question gets a guiding question and a cited hint instead of the answer "
                        "(mode: hint); send the learner's try, or 'show me', with the history to get the answer "
                        "(mode: reveal).")] = False,
    ) -> dict[str, Any]:
        """Ask the tutor a question about the AI technology stack. It answers only from its documents and cites
        the layer each fact comes from ([L3 · AI Chips & Accelerators]), using the calculator for arithmetic;
        if the documents don't cover the question it says so (refused: true) and names the nearest layers.

        Returns the same object as `tutor ask --json`: question, answer, citations (layer, layer_name,
        chunk_id, doc, quote: a verbatim span of the passage), tool_calls, refused, timings, search_query,
        suggested_question, uncited_sentences, usage. Answers take seconds to minutes on a CPU."""
        # Tutor.ask checks every argument before anything slow: the embedded LLM starts (once, thread-safe in
        # TutorApp) on the first call that needs it.
        return app.tutor.ask(question, history, layer=layer, socratic=socratic).to_json()

    add_tool(ask, "ask", "Ask the tutor", ToolAnnotations(read_only_hint=True, open_world_hint=False))

    # -- tutoring: quizzes, grades, progress ----------------------------------------------------------------

    def quiz(
        layer: Annotated[int | None, Field(description="Layer to quiz on (1-14); omit to follow the learner's "
                                                       "learning path (the recommended next layer).")] = None,
        n: Annotated[int, Field(description="Number of questions, 1-20.")] = 5,
        kind: Annotated[Literal["short", "mcq"], Field(
            description="short: the learner writes a short answer; mcq: four choices, graded exactly.")] = "short",
        learner: Annotated[str | None, LEARNER_FIELD] = None,
    ) -> dict[str, Any]:
        """Make a quiz on one layer of the AI stack from the tutor's documents. Every item was checked against the
        passage that answers it (its `span`, verbatim in chunk `chunk_id`). Items are stored, so `grade` works
        on their `id` later, from any session.

        Returns {"items": [{"id", "layer", "question", "kind", "choices" (list or null), "answer", "chunk_id",
        "doc", "span"}], "layer", "layer_name", "reason" (why this layer, when the learning path chose it)}.
        Show the learner only the question (and choices): `answer` and `span` give the answer away, so keep
        them for after `grade`. Takes a few seconds per question with the embedded LLM."""
        result = app.coach.quiz(learner, layer, n, kind)  # without an LLM, items are fill-in-the-blanks
        return {**result.to_json(), "layer": result.layer, "layer_name": result.layer_name,
                "reason": result.reason or None}

    def grade(
        item_id: Annotated[str, Field(description="The quiz item's id, as `quiz` returned it (q-1a2b3c4d5e).")],
        answer: Annotated[str, Field(description="The learner's answer in their words; for mcq a letter A-D or the "
                                                 "choice's text. At most 2,000 characters.")],
        learner: Annotated[str | None, LEARNER_FIELD] = None,
    ) -> dict[str, Any]:
        """Grade a learner's answer to a quiz item against the passage that answers it, and record it in their
        per-layer mastery. Multiple choice is graded exactly; a short answer in code when it is clear, else by
        the LLM with the passage, checked again against it (instructions inside an answer earn nothing).

        Returns {"item_id", "correct", "score" (0, 0.5 or 1), "feedback" (what was missing, quoting the span
        with its layer citation), "chunk_id", "span"}."""
        return app.coach.grade(item_id, answer, learner).to_json()

    def progress(learner: Annotated[str | None, LEARNER_FIELD] = None) -> dict[str, Any]:
        """A learner's mastery of each of the 14 layers and the next layer to study.

        Returns {"layers": [{"layer", "name", "mastery" (0-1: FSRS's expected recall now of the layer's cards,
        times its coverage; it fades without reviews), "attempts" (answers graded, reviews included), "mastered"
        (3+ cards at 80 %), "cards", "due" (cards due for review now), "retention" (mean expected recall)}],
        "next_step": {"layer", "name", "mastery", "attempts", "reason", "prerequisites", "action" ("review" when
        cards are due: review them first with `review`; else "study"), "due"}}. The path follows the order of the
        stack (chips before networking before data centers; architectures before alignment before serving)."""
        return {"layers": app.coach.progress(learner), "next_step": app.coach.next_step(learner)}

    def review(
        item_id: Annotated[str | None, Field(description="Omit to list the due cards. To grade a review: the card's "
                                                         "item id, as the due list gave it (q-1a2b3c4d5e).")] = None,
        answer: Annotated[str | None, Field(description="With item_id: the learner's answer (for mcq a letter A-D "
                                                        "or the choice's text). At most 2,000 characters.")] = None,
        version: Annotated[int | None, Field(description="With item_id: the card's `version` from the due list, so "
                                                         "a review another session made meanwhile counts once.")] = None,
        n: Annotated[int, Field(description="Without item_id: at most this many due cards, 1-50.")] = 10,
        learner: Annotated[str | None, LEARNER_FIELD] = None,
    ) -> dict[str, Any]:
        """Spaced review (FSRS): every quiz item a learner answered is a card, due again when they are about to
        forget it. Without item_id, lists the learner's due cards, the longest due first: {"cards": [{"id",
        "question", "kind", "choices", "answer", "span", ..., "due", "version", "retrievability"}], "total_due",
        "next_due" (when the next card falls due, if none is due now), "known_learner", "retired"}. Ask one
        card at a time (never show its answer or span first), then call again with item_id, answer and version:
        the answer is graded as `grade` does and the card rescheduled. Returns the grade's fields plus "rating"
        (again/hard/good/easy), "next_review", "reviews" and "repeat" (another session reviewed it first: that
        review counts, nothing new was recorded)."""
        if item_id is None:
            if answer is not None:
                raise InvalidInput("An answer needs the item_id of the card it answers.",
                                   "Call review without arguments for the due cards, then with item_id and answer.")
            return app.coach.due(learner, n).to_json()
        if answer is None:
            raise InvalidInput("item_id needs an answer too.", "Pass the learner's answer to the card as `answer`.")
        return app.coach.review(item_id, answer, learner, version).to_json()

    def cards(
        layer: Annotated[int | None, Field(description="Only this layer's cards (1-14); omit for all layers.")] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="At most this many cards, 1-1000.")] = 50,
        offset: Annotated[int, Field(ge=0, description="Skip this many cards first (for the next page).")] = 0,
    ) -> dict[str, Any]:
        """Flashcards from the tutor's documents, made from the same checked facts as quizzes: "front" (a term, or
        a figure's fill-in-the-blank question), "back" (the verbatim passage span), "label" and "citation" (its
        layer, [L3 · AI Chips & Accelerators]), "answer", "fact" (term | figure), "chunk_id", "doc", "id" (stable).
        Returns {"cards", "count" (all cards of the selection), "offset", "next_offset" (null on the last page)}."""
        deck = app.coach.cards(layer)
        page = deck[offset: offset + limit]
        after = offset + len(page)
        return {"cards": [c.to_json() for c in page], "count": len(deck), "offset": offset,
                "next_offset": after if after < len(deck) else None}

    def study_card(
        card_id: Annotated[str, Field(description="The flashcard's id, as `cards` listed it (c-1a2b3c4d5e).")],
        learner: Annotated[str | None, LEARNER_FIELD] = None,
    ) -> dict[str, Any]:
        """Study a flashcard: it comes back as a quiz item (short answer) stored for the learner; `grade` its id
        with the learner's answer and the card is scheduled for spaced review like any quiz item. The same card
        for the same learner is always the same item (graded once; afterwards it returns through `review`).
        Returns the item as `quiz` does: {"id", "layer", "question", "kind", "answer", "span", ...}: show only
        the question before the learner answers."""
        return app.coach.study(card_id, learner).to_json()

    add_tool(quiz, "quiz", "Make a quiz", ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                           idempotent_hint=False, open_world_hint=False))
    add_tool(grade, "grade", "Grade an answer", ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                                  idempotent_hint=False, open_world_hint=False))
    add_tool(review, "review", "Spaced review", ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                                   idempotent_hint=False, open_world_hint=False))
    add_tool(cards, "cards", "Flashcards")
    add_tool(study_card, "study_card", "Study a flashcard", ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                                            idempotent_hint=True, open_world_hint=False))
    add_tool(progress, "progress", "Learner progress")

    # -- resources: the corpus as TutorApp serves it -----------------------------------------------------------
    titles = app.document_titles

    def layer_json(n: int) -> str:
        layer = app.taxonomy.get(n)
        passages = [{"chunk_id": c.chunk_id, "doc": c.doc, "doc_title": titles.get(c.doc, c.doc), "text": c.text}
                    for c in app.layer_passages(n)]
        return json.dumps({"layer": n, "name": layer.name, "label": layer.label, "summary": layer.summary,
                           "passages": passages}, ensure_ascii=False)

    def document_text(name: str) -> str:
        if name not in titles:
            raise ResourceNotFoundError(f"There is no document {name[:80]!r}. The documents are: "
                                        f"{', '.join('doc://' + f for f in titles)}.")
        try:
            return app.document_text(name)
        except TutorError as e:
            raise ResourceNotFoundError(str(e)) from None

    @server.resource("layer://{n}", name="layer", title="A layer of the AI stack", mime_type="application/json",
                     description="One layer of the stack (n = 1-14): its name, summary and every passage of the "
                                 "documents labelled with it (chunk id, document, text).")
    def layer_resource(n: str) -> str:
        try:
            return layer_json(_layer_number(n))
        except MCPError as e:
            raise ResourceNotFoundError(e.error.message) from None

    @server.resource("doc://{name}", name="document", title="A corpus document", mime_type="text/plain",
                     description="The text of one corpus document (the part the tutor indexes: reader comments "
                                 "are left out).")
    def document_resource(name: str) -> str:
        return document_text(name)

    for layer in app.taxonomy:  # listed one by one too, for clients that only browse resources/list
        server.add_resource(FunctionResource(
            uri=f"layer://{layer.number}", name=f"layer-{layer.number}", title=layer.label, mime_type="application/json",
            description=f"{layer.summary} (summary and all passages, JSON)",
            fn=functools.partial(layer_json, layer.number)))
    for spec in app.documents:
        server.add_resource(FunctionResource(
            uri=f"doc://{spec.file}", name=spec.file, title=spec.title, mime_type="text/plain",
            description=f"{spec.title} ({spec.kind}): the document's text as the tutor indexes it.",
            fn=functools.partial(document_text, spec.file)))

    # -- prompt ---------------------------------------------------------------------------------------------
    @server.prompt(title="Socratic tutoring on one layer",
                   description="Start a Socratic tutoring session on one layer of the AI stack: the assistant asks "
                               "questions, one at a time, and grounds every fact in the tutor's documents.")
    def socratic_session(
        layer: Annotated[str, Field(description=f"The layer to study, 1-{N_LAYERS} (list_layers names them).")],
    ) -> str:
        n = _layer_number(layer)
        lay = app.taxonomy.get(n)
        return (
            f"Tutor me on layer {n} of the AI technology stack, {lay.label}: {lay.summary}\n\n"
            "Be a Socratic tutor. Ask me one question at a time, starting from what I already know, and wait for "
            "my answer. Don't lecture: when I'm wrong or stuck, give a hint or a simpler question instead of the "
            "answer, and build up to why this layer matters to the layers above and below it.\n\n"
            "Ground every fact in the stack-tutor documents, never in your own memory: use the `search` tool with "
            f"layer={n} (or the `layer://{n}` resource) to find passages, `ask` with socratic=true for a cited "
            f"hint (and with my try in the history for the answer), and `calculate` for any arithmetic. Cite the "
            f"layer of each fact like [{lay.label}]. If the documents don't cover something, say so.\n\n"
            f"To check what I've learned, use `quiz` with layer={n} and show me one question at a time (never its "
            "answer or span before I reply), then `grade` my answer and tell me the feedback. `progress` shows my "
            "mastery and the next step; when it says cards are due, `review` them first, one at a time.\n\n"
            "Start with a short overview (two sentences) and your first question."
        )

    return server


def serve(app: TutorApp, transport: Literal["stdio", "streamable-http"] = "stdio", host: str = "127.0.0.1",
          port: int = 8765) -> None:
    """Run the server until the client disconnects (stdio) or Ctrl-C / SIGTERM (HTTP)."""
    server = build_server(app)
    # Load the embedding model while the client connects, so the first search doesn't wait for it.
    threading.Thread(target=_warm_up, args=(app,), name="tutor-warm-up", daemon=True).start()
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


def _warm_up(app: TutorApp) -> None:
    try:
        app.search("What is the AI stack?", k=1)
    except Exception:  # noqa: BLE001 - the first real call reports any problem
        log.debug("warm-up search failed", exc_info=True)
