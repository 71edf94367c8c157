"""Reads `corpus/`, finds each document's layers, and chunks it with llama-index's node parser.

Two kinds of document (see `corpus/documents.toml`):

* `segmentation = "layers"` (the 14-layer deep dive). Its headings were lost, but its top lists one
  summary line per layer, in order, and each layer's section opens with a paragraph that restates that
  summary. `segment_layers` scores every line of the body against every summary (word overlap of the
  opening sentences, plus overlap of the whole lines) and picks the 14 section starts, in order, that
  maximise the total score (a small dynamic programme). The closing cross-layer section starts at the
  first line of the last section that names three or more different layers (`L3`, `L4`, ...); it is
  labelled layer 0, "Cross-layer".
* `segmentation = "classify"` (slides, essay). Chunks come out unlabelled (layer -1) and get their layer
  from `tutor.knowledge.labeling` once they are embedded.

Chunk ids are stable: a hash of the document name and the chunk text, so the same text gets the same id
on every run and a changed passage gets a new one.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import ConfigError
from tutor.knowledge.layers import CROSS_LAYER, N_LAYERS, Taxonomy
from tutor.types import TABLE_COLUMNS, Chunk

UNLABELLED = -1

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from has have in into is it its of on or that the this to was were "
    "which with where what how than then these those their there they we you our not but can".split()
)
_LAYER_REF = re.compile(r"\bL(\d{1,2})\b")


@dataclass(frozen=True)
class DocumentSpec:
    file: str
    title: str
    kind: str
    segmentation: str  # "layers" | "classify"
    content_ends_before: str | None = None


@dataclass(frozen=True)
class Segment:
    """A character range of a document that belongs to one layer (or to none: -1 unlabelled, 0 cross-layer)."""

    layer: int
    start: int
    end: int
    section: str


def load_manifest(corpus_dir: Path) -> list[DocumentSpec]:
    path = corpus_dir / "documents.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        specs = [DocumentSpec(**d) for d in data["document"]]
    except FileNotFoundError:
        raise ConfigError(f"No document manifest at {path}.", "Set TUTOR_CORPUS_DIR to the project's corpus/ folder.") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is malformed ({e}).", "Restore it from git.") from None
    for s in specs:
        if s.segmentation not in ("layers", "classify"):
            raise ConfigError(f"{path}: segmentation of {s.file} must be 'layers' or 'classify'.", "Fix documents.toml.")
    return specs


def read_document(corpus_dir: Path, spec: DocumentSpec) -> str:
    path = corpus_dir / spec.file
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Corpus document {path} is missing.", "Restore corpus/ from git.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Corpus document {path} is not UTF-8 text.", "Restore it from git.") from None


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, line without its newline) for every line of `text`."""
    out, pos = [], 0
    for raw in text.splitlines(keepends=True):
        out.append((pos, raw.rstrip("\r\n")))
        pos += len(raw)
    return out


def _words(s: str) -> set[str]:
    return {w for w in _WORD.findall(s.lower()) if w not in _STOP}


def _first_sentence(s: str) -> str:
    m = re.search(r"[.?!](\s|$)", s)
    return s[: m.end()] if m else s


def _match_score(summary: str, line: str) -> float:
    """How well `line` reads as the opening paragraph of the section that `summary` summarises."""
    a, b = _words(_first_sentence(summary)), _words(_first_sentence(line))
    whole_s, whole_l = _words(summary), _words(line)
    opening = len(a & b) / len(a) if a else 0.0
    overall = len(whole_s & whole_l) / len(whole_s) if whole_s else 0.0
    return opening + 0.5 * overall


def content_end(text: str, spec: DocumentSpec) -> int:
    """Offset where the document's content ends (the start of reader comments), or len(text)."""
    if not spec.content_ends_before:
        return len(text)
    for offset, line in _lines(text):
        if line.startswith(spec.content_ends_before):
            return offset
    raise ConfigError(
        f"{spec.file}: no line starts with content_ends_before={spec.content_ends_before!r}.",
        "The document changed: update corpus/documents.toml.",
    )


def segment_layers(text: str, n_layers: int = N_LAYERS) -> list[Segment]:
    """Split the deep dive into its overview, 14 layer sections and closing cross-layer section."""
    lines = _lines(text)
    nonblank = [i for i, (_, line) in enumerate(lines) if line.strip()]
    if len(nonblank) < 2 + n_layers:
        raise ConfigError("The layered document is too short to hold its 14 summaries.", "Restore corpus/ from git.")
    # The first non-blank line is a tagline; the next n_layers lines summarise the layers in order.
    summary_idx = nonblank[1 : 1 + n_layers]
    summaries = [lines[i][1] for i in summary_idx]
    summary_set = set(summaries)

    # Candidate section openings: body lines that are paragraphs (not table rows, not repeated summaries).
    body_from = summary_idx[-1] + 1
    cands = [
        i for i in range(body_from, len(lines))
        if lines[i][1].strip() and not lines[i][1].lstrip().startswith("|") and lines[i][1] not in summary_set
    ]
    if len(cands) < n_layers:
        raise ConfigError("The layered document has fewer paragraphs than layers.", "Restore corpus/ from git.")
    scores = [[_match_score(s, lines[i][1]) for i in cands] for s in summaries]

    # best[k][c]: best total for layers 0..k with layer k opening at cands[c]; increasing positions.
    neg = float("-inf")
    n = len(cands)
    best = [[neg] * n for _ in range(n_layers)]
    back = [[-1] * n for _ in range(n_layers)]
    best[0] = scores[0][:]
    for k in range(1, n_layers):
        run_max, run_arg = neg, -1
        for c in range(n):
            if c > 0 and best[k - 1][c - 1] > run_max:
                run_max, run_arg = best[k - 1][c - 1], c - 1
            if run_arg >= 0:
                best[k][c] = run_max + scores[k][c]
                back[k][c] = run_arg
    c = max(range(n), key=lambda j: best[n_layers - 1][j])
    starts = [0] * n_layers
    for k in range(n_layers - 1, -1, -1):
        starts[k] = cands[c]
        c = back[k][c]

    segments: list[Segment] = []
    # Overview: each summary line is a tiny passage of its own layer; other preamble lines are cross-layer.
    seen: set[str] = set()
    for i in range(0, starts[0]):
        off, line = lines[i]
        if not line.strip() or line in seen:
            continue  # blank, or the overview repeated verbatim
        seen.add(line)
        if i in summary_idx:
            segments.append(Segment(summary_idx.index(i) + 1, off, off + len(line), "overview"))
        else:
            segments.append(Segment(CROSS_LAYER.number, off, off + len(line), "overview"))

    section_ends = [lines[s][0] for s in starts[1:]] + [len(text)]
    # The closing cross-layer section: in the last section, the first line naming >= 3 different layers.
    closing = next((i for i in range(starts[-1] + 1, len(lines))
                    if len({int(m) for m in _LAYER_REF.findall(lines[i][1])}) >= 3), None)
    if closing is not None:
        section_ends[-1] = lines[closing][0]
    for k, s in enumerate(starts):
        segments.append(Segment(k + 1, lines[s][0], section_ends[k], "section"))
    if closing is not None:
        segments.append(Segment(CROSS_LAYER.number, lines[closing][0], len(text), "cross-layer"))
    return segments


def chunk_id(doc: str, text: str) -> str:
    return hashlib.sha256(f"{doc}\x00{text}".encode("utf-8")).hexdigest()[:16]


class Chunker:
    """llama-index's SentenceSplitter, with character offsets kept into the source file."""

    def __init__(self, chunk_size: int, chunk_overlap: int):
        from llama_index.core.node_parser import SentenceSplitter

        # Lines are the documents' paragraphs, definitions and table rows: split on them first, so a
        # chunk only breaks inside a line when that line alone is longer than a chunk.
        self._splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, paragraph_separator="\n")

    def split(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """(char_start, char_end) of each chunk of text[start:end], in document coordinates."""
        from llama_index.core import Document

        piece = text[start:end]
        if not piece.strip():
            return []
        spans = []
        for node in self._splitter.get_nodes_from_documents([Document(text=piece)]):
            s, e = node.start_char_idx, node.end_char_idx
            if s is None or e is None or piece[s:e] != node.text:
                # The parser normalised the text: locate it ourselves, or fail loudly.
                s = piece.find(node.text)
                if s < 0:
                    raise ConfigError("The chunker changed a chunk's text; offsets would be wrong.", "Report this bug.")
                e = s + len(node.text)
            spans.append((start + s, start + e))
        return spans


TABLE_SEPARATOR = re.compile(r"\|[\s:|-]+\|?")  # a markdown table's |---|---| line


def _table_header(text: str, start: int) -> str | None:
    """The header row of the markdown table that `start` falls in, if the chunk starts inside one: the row above
    the nearest |---| line at or above the chunk's first line (tables can follow one another without a blank
    line, so the block's first row is not always this table's header)."""
    line_start = text.rfind("\n", 0, start) + 1
    if not text.startswith("|", line_start):
        return None
    lines = text[line_start:].split("\n", 2)
    if len(lines) > 1 and TABLE_SEPARATOR.fullmatch(lines[1].strip()):
        return None  # the chunk starts on a header row: it has its header
    below = None  # the row below `pos` while walking up
    pos = line_start
    while text.startswith("|", pos):
        end = text.find("\n", pos)
        row = text[pos:end if end >= 0 else len(text)].strip()
        if below is not None and TABLE_SEPARATOR.fullmatch(below):
            return row
        below = row
        if pos == 0:
            break
        pos = text.rfind("\n", 0, pos - 1) + 1
    return None


def _context(spec: DocumentSpec, layer: int, taxonomy: Taxonomy, text: str, start: int) -> str:
    parts = [spec.title + "."]
    if layer >= 1:
        parts.append(f"Layer {layer}: {taxonomy.name(layer)}.")
    elif layer == CROSS_LAYER.number:
        parts.append("How the layers connect.")
    header = _table_header(text, start)
    if header:
        parts.append(f"{TABLE_COLUMNS}{header}")
    return " ".join(parts)


def build_chunks(corpus_dir: Path, taxonomy: Taxonomy, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Every chunk of every document; chunks of `classify` documents come out with layer -1."""
    chunker = Chunker(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    for spec in load_manifest(corpus_dir):
        text = read_document(corpus_dir, spec)
        end = content_end(text, spec)
        if spec.segmentation == "layers":
            segments = segment_layers(text[:end])
        else:
            segments = [Segment(UNLABELLED, 0, end, "classified")]
        for seg in segments:
            spans = [(seg.start, seg.end)] if seg.section == "overview" else chunker.split(text, seg.start, seg.end)
            for s, e in spans:
                body = text[s:e]
                if not body.strip():
                    continue
                cid = chunk_id(spec.file, body)
                if cid in seen_ids:
                    continue  # the same passage twice in one document: index it once
                seen_ids.add(cid)
                if seg.layer == UNLABELLED:
                    name = "Unlabelled"
                else:
                    name = taxonomy.name(seg.layer)
                chunks.append(Chunk(cid, spec.file, seg.layer, name, body, s, e, (), seg.section,
                                    _context(spec, seg.layer, taxonomy, text, s)))
    return chunks


def corpus_fingerprint(corpus_dir: Path, extra: str = "") -> str:
    """Changes when any document, the manifest, the taxonomy or `extra` (pipeline settings) changes."""
    h = hashlib.sha256(extra.encode("utf-8"))
    for name in ("documents.toml", "layers.toml"):
        h.update((corpus_dir / name).read_bytes())
    for spec in load_manifest(corpus_dir):
        h.update(spec.file.encode())
        h.update((corpus_dir / spec.file).read_bytes())
    return h.hexdigest()[:16]
