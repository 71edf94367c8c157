"""Quantities in the passages and the question, numbered, so that a model picks them by id and never types one.

`extract(sentences, question)` finds every figure (number, currency, scale word such as billion/B/M/K/%,
the unit after it, the words around it or the table row it sits in) and numbers them Q1, Q2, … A
calculation is then an expression over those ids ("(Q3 + Q4) / Q1 * 100"), checked and evaluated in code
by the safe calculator, and shown with the source of every operand. An expression that names an unknown
id, has another character than ids, operators, parentheses and the constant 100, or divides by zero is
a clear `QuantityError`, never a traceback.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace

from tutor.answering import calculator as calc
from tutor.knowledge.bm25 import tokenize

_SCALE = {"trillion": 1e12, "t": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9, "million": 1e6, "m": 1e6,
          "mn": 1e6, "thousand": 1e3, "k": 1e3}
# A figure: optional ~ and currency, digits with thousands separators and decimals, an optional scale word, and
# an optional unit (a % or one or two words/symbols after it, such as "tons/year", "TB/s", "GPUs", "kW").
_FIGURE = re.compile(
    r"(?<![\w.])(?P<approx>[~≈]\s?)?(?P<cur>\\?\$|€|£)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<plus>\+)?"
    r"(?:\s?(?P<scale>trillion|billion|million|thousand|bn|mn|[TBMK])(?![A-Za-z]))?"
    r"(?P<pct>\s?%)?"
    r"(?:\s?(?P<exp>[×x]\s?10(?P<pow>[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\^\d+)))?"  # scientific notation: "3.64 × 10²³"
    r"(?:[\s-]?(?P<unit>(?:[A-Za-z°µ][\w/°µ.-]*)(?:/[A-Za-z]+)?))?"
)
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_YEAR = re.compile(r"^(19|20)\d\d$")
_VERSION = re.compile(r"\d{1,2}\.\d")
_NAME_BEFORE = re.compile(r"(?:\b[A-Z][\w-]*[A-Za-z]|\bv|version|gen(?:eration)?)\s?$")
_ID = re.compile(r"Q(\d{1,3})")
EXPRESSION_PATTERN = r"^[Q0-9 ()+*/.-]{1,120}$"  # what the model may write: ids, operators, parentheses, 100
_ALLOWED_CONSTANTS = {"100", "1", "2"}  # percentages, "1 - x", halves: the only numbers the model may type
MAX_QUANTITIES = 40  # found in the evidence
MAX_SHOWN = 10  # shown to the model


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
        """How the model sees it: `Q3 = ~45,000 tons/year (MP Materials REO production; from the documents)`."""
        where = "from the question" if self.source is None else "from the documents"
        return f"{self.id} = {self.text} ({self.context}; {where})"


def _value(m: re.Match) -> float:
    v = float(m["num"].replace(",", ""))
    scale = (m["scale"] or "").lower()
    if scale in _SCALE and not (scale in ("t", "b", "m", "k") and m["scale"].islower()):
        v *= _SCALE[scale]
    if m["pow"]:
        v *= 10.0 ** int(m["pow"].lstrip("^").translate(_SUPERSCRIPT))
    return v


_RANGE_DASH = re.compile(r"\s?[–-]\s?$")


def _range_partner(text: str, m: re.Match, nxt: re.Match | None) -> re.Match | None:
    """The upper end of a range `m` opens ("$115–135B": 135B), when the two figures are joined by a dash."""
    if nxt is None or m["unit"] or m["scale"] or m["pct"]:
        return None
    between = text[m.end():nxt.start()]
    return nxt if _RANGE_DASH.fullmatch(between) or between in ("-", "–") else None


def _row_label(sentence: str, start: int) -> str:
    """For a table row `| Label | ~45,000 tons/year | 2025 |`, its first cell; else the words before the figure."""
    s = sentence.strip()
    if s.startswith("|"):
        cells = [c.strip() for c in s.strip("|").split("|")]
        if cells and cells[0]:
            return cells[0][:80]
    before = re.sub(r"\s+", " ", sentence[:start])
    # the clause the figure is in ("… costs (2026): 28nm ~$3,000; 2nm ~$30,000+" -> "2nm"), with the sentence's
    # lead-in when the clause alone is a word or two ("wafer costs (2026): 2nm")
    clause = re.split(r"[;,:(]|\s[–-]\s", before)[-1].strip(" :,-–(")
    # the label before the nearest colon, from where its own sentence or clause starts ("… FLOP. LLaMA-3 405B:
    # estimated ~3.8 × 10²⁵" -> "LLaMA-3 405B")
    lead = re.split(r"[.;]\s", before.rsplit(":", 2)[-2])[-1].strip() if ":" in before else ""
    if clause and len(clause.split()) < 3 and lead and lead != clause:
        clause = " ".join(lead.split()[-5:]) + ": " + clause
    words = (clause or before.strip(" :,-–(")).split()[-8:]
    return " ".join(words)[:80] or sentence.strip()[:60]


def figures(text: str) -> list[tuple[re.Match, float, str]]:
    """Every figure in `text` as (match, value, unit), years (1900-2099 without a unit or scale) left out. The
    ends of a range share their scale, unit and currency ("$115–135B" is $115B to $135B, "35-50ms" 35 ms to 50 ms)."""
    out = []
    found = list(_FIGURE.finditer(text))
    opened = None  # the upper end of a range the last kept figure opened
    for i, m in enumerate(found):
        num = m["num"]
        if _YEAR.match(num) and not (m["cur"] or m["scale"] or m["pct"]):
            continue
        if m.start() >= 5 and text[m.start() - 1] in "-–/" and _YEAR.match(text[m.start() - 5 : m.start() - 1]):
            continue  # the second half of "2024-25"
        if m.start() >= 2 and text[m.start() - 1] == "-" and text[m.start() - 2].isalpha() and not m["cur"]:
            continue  # part of a name: "LLaMA-2", "GPT-3"
        if (m["unit"] or "").lower() == "nm":
            continue  # a process node's name ("2nm", "28nm"), not a length anyone computes with
        upper = _range_partner(text, m, found[i + 1] if i + 1 < len(found) else None)
        if ((_VERSION.fullmatch(m["num"]) or (len(m["num"]) <= 2 and not _unit_word(m))) and upper is None
                and not (m["cur"] or m["scale"] or m["pct"] or m["plus"]) and _NAME_BEFORE.search(text[: m.start()])):
            continue  # part of a name, not a quantity: "NVLink 5.0", "PCIe 5.0", "Gemini 3", "LLaMA 3"
        value, unit = _value(m), _unit(m)
        if upper is not None:
            if upper["scale"]:
                value = _value(upper) / float(upper["num"].replace(",", "")) * value
            unit = unit or _unit(upper)  # "35-50ms": 35 ms
        elif opened is m and out[-1][2][:1] in ("$", "€", "£") and not m["cur"]:
            unit = " ".join(x for x in (out[-1][2][0], unit) if x)  # "$115–135B": 135B is dollars too
        out.append((m, value, unit))
        opened = upper
    return out


# Words that follow a figure but are not its unit ("a PUE of 1.2 means", "Gemini 3 has", "72 and").
_NOT_UNIT = frozenset("""and or to of in on at for the a an is was are were be been per from by than as with that
which while when means mean has have had delivers deliver gives give offers offer costs cost makes make uses use
needs need runs run requires require includes include reaches reach grew grows rose fell drops dropped doubled
vs versus more less higher lower over under up down into across about around each every only just such these
those""".split())


def _unit_word(m: re.Match) -> str:
    unit = (m["unit"] or "").rstrip(".,;:)")
    return "" if unit.lower() in _NOT_UNIT else unit


def written(m: re.Match) -> str:
    """The figure as the text writes it: up to the % when there is one, its unit only when it is one, without
    trailing punctuation."""
    if m["pct"]:
        text = m.group(0)[: m.end("pct") - m.start()]
    elif m["unit"] and not _unit_word(m):
        text = m.group(0)[: m.start("unit") - m.start()]
    else:
        text = m.group(0)
    return text.strip().rstrip(".,;:)").replace("\\$", "$")


def _unit(m: re.Match) -> str:
    if m["pct"]:
        return "%"
    cur = (m["cur"] or "").replace("\\", "")
    return " ".join(x for x in (cur, _unit_word(m)) if x)


def extract(sentences: list[tuple], question: str = "", limit: int = MAX_QUANTITIES) -> list[Quantity]:
    """Numbered quantities: the question's own figures first (the learner may give one: "8 racks"), then
    those of `sentences` ((text, passage index) or (text, passage index, table header) tuples, most relevant
    first), each distinct figure once. A table cell's label is its row's label and its column's header, and
    its unit, when the cell has none, the header's ("Throughput (tok/s)")."""
    out: list[Quantity] = []
    seen: set[tuple[str, str]] = set()

    def add(text: str, source: int | None, sentence: str) -> None:
        for m, value, unit in figures(text):
            shown = written(m)
            context = _row_label(text, m.start()) if source is not None else "given in the question"
            column = _column(text, m.start(), header)
            if column:
                context = f"{context}, {column}"
                unit = unit or _header_unit(column)
            if (shown, context) in seen or len(out) >= limit:
                continue
            seen.add((shown, context))
            out.append(Quantity(f"Q{len(out) + 1}", value, shown, unit, context, sentence, source))

    header = ""
    if question:
        add(question, None, "")
    for item in sentences:
        text, source = item[0], item[1]
        header = item[2] if len(item) > 2 else ""
        add(text, source, text)
    return out


_HEADER_UNIT = re.compile(r"\(([A-Za-z%$€£/]{1,10})\)")  # "Throughput (tok/s)", "Memory (GB)"


def _column(row: str, start: int, header: str) -> str:
    """The header of the table column a figure at `start` of `row` stands in ("" outside a table or for the
    row's label)."""
    if not header or not row.lstrip().startswith("|"):
        return ""
    index = row[:start].count("|") - 1
    cells = [c.strip() for c in header.strip().strip("|").split("|")]
    return cells[index] if 0 < index < len(cells) else ""


def _header_unit(column: str) -> str:
    m = _HEADER_UNIT.search(column)
    return m.group(1) if m else ""


def relevant(quantities: list[Quantity], question: str, limit: int = MAX_SHOWN) -> list[Quantity]:
    """What the model is shown: the question's own figures, then the documents' figures whose label and sentence
    share most words with the question, each value once (a figure a table and a sentence both give is one
    quantity), renumbered Q1, Q2, … A small model picks better from ten than from forty."""
    want = set(tokenize(question))
    given = [q for q in quantities if q.source is None]
    seen = {q.value for q in given}
    scored = []
    for n, q in enumerate(quantities):
        if q.source is None or q.value in seen:
            continue
        seen.add(q.value)
        score = 2 * len(want & set(tokenize(q.context))) + len(want & set(tokenize(q.sentence)))
        scored.append((-score, n, q))
    picked = given + [q for _, _, q in sorted(scored, key=lambda x: x[:2])[: max(0, limit - len(given))]]
    return [replace(q, id=f"Q{i}") for i, q in enumerate(picked, 1)]


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
    if len(used) >= 2 and len({q.value for q in used}) == 1:
        raise QuantityError(f"{used[0].id} and {used[1].id} are the same figure; the answer combines different ones")
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


# -- what code can tell about the calculation a question asks for --------------------------------------------
SHAPES = {
    "ratio": re.compile(r"how many times|times (?:more|less|as|bigger|greater|larger|smaller|faster|slower|cheaper|higher|"
                        r"lower)|by what factor|\bratio\b|-fold|how much (?:bigger|larger|faster)", re.I),
    "change": re.compile(r"percent(?:age)?\s+(?:increase|growth|rise|more|higher|larger|bigger|decline|drop|fall|less|lower|"
                         r"cheaper|smaller|change)|by what percent|(?:grow|increase|rise|exceed|fall|drop|decline)\w*\b.*"
                         r"\bpercent|percent.*\b(?:grow|increase|rise|exceed)", re.I),
    "share": re.compile(r"what (?:percent|percentage|share|fraction|proportion)|out of every 100|in percent|percent of|share of", re.I),
    "rate": re.compile(r"\bper\b|\beach\b|average|for every", re.I),
    "difference": re.compile(r"how much (?:more|less)|how many (?:more|fewer)|difference|\bgap\b", re.I),
    "product": re.compile(r"\b\d[\d,.]*\s+(?:such|of (?:these|them|those))\b|how much would|would (?:it|they|that|this) cost|"
                          r"\bat (?:a|the) (?:price|rate) of\b", re.I),
}
_SUCH = re.compile(r"\b\d[\d,.]*\s+(?:such|of (?:these|them|those))\b", re.I)  # "8 such racks": a count of the other
_ASKS_PERCENT = re.compile(r"percent|%|per cent|\bshare\b|proportion|fraction|out of every 100", re.I)
_NOT_ONE_STEP = re.compile(r"doubl|halv|compound|exponent|every \d|each year for|probabilit|chance", re.I)


_IN_SCALE = re.compile(r"\bin (thousand|million|billion|trillion)s\b", re.I)


def asked_scale(question: str) -> tuple[str, float] | None:
    """The unit a question wants its answer in ("…, in millions of dollars?" -> ("million", 1e6)), if any."""
    m = _IN_SCALE.search(question)
    return (m.group(1).lower(), _SCALE[m.group(1).lower()]) if m else None


def asks_percent(question: str) -> bool:
    return bool(_ASKS_PERCENT.search(question))


def _family(q: Quantity) -> str:
    u = q.unit.lower()
    if "%" in u:
        return "%"
    if any(c in u for c in "$€£"):
        return "$"
    return re.sub(r"s$", "", u.split()[-1]) if u else ""


_PER = re.compile(r"\b(?:per|each|every|for every)\s+(?:single\s+)?([A-Za-z][\w-]*)", re.I)
_SAME_UNIT = {"watt": {"w", "kw", "mw", "gw"}, "employe": {"person", "peopl", "employe", "staff"},
              "person": {"person", "peopl", "employe"}}


def _per_words(question: str) -> set[str]:
    """What a rate is per, as stems: "per watt" -> {"watt", "w", "kw", …}, "per H100" -> {"h100"}."""
    out: set[str] = set()
    for m in _PER.finditer(question):
        for w in tokenize(m.group(1)):
            out |= {w} | _SAME_UNIT.get(w, set())
    return out


def _counts(q: Quantity, per: set[str]) -> bool:
    """Whether `q` counts what the rate is per (its unit or label names it): the divisor of "$ per H100"."""
    return bool(per & set(tokenize(f"{q.unit} {q.text} {q.context if q.source is not None else ''}")))


_MIDDLE = re.compile(r"\b(?:middle|midpoint|mid-point|halfway)\b", re.I)


def _is_range(a: Quantity, b: Quantity, question: str) -> bool:
    """Whether `a` and `b` are the two ends of one range in their sentence or the question ("180-220", "$115–135B")."""
    if a.source != b.source or a.sentence != b.sentence or a.value >= b.value:
        return False
    text = a.sentence if a.source is not None else question
    return re.search(re.escape(a.text) + r"\s?[–-]\s?" + re.escape(b.text), text) is not None


def _operands(question: str, pool: list[Quantity]) -> list[tuple[str, float, list[Quantity]]]:
    """What a one-step calculation combines: each quantity, and for a question about "the middle of" a range, the
    range's midpoint ("((Q1 + Q2) / 2)") in place of its two ends."""
    out = [(q.id, q.value, [q]) for q in pool]
    if _MIDDLE.search(question):
        mids = [(f"(({a.id} + {b.id}) / 2)", (a.value + b.value) / 2, [a, b]) for a, b in itertools.permutations(pool, 2)
                if _is_range(a, b, question)]
        ends = {id(x) for _, _, pair in mids for x in pair}
        out = mids + [o for o in out if id(o[2][0]) not in ends]
    return out


# Which side of a comparison the question names first: "how many times more does A produce than B", "grow from
# A to B", "A compared with B".
_FROM_TO = re.compile(r"\bfrom\b(?P<earlier>.+?)\b(?:to|until|by)\b(?P<later>.+)", re.I)
_THAN = re.compile(r"\bthan\b|\bcompared (?:with|to)\b|\bversus\b|\bvs\b\.?|\bagainst\b|\brelative to\b|"
                   r"\b(?:exceed|outperform|beat)s?\b", re.I)
_SMALLER = re.compile(r"\b(?:cheaper|smaller|less|fewer|lower|slower|shorter|lighter)\b", re.I)
_NAMEISH = re.compile(r"[A-Za-z]*[A-Z0-9][\w.-]*")  # MP, Lynas, NVLink, 5.0, 2nm, GPT-3, TensorRT-LLM


def _names(text: str) -> set[str]:
    return set(tokenize(" ".join(_NAMEISH.findall(text))))


def _sides(question: str) -> tuple[set[str], set[str]] | None:
    """(names on the side of the larger/later figure, names on the side it is compared with), shared ones left
    out: {"mp", "materials"} and {"lynas"} for "how many times more does MP Materials produce than Lynas?"."""
    m = _FROM_TO.search(question)
    if m:
        top, bottom = _names(m["later"]), _names(m["earlier"])
    else:
        m = _THAN.search(question)
        if not m:
            return None
        # the upper side is the clause before "than", not the whole question's lead-in
        lead = re.split(r"[.?!,;:]\s", question[: m.start()])[-1]
        top, bottom = _names(lead), _names(question[m.end():])
        if _SMALLER.search(lead):  # "how many times cheaper is A than B": B is the larger figure
            top, bottom = bottom, top
    top, bottom = top - bottom, bottom - top
    return (top, bottom) if top or bottom else None


def _label(qs: list[Quantity]) -> set[str]:
    """What names a figure: its label and unit (for the learner's own figures, the words just before them)."""
    return set().union(*(set(tokenize(f"{q.context} {q.unit} {q.text}")) for q in qs))


def _near(qs: list[Quantity]) -> set[str]:
    """A figure's label and the words of the sentence it is stated in."""
    return _label(qs) | set().union(*(set(tokenize(q.sentence)) for q in qs))


def _score(question: str, want: set[str], sides, shape: str, top: list[Quantity], bottom: list[Quantity]) -> float:
    """How well a calculation's operands fit the question: their labels share its words, each side of a comparison
    is the figure the question names on that side, both come from one sentence for a change, and figures with a
    unit beat bare numbers."""
    score = 0.0
    for q in (*top, *bottom):
        score += 0.5 * len(want & _label([q])) + 0.2 * len(want & set(tokenize(q.sentence)))
        score += 2.0 if q.source is None else 0.0  # a figure the learner gave is meant to be used
        score -= 0.0 if q.unit else 0.7
    if sides and shape in ("ratio", "change", "difference", "share"):
        upper, lower = sides
        a, b = _near(top), _near(bottom)
        a_own, b_own = _label(top), _label(bottom)
        # each side's figure is labelled (best) or stated next to (good) the name the question gives that side,
        # and not labelled with the other side's
        score += 2.0 * (len(upper & a_own) + len(lower & b_own)) + 1.0 * (len(upper & a) + len(lower & b))
        score -= 2.0 * (len(upper & b_own - a_own) + len(lower & a_own - b_own))
    if shape == "change" and top[0].sentence and top[0].sentence == bottom[0].sentence:
        score += 1.0
    return score / (len(top) + len(bottom)) * 2


def _rank(question: str, quantities: list[Quantity], top: int = 6) -> list[tuple[str, float, bool]]:
    """The one-step calculations the question's wording points to (a ratio, a percentage change, a share, a rate, a
    difference, a product) over the most relevant quantities (a range's midpoint when the question asks for the
    middle), with how well each fits, best first: same kind of unit for a comparison, the larger over the smaller
    for "how many times", the later figure against the earlier for a change, and for a rate ("per watt", "per
    H100") a divisor that counts what it is per."""
    shapes = [k for k, pat in SHAPES.items() if pat.search(question)]
    per = _per_words(question)
    if "change" in shapes and "share" in shapes:
        shapes.remove("share")
    want = set(tokenize(question))
    sides = _sides(question)
    operands = _operands(question, quantities[:top])
    out: dict[str, float] = {}
    tied: dict[str, bool] = {}

    def add(expr: str, shape: str, a: list[Quantity], b: list[Quantity]) -> None:
        if expr not in out:
            out[expr] = _score(question, want, sides, shape, a, b)
            tied[expr] = _tied(want, sides, a, b)

    for shape in shapes:
        for (x, xv, a), (y, yv, b) in itertools.permutations(operands, 2):
            if xv == yv or set(map(id, a)) & set(map(id, b)):
                continue
            if shape in ("ratio", "change", "share", "difference") and _family(a[0]) != _family(b[0]):
                continue
            if shape == "ratio" and xv > yv:
                add(f"{x} / {y}", shape, a, b)
            elif shape == "change":
                text = a[0].sentence if a[0].sentence == b[0].sentence else ""
                if not text or text.find(a[0].text) > text.find(b[0].text):
                    add(f"({x} - {y}) / {y} * 100", shape, a, b)
            elif shape == "share" and xv < yv and _family(a[0]) != "%":  # a share of two percentages is no share
                add(f"{x} / {y} * 100", shape, a, b)
            elif shape == "rate" and _counts(b[0], per):
                add(f"{x} / {y}", shape, a, b)
            elif shape == "difference" and xv > yv:
                add(f"{x} - {y}", shape, a, b)
            elif shape == "product" and operands.index((x, xv, a)) < operands.index((y, yv, b)):
                add(f"{x} * {y}", shape, a, b)
    if _MIDDLE.search(question) and any("/ 2)" in e for e in out):  # "taking the middle of the range": it is used
        out = {e: v for e, v in out.items() if "/ 2)" in e}
    return sorted(((e, v, tied[e]) for e, v in out.items()), key=lambda x: -x[1])


def _tied(want: set[str], sides, top: list[Quantity], bottom: list[Quantity]) -> bool:
    """Whether the question ties each figure of a calculation to its place in it, so that code may show the result:
    a figure the learner gave; else, for a comparison with two sides ("A than B", "from A to B"), a figure labelled
    (or stated next to) its side's name and not labelled with the other side's; without sides, a figure labelled
    with a word of the question the other figure's label lacks (which figure is which is then not a guess)."""
    def given(qs: list[Quantity]) -> bool:
        return all(q.source is None for q in qs)

    if sides:
        upper, lower = sides
        # (a name of the other side in this figure's label counts against it only if the other figure lacks it)
        ok_top = given(top) or (bool(upper & _near(top)) and not (lower & _label(top) - _label(bottom)))
        ok_bottom = given(bottom) or (bool(lower & _near(bottom)) and not (upper & _label(bottom) - _label(top)))
        return ok_top and ok_bottom
    a, b = want & _label(top), want & _label(bottom)
    return (given(top) or bool(a - b)) and (given(bottom) or bool(b - a))


def best_calculation(question: str, quantities: list[Quantity]) -> str | None:
    """The calculation code is confident enough to show: the best-fitting one-step calculation, when the question
    asks for one step (not doubling, compounding or a probability) and ties each of its figures to its place in
    it (`_tied`); else None. (Measured on the held-out set with only "one figure labelled with a word of the
    question" required: 4 of 19 results shown were right; docs/benchmarks.md.)"""
    if _NOT_ONE_STEP.search(question):
        return None
    for expr, _, tied in _rank(question, quantities)[:1]:
        if tied:
            return expr
    return None


def candidates(question: str, quantities: list[Quantity], top: int = 6) -> list[str]:
    """`_rank()`'s calculations, best first."""
    return [expr for expr, _, _ in _rank(question, quantities, top)]


def given_calculation(question: str, quantities: list[Quantity]) -> str | None:
    """When the learner gives both figures and the wording names a one-step comparison ("7.2 TB/s … 0.4 TB/s. How
    many times greater …?"), the calculation code is sure of, without asking a model; else None."""
    given = [q for q in quantities if q.source is None]
    if len(given) != 2 or _NOT_ONE_STEP.search(question):
        return None
    for c in candidates(question, given, top=2):
        if c.endswith("* 100") and not asks_percent(question):
            continue
        if "*" in c and not _SUCH.search(question):
            continue  # "2 million input tokens and 1 million output tokens" are priced, not multiplied together
        return c
    return None
