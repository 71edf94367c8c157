"""Checkable facts in corpus passages, and the text helpers that find them.

A fact is a sentence of a passage (its `span`, verbatim) with the thing it states: a glossary term
("FinFET (…): the channel is a vertical fin…" → "FinFET"), a figure with its unit ("60%", "$40 billion")
or a named thing ("TSMC", "CoWoS"). Quizzes ask about them and Socratic hints blank them out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tutor.types import Chunk

MIN_SPAN, MAX_SPAN = 40, 320

_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“($])")
_GLOSSARY = re.compile(r"^(?P<term>[A-Z0-9][\w.+/&'’-]*(?: [\w.+/&'’-]+){0,4}?)(?: \((?P<alias>[^()]{2,80})\))?: (?P<defn>.{30,})$")
_UNIT = (r"%|nm|µm|mm|GW|MW|kW|TWh|GWh|W|TB/s|GB/s|Gb/s|Tb/s|GB|TB|PB|MB|TFLOPS|PFLOPS|EFLOPS|FLOPS|"
         r"billion|million|trillion|thousand|B|M|K|T|x|×|GPUs|GPU|chips|tokens|parameters|layers|years|months|"
         r"weeks|days|hours|nodes|racks|servers|wafers|engineers|companies|countries|percent|degrees|°C")
FIGURE = re.compile(rf"(?<![\w.$])(?P<fig>\$?\d[\d,]*(?:\.\d+)?(?:[-–]\d[\d,]*(?:\.\d+)?)?(?:\s?(?:{_UNIT}))(?![\w/]))")
_ENTITY = re.compile(r"(?<![\w-])(?P<ent>(?:[A-Z][a-z]*[A-Z0-9][\w-]*|[A-Z]{2,}[\w-]*)(?: [A-Z][\w-]*){0,2})(?![\w-])")
_STOP = frozenset("the a an and or of to in on for with by from as at is are was were be been it its this that these "
                  "those which what who how why when where does do did than then into over under about more most "
                  "less their there they them has have had can could will would should may might also not no".split())



@dataclass(frozen=True)
class Fact:
    chunk: Chunk
    span: str
    answer: str
    fact: str  # term | figure | entity
    blanked: str  # the span with the answer replaced by ___
    definition: str = ""  # for a term: what the glossary line says it is


# -- text helpers -------------------------------------------------------------------------------------------
def norm(text: str) -> str:
    """Lower-case, unified quotes/dashes, punctuation other than . % $ removed, single spaces."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').replace("–", "-").replace("—", "-")
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)
    t = re.sub(r"[^\w.%$/+ -]", " ", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)
    return " ".join(t.split())


def contains(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack` as whole words, after `norm`."""
    n, h = norm(needle), norm(haystack)
    return bool(n) and re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", h) is not None


def content_words(text: str) -> set[str]:
    return {w for w in norm(text).split() if w not in _STOP and len(w) > 1}


def sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "|" in line or line.startswith("#"):
            continue
        line = re.sub(r"^(?:[-*•]\s+|\d+\.\s+)", "", line)
        out.extend(s.strip() for s in _SENT_SPLIT.split(line) if s.strip())
    return out


_LABEL_WORDS = frozenset("key vs vs. versus against why how what best practices practice reality difference differences "
                         "advantage advantages overview challenges challenge impact trends trend benefits risks example "
                         "examples lesson lessons takeaway takeaways insight insights summary note status outlook dynamic dynamics "
                         "strategy strategies message future today state landscape".split())


def _is_term(term: str) -> bool:
    """A technical term (CoWoS, Chunked Prefill, FP16 / BF16), not a list label such as "Key insight"."""
    words = term.split()
    return (len(term) >= 2 and len(words) <= 5 and words[0].lower() not in _STOP and any(ch.isalpha() for ch in term)
            and not any(w.lower().strip(".:") in _LABEL_WORDS for w in words)
            and (any(ch.isupper() for ch in term[1:]) or any(ch.isdigit() for ch in term)))


def _blank(span: str, answer: str) -> str:
    return re.sub(rf"(?<![\w.]){re.escape(answer)}(?!\w)", "___", span, count=1)


def blank_facts(sentence: str, keep: str, max_blanks: int = 4) -> str | None:
    """`sentence` with its facts (figures, named things, else its longest new words) replaced by ___, except
    those `keep` (the learner's question) already names; None when nothing is left to blank."""
    spans = [(m.start(1), m.end(1)) for m in re.finditer(r"\(([^()]{3,60})\)", sentence)]  # expansions, asides
    spans += [(m.start("fig"), m.end("fig")) for m in FIGURE.finditer(sentence)]
    spans += [(m.start("ent"), m.end("ent")) for m in _ENTITY.finditer(sentence)]
    spans = [(a, b) for a, b in spans if not contains(keep, sentence[a:b]) and not (content_words(sentence[a:b]) <= content_words(keep))]
    if not spans:
        words = sorted({m.span() for m in re.finditer(r"[A-Za-z][\w-]{5,}", sentence)
                        if m.group(0).lower() not in content_words(keep) and m.group(0).lower() not in _STOP},
                       key=lambda ab: -(ab[1] - ab[0]))
        spans = words[:2]
    chosen: list[tuple[int, int]] = []
    for a, b in sorted(spans, key=lambda ab: ab[0]):
        if len(chosen) < max_blanks and all(b <= c or a >= d for c, d in chosen):
            chosen.append((a, b))
    if not chosen:
        return None
    out, pos = [], 0
    for a, b in chosen:
        out.append(sentence[pos:a] + "___")
        pos = b
    return "".join(out) + sentence[pos:]


# -- facts --------------------------------------------------------------------------------------------------
def extract_facts(chunk: Chunk) -> list[Fact]:
    """Checkable facts in one passage, best first: glossary terms, then figures, then named things."""
    facts: list[Fact] = []
    for line in chunk.text.splitlines():
        m = _GLOSSARY.match(line.strip())
        if not m:
            continue
        term, defn = m["term"].strip(), m["defn"].strip()
        first = sentences(defn)[0] if sentences(defn) else defn
        span = line.strip()
        span = span[: span.find(first) + len(first)] if first in span else span
        if not (MIN_SPAN <= len(span) <= MAX_SPAN) or not _is_term(term):
            continue
        if contains(first, term):
            first = _blank(first, term)
        if len(content_words(first)) < 6 or first.rstrip().endswith(":"):
            continue  # too vague to identify the term ("Next generation (announced for 2025).")
        facts.append(Fact(chunk, span, term, "term", _blank(span, term), definition=first))
    for sent in sentences(chunk.text):
        if not (MIN_SPAN <= len(sent) <= MAX_SPAN) or sent not in chunk.text:
            continue
        figs = [m["fig"].strip() for m in FIGURE.finditer(sent)]
        for fig in figs[:2]:
            facts.append(Fact(chunk, sent, fig, "figure", _blank(sent, fig)))
        ents = [m["ent"].strip() for m in _ENTITY.finditer(sent) if m.start() > 0]
        for ent in ents[:2]:
            if len(ent) >= 3 and not any(ent in f for f in figs):
                facts.append(Fact(chunk, sent, ent, "entity", _blank(sent, ent)))
    seen, out = set(), []
    for f in facts:
        if f.span in chunk.text and contains(f.span, f.answer) and (f.span, f.answer) not in seen:
            seen.add((f.span, f.answer))
            out.append(f)
    return out


def figure_unit(fig: str) -> str:
    m = re.search(r"[^\d,.\s$–-].*$", fig)
    return (m.group(0).strip() if m else "") + ("$" if "$" in fig else "")
