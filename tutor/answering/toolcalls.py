"""Reading what a small model writes: tool calls it puts into its text instead of `tool_calls`, the streamed
text held back while it may still be one, and whether a question needs arithmetic."""

from __future__ import annotations

import json
import re

from tutor.llm.client import ToolCallRequest

_TOOL_BLOCK = re.compile(r"<tool_call>\s*(\{.*?\})\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\})\s*(?:```|$)", re.S)
# Questions that need arithmetic. A strong signal names the operation (times more, ratio, percent, by what
# factor, arithmetic typed in the question); a weak one only suggests it ("how much … per", "in total", a "%"
# figure, two numbers with a "how many"): for those, a calculation code can't confirm falls back to a text
# answer, and code picks none from the documents' figures.
_CALC_STRONG = re.compile(r"\btimes (more|less|as|greater|bigger|larger|smaller|faster|slower|higher|lower|cheaper)\b|"
                          r"\bratio\b|\bpercent|\bdifference between\b|\bsum of\b|\baverage\b|\bmultipl|"
                          r"\bdivid(?!e by)|\bcalculat|\bcompute (?:the|how|what|it)\b|\d\s*[*×/x+]\s*\d|\d\s+-\s+\d|"
                          r"\bby what factor\b|\bhow many times\b", re.I)
_CALC_WEAK = re.compile(r"%|\bin total\b|\btotal of\b|how many .* in \d|\bworth of\b|how much .* per\b|"
                        r"what would .* cost", re.I)
_CALC_QTY = re.compile(r"how (many|much)|total|per\b|each", re.I)
_STANDALONE_NUMBER = re.compile(r"(?<![\w.-])\d[\d,]*(?:\.\d+)?(?!\w)")
_WHY = re.compile(r"^\W*why\b", re.I)  # "Why does attention divide by √d_k?" asks for a reason, not a number


def calculation_signal(question: str) -> str:
    """"strong" when the wording names a calculation, "weak" when it only suggests one, "" otherwise."""
    if _WHY.search(question):
        return ""
    if _CALC_STRONG.search(question):
        return "strong"
    numbers = _STANDALONE_NUMBER.findall(question)  # one number is usually a name (RTX 4090); two are operands
    if _CALC_WEAK.search(question) or (len(numbers) >= 2 and _CALC_QTY.search(question)):
        return "weak"
    return ""


def needs_calculation(question: str) -> bool:
    """Whether to offer the tools and ask for a calculator call first."""
    return bool(calculation_signal(question))


def inline_tool_calls(content: str, tools: dict) -> list[ToolCallRequest]:
    """Tool calls a model wrote into its text instead of `tool_calls`: Qwen2.5 writes <tool_call>{…}</tool_call>,
    a ```json fenced block, or bare JSON (sometimes with doubled braces), depending on the server's template."""
    text = content.strip()
    blocks = _TOOL_BLOCK.findall(text) or _FENCED.findall(text) or ([text] if text.startswith("{") else [])
    calls = []
    for i, b in enumerate(blocks):
        b = b.strip()
        if b.startswith("{{") and b.endswith("}}"):
            b = b[1:-1]
        try:
            obj = json.loads(b)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("name") in tools:
            args = obj.get("arguments", obj.get("parameters", {}))
            calls.append(ToolCallRequest(f"inline_{i}", obj["name"], args if isinstance(args, str) else json.dumps(args)))
    return calls


_CALL_OPENERS = ("<tool_call>", "```json", "```\n{")


class HoldBack:
    """Holds streamed text back while it may still turn out to be an inline tool call."""

    def __init__(self):
        self.held = ""
        self._decided = False

    def feed(self, tok: str) -> str:
        if self._decided:
            return tok
        self.held += tok
        s = self.held.lstrip()
        if not s:
            return ""
        if s.startswith("{") or any(tag.startswith(s[: len(tag)]) for tag in _CALL_OPENERS):
            return ""
        self._decided = True
        out, self.held = self.held, ""
        return out
