"""Corpus → chunks → embeddings + BM25 → Qdrant. Idempotent: an unchanged corpus costs one count query."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import numpy as np

from tutor.knowledge import bm25
from tutor.knowledge.corpus import build_chunks, corpus_fingerprint
from tutor.knowledge.embed import Embedder
from tutor.knowledge.index import VectorStore
from tutor.knowledge.labeling import label_chunks
from tutor.knowledge.layers import Taxonomy
from tutor.settings import Settings
from tutor.types import IngestReport

# Bump when chunking, labelling or sparse vectors change in a way that needs a re-index.
PIPELINE_VERSION = "3"  # 3: a chunk inside a table names that table's header, not the first of adjacent tables'

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def embed_key(chunk) -> str:
    return hashlib.sha256(chunk.indexed_text.encode("utf-8")).hexdigest()[:16]


def _ticker(note: Progress, stage: str, total: int) -> Callable[[int], None]:
    """A callback that turns 'n more done' into note(stage, done_so_far, total)."""
    done = 0
    note(stage, 0, total)

    def tick(n: int) -> None:
        nonlocal done
        done += n
        note(stage, done, total)

    return tick


def pipeline_fingerprint(settings: Settings) -> str:
    extra = f"{PIPELINE_VERSION}|{settings.chunk_size}|{settings.chunk_overlap}|{settings.embed_model}"
    return corpus_fingerprint(settings.corpus_dir, extra)


def is_current(settings: Settings, store: VectorStore) -> bool:
    return store.count() > 0 and store.count_other_fingerprints(pipeline_fingerprint(settings)) == 0


def ingest(settings: Settings, store: VectorStore, taxonomy: Taxonomy, get_embedder: Callable[[], Embedder],
           rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
    t0 = time.perf_counter()
    note = progress or (lambda stage, done, total: None)
    fingerprint = pipeline_fingerprint(settings)
    if rebuild:
        store.drop()
    elif is_current(settings, store):
        n = store.count()
        return IngestReport(n, 0, 0, 0, True, time.perf_counter() - t0)

    note("chunking", 0, 1)
    chunks = build_chunks(settings.corpus_dir, taxonomy, settings.chunk_size, settings.chunk_overlap)
    note("chunking", 1, 1)
    embedder = get_embedder()

    stored = store.stored()
    if stored and (store.dim() != embedder.dim or any(p.embedder != embedder.fingerprint for p in stored.values())):
        # Built with another embedding model: its vectors can't be mixed with this one's.
        store.drop()
        stored = {}
    if not store.exists():
        store.create(embedder.dim)

    ids = [c.chunk_id for c in chunks]
    # A stored vector is reused only if it was computed from exactly the text we would embed now.
    keys = [embed_key(c) for c in chunks]
    reuse = store.dense_vectors([cid for cid, key in zip(ids, keys) if cid in stored and stored[cid].embed_key == key])
    missing = [i for i, cid in enumerate(ids) if cid not in reuse]
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    for i, cid in enumerate(ids):
        if cid in reuse:
            vectors[i] = reuse[cid]
    te = time.perf_counter()
    if missing:
        vectors[missing] = embedder.encode([chunks[i].indexed_text for i in missing], progress=_ticker(note, "embedding", len(missing)))
    encode_seconds = time.perf_counter() - te

    labelled = label_chunks(chunks, vectors, taxonomy)
    classified = sum(1 for before, after in zip(chunks, labelled) if before.layer != after.layer)
    sparse = bm25.doc_vectors([c.indexed_text for c in labelled])

    store.upsert(labelled, vectors, sparse, {"fingerprint": fingerprint, "embedder": embedder.fingerprint},
                 embed_keys=keys,
                 progress=_ticker(note, "indexing", len(labelled)))
    current = set(ids)
    stale = [cid for cid in stored if cid not in current]
    store.delete(stale)
    per_doc: dict[str, int] = {}
    for c in labelled:
        per_doc[c.doc] = per_doc.get(c.doc, 0) + 1
    return IngestReport(len(labelled), len(missing), len(stale), classified, False,
                        time.perf_counter() - t0, encode_seconds, per_doc)
