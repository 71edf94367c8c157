"""BM25 sparse vectors, computed locally (no model, no download).

Documents get BM25's saturated term frequency per term; Qdrant multiplies in the IDF
(`Modifier.IDF` on the sparse vector), so a dot product with a query's term set is the BM25 score.
Terms are lower-cased, stop words dropped, Porter-stemmed, and hashed to 31-bit ids.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from functools import lru_cache

K1 = 1.2
B = 0.75

_TOKEN = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    s t don also us may might must shall""".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer  # pure code, needs no NLTK data files

    return PorterStemmer()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stem(word)


def tokenize(text: str) -> list[str]:
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in STOP_WORDS]


@lru_cache(maxsize=65536)
def term_id(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "big") & 0x7FFFFFFF


def doc_vectors(texts: list[str]) -> list[tuple[list[int], list[float]]]:
    """(indices, values) for each document, with length normalisation over this collection."""
    toks = [tokenize(t) for t in texts]
    avgdl = (sum(len(t) for t in toks) / len(toks)) if toks else 1.0
    out = []
    for t in toks:
        tf = Counter(term_id(w) for w in t)
        norm = K1 * (1 - B + B * len(t) / max(avgdl, 1e-9))
        idx = sorted(tf)
        out.append((idx, [tf[i] * (K1 + 1) / (tf[i] + norm) for i in idx]))
    return out


def query_vector(text: str) -> tuple[list[int], list[float]]:
    ids = sorted({term_id(w) for w in tokenize(text)})
    return ids, [1.0] * len(ids)
