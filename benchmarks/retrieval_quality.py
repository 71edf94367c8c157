"""Retrieval quality on evals/retrieval_dev.jsonl: our pipeline vs BM25 alone, dense alone and llama-index defaults.

    .venv/bin/python benchmarks/retrieval_quality.py [--sweep] [--models all-MiniLM-L6-v2,all-mpnet-base-v2]

Prints a JSON report; `--sweep` also tries several chunk sizes. Same questions, same run, same embedder.
"""

from __future__ import annotations

import argparse
import json

from _common import ROOT, Timer, llamaindex_embedding, machine, memory_settings

from evals.retrieval import Passage, load_dev, score
from tutor.app import TutorApp


def passages_of(hits) -> list[Passage]:
    return [Passage(h.chunk.doc, h.chunk.char_start, h.chunk.char_end, h.chunk.text) for h in hits]


def run_pipeline(items, model: str, chunk_size: int, overlap: int, modes=("hybrid", "dense", "sparse")) -> dict:
    settings = memory_settings(embed_model=model, chunk_size=chunk_size, chunk_overlap=overlap)
    out = {}
    with TutorApp(settings) as app:
        with Timer() as t:
            report = app.ingest()
        for mode in modes:
            ranked = [passages_of(app.search(it.question, k=10, mode=mode)) for it in items]
            out[mode] = score(ranked, items, settings.corpus_dir)
        out["chunks"] = report.chunks
        out["ingest_seconds"] = round(t.seconds, 1)
        out["embedder"] = app.embedder
    return out


def run_llamaindex_defaults(items, embedder, corpus_dir) -> dict:
    """llama-index out of the box: SentenceSplitter(1024, 200), VectorStoreIndex, vector retrieval only."""
    from llama_index.core import Document, VectorStoreIndex
    docs = [Document(text=(corpus_dir / d).read_text(encoding="utf-8"), id_=d, metadata={"doc": d})
            for d in sorted({p.name for p in corpus_dir.glob("*.txt")})]
    index = VectorStoreIndex.from_documents(docs, embed_model=llamaindex_embedding(embedder))
    retriever = index.as_retriever(similarity_top_k=10)
    ranked = []
    for it in items:
        nodes = retriever.retrieve(it.question)
        ranked.append([Passage(n.node.ref_doc_id, n.node.start_char_idx, n.node.end_char_idx, n.node.get_content()) for n in nodes])
    res = score(ranked, items, corpus_dir)
    res["chunks"] = len(index.docstore.docs)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="also try several chunk sizes")
    ap.add_argument("--models", default="all-MiniLM-L6-v2")
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--out", default=None, help="write the JSON report here too")
    args = ap.parse_args()
    items = load_dev()
    defaults = memory_settings()
    size = args.chunk_size or defaults.chunk_size
    report = {"machine": machine(), "questions": len(items), "runs": {}}
    for model in args.models.split(","):
        res = run_pipeline(items, model, size, max(8, size * 3 // 20))
        embedder = res.pop("embedder")
        report["runs"][f"{model} chunk={size}"] = res
        report["runs"][f"{model} llama-index defaults"] = run_llamaindex_defaults(items, embedder, defaults.corpus_dir)
        if args.sweep:
            for cs in (96, 128, 200, 256, 384, 512):
                if cs != size:
                    r = run_pipeline(items, model, cs, max(8, cs * 3 // 20), modes=("hybrid",))
                    r.pop("embedder")
                    report["runs"][f"{model} chunk={cs}"] = r
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        (ROOT / args.out).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
