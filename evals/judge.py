"""RAGAS scoring: the only module that imports ragas (and, through it, langchain).

The judge is any OpenAI-compatible endpoint (the embedded llama.cpp server by default); the embedder is
the tutor's own offline model, so nothing reaches a hosted API. Each (item, metric) is scored on its own:
a judge that returns malformed output, times out or errors marks that one score as failed, with the
reason, and the run goes on.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

# LLM-judged metrics (each needs the judge) and RAGAS's non-LLM metrics (string- and ID-based).
LLM_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
NON_LLM_METRICS = ("nonllm_context_precision", "nonllm_context_recall", "id_context_precision", "id_context_recall")


@dataclass
class Sample:
    id: str
    question: str
    answer: str  # the tutor's answer with citation labels and the "Try next" line removed
    contexts: list[str]  # the passages the tutor's LLM was shown
    context_ids: list[str]
    reference: str
    reference_contexts: list[str]  # the gold passages: the indexed chunks that hold the gold quotes
    reference_context_ids: list[str]


@dataclass
class Score:
    value: float | None
    error: str | None = None


def _all_failed(samples: list[Sample], names, why: str) -> dict[str, dict[str, Score]]:
    return {s.id: {n: Score(None, why) for n in names} for s in samples}


def _quiet():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="ragas")


def _sample(s: Sample):
    from ragas.dataset_schema import SingleTurnSample

    return SingleTurnSample(user_input=s.question, response=s.answer, retrieved_contexts=s.contexts,
                            retrieved_context_ids=s.context_ids, reference=s.reference,
                            reference_contexts=s.reference_contexts, reference_context_ids=s.reference_context_ids)


def _value(v) -> Score:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return Score(None, f"the metric returned {v!r}")
    if math.isnan(f):
        return Score(None, "the judge's output could not be parsed (NaN)")
    return Score(max(0.0, min(1.0, f)))


def non_llm_scores(samples: list[Sample], progress: Callable[[], None] | None = None) -> dict[str, dict[str, Score]]:
    """RAGAS's string- and ID-based context precision/recall against the gold quotes and their chunks."""
    _quiet()
    try:
        from ragas.metrics import (
            IDBasedContextPrecision,
            IDBasedContextRecall,
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
        )

        metrics = {"nonllm_context_precision": NonLLMContextPrecisionWithReference(),
                   "nonllm_context_recall": NonLLMContextRecall(),
                   "id_context_precision": IDBasedContextPrecision(), "id_context_recall": IDBasedContextRecall()}
    except Exception as e:  # noqa: BLE001 - a broken install must not throw away the answers already made
        return _all_failed(samples, NON_LLM_METRICS, f"RAGAS could not be set up: {type(e).__name__}: {str(e)[:200]}")
    out: dict[str, dict[str, Score]] = {}
    for s in samples:
        row = out.setdefault(s.id, {})
        for name, metric in metrics.items():
            try:
                row[name] = _value(metric.single_turn_score(_sample(s)))
            except Exception as e:  # noqa: BLE001 - one failed score must not end the run
                row[name] = Score(None, f"{type(e).__name__}: {str(e)[:200]}")
        if progress:
            progress()
    return out


class _Embeddings:
    """Adapts the tutor's embedder to RAGAS (built lazily so importing this module stays cheap)."""

    def __new__(cls, encode: Callable[[str], list[float]]):
        from ragas.embeddings import BaseRagasEmbeddings

        class Adapter(BaseRagasEmbeddings):
            def embed_query(self, text: str) -> list[float]:
                return encode(text)

            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return [encode(t) for t in texts]

            async def aembed_query(self, text: str) -> list[float]:
                return encode(text)

            async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
                return [encode(t) for t in texts]

        return Adapter()


def llm_scores(samples: list[Sample], base_url: str, model: str, api_key: str | None, timeout: float,
               encode: Callable[[str], list[float]], progress: Callable[[], None] | None = None,
               ) -> dict[str, dict[str, Score]]:
    """Faithfulness, answer relevancy, context precision and recall, judged by the LLM at `base_url`."""
    _quiet()
    try:
        from langchain_openai import ChatOpenAI
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import (
            Faithfulness,
            LLMContextPrecisionWithReference,
            LLMContextRecall,
            ResponseRelevancy,
        )
        from ragas.run_config import RunConfig

        chat = ChatOpenAI(base_url=base_url, api_key=api_key or "not-needed", model=model, temperature=0.0,
                          timeout=timeout, max_retries=0)
        llm = LangchainLLMWrapper(chat)
        embeddings = _Embeddings(encode)
        # strictness=1: one generated question per answer (llama.cpp servers return one choice per request)
        metrics = {"faithfulness": Faithfulness(), "answer_relevancy": ResponseRelevancy(strictness=1),
                   "context_precision": LLMContextPrecisionWithReference(), "context_recall": LLMContextRecall()}
        config = RunConfig(timeout=int(timeout), max_retries=0, max_workers=1)
        for m in metrics.values():
            m.llm = llm
            if hasattr(m, "embeddings"):
                m.embeddings = embeddings
            m.init(config)
    except Exception as e:  # noqa: BLE001 - a broken install must not throw away the answers already made
        return _all_failed(samples, LLM_METRICS, f"the RAGAS judge could not be set up: {type(e).__name__}: {str(e)[:200]}")

    async def score_all() -> dict[str, dict[str, Score]]:
        # One event loop for every call: the judge's HTTP client is bound to the loop it was first used on.
        out: dict[str, dict[str, Score]] = {}
        for s in samples:
            row = out.setdefault(s.id, {})
            for name, metric in metrics.items():
                try:
                    value = await asyncio.wait_for(metric.single_turn_ascore(_sample(s)), timeout)
                    row[name] = _value(value)
                except TimeoutError:
                    row[name] = Score(None, f"the judge took longer than {timeout:.0f} s")
                except Exception as e:  # noqa: BLE001 - malformed judge output: this score fails, the run goes on
                    row[name] = Score(None, f"{type(e).__name__}: {str(e)[:200]}")
                if progress:
                    progress()
        return out

    return asyncio.run(score_all())
