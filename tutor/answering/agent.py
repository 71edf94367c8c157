"""The tutor's agent: retrieve, let the model answer (calling tools when it needs them), cite in code.

One answer, step by step:
1. Validate the question and history. Follow-ups (and questions not in English) are first rewritten by
   the LLM into a standalone English search query, so "and how much power does it draw?" searches for
   what "it" is.
2. The tutor itself calls `search_corpus` (every answer needs passages, so no LLM step is spent asking
   for it). If even the best passage is far from the question (cosine below the calibrated
   `refusal_threshold`), the tutor says the documents don't cover it and names the nearest layers,
   without asking the LLM anything: nothing can be invented.
3. The LLM gets the numbered passages and may call tools (calculator, another search). Tool errors and
   malformed calls go back to it as tool results; the loop stops after `max_steps` LLM calls.
4. Citations are attached in code (`citations.py`), the calculation is shown with the sources of its
   operands, and a suggested next question the corpus answers is appended.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tutor import labels, streaming, validate
from tutor.answering import prompts
from tutor.answering.citations import CitationMapper, StreamRewriter, best_quote, label
from tutor.errors import InvalidInput
from tutor.llm.client import ChatModel, Completion, ToolCallRequest
from tutor.knowledge.facts import blank_facts
from tutor.answering.suggestions import Suggestions
from tutor.answering.tools import Toolbox, ToolError, tool_schema
from tutor.types import MODES, TRY_NEXT, Citation, Passage, Reply, ToolCall

# Events: ("status", str) progress; ("token", str) body text to append; ("answer", str) the body so far,
# replacing what streamed (when a citation was repaired after streaming); ("tool", ToolCall); ("invitation", str)
# in Socratic hint mode, what the learner is asked to do; ("suggestion", str) the next question; ("reply", Reply).
OnEvent = Callable[[str, object], None]

MAX_HISTORY_CHARS = 1500  # per earlier message sent to the LLM
MAX_HISTORY_MESSAGES = 200
MAX_TOOL_RESULT_CHARS = 4000
_TOOL_BLOCK = re.compile(r"<tool_call>\s*(\{.*?\})\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\})\s*(?:```|$)", re.S)
# Questions that need arithmetic: an explicit operation, or a number together with a quantity question.
_CALC_OP = re.compile(r"times (more|less|as)|ratio|percent|%|difference between|in total|total of|sum of|average|"
                      r"multipl|divid|calculat|compute|how many .* in \d|[\d.]\s*[*×/x+-]\s*\d|by what factor|worth of|"
                      r"how much .* per\b|what would .* cost", re.I)
_CALC_QTY = re.compile(r"how (many|much)|total|per\b|each", re.I)
_STANDALONE_NUMBER = re.compile(r"(?<![\w.-])\d[\d,]*(?:\.\d+)?(?!\w)")
_ECHO = re.compile(r"\s*\((?:cite|citing) passage numbers?[^)]*\)\.?", re.I)
_ENGLISH = frozenset("the a an is are was what why how which who does do did of to in on for and or with it this that".split())


@dataclass
class AgentConfig:
    context_passages: int = 4
    max_steps: int = 3
    history_turns: int = 6
    refusal_threshold: float = 0.26
    max_question_chars: int = 4000
    max_tokens: int = 256
    concurrency: int = 1  # answers generated at once (a local llama.cpp server serves one request at a time)


class Tutor:
    """Answers questions with layer citations. Thread-safe as long as each call passes its own history."""

    def __init__(self, toolbox: Toolbox, llm: ChatModel, config: AgentConfig, suggestions: Suggestions | None = None):
        self.toolbox = toolbox
        self.llm = llm
        self.config = config
        self.suggestions = suggestions
        self._tools = toolbox.for_model()
        self._schemas = [tool_schema(f) for f in self._tools.values()]
        self._slots = threading.BoundedSemaphore(max(1, config.concurrency))

    # -- public API ---------------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, on_event: OnEvent | None = None,
            layer: int | None = None, socratic: bool = False) -> Reply:
        """Answer `question` (with the conversation so far in `history`: [{"role", "content"}, ...]).

        `layer` (1-14) limits retrieval to one layer of the stack. `on_event(kind, payload)` receives the
        events listed at the top of this module while the answer is produced. `socratic=True` answers a new
        question with guiding questions and a cited hint; the learner's next message (a try) or asking for the
        answer ("show me") gets the answer, with a word on what the try got right.
        """
        emit = on_event or (lambda kind, payload: None)
        q = validate.question(question, self.config.max_question_chars)
        hist = validate_history(history, self.config.max_question_chars)
        layer = validate.layer(layer)
        if not self._slots.acquire(blocking=False):
            emit("status", "Waiting for another learner's answer to finish…")
            self._slots.acquire()
        try:
            reply = self._answer(q, hist, emit, layer, socratic_turn(q, hist) if socratic else None)
        finally:
            self._slots.release()
        emit("reply", reply)
        return reply

    def stream(self, question: str, history: list[dict] | None = None,
               layer: int | None = None, socratic: bool = False) -> Iterator[tuple[str, object]]:
        """`ask` as a generator of (kind, payload) events; the last is ("reply", Reply) or ("error", TutorError)."""
        for kind, payload in streaming.events(
                lambda emit: self.ask(question, history, emit, layer=layer, socratic=socratic), name="tutor-answer"):
            if kind != "result":  # `ask` emitted its ("reply", Reply) already
                yield kind, payload

    # -- the steps ----------------------------------------------------------------------------------------
    def _answer(self, question: str, history: list[dict], outer: OnEvent, layer: int | None = None,
                turn: SocraticTurn | None = None) -> Reply:
        streamed: list[str] = []

        def emit(kind: str, payload: object) -> None:
            if kind == "token":
                if not payload:
                    return
                streamed.append(payload)
            outer(kind, payload)

        t0 = time.perf_counter()
        reply = Reply(question=question)
        usage = Counter()
        timings: dict[str, float] = {}
        asked = question  # what the learner sent; `question` becomes what is answered
        if turn is not None:
            reply.mode = turn.mode
            if turn.mode == "reveal":
                question = turn.question

        query = question
        # A revealed question is read in the conversation it was asked in (before its hint and the try).
        context = history[:-2] if turn is not None and turn.mode == "reveal" and question != asked else history
        if context or not _looks_english(question):
            emit("status", "Working out what the question refers to…")
            t = time.perf_counter()
            query = self._rewrite(question, context, usage)
            timings["rewrite_s"] = round(time.perf_counter() - t, 3)
        reply.search_query = query

        emit("status", "Searching the documents…")
        t = time.perf_counter()
        try:
            passages = self.toolbox.search_corpus(query, layer=layer)
        except ToolError as e:
            raise InvalidInput(str(e)) from None
        timings["search_s"] = round(time.perf_counter() - t, 3)
        best = max((p.similarity for p in passages if p.similarity is not None), default=0.0)
        timings["best_similarity"] = round(best, 4)
        reply.tool_calls.append(ToolCall("search_corpus", {"query": query}, _passages_summary(passages)))
        emit("tool", reply.tool_calls[-1])

        if best < self.config.refusal_threshold:
            self._refuse(reply, passages)
            reply.passages = passages[:3]
        else:
            shown = [p for p in passages if p.similarity is None or p.similarity >= self.config.refusal_threshold]
            if turn is not None and turn.mode == "hint" and self._hint(reply, question, shown or passages[:1], emit):
                pass
            else:
                self._converse(reply, question, history, shown or passages[:1], emit, usage, timings, turn)
        shown_text = "".join(streamed)
        if reply.body.startswith(shown_text):
            emit("token", reply.body[len(shown_text):])  # e.g. the calculation line, a refusal's nearest layers
        else:
            emit("answer", reply.body)  # the final text differs from what streamed (a repaired citation): replace it
        if reply.mode == "hint" and not reply.refused:
            reply.invitation = prompts.HINT_TAIL
            emit("invitation", reply.invitation)
        elif reply.suggestion is None and self.suggestions is not None:
            layers = [c.layer for c in reply.citations] or [p.layer for p in passages[:1]]
            reply.suggestion = self.suggestions.pick(layers, exclude=[question, asked, *[m["content"] for m in history]])
        if reply.suggestion:
            emit("suggestion", reply.suggestion)
        timings["total_s"] = round(time.perf_counter() - t0, 3)
        reply.timings = timings
        reply.usage = dict(usage)
        return reply

    def _rewrite(self, question: str, history: list[dict], usage: Counter) -> str:
        convo = "\n".join(f"{m['role']}: {_clip(earlier_text(m), 400)}" for m in history[-4:]) or "(none)"
        msg = prompts.REWRITE.format(history=convo, question=question)
        out = self.llm.complete([{"role": "user", "content": msg}], max_tokens=60)
        _count(usage, out)
        text = out.content.strip().splitlines()[0] if out.content.strip() else ""
        text = re.sub(r"^(query|search query)\s*:\s*", "", text, flags=re.I).strip().strip('"').strip()
        return text[:300] if len(text) >= 3 else question

    def _refuse(self, reply: Reply, passages: list[Passage]) -> None:
        nearest = _nearest_layers(passages[:3])
        reply.refused = True
        reply.body = ("The documents I teach from don't cover that, so I won't guess."
                        + (f" The closest topics they do cover are {nearest}." if nearest else ""))

    def _hint(self, reply: Reply, question: str, shown: list[Passage], emit: OnEvent) -> bool:
        """A Socratic hint, built in code so it never gives the answer away: a guiding question and the most
        relevant sentence of the documents with its facts blanked out, cited. False when no sentence has
        anything to blank (the LLM then writes the hint)."""
        for n, p in enumerate(shown[:2], start=1):
            quote = best_quote(p.text, question)
            blanked = blank_facts(quote, question)
            if blanked is None:
                continue
            mapper = CitationMapper(list(shown))
            text = (f"Let's work it out together. Here is what the documents say, with the key facts left out: "
                    f"“{blanked}” [{n}] What do you think fills the gaps, and how does that answer your question?")
            attached = mapper.attach(text, repair=False)
            reply.body, reply.citations, reply.passages = attached.text.strip(), list(attached.citations), mapper.passages
            emit("token", reply.body)
            return True
        return False

    def _converse(self, reply: Reply, question: str, history: list[dict], shown: list[Passage], emit: OnEvent,
                  usage: Counter, timings: dict, turn: SocraticTurn | None = None) -> None:
        mapper = CitationMapper(list(shown))
        reply.passages = mapper.passages  # grows with the passages of any further search
        hint = turn is not None and turn.mode == "hint"
        messages = [{"role": "system", "content": prompts.SOCRATIC if hint else prompts.SYSTEM}]
        for m in history[-self.config.history_turns :] if self.config.history_turns else []:
            messages.append({"role": m["role"], "content": _clip(earlier_text(m), MAX_HISTORY_CHARS)})
        offer_tools = needs_calculation(question) and not hint
        attempt = prompts.SOCRATIC_REVEAL.format(attempt=_clip(turn.attempt, 600)) if turn and turn.attempt else ""
        template = prompts.HINT_QUESTION if hint else prompts.QUESTION
        messages.append({"role": "user", "content": template.format(
            passages=_format_passages(mapper.passages, 1), question=question)
            + (prompts.CALC_NUDGE if offer_tools else "") + attempt})
        calcs: list[ToolCall] = []
        content = ""
        llm_s = 0.0
        for step in range(self.config.max_steps):
            last = step == self.config.max_steps - 1
            tools = self._schemas if offer_tools and not last else None
            emit("status", "Thinking…" if step == 0 else "Writing the answer…")
            rewriter = StreamRewriter(mapper)
            hold = _HoldBack()

            def on_token(tok: str, rewriter=rewriter, hold=hold):
                text = hold.feed(tok)
                if text:
                    out = rewriter.feed(text)
                    if out:
                        emit("token", out)

            out = self.llm.complete(messages, tools=tools, tool_choice="auto" if tools else None,
                                    max_tokens=self.config.max_tokens, on_token=on_token)
            _count(usage, out)
            llm_s += out.seconds
            if step == 0 and out.first_token_seconds is not None:
                timings["llm_first_token_s"] = round(out.first_token_seconds, 3)
            calls = out.tool_calls or _inline_tool_calls(out.content, self._tools)
            if calls and last:  # out of steps: a model that still wants tools gets no more
                break
            if not calls:
                if hold.held:  # held back because it looked like a tool call, but was not one
                    emit("token", rewriter.feed(hold.held))
                emit("token", rewriter.flush())
                content = _trim_unfinished(out.content) if out.finish_reason == "length" else out.content
                if content.strip() or last:
                    break
                offer_tools = False  # an empty reply: ask once more for plain text
                continue
            messages.append({"role": "assistant", "content": "", "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or "{}"}}
                for c in calls]})
            for c in calls:
                tc = self._run_tool(c, mapper)
                reply.tool_calls.append(tc)
                emit("tool", tc)
                if tc.name == "calculator" and not tc.error:
                    calcs.append(tc)
                messages.append({"role": "tool", "tool_call_id": c.id, "content": _for_model(tc)[:MAX_TOOL_RESULT_CHARS]})
            # Tools stay offered (an unchanged prompt prefix is served from llama.cpp's cache) until the last step.
        timings["llm_s"] = round(llm_s, 3)
        content = _ECHO.sub("", content)  # small models copy the prompt's "(Cite passage numbers like [1].)"
        attached = mapper.attach(content)
        answer, citations = attached.text.strip(), list(attached.citations)
        if not answer:
            answer = "I could not put an answer together from the documents this time. Please ask again or rephrase."
        if _is_dont_cover(answer):
            reply.refused = True
            answer = (f"{prompts.DONT_COVER} The closest passages I found are about "
                      f"{_nearest_layers(shown[:2])}, but they don't answer this question.")
            citations = []
        elif calcs:
            answer, citations = _with_provenance(answer, citations, calcs, mapper)
        reply.body = answer
        reply.citations = citations
        reply.uncited = [] if reply.refused else attached.uncited

    def _run_tool(self, call: ToolCallRequest, mapper: CitationMapper) -> ToolCall:
        fn = self._tools.get(call.name)
        try:
            if fn is None:
                raise ToolError(f"there is no tool named {call.name!r}; the tools are {', '.join(self._tools)}")
            try:
                args = call.parsed_arguments()
            except ValueError as e:
                raise ToolError(str(e)) from None
            try:
                value = fn(**args)
            except TypeError as e:
                raise ToolError(f"wrong arguments for {call.name}: {e}") from None
        except (ToolError, InvalidInput) as e:
            return ToolCall(call.name, _safe_args(call), f"Error: {e}", error=True)
        if call.name == "search_corpus":
            new = [p for p in value if p.chunk_id not in {q.chunk_id for q in mapper.passages}]
            start = len(mapper.passages) + 1
            mapper.passages.extend(new)
            text = _format_passages(new, start) if new else "No new passages (the best matches are already above)."
            return ToolCall(call.name, args, text)
        return ToolCall(call.name, args, str(value))


# -- Socratic mode ------------------------------------------------------------------------------------------
_REVEAL = re.compile(r"\b(show me|tell me|reveal|give up|i gave up|just (say|answer|give)|what('s| is) the answer|"
                     r"the answer\b|answer please|i don'?t know|no idea|not sure)\b", re.I)


@dataclass(frozen=True)
class SocraticTurn:
    mode: str  # "hint": guide towards the answer; "reveal": give it
    question: str  # the question being taught (for a reveal, the one the hint was about)
    attempt: str | None = None  # the learner's try, when this turn answers a hint


def socratic_turn(message: str, history: list[dict]) -> SocraticTurn:
    """Decide what a Socratic turn does. A new question gets hints. After a hint (found by the tail the tutor
    appended to it), the learner's next message is a try or a request for the answer, unless it is plainly
    a new question; either way the hinted question is then answered."""
    last = history[-1] if history else None
    hinted = last is not None and last["role"] == "assistant" and _was_hint(last)
    asks = bool(_REVEAL.search(message))
    if hinted and len(history) >= 2 and history[-2]["role"] == "user":
        original = history[-2]["content"]
        if asks:
            return SocraticTurn("reveal", original)
        if not message.rstrip().endswith("?"):
            return SocraticTurn("reveal", original, attempt=message)
    if asks and not message.rstrip().endswith("?") and len(message.split()) <= 6:
        # "show me" with no hint to answer: treat it as a question about the last one, if any
        prev = next((m["content"] for m in reversed(history) if m["role"] == "user"), None)
        if prev:
            return SocraticTurn("reveal", prev)
    return SocraticTurn("hint", message)


# -- helpers ------------------------------------------------------------------------------------------------
def _trim_unfinished(text: str) -> str:
    """An answer cut off by the token limit, trimmed to its last complete sentence (citation included)."""
    m = list(re.finditer(r"[.!?](?:\s*\[[^\]\n]{1,80}\])*(?=\s|$)", text))
    return text[: m[-1].end()] if m else text


def needs_calculation(question: str) -> bool:
    """Whether to offer the tools and ask for a calculator call first."""
    numbers = _STANDALONE_NUMBER.findall(question)  # one number is usually a name (RTX 4090); two are operands
    return bool(_CALC_OP.search(question) or (len(numbers) >= 2 and _CALC_QTY.search(question)))


def _for_model(tc: ToolCall) -> str:
    """A tool result as the model reads it. Small models take a bare "576" for the learner's reply, so say what it is."""
    if tc.name == "calculator" and not tc.error:
        return (f"calculator: {tc.arguments.get('expression')} = {tc.result}. Now answer the learner's question with "
                "this result, showing the calculation and citing the passages it used.")
    return tc.result


def validate_history(history: object, max_chars: int) -> list[dict]:
    if history is None:
        return []
    if not isinstance(history, list):
        raise InvalidInput("history must be a list of {\"role\", \"content\"} messages.",
                           'Example: [{"role": "user", "content": "What is HBM?"}, {"role": "assistant", "content": "…"}]')
    if len(history) > MAX_HISTORY_MESSAGES:
        raise InvalidInput(f"history has {len(history):,} messages; the limit is {MAX_HISTORY_MESSAGES}.",
                           "Send only the recent part of the conversation (the tutor uses the last few turns).")
    out = []
    for i, m in enumerate(history):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), str):
            raise InvalidInput(f"history[{i}] is not a {{\"role\": \"user\"|\"assistant\", \"content\": str}} message.",
                               "Fix that entry or drop it.")
        if m["role"] == "user":
            validate.question(m["content"], max_chars)
        mode = m.get("mode")
        if mode is not None and mode not in MODES:
            raise InvalidInput(f"history[{i}].mode must be one of {', '.join(MODES)}, not {str(mode)[:20]!r}.",
                               "Send back the `mode` of the reply, or leave it out.")
        out.append({"role": m["role"], "content": m["content"], **({"mode": mode} if mode is not None else {})})
    return out


def earlier_text(message: dict) -> str:
    """An earlier message as the LLM reads it: without layer labels (tokens it needn't read). Our front ends send
    a reply's `body`; a client that sends the whole composed `answer` as plain text gets its Socratic
    invitation and "Try next" line dropped too."""
    text = labels.strip(message["content"])
    if message["role"] == "assistant":
        text = text.split(f"\n\n{TRY_NEXT}")[0].replace(f"\n\n{prompts.HINT_TAIL}", "")
    return text.strip()


def _was_hint(message: dict) -> bool:
    """Whether an assistant turn was a Socratic hint: its `mode` when the front end sent it (ours do), else (plain
    text history from another client) whether it ends with the hint's invitation."""
    mode = message.get("mode")
    if mode is not None:
        return mode == "hint"
    return message["content"].rstrip().endswith(prompts.HINT_TAIL)


def _looks_english(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(not ch.isascii() for ch in letters) / len(letters) > 0.15:
        return False
    words = re.findall(r"[a-z']+", text.lower())
    return len(words) < 4 or any(w in _ENGLISH for w in words)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _count(usage: Counter, out: Completion) -> None:
    usage["llm_calls"] += 1
    if out.prompt_tokens is not None:
        usage["prompt_tokens"] += out.prompt_tokens
    if out.completion_tokens is not None:
        usage["completion_tokens"] += out.completion_tokens


def _format_passages(passages: list[Passage], start: int) -> str:
    return "\n\n".join(prompts.PASSAGE.format(n=i, label=label(p), doc=p.doc, text=p.text.strip())
                       for i, p in enumerate(passages, start))


def _nearest_layers(passages: list[Passage]) -> str:
    """The distinct layers of the best passages as labels, at most two: "[L5 · …] and [L3 · …]"."""
    return " and ".join(f"[{n}]" for n in list(dict.fromkeys(label(p) for p in passages))[:2])


def _passages_summary(passages: list[Passage]) -> str:
    return "; ".join(f"[{i}] {label(p)} ({p.doc}, chunk {p.chunk_id})" for i, p in enumerate(passages, 1)) or "no passages"


def _safe_args(call: ToolCallRequest) -> dict:
    try:
        return call.parsed_arguments()
    except ValueError:
        return {"raw": call.arguments[:500]}


def _inline_tool_calls(content: str, tools: dict) -> list[ToolCallRequest]:
    """Tool calls a model wrote into its text instead of `tool_calls`: Qwen2.5 writes <tool_call>{…}</tool_call>,
    a ```json fenced block, or bare JSON (sometimes with doubled braces), depending on the server's template."""
    text = content.strip()
    blocks = _TOOL_BLOCK.findall(text) or _FENCED.findall(text) or ([text] if text.startswith("{") else [])
    calls = []
    for i, b in enumerate(blocks):
        b = b.strip()
        if b.startswith("{{") and b.endswith("}}"):
            b = b[1:-1]
        try:
            obj = json.loads(b)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("name") in tools:
            args = obj.get("arguments", obj.get("parameters", {}))
            calls.append(ToolCallRequest(f"inline_{i}", obj["name"], args if isinstance(args, str) else json.dumps(args)))
    return calls


_CALL_OPENERS = ("<tool_call>", "```json", "```\n{")


class _HoldBack:
    """Holds streamed text back while it may still turn out to be an inline tool call."""

    def __init__(self):
        self.held = ""
        self._decided = False

    def feed(self, tok: str) -> str:
        if self._decided:
            return tok
        self.held += tok
        s = self.held.lstrip()
        if not s:
            return ""
        if s.startswith("{") or any(tag.startswith(s[: len(tag)]) for tag in _CALL_OPENERS):
            return ""
        self._decided = True
        out, self.held = self.held, ""
        return out


def _is_dont_cover(answer: str) -> bool:
    a = answer.lower().replace("’", "'")
    return len(a) < 160 and ("don't cover" in a or "do not cover" in a or "doesn't cover" in a)


def _with_provenance(answer: str, citations: list[Citation], calcs: list[ToolCall],
                     mapper: CitationMapper) -> tuple[str, list[Citation]]:
    lines = []
    have = {(c.chunk_id, c.quote) for c in citations}
    for tc in calcs:
        expr = str(tc.arguments.get("expression", ""))
        sources = mapper.operand_sources(expr)
        parts = [f"{num} from [{label(p)}]" for num, p, _ in sources]
        lines.append(f"Calculation: {expr} = {tc.result}" + (f" (using {', '.join(parts)})" if parts else "") + ".")
        for _, p, quote in sources:
            if (p.chunk_id, quote) not in have:
                have.add((p.chunk_id, quote))
                citations.append(Citation(p.layer, p.layer_name, p.chunk_id, p.doc, quote))
    return answer + "\n\n" + "\n".join(lines), citations
