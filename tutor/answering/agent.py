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

Steps 3-4 are the "classic" pipeline (TUTOR_ANSWER_PIPELINE=classic; the Socratic reveal uses it too). The
default, "grounded", replaces them with `grounded.py`'s: code checks what the question is about, the model
makes a constrained decision over numbered sentences, a calculation is picked and computed by code over the
numbered quantities (no model call), and every sentence of the explanation is checked before it is shown.
Socratic hints (`socratic.py`) are built in code either way.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tutor import labels, streaming, validate
from tutor.answering import calculator as calc
from tutor.answering import grounded, prompts
from tutor.answering import quantities as qty
from tutor.answering.citations import CitationMapper, StreamRewriter, best_quote, bracketed, label
from tutor.answering.socratic import SocraticTurn, socratic_turn
from tutor.answering.suggestions import Suggestions
from tutor.answering.toolcalls import HoldBack, calculation_signal, inline_tool_calls, needs_calculation
from tutor.answering.tools import Toolbox, ToolError, tool_schema
from tutor.errors import InvalidInput
from tutor.knowledge.facts import blank_facts
from tutor.llm.client import ChatModel, Completion, ToolCallRequest
from tutor.types import MODES, TRY_NEXT, Citation, Passage, Reply, ToolCall

# Events: ("status", str) progress; ("token", str) body text to append; ("answer", str) the body so far,
# replacing what streamed (when a citation was repaired after streaming); ("tool", ToolCall); ("invitation", str)
# in Socratic hint mode, what the learner is asked to do; ("suggestion", str) the next question; ("reply", Reply).
OnEvent = Callable[[str, object], None]

MAX_HISTORY_CHARS = 1500  # per earlier message sent to the LLM
MAX_HISTORY_MESSAGES = 200
MAX_TOOL_RESULT_CHARS = 4000
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
    pipeline: str = "grounded"  # constrained decisions + checked sentences; "classic": one free cited answer


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
                if not streamed:
                    timings["first_token_s"] = round(time.perf_counter() - t0, 3)  # what the learner waits for
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

        unknown = [n for n in grounded.question_names(asked if turn is None else question)
                   if not grounded.is_descriptive(n) and not self.toolbox.mentions(n)] if self.config.pipeline == "grounded" else []
        if best < self.config.refusal_threshold:
            self._refuse(reply, passages)
            reply.passages = passages[:3]
        elif unknown:  # the learner asks about something the documents never mention: nothing to answer from
            self._refuse(reply, passages, unknown)
            reply.passages = passages[:3]
        else:
            shown = [p for p in passages if p.similarity is None or p.similarity >= self.config.refusal_threshold]
            if turn is not None and turn.mode == "hint" and self._hint(reply, question, shown or passages[:1], emit):
                pass
            elif self.config.pipeline == "grounded" and (turn is None or turn.mode == "answer"):
                self._grounded(reply, question, shown or passages[:1], emit, usage, timings)
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
            asked_before = [m["content"] for m in history if m["role"] == "user"]
            reply.suggestion = self.suggestions.pick(
                layers, exclude=[*[m["content"] for m in history], *[m["suggestion"] for m in history if m.get("suggestion")]],
                asked=[question, asked, *asked_before])
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

    def _refuse(self, reply: Reply, passages: list[Passage], unknown: list[str] | None = None) -> None:
        nearest = _nearest_layers(passages[:3])
        reply.refused = True
        what = f"don't mention {_join(unknown[:3])}" if unknown else "don't cover that"
        reply.body = (f"The documents I teach from {what}, so I won't guess."
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

    # -- the grounded pipeline: constrained decisions, code-made calculations, checked sentences ----------------
    def _grounded(self, reply: Reply, question: str, shown: list[Passage], emit: OnEvent, usage: Counter,
                  timings: dict) -> None:
        reply.passages = list(shown)
        facts = grounded.evidence(shown, f"{question} {reply.search_query}")
        timings["evidence_sentences"] = len(facts)
        if not facts:
            self._not_covered(reply, shown)
            return
        signal = calculation_signal(question)
        if signal:
            emit("status", "Working out the calculation…")
            if self._calculation(reply, question, facts, usage, timings, strong=signal == "strong"):
                return
        emit("status", "Finding what answers it…")
        ids = [f.id for f in facts]
        chosen = self._decide(prompts.CHOOSE.format(evidence="\n".join(f.line() for f in facts), question=question),
                              grounded.choice_schema(ids), lambda text: grounded.parse_choice(text, facts), usage, timings)
        if chosen is None:  # no usable decision even after a retry: the best sentence, if it clearly matches
            chosen = [f for f in facts[:1] if grounded.overlap(question, f) >= 2]
        chosen = grounded.with_neighbours(chosen)  # "This is why …" comes with what "this" is
        timings["chosen_sentences"] = len(chosen)
        if not chosen:
            self._not_covered(reply, shown)
            return
        # Checked in code, whatever the model chose: the sentences must give the kind of figure the question asks
        # for, and come from passages that name the products it asks about (a person or company may be the
        # author of a whole document, named in none of its passages: Jia's talk).
        texts = [f"{f.text} {f.context}" for f in chosen]
        missing = grounded.missing_figure(question, texts) or grounded.missing_thing(question, texts)
        about = " ".join(f.passage.text for f in chosen).lower()
        absent = grounded.unnamed_ids(question, about)
        if missing or absent:
            usage["subject_checks_failed"] += 1
            self._not_covered(reply, shown, missing or f"anything about {_join(absent[:3])}")
            return
        emit("status", "Writing the answer…")
        self._explain(reply, question, chosen, emit, usage, timings)

    def _decide(self, prompt: str, schema: dict, parse: Callable[[str], object], usage: Counter, timings: dict):
        """A small decision, constrained to `schema` where the server can; one retry on output that doesn't fit,
        then None (the caller's safe fallback). Never raises for bad output."""
        t = time.perf_counter()
        messages = [{"role": "system", "content": prompts.DECIDE}, {"role": "user", "content": prompt}]
        try:
            for attempt in range(2):
                out = self.llm.complete(messages, schema=schema, max_tokens=80)
                _count(usage, out)
                try:
                    return parse(out.content)
                except (grounded.BadDecision, qty.QuantityError) as e:
                    usage["bad_decisions"] += 1
                    messages = [messages[0], {"role": "user", "content": prompt + prompts.RETRY.format(error=str(e)[:200])}]
            return None
        finally:
            timings["decide_s"] = round(timings.get("decide_s", 0.0) + time.perf_counter() - t, 3)

    def _calculation(self, reply: Reply, question: str, facts: list[grounded.Evidence], usage: Counter,
                     timings: dict, strong: bool = True) -> bool:
        """Code lists the quantities and picks the calculation, with no model call: the learner's own two figures
        with the comparison the wording names, or the one-step calculation (a ratio, a change, a share, a rate, a
        difference, a product, a range's midpoint) whose figures' labels best fit the question's words and its two
        sides ("A than B", "from A to B"). It is shown with the source of every operand. When code can't pick one,
        the learner gets the closest figures, cited, and no number nobody checked; False (answered as text) when
        the wording only suggests a calculation (`strong` False: "how much power per rack") or no figure of the
        documents is at hand. (Measured: the 1.5B model's own expressions, and its choice among code's
        calculations, were right less often than code's pick; docs/benchmarks.md.)"""
        index = {f.passage.chunk_id: n for n, f in enumerate(facts, 1)}
        quantities = qty.relevant(qty.extract([(f.text, index[f.passage.chunk_id], f.context) for f in facts], question),
                                  question)
        by_source = {f.text: f for f in facts}
        expression = qty.given_calculation(question, quantities)
        if expression is not None:
            usage["calc_from_question"] += 1
        elif strong:
            expression = qty.best_calculation(question, quantities)
            if expression is not None:
                usage["calc_by_code"] += 1
        try:
            result = None if expression is None else (expression, qty.evaluate(expression, quantities))
        except qty.QuantityError:  # e.g. a figure of 0 as a divisor
            result = None
        if result is None:
            # The closest figures are worth showing only from passages about what the question names: figures
            # of DeepSeek's training for a question on Mixtral 8x7B's are not (the text path then decides).
            about = " ".join(by_source[q.sentence].passage.text for q in quantities if q.sentence in by_source).lower()
            off = grounded.unnamed_ids(question, about)
            if not strong or off or not any(q.source is not None for q in quantities):
                usage["calc_to_text"] += 1
                return False
            usage["calc_unsure"] += 1
            self._figures_only(reply, quantities, by_source)
            return True
        expression, (value, shown, used) = result
        answer = _readable_number(value)
        if re.search(r"\*\s*100\s*\)?\s*$|^\s*\(?\s*100\s*\*", expression):
            answer += "%"  # "× 100" makes a share or a change a percentage
        else:
            scale = qty.asked_scale(question)  # "…, in millions of dollars?": say it in those units as well
            if scale and abs(value) >= scale[1]:
                answer += f" ({_readable_number(value / scale[1])} {scale[0]})"
        citations: list[Citation] = []
        parts = _figure_sources(list(dict.fromkeys(used)), by_source, citations)
        reply.tool_calls.append(ToolCall("calculator", {"expression": shown, "quantities": expression}, answer))
        body = f"About {answer}: {shown} = {answer.split(' (')[0]}."
        if parts:
            body += " The figures: " + "; ".join(parts) + "."
        reply.body, reply.citations = body, citations
        timings["calculation"] = 1
        return True

    def _figures_only(self, reply: Reply, quantities: list[qty.Quantity], by_source: dict) -> None:
        """A calculation code could not confirm: the documents' figures closest to the question, cited, no result."""
        citations: list[Citation] = []
        parts = _figure_sources([q for q in quantities if q.source is not None][:3], by_source, citations)
        reply.body = ("I can't be sure which of the documents' figures this calculation needs, so I won't give a "
                      "number I haven't checked." + (f" The figures closest to your question: {'; '.join(parts)}." if parts else ""))
        reply.citations = citations

    def _explain(self, reply: Reply, question: str, chosen: list[grounded.Evidence], emit: OnEvent, usage: Counter,
                 timings: dict) -> None:
        """The explanation in free text from the chosen sentences only; each sentence is checked before it is shown."""
        facts = "\n".join(f"[{n}] {grounded.readable(f)}" for n, f in enumerate(chosen, 1))
        citations: list[Citation] = []

        def check(sentence: str):
            # Each sentence must be supported by one chosen sentence (the one it is cited to), not by a mix of
            # them: "Maia 100 has 192GB" from a Maia sentence and a B200 row is caught.
            text = grounded.tidy(re.sub(r"\s*\[[^\]\n]{1,12}\]", "", sentence))
            if len(text) < 8:
                return None, "too short"
            why = ""
            best = grounded.best_fact(text, chosen)
            for f in [best, *(f for f in chosen if f is not best)]:
                own = [grounded.readable(f), f.text, f.context]
                # A sentence with no figure may name what its passage is about (the MI300X of a row on the
                # MI300X); one with a figure takes its names from its own sentence only.
                names = own if grounded.has_number(text) else [*own, f.passage.text]
                ok, why = grounded.supported(text, [*own, question], names_from=names)
                if ok and grounded.mixes_numbers(text, own):
                    ok, why = False, "it pairs the question's number with the documents' figure"  # "Samsung's 3nm yields are 50-60%"
                if ok and not grounded.says_something(text, own, question):
                    ok, why = False, "it only restates the question"  # "Yes, many developers still use TensorFlow."
                if ok:
                    break
            else:
                return None, why
            _cite_once(citations, f)
            end = text[-1] if text[-1] in ".!?" else "."
            return f"{text.rstrip('.!?')} {bracketed(f.passage)}{end}", ""

        gate = grounded.SentenceGate(check, lambda text: emit("token", text), max_sentences=3)
        messages = [{"role": "system", "content": prompts.EXPLAIN_SYSTEM},
                    {"role": "user", "content": prompts.EXPLAIN.format(facts=facts, question=question)}]
        t = time.perf_counter()
        out = self.llm.complete(messages, max_tokens=min(self.config.max_tokens, 160), on_token=gate.feed)
        _count(usage, out)
        gate.close(complete=out.finish_reason != "length")
        timings["explain_s"] = round(time.perf_counter() - t, 3)
        if out.first_token_seconds is not None:
            timings["llm_first_token_s"] = round(out.first_token_seconds, 3)
        reply.dropped = [s for s, _ in gate.dropped]
        if gate.kept:
            # What the model left out of the chosen sentences that still bears on the question, verbatim and cited:
            # a one-sentence answer to a two-part question is completed from the documents, not by the model.
            added = []
            for f in chosen:
                if len(gate.kept) + len(added) >= 3:
                    break
                linked = bool(f.goes_with) and any(c.quote == f.goes_with for c in citations)
                if any(c.quote == f.text for c in citations) or not grounded.adds_to(f, question, " ".join(gate.kept + added), linked):
                    continue
                added.append(f"{grounded.readable(f).rstrip('.')} {bracketed(f.passage)}.")
                _cite_once(citations, f)
            if added:
                usage["sentences_completed"] += len(added)
                emit("token", " " + " ".join(added))
            reply.body, reply.citations = " ".join(gate.kept + added), citations
            return
        # Nothing the model wrote survived the check: the chosen sentences themselves are the answer.
        usage["extractive_answers"] += 1
        reply.body = " ".join(f"{grounded.readable(f).rstrip('.')} {bracketed(f.passage)}." for f in chosen[:2])
        reply.citations = [f.citation() for f in chosen[:2]]

    def _not_covered(self, reply: Reply, shown: list[Passage], missing: str = "") -> None:
        reply.refused = True
        reply.citations = []
        reply.body = (f"{prompts.DONT_COVER} The closest passages I found are about "
                      f"{_nearest_layers(shown[:2])}, but they don't "
                      + (f"give {missing}." if missing else "answer this question."))

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
            hold = HoldBack()

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
            calls = out.tool_calls or inline_tool_calls(out.content, self._tools)
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
            self._not_covered(reply, shown)
            return
        if calcs:
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


# -- helpers ------------------------------------------------------------------------------------------------
def _trim_unfinished(text: str) -> str:
    """An answer cut off by the token limit, trimmed to its last complete sentence (citation included)."""
    m = list(re.finditer(r"[.!?](?:\s*\[[^\]\n]{1,80}\])*(?=\s|$)", text))
    return text[: m[-1].end()] if m else text


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
        suggestion = m.get("suggestion")
        if suggestion is not None and (not isinstance(suggestion, str) or len(suggestion) > max_chars):
            raise InvalidInput(f"history[{i}].suggestion must be the reply's suggested question (a string).",
                               "Send back the `suggestion` of the reply, or leave it out.")
        out.append({"role": m["role"], "content": m["content"], **({"mode": mode} if mode is not None else {}),
                    **({"suggestion": suggestion} if suggestion else {})})
    return out


def earlier_text(message: dict) -> str:
    """An earlier message as the LLM reads it: without layer labels (tokens it needn't read). Our front ends send
    a reply's `body`; a client that sends the whole composed `answer` as plain text gets its Socratic
    invitation and "Try next" line dropped too."""
    text = labels.strip(message["content"])
    if message["role"] == "assistant":
        text = text.split(f"\n\n{TRY_NEXT}")[0].replace(f"\n\n{prompts.HINT_TAIL}", "")
    return text.strip()


def _looks_english(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(not ch.isascii() for ch in letters) / len(letters) > 0.15:
        return False
    words = re.findall(r"[a-z']+", text.lower())
    return len(words) < 4 or any(w in _ENGLISH for w in words)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


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
    return " and ".join(list(dict.fromkeys(bracketed(p) for p in passages))[:2])


def _passages_summary(passages: list[Passage]) -> str:
    return "; ".join(f"[{i}] {label(p)} ({p.doc}, chunk {p.chunk_id})" for i, p in enumerate(passages, 1)) or "no passages"


def _safe_args(call: ToolCallRequest) -> dict:
    try:
        return call.parsed_arguments()
    except ValueError:
        return {"raw": call.arguments[:500]}


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
        parts = [f"{num} from {bracketed(p)}" for num, p, _ in sources]
        lines.append(f"Calculation: {expr} = {tc.result}" + (f" (using {', '.join(parts)})" if parts else "") + ".")
        for _, p, quote in sources:
            if (p.chunk_id, quote) not in have:
                have.add((p.chunk_id, quote))
                citations.append(Citation(p.layer, p.layer_name, p.chunk_id, p.doc, quote))
    return answer + "\n\n" + "\n".join(lines), citations


def _figure_sources(quantities: list[qty.Quantity], by_source: dict, citations: list[Citation]) -> list[str]:
    """Each figure with where it came from ("Lynas REO production: 10,462 tons/year [L1 · …]", "8 (from your
    question)"), citing the sentence of each document figure once in `citations`."""
    parts = []
    for q in quantities:
        if q.source is None:
            parts.append(f"{q.text} (from your question)")
            continue
        f = by_source.get(q.sentence)
        if f is None:
            continue
        _cite_once(citations, f)
        ctx = q.context if len(q.context.split()) <= 7 and not qty.figures(q.context) else ""
        parts.append(f"{ctx}: {q.text} {bracketed(f.passage)}" if ctx else f"{q.text} {bracketed(f.passage)}")
    return parts


def _cite_once(citations: list[Citation], f: grounded.Evidence) -> None:
    """Add `f`'s citation unless the answer cites that sentence already."""
    c = f.citation()
    if c not in citations:
        citations.append(c)


def _readable_number(value: float) -> str:
    """A result as a person reads it: 4 significant digits, thousands separated (30,000; 13.33; 0.6875)."""
    v = _round_sig(value)
    if math.isfinite(v) and abs(v) >= 1000 and v == int(v):
        return f"{int(v):,}"
    return calc.format_number(v)


def _round_sig(value: float, digits: int = 4) -> float:
    """`value` to `digits` significant digits (a calculation's answer as a person reads it)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))


