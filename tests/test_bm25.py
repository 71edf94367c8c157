from tutor.knowledge import bm25


def test_tokenize_lowercases_stems_and_drops_stop_words():
    assert bm25.tokenize("The GPUs are training the Models") == ["gpu", "train", "model"]
    assert bm25.tokenize("H100 vs. B200, 3nm") == ["h100", "vs", "b200", "3nm"]
    assert bm25.tokenize("") == []


def test_term_ids_are_stable_31_bit_integers():
    assert bm25.term_id("gpu") == bm25.term_id("gpu") != bm25.term_id("tpu")
    assert 0 <= bm25.term_id("gpu") < 2**31


def test_doc_vectors_saturate_term_frequency_and_normalise_length():
    short, long_ = bm25.doc_vectors(["gpu gpu gpu", "gpu " + "filler " * 30])
    g = bm25.term_id("gpu")
    tf_short = dict(zip(*short))[g]
    tf_long = dict(zip(*long_))[g]
    assert tf_short > tf_long  # same term weighs more in a shorter passage
    assert tf_short < 3 * (bm25.K1 + 1)  # saturates: three occurrences are not worth three times one


def test_query_vector_is_a_set_of_terms():
    idx, vals = bm25.query_vector("GPU gpu networking")
    assert len(idx) == 2 and vals == [1.0, 1.0] and idx == sorted(idx)
