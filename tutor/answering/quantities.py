"""Quantities in the passages and the question, numbered, so that a model picks them by id and never types one.

`extract(sentences, question)` finds every figure (number, currency, scale word such as billion/B/M/K/%,
the unit after it, the words around it or the table row it sits in) and numbers them Q1, Q2, … A
calculation is then an expression over those ids ("(Q3 + Q4) / Q1 * 100"), checked and evaluated in code
by the safe calculator, and shown with the source of every operand. An expression that names an unknown
id, has another character than ids, operators, parentheses and the constant 100, or divides by zero is
a clear `QuantityError`, never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.answering import calculator as calc

_SCALE = {"trillion": 1e12, "t": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9, "million": 1e6, "m": 1e6,
          "mn": 1e6, "thousand": 1e3, "k": 1e3}
# A figure: optional ~ and currency, digits with thousands separators and decimals, an optional scale word, and
# an optional unit (a % or one or two words/symbols after it, such as "tons/year", "TB/s", "GPUs", "kW").
_FIGURE = re.compile(
    r"(?<![\w.])(?P<approx>[~≈]\s?)?(?P<cur>\\?\$|€|£)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<plus>\+)?"
    r"(?:\s?(?P<scale>trillion|billion|million|thousand|bn|mn|[TBMK])(?![A-Za-z]))?"
    r"(?P<pct>\s?%)?"
    r"(?:\s?(?P<unit>(?:[A-Za-z°µ][\w/°µ.-]*)(?:/[A-Za-z]+)?))?"
)
_YEAR = re.compile(r"^(19|20)\d\d$")
_ID = re.compile(r"Q(\d{1,3})")
EXPRESSION_PATTERN = r"^[Q0-9 ()+*/.-]{1,120}$"  # what the model may write: ids, operators, parentheses, 100
_ALLOWED_CONSTANTS = {"100", "1", "2"}  # percentages, "1 - x", halves: the only numbers the model may type
MAX_QUANTITIES = 24


class QuantityError(ValueError):
    """An expression over quantity ids that cannot be used; the message says why."""


@dataclass(frozen=True)
class Quantity:
    id: str  # "Q1"
    value: float  # with its scale applied: "$14.5 billion" -> 14.5e9
    text: str  # as written: "$14.5 billion", "~45,000 tons/year"
    unit: str  # "$", "%", "tons/year", "GPUs", "" …
    context: str  # what it measures: the table row's label, or the words before it
    sentence: str  # the verbatim sentence or table row it stands in ("" for the question)
    source: int | None  # 1-based index of the passage it came from; None: the learner's question

    def line(self) -> str:
        """How the model sees it: `Q3 = ~45,000 tons/year (MP Materials REO production)`."""
        where = "from the question" if self.source is None else f"passage {self.source}"
        return f"{self.id} = {self.text} ({self.context}; {where})"


def _value(m: re.Match) -> float:
    v = float(m["num"].replace(",", ""))
    scale = (m["scale"] or "").lower()
    if scale in _SCALE and not (scale in ("t", "b", "m", "k") and m["scale"].islower()):
        v *= _SCALE[scale]
    return v


def _row_label(sentence: str, start: int) -> str:
    """For a table row `| Label | ~45,000 tons/year | 2025 |`, its first cell; else the words before the figure."""
    s = sentence.strip()
    if s.startswith("|"):
        cells = [c.strip() for c in s.strip("|").split("|")]
        if cells and cells[0]:
            return cells[0][:80]
    before = re.sub(r"\s+", " ", sentence[:start]).strip(" :,-–(")
    words = before.split()[-8:]
    return " ".join(words)[:80] or sentence.strip()[:60]


def figures(text: str) -> list[tuple[re.Match, float]]:
    """Every figure in `text` with its value, years (1900-2099 without a unit or scale) left out."""
    out = []
    for m in _FIGURE.finditer(text):
        num = m["num"]
        if _YEAR.match(num) and not (m["cur"] or m["scale"] or m["pct"]):
            continue
        if m.start() >= 5 and text[m.start() - 1] in "-–/" and _YEAR.match(text[m.start() - 5 : m.start() - 1]):
            continue  # the second half of "2024-25"
        out.append((m, _value(m)))
    return out


def written(m: re.Match) -> str:
    """The figure as the text writes it: up to the % when there is one, without trailing punctuation."""
    text = m.group(0)[: m.end("pct") - m.start()] if m["pct"] else m.group(0)
    text = re.sub(r"\s+(and|or|to|of|in|on|at|for|the|a|an|is|was|per|from|by)$", "", text.strip())
    return text.rstrip(".,;:)").replace("\\$", "$")


def _unit(m: re.Match) -> str:
    if m["pct"]:
        return "%"
    cur = (m["cur"] or "").replace("\\", "")
    unit = (m["unit"] or "").rstrip(".,;:)")
    if unit.lower() in {"and", "or", "to", "of", "in", "on", "at", "for", "the", "a", "an", "is", "was", "per"}:
        unit = ""
    return " ".join(x for x in (cur, unit) if x)


def extract(sentences: list[tuple[str, int]], question: str = "", limit: int = MAX_QUANTITIES) -> list[Quantity]:
    """Numbered quantities: the question's own figures first (the learner may give one: "8 racks"), then
    those of `sentences` ((text, passage index) pairs, most relevant first), each distinct figure once."""
    out: list[Quantity] = []
    seen: set[tuple[str, str]] = set()

    def add(text: str, source: int | None, sentence: str) -> None:
        for m, value in figures(text):
            shown = written(m)
            context = _row_label(text, m.start()) if source is not None else "given in the question"
            if (shown, context) in seen or len(out) >= limit:
                continue
            seen.add((shown, context))
            out.append(Quantity(f"Q{len(out) + 1}", value, shown, _unit(m), context, sentence, source))

    if question:
        add(question, None, "")
    for text, source in sentences:
        add(text, source, text)
    return out


def check_expression(expression: object, quantities: list[Quantity]) -> list[Quantity]:
    """The quantities an expression uses, in order; QuantityError when it is unusable."""
    if not isinstance(expression, str) or not expression.strip():
        raise QuantityError("the expression is empty")
    if not re.fullmatch(EXPRESSION_PATTERN, expression.strip()):
        raise QuantityError(f"the expression {expression[:60]!r} has characters other than quantity ids, + - * / ( ) "
                            "and the constant 100")
    by_id = {q.id: q for q in quantities}
    used = []
    for n in _ID.findall(expression):
        qid = f"Q{n}"
        if qid not in by_id:
            raise QuantityError(f"{qid} is not one of the quantities (they are {', '.join(by_id) or 'none'})")
        used.append(by_id[qid])
    if not used:
        raise QuantityError("the expression uses no quantity")
    stray = [c for c in re.findall(r"(?<![Q\d.])\d+(?:\.\d+)?", expression) if c not in _ALLOWED_CONSTANTS]
    if stray:
        raise QuantityError(f"the expression types the number(s) {', '.join(stray)}; use quantity ids instead")
    return used


def evaluate(expression: str, quantities: list[Quantity]) -> tuple[float, str, list[Quantity]]:
    """(value, the arithmetic with the numbers written in, the quantities used)."""
    used = check_expression(expression, quantities)
    by_id = {q.id: q for q in quantities}
    numeric = _ID.sub(lambda m: repr(by_id[f"Q{m.group(1)}"].value), expression)
    try:
        value = calc.evaluate(numeric)
    except ZeroDivisionError:
        raise QuantityError("the expression divides by zero") from None
    except calc.CalculatorError as e:
        raise QuantityError(str(e)) from None
    shown = _ID.sub(lambda m: by_id[f"Q{m.group(1)}"].text, expression.replace("*", " × ").replace("/", " ÷ "))
    return float(value), " ".join(shown.split()), used
