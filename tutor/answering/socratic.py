"""Socratic mode: a new question gets hints; the learner's next message (a try, or "show me") gets the answer.

Which of the two a turn is comes from the history: our front ends send each reply's `mode` with it; a
client that sends plain text is read by the hint's invitation at the end of the tutor's last turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.answering import prompts

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
    hinted = last is not None and last["role"] == "assistant" and was_hint(last)
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



def was_hint(message: dict) -> bool:
    """Whether an assistant turn was a Socratic hint: its `mode` when the front end sent it (ours do), else (plain
    text history from another client) whether it ends with the hint's invitation."""
    mode = message.get("mode")
    if mode is not None:
        return mode == "hint"
    return message["content"].rstrip().endswith(prompts.HINT_TAIL)
