"""Layer citations, attached and checked in code. The model's own markers are never trusted as they are.

The model cites passages by number (`[2]`); this module maps each number to the passage the tutor
actually showed it, rewrites the marker as the passage's layer (`[L3 · AI Chips & Accelerators]`), and
records a citation whose quote is the sentence of that passage closest to the cited sentence — a
verbatim span, checked. Markers that point nowhere (a number that was not shown, a layer no shown
passage belongs to) are dropped. A factual sentence left without a marker gets the passage it
overlaps most, if the overlap is clear; calculations get the passages their operands came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tutor import labels
from tutor.knowledge.bm25 import tokenize
from tutor.types import Citation, Passage

_BRACKET = re.compile(r"\[([^\[\]\n]{1,80})\]")
_ITEM_NUM = re.compile(r"^(?:passage|source|doc|ref)?\s*#?\s*(\d{1,3})$", re.I)
_ITEM_LAYER = re.compile(r"^L\s?(\d{1,2})\b", re.I)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+(?=\s|$)|$)|[^\n]+", re.M)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
MAX_QUOTE = 300
MIN_REPAIR_OVERLAP = 0.4
MIN_REPAIR_WORDS = 4


def label(p: Passage) -> str:
    return labels.label(p.layer, p.layer_name)


def bracketed(p: Passage) -> str:
    """The passage's layer as a citation in an answer: `[L3 · AI Chips & Accelerators]`."""
    return labels.bracketed(p.layer, p.layer_name)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence-like span of `text`, whitespace trimmed."""
    out = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def best_quote(passage_text: str, claim: str) -> str:
    """The sentence of the passage sharing most words with `claim` (a verbatim span, at most MAX_QUOTE chars)."""
    want = set(tokenize(claim))
    best, best_score = None, -1.0
    for s, e in sentences(passage_text):
        words = set(tokenize(passage_text[s:e]))
        if not words:
            continue
        score = len(want & words) + 0.01 * min(len(words), 20)  # ties: the fuller sentence
        if score > best_score:
            best, best_score = (s, e), score
    if best is None:
        return passage_text.strip()[:MAX_QUOTE]
    s, e = best
    if e - s > MAX_QUOTE:  # cut at a word boundary; still verbatim
        cut = passage_text.rfind(" ", s, s + MAX_QUOTE)
        e = cut if cut > s else s + MAX_QUOTE
    return passage_text[s:e]


@dataclass
class Attached:
    text: str
    citations: list[Citation] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # markers that pointed at nothing shown
    repaired: int = 0  # uncited sentences that got a citation by overlap
    uncited: list[str] = field(default_factory=list)  # factual-looking sentences left without one


class CitationMapper:
    """Maps the markers of one answer onto the passages shown to the model (numbered from 1)."""

    def __init__(self, passages: list[Passage]):
        self.passages = passages

    def _resolve(self, inner: str) -> list[Passage] | None:
        """The passages a bracket's content cites, [] for a marker that cites nothing valid, None if not a marker."""
        items = [t.strip() for t in re.split(r"[,;]|\band\b", inner) if t.strip()]
        if not items:
            return None
        found: list[Passage] = []
        looked_like_marker = False
        for item in items:
            m = _ITEM_NUM.match(item)
            if m:
                looked_like_marker = True
                n = int(m.group(1))
                if 1 <= n <= len(self.passages):
                    found.append(self.passages[n - 1])
                continue
            m = _ITEM_LAYER.match(item)
            if m:
                looked_like_marker = True
                layer = int(m.group(1))
                same = [p for p in self.passages if p.layer == layer]
                if same:
                    found.append(same[0])  # the best-ranked shown passage of that layer
                continue
        return found if looked_like_marker else None

    def rewrite_markers(self, text: str) -> tuple[str, list[tuple[int, Passage]], list[str]]:
        """Text with markers rewritten as layer labels; (position, passage) of each citation; dropped markers."""
        out: list[str] = []
        cites: list[tuple[int, Passage]] = []
        dropped: list[str] = []
        pos = 0
        for m in _BRACKET.finditer(text):
            found = self._resolve(m.group(1))
            if found is None:
                continue
            out.append(text[pos : m.start()].rstrip(" ") if not found else text[pos : m.start()])
            if found:
                names = []
                for p in found:
                    if bracketed(p) not in names:
                        names.append(bracketed(p))
                    cites.append((sum(len(x) for x in out), p))
                out.append(" ".join(names))
            else:
                dropped.append(m.group(0))
            pos = m.end()
        out.append(text[pos:])
        return "".join(out), cites, dropped

    def attach(self, text: str, repair: bool = True) -> Attached:
        new_text, cites, dropped = self.rewrite_markers(text)
        result = Attached(text=new_text, dropped=dropped)
        spans = sentences(new_text)

        def owner(pos: int) -> int:
            """The sentence a label at `pos` belongs to: the one it sits in, or the one before when it opens a span."""
            for i, (s, e) in enumerate(spans):
                if s <= pos < e:
                    return i - 1 if pos - s <= 1 and i > 0 else i
                if s > pos:
                    return max(i - 1, 0)
            return len(spans) - 1

        seen: set[tuple[str, str]] = set()
        cited: set[int] = set()
        for pos, p in cites:
            i = owner(pos)
            cited.add(i)
            self._add(result, p, _strip_labels(new_text[spans[i][0] : spans[i][1]]) if spans else "", seen)
        if repair:
            additions: list[tuple[int, Passage]] = []
            for i, (s, e) in enumerate(spans):
                sent = _strip_labels(new_text[s:e]).strip()
                if i in cited or not _is_factual(sent):
                    continue
                p, overlap = self.closest(sent)
                if p is not None and overlap >= MIN_REPAIR_OVERLAP:
                    additions.append((e, p))
                    self._add(result, p, sent, seen)
                    result.repaired += 1
                else:
                    result.uncited.append(sent)
            for e, p in sorted(additions, key=lambda a: -a[0]):
                if result.text[e - 1] in ".!":  # "… claim [L3 · X]." rather than "… claim. [L3 · X]"
                    e -= 1
                result.text = result.text[:e] + f" {bracketed(p)}" + result.text[e:]
        return result

    def closest(self, claim: str) -> tuple[Passage | None, float]:
        """The shown passage containing the largest share of the claim's content words."""
        words = set(tokenize(_strip_labels(claim)))
        if len(words) < MIN_REPAIR_WORDS:
            return None, 0.0
        best, best_share = None, 0.0
        for p in self.passages:
            share = len(words & set(tokenize(p.text))) / len(words)
            if share > best_share:
                best, best_share = p, share
        return best, best_share

    def operand_sources(self, expression: str) -> list[tuple[str, Passage, str]]:
        """(number, passage, quote) for each number of a calculation that appears in a shown passage."""
        out = []
        for num in dict.fromkeys(_NUMBER.findall(expression.replace(",", ""))):
            for p in self.passages:
                quote = _sentence_with_number(p.text, num)
                if quote:
                    out.append((num, p, quote))
                    break
        return out

    @staticmethod
    def _add(result: Attached, p: Passage, claim: str, seen: set) -> None:
        quote = best_quote(p.text, claim)
        key = (p.chunk_id, quote)
        if key in seen or quote not in p.text:
            return
        seen.add(key)
        result.citations.append(Citation(p.layer, p.layer_name, p.chunk_id, p.doc, quote))


def _strip_labels(text: str) -> str:
    return labels.strip(text)


def _is_factual(sentence: str) -> bool:
    s = sentence.strip()
    return len(s) > 20 and not s.endswith("?") and not s.lower().startswith(("the documents don't", "i don't know"))


def _sentence_with_number(text: str, num: str) -> str | None:
    """The sentence of `text` that contains `num` as a number (1200 also matches 1,200)."""
    for s, e in sentences(text):
        sent = text[s:e]
        plain = sent.replace(",", "")
        if re.search(rf"(?<![\d.]){re.escape(num)}(?![\d]|\.\d)", plain):
            return sent[:MAX_QUOTE] if len(sent) > MAX_QUOTE else sent
    return None


class StreamRewriter:
    """Rewrites markers as tokens stream: holds text back from a `[` until its `]` (or until it cannot be a
    marker), so a front end never shows `[2]` and then has to take it back."""

    def __init__(self, mapper: CitationMapper):
        self._mapper = mapper
        self._held = ""

    def feed(self, token: str) -> str:
        self._held += token
        out = []
        while self._held:
            i = self._held.find("[")
            if i < 0:
                out.append(self._held)
                self._held = ""
                break
            k = len(self._held[:i].rstrip(" "))  # keep the spaces before "[": a dropped marker takes them along
            out.append(self._held[:k])
            self._held = self._held[k:]
            j = self._held.find("]")
            if j < 0:
                if len(self._held) > 82 or "\n" in self._held:
                    b = self._held.find("[")
                    out.append(self._held[: b + 1])
                    self._held = self._held[b + 1 :]
                    continue
                break  # wait for more tokens
            text, _, _ = self._mapper.rewrite_markers(self._held[: j + 1])
            out.append(text)
            self._held = self._held[j + 1 :]
        return "".join(out)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
