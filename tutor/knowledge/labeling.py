"""Layer labels for chunks of documents that are not organised by layer (the slides and the essay).

Method (k-nearest neighbours over the deep dive): the deep dive is segmented into the 14 layers, so its
chunks are a labelled sample of what each layer talks about. An unlabelled chunk takes the layer with the
largest summed cosine similarity among its `k` most similar deep-dive chunks (overview summary lines
included); other layers that reach `secondary_ratio` of that score become its secondary layers.
Agreement with hand labels is measured in tests/test_labeling.py and reported in docs/corpus.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from tutor.knowledge.corpus import UNLABELLED
from tutor.knowledge.layers import Taxonomy
from tutor.types import Chunk

K = 10
SECONDARY_RATIO = 0.5
MAX_SECONDARY = 2


def label_chunks(chunks: list[Chunk], vectors: np.ndarray, taxonomy: Taxonomy, k: int = K,
                 secondary_ratio: float = SECONDARY_RATIO) -> list[Chunk]:
    """`chunks` with every layer -1 replaced; `vectors[i]` is the normalised embedding of `chunks[i]`."""
    ref = [i for i, c in enumerate(chunks) if c.layer >= 1]
    todo = [i for i, c in enumerate(chunks) if c.layer == UNLABELLED]
    if not todo:
        return list(chunks)
    if not ref:
        raise ValueError("no layer-labelled chunks to learn from")
    ref_layers = np.array([chunks[i].layer for i in ref])
    sims = vectors[todo] @ vectors[ref].T
    kk = min(k, len(ref))
    top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    out = list(chunks)
    for row, i in enumerate(todo):
        scores: dict[int, float] = defaultdict(float)
        for j in top[row]:
            scores[int(ref_layers[j])] += max(float(sims[row, j]), 0.0)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        best, best_score = ranked[0]
        secondary = tuple(l for l, s in ranked[1:] if best_score > 0 and s >= secondary_ratio * best_score)[:MAX_SECONDARY]
        out[i] = replace(chunks[i], layer=best, layer_name=taxonomy.name(best), secondary_layers=secondary)
    return out
