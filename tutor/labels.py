"""Layer labels: the one place that formats and parses `L3 · AI Chips & Accelerators` and its bracketed form.

An answer's text carries its citations inline as `[L3 · AI Chips & Accelerators]`. Code that needs them
as data reads `Reply.segments` (made here, in the core); nothing else parses a label out of prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BRACKETED = re.compile(r"\[L(\d{1,2}) · ([^\]\n]{1,80})\]")
_WITH_SPACE = re.compile(r"\s*\[L\d{1,2} · [^\]\n]{1,80}\]")


def label(layer: int, name: str) -> str:
    """How the tutor names a layer to a person: `L3 · AI Chips & Accelerators`."""
    return f"L{layer} · {name}"


def bracketed(layer: int, name: str) -> str:
    """A citation as it sits in an answer: `[L3 · AI Chips & Accelerators]`."""
    return f"[{label(layer, name)}]"


@dataclass(frozen=True)
class Segment:
    """A piece of an answer: plain text (`layer` None) or one inline layer citation."""

    text: str
    layer: int | None = None
    layer_name: str | None = None

    def to_json(self) -> dict:
        return {"text": self.text} if self.layer is None else {"layer": self.layer, "layer_name": self.layer_name}


def segments(text: str) -> list[Segment]:
    """`text` split into plain pieces and its inline citations, in order (joining them gives `text` back)."""
    out: list[Segment] = []
    pos = 0
    for m in _BRACKETED.finditer(text):
        if m.start() > pos:
            out.append(Segment(text[pos : m.start()]))
        out.append(Segment(m.group(0), int(m.group(1)), m.group(2)))
        pos = m.end()
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


def strip(text: str) -> str:
    """`text` without its inline citations (and the space before each)."""
    return _WITH_SPACE.sub("", text)
