"""Flashcards from the corpus: the checked facts quizzes are made from, as front and back.

- A glossary term: the front is the term ("CoWoS"), the back its verbatim glossary line.
- A figure: the front is the fill-in-the-blank question of its sentence ("… about ___ of …"), the back the
  verbatim sentence (the figure in it) and the figure itself.

Every card's back is a span verbatim in its passage, cited with its layer ([L3 · AI Chips & Accelerators]),
and a card is made only from a fact whose template quiz item passes the quiz's mechanical checks
(`quiz.check_item`: span verbatim, answer in the span, the blank hides the answer). Cards come in the order
of the stack and of the documents, so the same corpus always gives the same deck.

`anki_tsv` writes the deck as a tab-separated file Anki imports (File > Import): Anki's header lines name the
separator and the tags column, fields are plain text (no HTML).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from tutor.knowledge.facts import extract_facts, norm
from tutor.knowledge.layers import Taxonomy
from tutor.learning.quiz import QuizItem, check_item, template_question
from tutor.types import Chunk

FACT_KINDS = ("term", "figure")


@dataclass(frozen=True)
class Flashcard:
    id: str  # stable: the same fact gives the same id (c- and 10 hex digits)
    layer: int
    label: str  # "L3 · AI Chips & Accelerators"
    fact: str  # term | figure
    front: str
    back: str  # the verbatim span
    answer: str
    chunk_id: str
    doc: str

    @property
    def cited_back(self) -> str:
        """The back with its layer citation, as the terminal and Anki show it."""
        return f"{self.back} [{self.label}]"

    def to_json(self) -> dict:
        return {**asdict(self), "citation": f"[{self.label}]"}


def flashcards(chunks: list[Chunk], taxonomy: Taxonomy, layer: int | None = None) -> list[Flashcard]:
    """The deck of `chunks` (only `layer`'s when given): one card per checked term or figure, no two alike."""
    out: list[Flashcard] = []
    seen: set[str] = set()
    for chunk in sorted(chunks, key=lambda c: (c.layer, c.doc, c.char_start)):
        if chunk.layer < 1 or (layer is not None and chunk.layer != layer):
            continue
        label = taxonomy.get(chunk.layer).label
        for fact in extract_facts(chunk):
            if fact.fact not in FACT_KINDS:
                continue
            question = template_question(fact, taxonomy.name(chunk.layer))
            front = fact.answer if fact.fact == "term" else question
            key = norm(front) + "|" + norm(fact.span)
            if key in seen:
                continue
            probe = QuizItem(id="q-0000000000", layer=chunk.layer, question=question,
                             kind="short", answer=fact.answer, chunk_id=chunk.chunk_id, doc=chunk.doc, span=fact.span,
                             fact=fact.fact)
            if check_item(probe, chunk.text, set(), set()):
                continue  # not checkable: the quiz would not ask it either
            seen.add(key)
            cid = "c-" + hashlib.sha256(f"{chunk.chunk_id}|{fact.fact}|{fact.answer}|{fact.span}".encode()).hexdigest()[:10]
            out.append(Flashcard(cid, chunk.layer, label, fact.fact, front, fact.span, fact.answer, chunk.chunk_id,
                                 chunk.doc))
    return out


def as_quiz_item(card: Flashcard, chunks: list[Chunk], taxonomy: Taxonomy, item_id: str) -> QuizItem | None:
    """The card asked as its quiz question (short answer: the term for its glossary line, the figure for its blank),
    so answering it is graded and scheduled like any quiz item. None when the card's fact is no longer in the
    documents or no longer passes the checks."""
    chunk = next((c for c in chunks if c.chunk_id == card.chunk_id), None)
    if chunk is None:
        return None
    for fact in extract_facts(chunk):
        if fact.fact == card.fact and fact.answer == card.answer and fact.span == card.back:
            item = QuizItem(id=item_id, layer=chunk.layer, question=template_question(fact, taxonomy.name(chunk.layer)),
                            kind="short", answer=fact.answer, chunk_id=chunk.chunk_id, doc=chunk.doc, span=fact.span,
                            fact=fact.fact, source="flashcard")
            return None if check_item(item, chunk.text, set(), set()) else item
    return None


def _field(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def anki_tsv(cards: list[Flashcard]) -> str:
    """The deck as an Anki-importable text file: front, back (span and citation), tags; tab-separated."""
    lines = ["#separator:tab", "#html:false", "#notetype:Basic", "#columns:Front\tBack\tTags", "#tags column:3"]
    for c in cards:
        tags = f"stack-tutor stack-tutor::L{c.layer:02d} {c.fact}"
        lines.append(f"{_field(c.front)}\t{_field(c.cited_back)}\t{tags}")
    return "\n".join(lines) + "\n"
