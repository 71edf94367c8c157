"""The Qdrant index: hybrid search, layer filter, and clean errors for locked, corrupt and unreachable indexes."""

from __future__ import annotations

import numpy as np
import pytest

from tutor.errors import IndexEmpty, IndexUnavailable
from tutor.knowledge.index import VectorStore
from tutor.types import Chunk

from fixtures.tutor import make_settings


def _chunks():
    return [Chunk(f"id{i}", "d.txt", layer, f"L{layer}", text, 0, len(text)) for i, (layer, text) in
            enumerate([(3, "gpu tensor cores matrix"), (4, "nvlink infiniband fabric"), (3, "hbm memory bandwidth"),
                       (12, "quantization speeds inference")])]


@pytest.fixture
def store(tmp_path):
    s = VectorStore(make_settings(tmp_path, qdrant_path=":memory:"))
    s.create(2)
    dense = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.5, 0.5]], dtype=np.float32)
    sparse = [([1, 2], [1.0, 1.0]), ([3], [1.0]), ([4, 1], [1.0, 0.5]), ([5], [1.0])]
    s.upsert(_chunks(), dense, sparse, {"fingerprint": "f", "embedder": "e"}, ["k"] * 4)
    yield s
    s.close()


def test_hybrid_search_fuses_dense_and_sparse(store):
    hits = store.search(np.array([1.0, 0.0]), ([1], [1.0]), k=3)
    assert [h.chunk.chunk_id for h in hits][:2] == ["id0", "id2"]  # first in both runs, then second in both
    assert hits[0].score > hits[1].score > 0


def test_layer_filter_returns_only_that_layer(store):
    hits = store.search(np.array([0.0, 1.0]), ([3], [1.0]), k=5, layer=3)
    assert hits and {h.chunk.layer for h in hits} == {3}


def test_dense_only_and_sparse_only(store):
    assert store.search(np.array([0.0, 1.0]), None, k=1)[0].chunk.chunk_id == "id1"
    assert store.search(None, ([5], [1.0]), k=1)[0].chunk.chunk_id == "id3"


def test_delete_and_count(store):
    assert store.count() == 4
    store.delete(["id0"])
    assert store.count() == 3 and "id0" not in store.stored()


def test_searching_an_empty_index_says_what_to_run(tmp_path):
    s = VectorStore(make_settings(tmp_path, qdrant_path=":memory:"))
    with pytest.raises(IndexEmpty, match="tutor ingest"):
        s.search(np.array([1.0, 0.0]), None, k=1)


def test_a_second_process_on_the_same_folder_gets_a_clear_error(tmp_path):
    settings = make_settings(tmp_path)
    first = VectorStore(settings)
    try:
        with pytest.raises(IndexUnavailable, match="in use by another tutor process.*QDRANT_URL"):
            VectorStore(settings)
    finally:
        first.close()


def test_a_corrupt_index_says_to_rebuild(tmp_path):
    settings = make_settings(tmp_path)
    (tmp_path / "qdrant").mkdir(parents=True)
    (tmp_path / "qdrant" / "meta.json").write_text("{not json")
    with pytest.raises(IndexUnavailable, match="ingest --rebuild"):
        VectorStore(settings)


def test_an_index_path_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "qdrant").write_text("not a folder")
    with pytest.raises(IndexUnavailable):
        VectorStore(make_settings(tmp_path))


def test_unreachable_qdrant_server_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = VectorStore(make_settings(tmp_path, qdrant_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(IndexUnavailable, match="unreachable.*QDRANT_URL"):
        store.exists()
