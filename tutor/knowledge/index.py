"""The vector index: Qdrant with a dense and a BM25 sparse vector per chunk, fused with RRF.

The only module that imports `qdrant_client`. Embedded Qdrant on disk by default; a server or
cluster with `QDRANT_URL`; `:memory:` for tests. Same code for all three.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from tutor.errors import IndexEmpty, IndexUnavailable
from tutor.settings import Settings
from tutor.types import Chunk, SearchHit

DENSE = "dense"
SPARSE = "bm25"
RRF_K = 60
_NS = uuid.UUID("6f1e3c1a-9b7d-4c56-a4de-5e1f1d2b7c01")
_PAYLOAD_FIELDS = ("chunk_id", "fingerprint", "embedder", "embed_key")


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(_NS, chunk_id))


@dataclass(frozen=True)
class StoredPoint:
    chunk_id: str
    fingerprint: str
    embedder: str
    embed_key: str


class VectorStore:
    def __init__(self, settings: Settings):
        self.location = settings.qdrant_location
        self.collection = settings.collection
        self._batch = settings.upsert_batch_size
        self._remote = bool(settings.qdrant_url)
        try:
            if settings.qdrant_url:
                key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
                self._client = QdrantClient(url=settings.qdrant_url, api_key=key, timeout=10, check_compatibility=False)
            elif self.location == ":memory:":
                self._client = QdrantClient(location=":memory:")
            else:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._client = QdrantClient(path=self.location)
        except RuntimeError as e:
            if "already accessed" in str(e):
                raise IndexUnavailable(
                    f"The index at {self.location} is in use by another tutor process.",
                    "Close the other process (tutor ui, chat or mcp), or run a Qdrant server and set QDRANT_URL "
                    "so several processes can share it.",
                ) from None
            raise self._corrupt(e) from None
        except PermissionError as e:
            raise IndexUnavailable(
                f"Cannot read or write the index at {self.location} ({e.strerror}).",
                "Fix the folder's permissions, or set TUTOR_DATA_DIR to a folder you can write.",
            ) from None
        except (ValueError, KeyError, OSError, sqlite3.Error) as e:
            raise self._corrupt(e) from None

    def _corrupt(self, e: BaseException) -> IndexUnavailable:
        return IndexUnavailable(
            f"The index at {self.location} is unreadable or corrupt ({type(e).__name__}: {str(e)[:160]}).",
            "Run `tutor ingest --rebuild` to rebuild it from corpus/ (the documents are not affected).",
        )

    def _call(self, fn: Callable, *args, **kwargs):
        """Run a client call, turning transport and storage failures into an IndexUnavailable."""
        try:
            return fn(*args, **kwargs)
        except (ResponseHandlingException, ConnectionError, TimeoutError) as e:
            raise IndexUnavailable(
                f"Qdrant at {self.location} is unreachable ({type(e).__name__}).",
                "Start the server or fix QDRANT_URL / QDRANT_API_KEY; unset QDRANT_URL to use the embedded index.",
            ) from None
        except UnexpectedResponse as e:
            raise IndexUnavailable(
                f"Qdrant at {self.location} answered {e.status_code}: {str(e)[:160]}.",
                "Check QDRANT_API_KEY and the server's logs.",
            ) from None
        except sqlite3.Error as e:
            raise self._corrupt(e) from None

    # -- collection ----------------------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self._call(self._client.collection_exists, self.collection))

    def drop(self) -> None:
        if self.exists():
            self._call(self._client.delete_collection, self.collection)

    def create(self, dim: int) -> None:
        self._call(
            self._client.create_collection,
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self._remote:  # embedded Qdrant ignores payload indexes (and warns)
            for field, schema in (("layer", models.PayloadSchemaType.INTEGER), ("doc", models.PayloadSchemaType.KEYWORD),
                                  ("fingerprint", models.PayloadSchemaType.KEYWORD)):
                self._call(self._client.create_payload_index, self.collection, field, field_schema=schema)

    def dim(self) -> int | None:
        if not self.exists():
            return None
        info = self._call(self._client.get_collection, self.collection)
        vectors = info.config.params.vectors
        return vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None

    def count(self, flt: models.Filter | None = None) -> int:
        if not self.exists():
            return 0
        return self._call(self._client.count, self.collection, count_filter=flt, exact=True).count

    def count_other_fingerprints(self, fingerprint: str) -> int:
        flt = models.Filter(must_not=[models.FieldCondition(key="fingerprint", match=models.MatchValue(value=fingerprint))])
        return self.count(flt)

    # -- points --------------------------------------------------------------------------------------
    def _scroll(self, fields: list[str] | bool, with_vectors=False) -> Iterable[models.Record]:
        offset = None
        while True:
            points, offset = self._call(
                self._client.scroll, self.collection, limit=1024, offset=offset,
                with_payload=fields, with_vectors=with_vectors,
            )
            yield from points
            if offset is None:
                return

    def stored(self) -> dict[str, StoredPoint]:
        if not self.exists():
            return {}
        out = {}
        for p in self._scroll(list(_PAYLOAD_FIELDS)):
            pl = p.payload or {}
            out[pl.get("chunk_id", "")] = StoredPoint(*(str(pl.get(f, "")) for f in _PAYLOAD_FIELDS))
        return out

    def chunks(self) -> list[Chunk]:
        return [Chunk.from_payload(p.payload or {}) for p in self._scroll(True)] if self.exists() else []

    def layer_counts(self) -> Counter:
        return Counter((p.payload or {}).get("layer") for p in self._scroll(["layer"])) if self.exists() else Counter()

    def dense_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for b in range(0, len(chunk_ids), 1024):
            ids = [point_id(c) for c in chunk_ids[b : b + 1024]]
            for p in self._call(self._client.retrieve, self.collection, ids, with_payload=["chunk_id"], with_vectors=[DENSE]):
                vec = p.vector[DENSE] if isinstance(p.vector, dict) else p.vector
                out[p.payload["chunk_id"]] = np.asarray(vec, dtype=np.float32)
        return out

    def upsert(self, chunks: list[Chunk], dense: np.ndarray, sparse: list[tuple[list[int], list[float]]],
               extra_payload: dict, embed_keys: list[str], progress: Callable[[int], None] | None = None) -> None:
        for b in range(0, len(chunks), self._batch):
            points = [
                models.PointStruct(
                    id=point_id(c.chunk_id),
                    vector={DENSE: dense[b + i].tolist(), SPARSE: models.SparseVector(indices=sparse[b + i][0], values=sparse[b + i][1])},
                    payload=c.to_payload() | extra_payload | {"embed_key": embed_keys[b + i]},
                )
                for i, c in enumerate(chunks[b : b + self._batch])
            ]
            self._call(self._client.upsert, self.collection, points=points, wait=True)
            if progress:
                progress(len(points))

    def delete(self, chunk_ids: list[str]) -> None:
        if chunk_ids:
            self._call(self._client.delete, self.collection,
                       points_selector=models.PointIdsList(points=[point_id(c) for c in chunk_ids]), wait=True)

    # -- search --------------------------------------------------------------------------------------
    def search(self, dense: np.ndarray | None, sparse: tuple[list[int], list[float]] | None, k: int,
               layer: int | None = None, candidates: int = 50) -> list[SearchHit]:
        """Hybrid when both queries are given (reciprocal rank fusion of `candidates` from each), else one alone.

        Fusion runs here rather than in Qdrant so it is the same for embedded and server Qdrant, and uses the
        standard RRF constant (60), which lets a passage ranked well by both beat one ranked first by one.
        """
        if not self.exists():
            raise IndexEmpty("Nothing is indexed yet.", "Run `tutor ingest`.")
        flt = models.Filter(must=[models.FieldCondition(key="layer", match=models.MatchValue(value=layer))]) if layer is not None else None
        runs = []
        if dense is not None:
            runs.append(self._query(dense.tolist(), DENSE, candidates if sparse is not None else k, flt))
        if sparse is not None and sparse[0]:
            runs.append(self._query(models.SparseVector(indices=sparse[0], values=sparse[1]), SPARSE,
                                    candidates if dense is not None else k, flt))
        if len(runs) == 1:
            sim = dense is not None
            return [SearchHit(Chunk.from_payload(p.payload or {}), float(p.score), float(p.score) if sim else None)
                    for p in runs[0][:k]]
        cosine = {p.id: float(p.score) for p in runs[0]}
        fused: dict = {}
        for run in runs:
            for rank, p in enumerate(run, 1):
                score, point = fused.get(p.id, (0.0, p))
                fused[p.id] = (score + 1.0 / (RRF_K + rank), point)
        best = sorted(fused.values(), key=lambda sp: -sp[0])[:k]
        return [SearchHit(Chunk.from_payload(p.payload or {}), s, cosine.get(p.id)) for s, p in best]

    def _query(self, query, using: str, limit: int, flt: models.Filter | None) -> list:
        return self._call(self._client.query_points, self.collection, query=query, using=using, limit=limit,
                          query_filter=flt, with_payload=True).points

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing must never mask the real error
            pass
