"""The tutoring service behind every front end: quizzes, grading, progress and the learning path.

Front ends (CLI, UI, MCP) call `Coach`; it ties the quiz generator, the grader and the progress store
to the index's passages and the LLM.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tutor import validate
from tutor.errors import IndexEmpty, InvalidInput
from tutor.knowledge.facts import Fact, extract_facts, norm
from tutor.knowledge.layers import Taxonomy
from tutor.learning.grading import Grade, check_answer, grade
from tutor.learning.progress import ProgressStore, learner_name
from tutor.learning.quiz import KINDS, GenerationStats, QuizItem, generate
from tutor.llm.client import ChatModel
from tutor.types import Chunk

MAX_ITEMS = 20


@dataclass
class Quiz:
    learner: str
    layer: int
    layer_name: str
    kind: str
    items: list[QuizItem]
    stats: GenerationStats
    chosen_by_path: bool = False  # no layer was asked for: the learning path chose it
    reason: str = ""

    def to_json(self) -> dict:
        return {"items": [i.to_json() for i in self.items]}


class Coach:
    def __init__(self, taxonomy: Taxonomy, chunks: Callable[[], list[Chunk]], llm: Callable[[], ChatModel] | None,
                 store: ProgressStore, default_learner: str = "learner", llm_questions: bool = True):
        self.taxonomy = taxonomy
        self._chunks_fn = chunks
        self._llm_fn = llm
        self.store = store
        self.default_learner = default_learner
        self.llm_questions = llm_questions
        self._lock = threading.Lock()
        self._chunks: list[Chunk] | None = None
        self._pool: list[Fact] | None = None

    # -- inputs -------------------------------------------------------------------------------------------
    def learner(self, name: object = None) -> str:
        return learner_name(self.default_learner if name is None or name == "" else name)

    def _corpus(self) -> tuple[list[Chunk], list[Fact]]:
        with self._lock:
            if self._chunks is None:
                chunks = [c for c in self._chunks_fn() if c.layer >= 1]
                if not chunks:
                    raise IndexEmpty("There are no passages to quiz on.", "Run `tutor ingest` first.")
                self._chunks = sorted(chunks, key=lambda c: (c.layer, c.doc, c.char_start))
                self._pool = [f for c in self._chunks for f in extract_facts(c)]
            return self._chunks, self._pool

    def _phrase(self) -> Callable[[str], str] | None:
        if not self.llm_questions or self._llm_fn is None:
            return None
        llm = self._llm_fn()
        broken = []

        def phrase(prompt: str) -> str:
            if broken:  # the LLM failed once in this quiz: the rest use the template, without waiting again
                raise RuntimeError("LLM unavailable")
            try:
                return llm.complete([{"role": "user", "content": prompt}], max_tokens=48).content
            except Exception:
                broken.append(True)
                raise
        return phrase

    def _judge(self) -> Callable[[str], str] | None:
        if self._llm_fn is None:
            return None

        def judge(prompt: str) -> str:
            return self._llm_fn().complete([{"role": "user", "content": prompt}], max_tokens=80).content
        return judge

    # -- the service --------------------------------------------------------------------------------------
    def quiz(self, learner: object = None, layer: object = None, n: object = 5, kind: object = "short",
             on_item: Callable[[QuizItem], None] | None = None, seed: int | None = None) -> Quiz:
        """A quiz of `n` checked items on `layer` (unset: the learning path's next layer), saved for grading."""
        who = self.learner(learner)
        layer = validate.layer(layer)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ITEMS:
            raise InvalidInput(f"n={n!r} is not a usable number of questions.", f"Use 1 to {MAX_ITEMS}.")
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {str(kind)[:20]!r}.",
                               "mcq: multiple choice; short: a short written answer.")
        chosen, reason = False, ""
        if layer is None:
            step = self.store.next_step(who)
            layer, chosen, reason = step["layer"], True, step["reason"]
        chunks, pool = self._corpus()
        mine = [c for c in chunks if c.layer == layer]
        recent = self.store.recent(who)
        stats = GenerationStats()
        items = generate(mine, layer, self.taxonomy.name(layer), n, kind, phrase=self._phrase(),
                         recent_questions={norm(i.question) for i in recent}, recent_spans={i.span for i in recent},
                         pool=pool, rng=random.Random(seed), stats=stats, on_item=on_item)
        if not items:
            raise InvalidInput(f"I could not make new questions on L{layer} {self.taxonomy.name(layer)}: you have "
                               "been asked about every fact I can check there recently.",
                               "Try another layer, or the other kind (--kind mcq/short).")
        self.store.save_items(who, items)
        return Quiz(who, layer, self.taxonomy.name(layer), kind, items, stats, chosen, reason)

    def item(self, item_id: object) -> QuizItem:
        return self.store.item(item_id)

    def grade(self, item_id: object, answer: object, learner: object = None) -> Grade:
        """Grade an answer to a stored item and record it in the learner's progress.

        One grade per item and learner: answering an item again returns the first grade (`repeat`) and records
        nothing. An item is graded only for the learner whose quiz it was made for."""
        who = self.learner(learner)
        item, owner = self.store.item_and_owner(item_id)
        if owner != who:
            raise InvalidInput(f"Quiz item {item.id} was made for another learner's quiz, not {who!r}'s.",
                               "Grade it as the learner who took that quiz, or start a quiz of your own.")
        text = check_answer(item, answer)  # bad input is an error even for an item answered before
        label = self.taxonomy.get(item.layer).label
        first = self.store.first_grade(who, item)
        if first is None:
            first = self.store.record(who, item, grade(item, text, label, self._judge()), text)
        return first

    def progress(self, learner: object = None) -> list[dict]:
        return self.store.progress(self.learner(learner))

    def next_step(self, learner: object = None) -> dict:
        return self.store.next_step(self.learner(learner))
