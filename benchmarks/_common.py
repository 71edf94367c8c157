"""Shared helpers for the benchmark scripts (run them from the project root with .venv/bin/python)."""

from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tutor  # noqa: E402,F401  (sets the offline environment first)
from tutor.settings import Settings  # noqa: E402


def memory_settings(**overrides) -> Settings:
    return Settings(qdrant_path=":memory:", **overrides)


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


def llamaindex_embedding(embedder):
    """Our packaged embedder behind llama-index's BaseEmbedding, for the llama-index baselines."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class Adapter(BaseEmbedding):
        _e = PrivateAttr()

        def __init__(self, e):
            super().__init__(model_name=e.name)
            self._e = e

        def _get_query_embedding(self, query):
            return self._e.encode_query(query).tolist()

        def _get_text_embedding(self, text):
            return self._e.encode([text])[0].tolist()

        def _get_text_embeddings(self, texts):
            return self._e.encode(texts).tolist()

        async def _aget_query_embedding(self, query):
            return self._get_query_embedding(query)

    return Adapter(embedder)
