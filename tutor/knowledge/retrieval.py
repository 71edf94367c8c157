"""Hybrid retrieval: the question embedded (dense) and BM25-tokenized (sparse), fused by the index (RRF)."""

from __future__ import annotations

from collections.abc import Callable

from tutor.knowledge import bm25
from tutor.knowledge.embed import Embedder
from tutor.knowledge.index import VectorStore
from tutor.types import SearchHit

MODES = ("hybrid", "dense", "sparse")


class Retriever:
    """Searches `store` with `embedder`'s query vectors. Both are given as callables, so neither loads
    before the first search. Inputs are validated by the caller (the entry point)."""

    def __init__(self, embedder: Callable[[], Embedder], store: Callable[[], VectorStore]):
        self._embedder = embedder
        self._store = store

    def search(self, question: str, k: int, layer: int | None = None, mode: str = "hybrid") -> list[SearchHit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        dense = self._embedder().encode_query(question) if mode in ("hybrid", "dense") else None
        sparse = bm25.query_vector(question) if mode in ("hybrid", "sparse") else None
        if mode == "sparse" and not sparse[0]:
            return []
        return self._store().search(dense, sparse, k, layer)
