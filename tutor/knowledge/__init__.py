"""What the tutor knows: the corpus, its 14 layers, the passages (chunks) labelled with them, the facts in
them, and the hybrid index (dense embeddings + BM25 in Qdrant) that retrieves them.

corpus → labeling → ingest (embed, bm25) → index → retrieval; facts reads passages for quizzes and hints.
"""
