"""Wiring: the single place that builds concrete objects from Settings. Front ends talk to `TutorApp`."""

from __future__ import annotations

from collections import Counter
from functools import cached_property

from tutor import bm25, validate
from tutor.embed import Embedder
from tutor.index import VectorStore
from tutor.ingest import Progress, ingest, is_current
from tutor.layers import Taxonomy
from tutor.settings import Settings
from tutor.types import IngestReport, SearchHit

MODES = ("hybrid", "dense", "sparse")


class TutorApp:
    """Owns the embedder and the index for one process. Heavy parts load on first use; call close()."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.taxonomy = Taxonomy.load(settings.corpus_dir)
        self._store: VectorStore | None = None

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            self._store = VectorStore(self.settings)
        return self._store

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        return Embedder(s.embed_model, s.data_dir, batch_size=s.embed_batch_size, threads=s.embed_threads)

    def ingest(self, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        return ingest(self.settings, self.store, self.taxonomy, lambda: self.embedder, rebuild=rebuild, progress=progress)

    def index_is_current(self) -> bool:
        return is_current(self.settings, self.store)

    def ensure_index(self, progress: Progress | None = None) -> IngestReport | None:
        """Ingest if nothing (or an outdated corpus) is indexed; returns the report when it did."""
        return None if self.index_is_current() else self.ingest(progress=progress)

    def search(self, question: str, k: int | None = None, layer: int | None = None, mode: str = "hybrid") -> list[SearchHit]:
        q = validate.question(question, self.settings.max_question_chars)
        k = validate.top_k(self.settings.top_k if k is None else k)
        layer = validate.layer(layer)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        dense = self.embedder.encode_query(q) if mode in ("hybrid", "dense") else None
        sparse = bm25.query_vector(q) if mode in ("hybrid", "sparse") else None
        if mode == "sparse" and not sparse[0]:
            return []
        return self.store.search(dense, sparse, k, layer)

    def layer_overview(self) -> list[dict]:
        counts: Counter = self.store.layer_counts()
        return [{"layer": l.number, "name": l.name, "summary": l.summary, "chunks": int(counts.get(l.number, 0))}
                for l in self.taxonomy]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> TutorApp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
