"""Grounded answers from a small model: code decides what it can, the model makes small constrained choices,
and every sentence is checked against the documents before a learner sees it.

1. `evidence()` splits the shown passages into sentences (a table row keeps its table's header), ranks
   them against the question and keeps the best within a token budget: S1, S2, … The model reads these,
   not whole passages.
2. A decision, constrained to a JSON schema: which sentences answer the question (none → the tutor
   refuses and names the nearest layers). A calculation needs no model: code numbers the quantities
   (`quantities.py`), picks the one-step calculation that fits the question and evaluates it.
3. The model writes the explanation in free text from the chosen sentences only; `supported()` checks each
   sentence it writes (its numbers, names and content words must be in the chosen sentences, the question
   or the calculation), and drops the ones that aren't. If nothing survives, the chosen sentences
   themselves are the answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tutor.answering.citations import sentences as sentence_spans
from tutor.knowledge.bm25 import STOP_WORDS, tokenize
from tutor.knowledge.corpus import TABLE_SEPARATOR
from tutor.types import Citation, Passage

EVIDENCE_BUDGET_TOKENS = 420  # what the decision step reads, at most (about 4 characters a token)
MAX_EVIDENCE = 10
MAX_CHOSEN = 3
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_ENTITY = re.compile(r"\b(?:[A-Z][a-z]*[A-Z0-9][\w-]*|[A-Z]{2,}[\w-]*)\b")  # HBM, CoWoS, NVL72, H100, TSMC
_CAPITALISED = re.compile(r"(?<=\s)[A-Z][a-z]{2,}\b")  # Samsung, Nvidia: a name not at the start of the sentence
MIN_SUPPORTED_SHARE = 0.7  # of a sentence's content words that must be in its evidence


@dataclass(frozen=True)
class Evidence:
    id: str  # "S1"
    text: str  # verbatim in the passage
    passage: Passage
    context: str = ""  # a table row's header line, shown with it (not quoted)
    goes_with: str = ""  # the chosen sentence this one was added for (it points back to it, or it points back)

    def line(self) -> str:
        ctx = f" (table: {self.context})" if self.context else ""
        return f"{self.id}: {self.text}{ctx}"

    def citation(self) -> Citation:
        p = self.passage
        return Citation(p.layer, p.layer_name, p.chunk_id, p.doc, self.text)


def _sentences_of(p: Passage) -> list[tuple[str, str]]:
    """(sentence, context) pairs of a passage: prose split into sentences, each table row whole with its header."""
    out: list[tuple[str, str]] = []
    header = p.table_header  # a passage that starts inside a table: its header row is in the chunk before
    lines = [line.strip() for line in p.text.splitlines()]
    for i, raw in enumerate(lines):
        if not raw:
            header = ""
            continue
        if raw.startswith("|"):
            if TABLE_SEPARATOR.fullmatch(raw):
                continue
            if i + 1 < len(lines) and TABLE_SEPARATOR.fullmatch(lines[i + 1]):  # a header row: the |---| line follows
                header = raw
                continue
            out.append((raw, header))  # a row (a passage may start mid-table: then it has no header)
            continue
        header = ""
        for s, e in sentence_spans(raw):
            text = raw[s:e].strip()
            if len(text) >= 12:
                out.append((text, ""))
    return out


def evidence(passages: list[Passage], query: str, budget_tokens: int = EVIDENCE_BUDGET_TOKENS,
             limit: int = MAX_EVIDENCE) -> list[Evidence]:
    """The sentences of `passages` most relevant to `query`, best first, within a token budget."""
    want = set(tokenize(query))
    scored = []
    for rank, p in enumerate(passages):
        for k, (text, ctx) in enumerate(_sentences_of(p)):
            words = set(tokenize(text + " " + ctx))
            if len(words) < 3:
                continue  # a heading or an aside ("(More frequently than you think)"): nothing to answer with
            overlap = len(want & words)
            # passages come ranked: ties go to the better passage and to the earlier sentence
            scored.append((overlap - 0.15 * rank - 0.01 * k + 0.02 * min(len(words), 12), text, ctx, p))
    scored.sort(key=lambda x: -x[0])
    out: list[Evidence] = []
    used = 0
    seen = set()
    for _, text, ctx, p in scored:
        if text in seen or text not in p.text:
            continue
        cost = (len(text) + len(ctx)) // 4 + 4
        if out and used + cost > budget_tokens:
            continue
        seen.add(text)
        used += cost
        out.append(Evidence(f"S{len(out) + 1}", text, p, ctx))
        if len(out) >= limit:
            break
    return out


# -- what the question is about: checked in code before and after the model's choice ------------------------
# Names a learner types: product ids and acronyms (GSM8K, RTX, H100s, KV-cache), and capitalised words that
# don't start a sentence (Lynas, Huang). Words every question about the stack uses are not names.
_NAME = re.compile(r"(?<![\w-])(?:[A-Z][a-z]*[A-Z0-9][\w.-]*|[A-Z]{2,}[\w-]*|[a-z]+\d[\w.-]*|[a-z]+[A-Z][\w-]*|[A-Z][a-z]{2,})"
                   r"(?![\w-])")
_COMMON_NAMES = frozenset({"AI", "I", "GPU", "GPUs", "CPU", "CPUs", "US", "USA", "CEO", "API", "APIs", "LLM", "LLMs",
                           "OK", "FAQ", "TL", "DR"})


_KIND_SUFFIX = re.compile(r"-(?:class|style|like|based|type|grade|level|scale|sized|powered|era|only|native|ready)$", re.I)


def question_names(question: str) -> list[str]:
    """The names in a learner's question (not a sentence's first word), possessives and plurals as written."""
    out: list[str] = []
    for part in re.split(r"(?<=[.?!:;])\s+|\n+", question.strip()):
        words = part.split(None, 1)
        for m in _NAME.finditer(words[1] if len(words) > 1 else ""):
            name = re.sub(r"['’]s$", "", m.group(0).rstrip(".-"))
            name = _KIND_SUFFIX.sub("", name)  # "NVLink-class links" are NVLink links
            if name and name not in _COMMON_NAMES and name.lower() not in STOP_WORDS and name not in out:
                out.append(name)
    return out


_DESCRIPTIVE = re.compile(r"^(?:(?:north|south|east|west)(?:ern|east|west)?(?:ern)?|[A-Z][a-z]+(?:an|ese|ish|ic))$", re.I)


def is_descriptive(name: str) -> bool:
    """A capitalised word that places or describes ("Southeast Asian", "European", "Chinese") rather than names
    something a passage must mention for the question to be in the documents."""
    return bool(_DESCRIPTIVE.match(name)) and not is_identifier(name)


def is_identifier(name: str) -> bool:
    """A product or model name (H100, GPT-4, MI300X, vLLM, CoWoS) rather than a plain capitalised word or a
    company's acronym: a passage about NVLink is NVIDIA's without naming it, and "GPU-to-GPU" is no product."""
    parts = [x for x in name.split("-") if x]
    if parts and all(x in _COMMON_NAMES or x.lower() in STOP_WORDS for x in parts):
        return False
    return bool(re.search(r"\d|[a-z][A-Z]", name))


def unnamed_ids(question: str, text: str) -> list[str]:
    """The product ids of the question (H100, MI300X, 8x7B) that lower-cased `text` doesn't mention."""
    return [n for n in question_names(question) if is_identifier(n) and not mentioned(n, text)]


def mentioned(name: str, text: str) -> bool:
    """Whether lower-cased `text` mentions `name` (as written, without a plural s, without spaces — "ElevenLabs" for
    "Eleven Labs" — or, for a hyphenated word, each of its parts)."""
    n = name.lower()
    if n in text or (n.endswith("s") and n[:-1] in text):
        return True
    if n in text.replace(" ", ""):
        return True
    parts = [x for x in n.split("-") if x]
    return len(parts) > 1 and all(x in text for x in parts)


# Words that start an explanation's sentence without naming anything.
_STARTERS = frozenset("""however according because therefore also this these those that then first second finally
instead overall together so but yes no in for by with without while when where which what why how both each every
many most some such thus hence moreover additionally meanwhile today currently essentially basically""".split())

# The kind of figure a question asks for, and what in the chosen sentences can answer it.
_ASKS_MONEY = re.compile(r"\b(how much|what)\b.*\b(cost|costs|price[sd]?|pay|paid|charge[sd]?|spen[dt]|worth|sell|sold)\b|"
                         r"\b(price|cost) of\b", re.I)
_ASKS_YEAR = re.compile(r"(?:^|[.?!]\s+)when\s+(?:did|was|were|will|is|are|does|do|has|have)\b|"
                        r"\b(?:what|which) (?:year|date|month)\b|\bsince when\b", re.I)
_ASKS_COUNT = re.compile(r"\bhow many\s+((?:[\w-]+\s+){0,3}?[\w-]+?)\s+(?:do|does|did|are|is|was|were|has|have|had|can|could|"
                         r"will|would|should|in|on|of|per|for|go|went|there|work|run|live|need|take|hold|make|"
                         r"get|serve|ship|exist|contain)\b", re.I)
# "how fast …", "what value of beta …": a figure is asked for, whatever its unit (not in a "why" question).
_ASKS_FIGURE = re.compile(r"\bhow (?:much|many|fast|big|large|long|old|often|far|high|low|quickly|heavy|expensive|cheap|"
                          r"hot|cold|warm|tall|wide|small)\b|\bwhat (?:\w+ )?(?:value|rate|share|percentage|score|"
                          r"temperature|speed|size|price|cost|fraction|number|amount|figure)\b|"
                          r"\bat what (?:speed|rate|temperature|price|cost)\b", re.I)
_WHY = re.compile(r"^\W*(?:why|how come|explain)\b", re.I)
_TWO_ASKS = re.compile(r"\band (?:how|what|why|which|who|when|where|does|is|are)\b|"  # or a comparison to work out
                       r"\bhow (?:many times|much (?:more|less|faster|slower|bigger|smaller|cheaper|higher|lower))\b", re.I)
_NUMBER_WORD = re.compile(r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand|"
                          r"million|billion|trillion|dozen|twice|double[sd]?|triple[sd]?|half|quarter)\b", re.I)
_MONEY = re.compile(r"[$€£]\s?\d|\d\s?(?:dollars|usd|euros)\b", re.I)
_YEAR_OR_DATE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)


# The thing a "what X does Y have" question asks about ("dropout rate", "Elo score", "thermal design power"); of its
# words, those that name a kind of figure rather than the thing itself don't count.
_ASKS_WHAT = re.compile(r"^\W*what\s+(?:is|are|was|were)\s+(?:the|a|an)\s+((?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:of|for|on|in)\b|"
                        r"^\W*what\s+((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:do|does|did|is|are|was|were|has|have|had|can|will)\b",
                        re.I)
_KIND_OF_FIGURE = frozenset(tokenize("value rate share percentage score number amount figure size kind type level "
                                     "price cost speed"))


def missing_thing(question: str, texts: list[str]) -> str:
    """The thing a "what X does Y …" question asks about when no word of it is in `texts` (the chosen sentences):
    "What dropout rate does GPT-3 use?" answered with GPT-3's training FLOP. "" otherwise."""
    m = _ASKS_WHAT.search(question)
    if not m:
        return ""
    thing = (m.group(1) or m.group(2)).strip()
    words = [w for w in tokenize(thing) if w not in _KIND_OF_FIGURE]
    if not words or set(words) & set(tokenize(" ".join(texts))):
        return ""
    return f"anything about the {thing}"


def missing_figure(question: str, texts: list[str]) -> str:
    """What the question asks for that `texts` (the chosen sentences) can't give, in words ("" when nothing is
    missing): a price for a "how much does it cost" question, a year for a "when", the counted thing and a
    number for a "how many X", a figure of any kind for "how fast" or "what value of …". A two-part question or
    a comparison to work out is not refused for one missing part."""
    joined = " ".join(texts)
    if _TWO_ASKS.search(question):
        return ""  # "how much memory do you save, and what does it cost you?": one part missing is no refusal
    if _ASKS_YEAR.search(question) and not _YEAR_OR_DATE.search(joined):
        return "a date"
    if _ASKS_MONEY.search(question) and not _MONEY.search(joined):
        return "a price or amount of money"
    m = _ASKS_COUNT.search(question)
    if m and not re.search(r"\btimes\b", m.group(1), re.I):
        head = tokenize(m.group(1))[-1:]  # the counted thing's noun: "materials" of "different materials"
        have = set(tokenize(joined))
        if head and (not _NUMBER.search(joined) or head[0] not in have):
            return f"the number of {m.group(1).strip()}"
    if _ASKS_FIGURE.search(question) and not _WHY.search(question) and not (_NUMBER.search(joined)
                                                                            or _NUMBER_WORD.search(joined)):
        return "a figure"  # one ask, and no figure at all: "what value of beta …" answered with a definition
    return ""


# -- the decisions (constrained output) ---------------------------------------------------------------------
def choice_schema(ids: list[str]) -> dict:
    return {"type": "object", "properties": {
        "answer_in": {"type": "array", "items": {"type": "string", "enum": ids}, "maxItems": MAX_CHOSEN}},
        "required": ["answer_in"]}


class BadDecision(ValueError):
    """The model's decision does not fit its schema (or names ids that were not shown)."""


def _json(text: str) -> dict:
    m = re.search(r"\{.*\}", text or "", re.S)
    if not m:
        raise BadDecision("no JSON object in the reply")
    try:
        value = json.loads(m.group(0))
    except json.JSONDecodeError as e:
        raise BadDecision(f"the JSON is broken ({e.msg})") from None
    if not isinstance(value, dict):
        raise BadDecision("the reply is not a JSON object")
    return value


def parse_choice(text: str, shown: list[Evidence]) -> list[Evidence]:
    value = _json(text).get("answer_in")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadDecision('"answer_in" must be a list of sentence ids')
    by_id = {e.id: e for e in shown}
    unknown = [v for v in value if v.strip() not in by_id]
    if unknown:
        raise BadDecision(f"unknown sentence id(s) {', '.join(unknown[:3])}")
    return list(dict.fromkeys(by_id[v.strip()] for v in value))[:MAX_CHOSEN]


# A sentence that can't stand alone: it points back to the sentence before it in its passage ("This is why …",
# "Due to the continued improvement of foundational models" under a slide's title).
_POINTS_BACK = re.compile(r"^(?:this|that|these|those|it|its|they|their|such|thus|hence|therefore|as a result|"
                          r"due to|because|which)\b", re.I)


def with_neighbours(chosen: list[Evidence]) -> list[Evidence]:
    """The chosen sentences with what they mean together: a sentence that points back comes with the sentence
    before it in its passage, and a sentence comes with the next one when that one points back to it. An added
    sentence is placed next to its partner, in the passage's order, and remembers it (`goes_with`)."""
    out: list[Evidence] = []
    have = {f.text for f in chosen}
    prose_of: dict[str, list[str]] = {}
    for f in chosen:
        if f.passage.chunk_id not in prose_of:
            prose_of[f.passage.chunk_id] = [t for t, _ in _sentences_of(f.passage) if not t.startswith("|")]
        prose = prose_of[f.passage.chunk_id]
        k = prose.index(f.text) if f.text in prose else -1
        before = prose[k - 1] if k > 0 and _POINTS_BACK.match(f.text) else ""
        after = prose[k + 1] if 0 <= k < len(prose) - 1 and _POINTS_BACK.match(prose[k + 1]) else ""
        if before and before not in have:
            out.append(Evidence(f"{f.id}a", before, f.passage, "", f.text))
            have.add(before)
        out.append(f)
        if after and after not in have:
            out.append(Evidence(f"{f.id}b", after, f.passage, "", f.text))
            have.add(after)
    return out


# -- checking what the model wrote --------------------------------------------------------------------------
def _numbers(text: str) -> set[str]:
    out = set()
    for n in _NUMBER.findall(text):
        n = n.replace(",", "").rstrip(".")
        out.add(n[:-2] if n.endswith(".0") else n)
    return out


def _numbers_in(texts: list[str]) -> set[str]:
    return set().union(*(_numbers(t) for t in texts))


def has_number(text: str) -> bool:
    return bool(_numbers(text))


def numbers_grounded(sentence: str, sources: list[str]) -> bool:
    """Every number in `sentence` appears in one of `sources` (1,200 and 1200 are the same number)."""
    return _numbers(sentence) <= _numbers_in(sources)


def mixes_numbers(sentence: str, own: list[str]) -> bool:
    """Whether `sentence` gives a figure of its evidence `own` together with a number that is not there (the
    learner's "3nm" with the 2nm yield of the documents)."""
    nums = _numbers(re.sub(r"\[[^\]]*\]", "", sentence))
    have = _numbers_in(own)
    return bool(nums & have) and not nums <= have


def supported(sentence: str, sources: list[str], names_from: list[str] | None = None) -> tuple[bool, str]:
    """Whether `sentence` says only what `sources` (the chosen sentences, the question, a calculation) say:
    its numbers and names all appear there (names in `names_from` when given: a name the learner typed is no
    support for pairing it with a document's figure), and most of its content words do. (False, why) otherwise."""
    text = re.sub(r"\[[^\]]*\]", "", sentence)
    if not numbers_grounded(text, sources):
        missing = sorted(_numbers(text) - _numbers_in(sources))
        return False, f"the number(s) {', '.join(missing)} are not in the documents shown"
    joined = " ".join(sources)
    named = " ".join(names_from if names_from is not None else sources).lower()
    names = {e for e in _ENTITY.findall(text) if e not in _COMMON_NAMES}
    names |= {w for w in _CAPITALISED.findall(text) if w.lower() not in STOP_WORDS}
    # A sentence's first word is a name unless it starts sentences anyway, and then it must be where names may come
    # from: "Meta's biggest data center covers 100+ acres" from "xAI's Colossus occupies 100+ acres" and a
    # question about Meta is caught (the learner's word is no support for pairing it with a document's figure).
    first = re.match(r"\s*([A-Z][a-z]{2,})\b", text)
    if first and first.group(1).lower() not in _STARTERS and first.group(1).lower() not in STOP_WORDS:
        names.add(first.group(1))
    absent = sorted(e for e in names if not mentioned(e, named))
    if absent:
        return False, f"{', '.join(absent)} is not in the documents shown"
    words = set(tokenize(text))
    if not words:
        return True, ""
    have = set(tokenize(joined))
    share = len(words & have) / len(words)
    if share < MIN_SUPPORTED_SHARE:
        return False, f"only {share:.0%} of its words come from the documents shown"
    return True, ""


_META = re.compile(r"^(according to (the )?(passage|sentence|document|text)s?( S?\d+)?|the (passage|sentence|document|text)s?"
                   r"( S?\d+)? (states?|says?|mentions?|notes?|explains?|shows?)( that)?|based on (the )?"
                   r"(passage|sentence|document|text)s?( S?\d+)?)[,:]?\s*", re.I)


# A small model sometimes narrates the instructions: "The first sentence directly answers the question: …",
# "To explain this further: …", "Answer: …".
_NARRATION = re.compile(r"^(?:the (?:first|second|next|last) sentence[^:]{0,60}:|to explain (?:this|it|further)[^:]{0,30}:|"
                        r"(?:short |direct )?answer:|explanation:)\s*[\"“]?", re.I)


def tidy(sentence: str) -> str:
    """A sentence without meta-talk ("The passage states that …", "The first sentence answers …:") and with its
    first letter capitalised."""
    s = _NARRATION.sub("", sentence.strip()).strip()
    s = _META.sub("", s).strip().rstrip('"”').strip()
    s = re.sub(r"\s*\((?:S|passage |sentence )\d+\)", "", s)
    s = re.sub(r"\bS\d+\b", "", s).replace("  ", " ").strip()
    return s[:1].upper() + s[1:] if s else s



def readable(e: Evidence) -> str:
    """A table row as a sentence a person reads ("Amazon: 2026 capex ~$200B; Notes …"), prose as it is."""
    if not e.text.startswith("|"):
        return e.text
    cells = [c.strip() for c in e.text.strip().strip("|").split("|")]
    heads = [c.strip() for c in e.context.strip().strip("|").split("|")] if e.context else []
    if not cells:
        return e.text
    pairs = [f"{h} {c}" if h else c for h, c in zip(heads[1:] + [""] * len(cells), cells[1:]) if c]
    return f"{cells[0]}: " + "; ".join(pairs) + "."


def overlap(question: str, e: Evidence) -> int:
    return len(set(tokenize(question)) & set(tokenize(e.text + " " + e.context)))


def says_something(sentence: str, own: list[str], question: str) -> bool:
    """Whether `sentence` takes at least one content word or number from its evidence `own` that the question
    doesn't have: a sentence made of the question's words ("Yes, many developers still use TensorFlow.", "The
    essay expects Google to ramp up TPU v5e chips") asserts what was asked, not what the documents say."""
    asked = set(tokenize(question)) | _numbers(question)
    have = set(tokenize(" ".join(own))) | _numbers_in(own)
    return bool(((set(tokenize(sentence)) | _numbers(sentence)) & have) - asked)


def adds_to(e: Evidence, question: str, answer: str, linked: bool = False) -> bool:
    """Whether chosen sentence `e` bears on the question (three of its words, or it goes with a sentence the answer
    cites: `linked`) and says something `answer` doesn't (under 60 % of its words already there)."""
    words = set(tokenize(e.text + " " + e.context))
    if not words or (not linked and overlap(question, e) < 3):
        return False
    return len(words & set(tokenize(answer))) / len(words) < 0.6


def best_fact(sentence: str, facts: list[Evidence]) -> Evidence:
    words = set(tokenize(sentence))
    return max(facts, key=lambda f: (len(words & set(tokenize(f.text + " " + f.context))), -facts.index(f)))


class SentenceGate:
    """Streams a model's text one checked sentence at a time: a sentence is shown only once it is complete and
    `check(sentence)` returns the text to show (None drops it), so an unsupported claim never reaches the
    learner, not even for a moment."""

    _END = re.compile(r"(?<=[.!?])(?:\s*\[[^\]\n]{1,12}\])*\s+(?=\S)")

    def __init__(self, check, emit, max_sentences: int = 3):
        self._check, self._emit, self.max = check, emit, max_sentences
        self._buf = ""
        self.kept: list[str] = []
        self.dropped: list[tuple[str, str]] = []

    def feed(self, token: str) -> None:
        self._buf += token
        while True:
            m = self._END.search(self._buf)
            if not m:
                return
            sentence, self._buf = self._buf[: m.start()], self._buf[m.end():]
            self._take(sentence)

    def close(self, complete: bool = True) -> None:
        """The end of the text; `complete=False` (cut off by the token limit) drops an unfinished last sentence."""
        rest, self._buf = self._buf.strip(), ""
        if rest and (complete or rest.rstrip("]").rstrip()[-1:] in ".!?"):
            self._take(rest)

    def _take(self, sentence: str) -> None:
        sentence = sentence.strip()
        if not sentence or len(self.kept) >= self.max:
            return
        shown, why = self._check(sentence)
        if shown is None:
            self.dropped.append((sentence, why))
            return
        self._emit(("" if not self.kept else " ") + shown)
        self.kept.append(shown)
