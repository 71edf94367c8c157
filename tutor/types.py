"""Small immutable data types shared by every layer of the tutor."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tutor import labels
from tutor.labels import Segment

N_LAYERS = 14  # the layers of the stack, 1 (raw materials) to 14 (applications)


@dataclass(frozen=True)
class Layer:
    number: int
    name: str
    summary: str

    @property
    def label(self) -> str:
        """How the tutor cites a layer: `L3 · AI Chips & Accelerators`."""
        return labels.label(self.number, self.name)


@dataclass(frozen=True)
class Chunk:
    """A passage of a corpus document, labelled with its layer.

    `text == source[char_start:char_end]` always holds for the document's file.
    """

    chunk_id: str
    doc: str
    layer: int
    layer_name: str
    text: str
    char_start: int
    char_end: int
    secondary_layers: tuple[int, ...] = ()
    section: str = ""  # how the layer was decided: "overview", "section", "cross-layer", "classified"
    context: str = ""  # what the passage is part of (document, layer, table columns): indexed, not quoted

    @property
    def indexed_text(self) -> str:
        """What gets embedded and BM25-indexed: the passage with its context in front of it."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    def to_payload(self) -> dict:
        d = asdict(self)
        d["secondary_layers"] = list(self.secondary_layers)
        return d

    @classmethod
    def from_payload(cls, payload: dict) -> Chunk:
        fields = {k: payload[k] for k in cls.__dataclass_fields__ if k in payload}
        fields["secondary_layers"] = tuple(fields.get("secondary_layers", ()))
        return cls(**fields)


TABLE_COLUMNS = "Table columns: "  # how a chunk's context names the columns of the table it starts inside


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float  # the ranking score: RRF in hybrid mode, else the one retriever's score
    similarity: float | None = None  # cosine similarity of the query and passage embeddings, when known

    def to_json(self) -> dict:
        c = self.chunk
        return {
            "chunk_id": c.chunk_id,
            "doc": c.doc,
            "layer": c.layer,
            "layer_name": c.layer_name,
            "score": round(float(self.score), 6),
            "text": c.text,
        }


@dataclass(frozen=True)
class IngestReport:
    chunks: int
    added: int
    removed: int
    classified: int
    unchanged: bool
    seconds: float
    encode_seconds: float = 0.0
    per_doc: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as tools return it (to the agent, the MCP server and the CLI)."""

    chunk_id: str
    doc: str
    layer: int
    layer_name: str
    score: float
    text: str
    similarity: float | None = None  # cosine similarity to the query, when the dense retriever saw it
    table_header: str = ""  # the header row of the table the passage starts inside ("" when it starts outside one)

    @classmethod
    def from_hit(cls, hit: SearchHit) -> Passage:
        c = hit.chunk
        sim = None if hit.similarity is None else round(float(hit.similarity), 6)
        header = c.context.split(TABLE_COLUMNS, 1)[1].strip() if TABLE_COLUMNS in c.context else ""
        return cls(c.chunk_id, c.doc, c.layer, c.layer_name, round(float(hit.score), 6), c.text, sim, header)


@dataclass(frozen=True)
class Citation:
    """A layer citation attached in code: `quote` is a verbatim span of the chunk's text."""

    layer: int
    layer_name: str
    chunk_id: str
    doc: str
    quote: str

    @property
    def label(self) -> str:
        return labels.label(self.layer, self.layer_name)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict
    result: str
    error: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


MODES = ("answer", "hint", "reveal")


@dataclass
class Reply:
    """One answer as data. Front ends compose what they show from these fields; none parses `answer` back.

    `body` is the answer itself with its citations inline (`Reply.segments` has them as data); in Socratic
    hint mode `invitation` asks the learner to try; `suggestion` is the next question to ask. `answer`
    composes the three as the terminal and `--json` show them.
    """

    question: str
    body: str = ""
    citations: list[Citation] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    refused: bool = False
    search_query: str = ""
    suggestion: str | None = None
    uncited: list[str] = field(default_factory=list)  # factual-looking sentences no shown passage supports
    timings: dict = field(default_factory=dict)
    usage: dict = field(default_factory=dict)
    passages: list[Passage] = field(default_factory=list)  # what the LLM was shown (front ends' sources panel)
    mode: str = "answer"  # "answer"; in Socratic mode "hint" (guiding questions) or "reveal" (the answer after a try)
    invitation: str = ""  # hint mode: what the learner is asked to do next ("Have a go at answering, …")
    dropped: list[str] = field(default_factory=list)  # sentences the model wrote that the check removed (not shown)

    @property
    def segments(self) -> list[Segment]:
        """The body as plain text pieces and inline layer citations, in order."""
        return labels.segments(self.body)

    @property
    def plain(self) -> str:
        """The body without its citation labels: how an earlier answer is shown to the LLM and to the eval judge."""
        return labels.strip(self.body).strip()

    @property
    def answer(self) -> str:
        return compose_answer(self.body, self.invitation, self.suggestion)

    def history_entry(self) -> dict:
        """This reply as the assistant turn a front end sends back with the next question."""
        entry = {"role": "assistant", "content": self.body, "mode": self.mode}
        if self.suggestion:  # so the next replies don't suggest it again
            entry["suggestion"] = self.suggestion
        return entry

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "body": self.body,
            "segments": [s.to_json() for s in self.segments],
            "citations": [c.to_json() for c in self.citations],
            "tool_calls": [t.to_json() for t in self.tool_calls],
            "refused": self.refused,
            "timings": self.timings,
            "search_query": self.search_query,
            "suggested_question": self.suggestion,
            "uncited_sentences": self.uncited,
            "dropped_sentences": self.dropped,
            "usage": self.usage,
            "mode": self.mode,
        }


TRY_NEXT = "Try next: "


def compose_answer(body: str, invitation: str = "", suggestion: str | None = None) -> str:
    """The whole answer as text: the body, the Socratic invitation, then the suggested question."""
    out = body
    if invitation:
        out += f"\n\n{invitation}"
    if suggestion:
        out += f"\n\n{TRY_NEXT}{suggestion}"
    return out
