"""Quiz items generated from corpus passages, each checked mechanically before a learner sees it.

How an item is made (code picks the fact, the LLM only phrases the question):
1. A passage of the layer is split into sentences. A sentence with a checkable fact becomes the item's
   `span` (verbatim from the chunk) and the fact its `answer`: a glossary term ("FinFET (…): the channel
   is a vertical fin…" → "FinFET"), a figure with its unit ("60%", "1.6nm", "$40 billion") or a named
   thing ("TSMC", "CoWoS").
2. The LLM is asked for one question whose answer is that fact. Its question is kept only if it passes
   the checks below; otherwise the item falls back to a fill-in-the-blank of the span, which always can.
3. Multiple-choice distractors are facts of the same type from other passages (same layer first).
4. Mechanical checks, all required (`check_item`): the span is verbatim in the chunk; the answer is in the
   span (so the span supports it); the question does not give the answer away; each distractor is absent
   from the span (so the span cannot also make it correct), distinct and not the answer; no duplicate
   question or span within the quiz or among the learner's recent items.
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from tutor.knowledge.facts import (
    Fact,
    contains,
    content_words,
    extract_facts,
    figure_unit,
    norm,
)
from tutor.types import Chunk

KINDS = ("mcq", "short")
N_CHOICES = 4

@dataclass
class QuizItem:
    id: str
    layer: int
    question: str
    kind: str  # "mcq" | "short"
    answer: str
    chunk_id: str
    doc: str
    span: str
    choices: list[str] | None = None
    fact: str = ""  # "term" | "figure" | "entity": what kind of fact the answer is
    source: str = "template"  # "llm" when the LLM phrased the question, "template" for the fill-in-the-blank, "flashcard" for a studied card
    alternatives: list[str] = field(default_factory=list)  # other facts of the type (distractors), for grading

    def to_json(self) -> dict:
        """The issue's shape: what a learner (or a client) gets."""
        return {"id": self.id, "layer": self.layer, "question": self.question, "kind": self.kind,
                "choices": self.choices, "answer": self.answer, "chunk_id": self.chunk_id, "doc": self.doc,
                "span": self.span}

    def to_record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, d: dict) -> QuizItem:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def distractors(fact: Fact, pool: Iterable[Fact], rng: random.Random, n: int = N_CHOICES - 1) -> list[str]:
    """Facts of the same type from other passages (same layer first) that the item's span does not contain."""
    same, other = [], []
    for f in pool:
        if f.fact != fact.fact or f.chunk.chunk_id == fact.chunk.chunk_id:
            continue
        if fact.fact == "figure" and figure_unit(f.answer) != figure_unit(fact.answer):
            continue
        (same if f.chunk.layer == fact.chunk.layer else other).append(f.answer)
    out: list[str] = []
    for group in (same, other):
        cands = sorted(set(group))
        rng.shuffle(cands)
        for c in cands:
            if len(out) == n:
                return out
            if _distractor_ok(c, fact, out):
                out.append(c)
    if fact.fact == "figure" and len(out) < n:  # scaled variants of the figure, e.g. 60% -> 30%, 90%, 120%
        m = re.search(r"\d[\d,]*(?:\.\d+)?", fact.answer)
        value = float(m.group(0).replace(",", ""))
        for factor in (0.5, 2, 1.5, 3, 0.25, 4):
            v = value * factor
            text = f"{v:g}" if v < 1e6 else f"{v:,.0f}"
            cand = fact.answer[: m.start()] + text + fact.answer[m.end():]
            if len(out) < n and _distractor_ok(cand, fact, out):
                out.append(cand)
    return out


def _distractor_ok(cand: str, fact: Fact, chosen: list[str]) -> bool:
    return (not contains(fact.span, cand) and norm(cand) != norm(fact.answer) and not contains(cand, fact.answer)
            and not contains(fact.answer, cand) and all(norm(cand) != norm(c) for c in chosen))


# -- checks -------------------------------------------------------------------------------------------------
def check_question(question: str, fact: Fact) -> str | None:
    """Why an LLM-written question cannot be used, or None when it can."""
    q = question.strip()
    if not 12 <= len(q) <= 240 or "\n" in q:
        return "length"
    if not q.endswith("?"):
        return "not a question"
    if contains(q, fact.answer) or (fact.fact == "figure" and re.sub(r"\D", "", fact.answer) in re.sub(r"\D", " ", q).split()):
        return "gives the answer away"
    if len(content_words(q) & content_words(fact.span)) < 2:
        return "not about the passage"
    if re.search(r"\b(this|these|the (sentence|passage|text|above))\b", q, re.I):
        return "refers to something it does not name"
    asks_amount = re.match(r"(how (many|much|long|large|big|fast|far|high)|what (percentage|share|fraction|number|amount)|"
                           r"by how)", q, re.I) is not None
    if fact.fact == "figure" and not asks_amount and not re.search(r"\b(what|which) (is|was|are|were) the\b", q, re.I):
        return "does not ask for a figure"
    if fact.fact == "figure" and re.search(r"\b(name|named|called|who|which (company|companies|firm|country))\b", q, re.I):
        return "asks for a name, the answer is a figure"
    if fact.fact != "figure" and asks_amount:
        return "asks for a figure, the answer is a name"
    if fact.fact == "term":
        def parts(text: str) -> set[str]:  # "CoWoS-R" -> {"cowos"}: a hyphenated term gives itself away by halves
            return {w for w in re.split(r"[^a-z0-9]+", norm(text)) if len(w) > 2}
        if parts(fact.answer) & parts(q) & content_words(fact.answer.replace("-", " ")):
            return "gives part of the term away"
        if len(content_words(q) & content_words(fact.definition)) < 2:
            return "not about the definition"
    return None


def check_item(item: QuizItem, chunk_text: str, recent_questions: set[str], recent_spans: set[str]) -> list[str]:
    """Every mechanical check an item must pass before a learner sees it; returns the failures (empty: shown)."""
    problems = []
    if not item.span or item.span not in chunk_text:
        problems.append("span is not verbatim in the chunk")
    if not contains(item.span, item.answer):
        problems.append("the span does not contain (support) the answer")
    if contains(item.question, item.answer) and "___" not in item.question:
        problems.append("the question gives the answer away")
    if "___" in item.question and contains(item.question.replace("___", " "), item.answer):
        problems.append("the blank leaves the answer visible")
    if item.kind == "mcq":
        ch = item.choices or []
        others = [c for c in ch if norm(c) != norm(item.answer)]
        if len(ch) != N_CHOICES or sum(norm(c) == norm(item.answer) for c in ch) != 1:
            problems.append(f"needs {N_CHOICES} choices with the answer exactly once")
        if len({norm(c) for c in ch}) != len(ch):
            problems.append("duplicate choices")
        if any(contains(item.span, c) or contains(c, item.answer) for c in others):
            problems.append("a distractor is also supported by the span")
    if norm(item.question) in recent_questions:
        problems.append("duplicate question")
    if item.span in recent_spans:
        problems.append("duplicate span")
    return problems


# -- generation ---------------------------------------------------------------------------------------------
QUESTION_PROMPT = """Write one short quiz question about the sentence below. Its correct answer must be exactly: {answer}
Do not include the answer in the question. Reply with the question only.

Sentence: {blanked}"""
TERM_PROMPT = """A teacher asks a student to name a term from its description. Write that question (one sentence ending
with "?", such as "What is the name for ...?" or "Which technique ...?"). The answer is: {answer}
Never write the answer or any word of it in the question.

Description: {definition}"""
# The phrasing step's output, constrained on servers that take a JSON schema (the embedded one does): one string.
QUESTION_SCHEMA = {"type": "object", "properties": {"question": {"type": "string", "maxLength": 240}},
                   "required": ["question"], "additionalProperties": False}

Phrase = Callable[[str], str]  # prompt -> the LLM's reply


@dataclass
class GenerationStats:
    candidates: int = 0
    llm_questions: int = 0
    llm_passed: int = 0
    passed: int = 0
    rejected: dict = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def to_json(self) -> dict:
        return asdict(self)


def template_question(fact: Fact, layer_name: str) -> str:
    if fact.fact == "term":
        return f"Which term of {layer_name} is this: “{fact.definition}”?"
    return f"Fill in the blank: “{fact.blanked}”"


def generate(chunks: list[Chunk], layer: int, layer_name: str, n: int, kind: str, *, phrase: Phrase | None,
             recent_questions: set[str], recent_spans: set[str], pool: list[Fact], rng: random.Random,
             stats: GenerationStats | None = None, on_item: Callable[[QuizItem], None] | None = None,
             max_llm: int | None = None) -> list[QuizItem]:
    """Up to `n` checked items of `kind` from the layer's `chunks`; `phrase` (the LLM) may be None."""
    stats = stats if stats is not None else GenerationStats()
    facts = [f for c in chunks for f in extract_facts(c)]
    rng.shuffle(facts)
    facts = _spread(facts)
    items: list[QuizItem] = []
    questions, spans = set(recent_questions), set(recent_spans)
    llm_calls = 0
    for fact in facts:
        if len(items) == n:
            break
        stats.candidates += 1
        if fact.span in spans:
            stats.reject("duplicate span")
            continue
        alts = distractors(fact, pool, rng)
        if kind == "mcq" and len(alts) < N_CHOICES - 1:
            stats.reject("not enough distractors")
            continue
        question, source = template_question(fact, layer_name), "template"
        if phrase is not None and (max_llm is None or llm_calls < max_llm):
            llm_calls += 1
            stats.llm_questions += 1
            prompt = (TERM_PROMPT.format(answer=fact.answer, definition=fact.definition) if fact.fact == "term"
                      else QUESTION_PROMPT.format(answer=fact.answer, blanked=fact.blanked))
            try:
                text = question_of(phrase(prompt))
            except Exception:  # noqa: BLE001 - the template question is always there to fall back on
                text = ""
            why = check_question(text, fact) if text else "no reply"
            if why is None:
                question, source = text, "llm"
                stats.llm_passed += 1
            else:
                stats.reject(f"LLM question: {why}")
        choices = None
        if kind == "mcq":
            choices = [fact.answer, *alts[: N_CHOICES - 1]]
            rng.shuffle(choices)
        item = QuizItem(id="q-" + secrets.token_hex(5), layer=layer, question=question, kind=kind, answer=fact.answer,
                        chunk_id=fact.chunk.chunk_id, doc=fact.chunk.doc, span=fact.span, choices=choices,
                        fact=fact.fact, source=source, alternatives=alts)
        problems = check_item(item, fact.chunk.text, questions, spans)
        if problems:
            for p in problems:
                stats.reject(p)
            continue
        stats.passed += 1
        questions.add(norm(item.question))
        spans.add(item.span)
        items.append(item)
        if on_item:
            on_item(item)
    return items


def _spread(facts: list[Fact]) -> list[Fact]:
    """Reorder so consecutive items come from different passages and take turns between fact types."""
    out, rest = [], list(facts)
    used_chunks: set[str] = set()
    turn = 0
    order = ("term", "figure", "entity")
    while rest:
        want = order[turn % 3]
        pick = (next((f for f in rest if f.fact == want and f.chunk.chunk_id not in used_chunks), None)
                or next((f for f in rest if f.chunk.chunk_id not in used_chunks), rest[0]))
        turn += 1
        rest.remove(pick)
        out.append(pick)
        used_chunks.add(pick.chunk.chunk_id)
        if len(used_chunks) > 8:
            used_chunks.clear()
    return out


def question_of(reply: str) -> str:
    """The question in the phrasing step's reply: the JSON object's "question" (constrained output), else the
    reply's first line (a server that could not constrain it)."""
    text = (reply or "").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("question"), str):
            return _first_line(value["question"])
    return _first_line(text)


def _first_line(text: str) -> str:
    for line in (text or "").strip().splitlines():
        line = re.sub(r"^(?:question|q)\s*[:.]\s*", "", line.strip(), flags=re.I).strip().strip('"“”').strip()
        if line:
            return line
    return ""
