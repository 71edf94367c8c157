"""Small immutable data types shared by every layer of the tutor."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Layer:
    number: int
    name: str
    summary: str

    @property
    def label(self) -> str:
        """How the tutor cites a layer: `L3 · AI Chips & Accelerators`."""
        return f"L{self.number} · {self.name}"


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


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float

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
