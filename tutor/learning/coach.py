"""The tutoring service behind every front end: quizzes, grading, progress and the learning path.

Front ends (CLI, UI, MCP) call `Coach`; it ties the quiz generator, the grader and the progress store
to the index's passages and the LLM.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tutor import validate
from tutor.errors import IndexEmpty, InvalidInput
from tutor.knowledge.facts import Fact, extract_facts, norm
from tutor.knowledge.layers import Taxonomy
from tutor.learning.cards import Flashcard, as_quiz_item, flashcards
from tutor.learning.grading import Grade, check_answer, grade
from tutor.learning.progress import DueCard, ProgressStore, ReviewResult, check_clock, learner_name, recommend
from tutor.learning.quiz import KINDS, GenerationStats, QuizItem, generate
from tutor.llm.client import ChatModel
from tutor.types import Chunk

MAX_ITEMS = 20
MAX_REVIEWS = 50
RETIRED = "its passage is no longer in the documents"


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


@dataclass
class ReviewQueue:
    """The learner's cards due now (the longest due first, at most `n` of them) and what else there is to know:
    how many are due in all, when the next one falls due, and cards taken out of review because their passage
    left the documents."""

    learner: str
    cards: list[DueCard]
    total_due: int
    next_due: datetime | None  # the next card due after now (None: nothing waiting)
    known: bool  # whether the learner has any quiz items at all
    retired: list[str] = field(default_factory=list)  # item ids retired by this call

    def to_json(self) -> dict:
        return {"learner": self.learner, "cards": [c.to_json() for c in self.cards], "total_due": self.total_due,
                "next_due": self.next_due.isoformat() if self.next_due else None, "known_learner": self.known,
                "retired": self.retired}


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
                return llm.complete([{"role": "user", "content": prompt}], max_tokens=64).content
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
        if layer is None:  # a quiz is new material: the path's next layer to study (due reviews are mentioned)
            step = recommend(self.store.progress(who), reviews_first=False)
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

    def grade(self, item_id: object, answer: object, learner: object = None, seconds: float | None = None) -> Grade:
        """Grade an answer to a stored item and record it in the learner's progress; the item becomes a review
        card (`Grade.next_review` says when it is due). `seconds`: how long the learner took, when measured.

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
            first = self.store.record(who, item, grade(item, text, label, self._judge()), text, _seconds(seconds))
        return first

    # -- spaced review ------------------------------------------------------------------------------------
    def due(self, learner: object = None, n: object = 10) -> ReviewQueue:
        """The learner's cards due for review now, the longest due first (at most `n`). A card whose passage is no
        longer in the documents is retired (taken out of review, its grades kept), not asked."""
        who = self.learner(learner)
        n = _count(n, MAX_REVIEWS, "reviews")
        retired: list[str] = []
        while True:
            cards = self.store.due(who, n)
            gone = [c.item.id for c in cards if not self._still_checked(c.item)] if cards else []
            if not gone:
                break
            self.store.retire(gone, RETIRED)
            retired += gone
        return ReviewQueue(who, cards, self.store.due_count(who), self.store.next_due(who), self.store.known(who),
                           retired)

    def review(self, item_id: object, answer: object, learner: object = None, version: object = None,
               seconds: float | None = None) -> ReviewResult:
        """Grade an answer to a due card (as a quiz answer is graded) and reschedule the card with FSRS.

        `version` is the card's `version` when it was asked (from `due`): if another process reviewed the card
        since, nothing is recorded and that review is returned (`repeat`). Without it, the card must be due now."""
        who = self.learner(learner)
        item, owner = self.store.item_and_owner(item_id)
        if owner != who:
            raise InvalidInput(f"Quiz item {item.id} was made for another learner's quiz, not {who!r}'s.",
                               "Review as the learner who took that quiz (tutor review --learner NAME).")
        card = self.store.card(item.id)
        if card is None:
            raise InvalidInput(f"Quiz item {item.id} is not a review card yet: it has not been answered.",
                               f"Answer it first: tutor grade {item.id} \"your answer\".")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
            raise InvalidInput(f"version={version!r} is not a card version.", "Pass the `version` the due card came with.")
        if version is not None and version != card.reps:
            return self.store.last_review(item)  # reviewed meanwhile (another session or process): that one counts
        text = check_answer(item, answer)
        now = self.store.now()
        check_clock(card, now)
        if card.due > now:
            raise InvalidInput(f"The card for {item.id} is not due until {card.due:%Y-%m-%d %H:%M} UTC; nothing was "
                               "recorded.", "Review the cards that are due: tutor review.")
        if not self._still_checked(item):
            self.store.retire([item.id], RETIRED)
            raise InvalidInput(f"The passage quiz item {item.id} was checked against is no longer in the documents, so "
                               "its card was taken out of review (its grades are kept).", "Review the other due cards.")
        g = grade(item, text, self.taxonomy.get(item.layer).label, self._judge())
        return self.store.review(who, item, g, text, card.reps, _seconds(seconds))

    def now(self) -> datetime:
        """The review clock's now (UTC)."""
        return self.store.now()

    def next_review(self, learner: object = None) -> datetime | None:
        return self.store.next_due(self.learner(learner))

    def _still_checked(self, item: QuizItem) -> bool:
        """Whether the item's span is still verbatim in its passage of the indexed documents."""
        chunks, _ = self._corpus()
        by_id = getattr(self, "_by_id", None)
        if by_id is None or by_id[0] is not chunks:
            by_id = self._by_id = (chunks, {c.chunk_id: c for c in chunks})
        chunk = by_id[1].get(item.chunk_id)
        return chunk is not None and item.span in chunk.text

    # -- flashcards ---------------------------------------------------------------------------------------
    def cards(self, layer: object = None) -> list[Flashcard]:
        """The flashcards of the documents (of one layer when given): checked facts, each with its cited span."""
        n = validate.layer(layer)
        chunks, _ = self._corpus()
        return flashcards(chunks, self.taxonomy, n)

    def study(self, card_id: object, learner: object = None) -> QuizItem:
        """A flashcard asked as a quiz question, stored for the learner: grading it (`grade`) makes it a review card
        scheduled like any quiz item. The same card for the same learner is the same item, so it is graded once
        and then comes back through review."""
        who = self.learner(learner)
        if not isinstance(card_id, str) or not re.fullmatch(r"c-[0-9a-f]{10}", card_id.strip()):
            raise InvalidInput(f"{str(card_id)[:40]!r} is not a flashcard id.",
                               "Card ids look like c-1a2b3c4d5e, as `tutor cards` lists them.")
        card = next((c for c in self.cards() if c.id == card_id.strip()), None)
        if card is None:
            raise InvalidInput(f"There is no flashcard {card_id.strip()} in the documents.",
                               "List the cards with `tutor cards` (ids change only when the documents do).")
        item_id = "q-" + hashlib.sha256(f"{who}|{card.id}".encode()).hexdigest()[:10]
        try:
            return self.store.item(item_id)  # studied before: its grade stands, the card comes back in review
        except InvalidInput:
            pass
        chunks, _ = self._corpus()
        item = as_quiz_item(card, chunks, self.taxonomy, item_id)
        if item is None:
            raise InvalidInput(f"Flashcard {card.id} no longer passes the quiz's checks.", "Study another card.")
        self.store.save_items(who, [item])
        return item

    def progress(self, learner: object = None) -> list[dict]:
        """One row per layer: mastery (expected recall now, with coverage), attempts, mastered, cards, due, retention."""
        return self.store.progress(self.learner(learner))

    def next_step(self, learner: object = None, reviews_first: bool = True) -> dict:
        """What to do next: due reviews first (`action` "review"), else the next layer to study. A front end without
        a review mode asks with reviews_first=False: the study step, whose reason says how many reviews wait."""
        return recommend(self.store.progress(self.learner(learner)), reviews_first)


def _count(n: object, top: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
        raise InvalidInput(f"n={n!r} is not a usable number of {what}.", f"Use 1 to {top}.")
    return n


def _seconds(seconds: float | None) -> float | None:
    """How long the learner took, if it is a usable number of seconds (else not used)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 86400:
        return None
    return float(seconds)
