"""Checks on user input shared by every entry point (CLI, UI, MCP, API). Each failure says how to fix it."""

from __future__ import annotations

import unicodedata

from tutor.errors import InvalidInput
from tutor.types import N_LAYERS

MAX_K = 50
LAYER_HINT = f"Use 1 (raw materials) to {N_LAYERS} (applications); the list of layers names each one."
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}


def question(text: object, max_chars: int) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"The question must be text, not {type(text).__name__}.", "Pass a string.")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise InvalidInput("The question is not valid UTF-8 text.", "Re-type it or re-save the file as UTF-8.")
    bad = sorted({f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS})
    if bad:
        raise InvalidInput(
            f"The question contains control characters ({', '.join(bad[:5])}).",
            "Remove them (they often come from pasting terminal output).",
        )
    stripped = " ".join(text.split())
    if not stripped:
        raise InvalidInput("The question is empty.", "Ask something, e.g. “What is CoWoS?”")
    if len(stripped) > max_chars:
        raise InvalidInput(
            f"The question is {len(stripped):,} characters long; the limit is {max_chars:,}.",
            "Shorten it to the part you want answered (or raise TUTOR_MAX_QUESTION_CHARS).",
        )
    return stripped


def top_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidInput(f"k must be a whole number, not {k!r}.", f"Use a number from 1 to {MAX_K}.")
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"k={k} is out of range.", f"Use a number from 1 to {MAX_K}.")
    return k


def layer(n: object) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidInput(f"layer must be a whole number, not {n!r}.", LAYER_HINT)
    if not 1 <= n <= N_LAYERS:
        raise InvalidInput(f"There is no layer {n}.", LAYER_HINT)
    return n
