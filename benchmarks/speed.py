"""Ingest, re-ingest and search speed, as medians and ratios (these machines are shared and noisy).

    .venv/bin/python benchmarks/speed.py [--repeats 3] [--out docs/results/speed.json]

* ingest vs raw encode: a full ingest into an embedded on-disk Qdrant (embedder already loaded) against
  encoding exactly the same texts with the same embedder;
* re-ingest of an unchanged corpus: `tutor ingest` as a user runs it (a new process), and in-process;
* search latency p50/p95 over the development questions (warm), against one embedder forward pass;
* batched vs one-point-at-a-time upserts into embedded Qdrant on disk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, Timer, machine, median, pct

from evals.retrieval import load_dev
from tutor.knowledge import bm25
from tutor.app import TutorApp
from tutor.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="docs/results/speed.json")
    args = ap.parse_args()
    res: dict = {"machine": machine(), "repeats": args.repeats}

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)
        with TutorApp(settings) as app:
            embedder = app.embedder  # loaded once, outside the timings
            res["embedder_load_seconds"] = round(embedder.load_seconds, 2)
            ingest_s, encode_s = [], []
            for _ in range(args.repeats):
                with Timer() as t:
                    report = app.ingest(rebuild=True)
                ingest_s.append(t.seconds)
                texts = [c.indexed_text for c in app.store.chunks()]
                with Timer() as t:
                    embedder.encode(texts)
                encode_s.append(t.seconds)
            res["chunks"] = report.chunks
            res["ingest_seconds_median"] = round(median(ingest_s), 2)
            res["raw_encode_seconds_median"] = round(median(encode_s), 2)
            res["ingest_over_encode"] = round(median(ingest_s) / median(encode_s), 3)

            reingest = []
            for _ in range(5):
                with Timer() as t:
                    assert app.ingest().unchanged
                reingest.append(t.seconds)
            res["reingest_in_process_seconds_median"] = round(median(reingest), 3)

            questions = [it.question for it in load_dev()]
            for q in questions[:5]:
                app.search(q)  # warm up
            search_ms, encode_ms = [], []
            for _ in range(args.repeats):
                for q in questions:
                    with Timer() as t:
                        app.search(q, k=5)
                    search_ms.append(t.seconds * 1000)
                    with Timer() as t:
                        embedder.encode_query(q)
                    encode_ms.append(t.seconds * 1000)
            res["search_ms_p50"] = round(median(search_ms), 1)
            res["search_ms_p95"] = round(pct(search_ms, 0.95), 1)
            res["query_encode_ms_p50"] = round(median(encode_ms), 1)
            res["search_over_encode_p50"] = round(median(search_ms) / median(encode_ms), 2)

        # A user's re-ingest: a new process, imports and all.
        cli = Path(sys.executable).parent / "tutor"
        env = {"TUTOR_DATA_DIR": tmp, "PATH": "/usr/bin:/bin"}
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            out = subprocess.run([str(cli), "ingest"], capture_output=True, text=True, env=env, check=True)
            runs.append(time.perf_counter() - t0)
            assert "up to date" in out.stdout, out
        res["reingest_cli_seconds_median"] = round(median(runs), 2)

    # Batched vs per-point upserts into embedded Qdrant on disk (vectors precomputed: this is storage cost only).
    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np

        from tutor.knowledge.index import VectorStore

        with TutorApp(Settings(qdrant_path=":memory:", _env_file=None)) as app:
            app.ingest()
            chunks = app.store.chunks()
            vecs = app.store.dense_vectors([c.chunk_id for c in chunks])
        dense = np.stack([vecs[c.chunk_id] for c in chunks])
        sparse = bm25.doc_vectors([c.indexed_text for c in chunks])
        for batch in (1, 256):
            s = Settings(data_dir=Path(tmp) / f"b{batch}", upsert_batch_size=batch, _env_file=None)
            store = VectorStore(s)
            store.create(dense.shape[1])
            with Timer() as t:
                store.upsert(chunks, dense, sparse, {"fingerprint": "x", "embedder": "x"}, ["k"] * len(chunks))
            store.close()
            res[f"upsert_disk_batch{batch}_seconds"] = round(t.seconds, 2)
        res["upsert_per_point_over_batched"] = round(res["upsert_disk_batch1_seconds"] / res["upsert_disk_batch256_seconds"], 1)

    text = json.dumps(res, indent=1)
    print(text)
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
