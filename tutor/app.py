"""Wiring: the single place that builds concrete objects from Settings. Front ends talk to `TutorApp`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from tutor import validate
from tutor.answering import grounded
from tutor.answering.agent import AgentConfig, Tutor
from tutor.answering.suggestions import Suggestions
from tutor.answering.tools import Toolbox
from tutor.errors import ConfigError, InvalidInput
from tutor.knowledge.corpus import (
    DocumentSpec,
    content_end,
    load_manifest,
    read_document,
)
from tutor.knowledge.embed import Embedder
from tutor.knowledge.index import VectorStore
from tutor.knowledge.ingest import Progress, ingest, is_current
from tutor.knowledge.layers import Taxonomy
from tutor.knowledge.retrieval import Retriever
from tutor.learning.coach import Coach
from tutor.learning.progress import ProgressStore
from tutor.learning.schedule import Clock, make_scheduler
from tutor.llm.client import ChatModel, OpenAIChatModel
from tutor.llm.local import QWEN_CODER_1_5B, LocalServer, assemble_model
from tutor.settings import Settings
from tutor.types import Chunk, IngestReport, SearchHit


@dataclass(frozen=True)
class _Corpus:
    search: Callable[..., list[SearchHit]]
    layer_overview: Callable[[], list[dict]]
    mentions: Callable[[str], bool]


class TutorApp:
    """Owns the embedder and the index for one process. Heavy parts load on first use; call close()."""

    def __init__(self, settings: Settings, llm: ChatModel | None = None, clock: Clock | None = None):
        self.settings = settings
        self.clock = clock  # what "now" is for review scheduling (None: the system clock); tests move it
        self.taxonomy = Taxonomy.load(settings.corpus_dir)
        self._store: VectorStore | None = None
        self._llm = llm
        self._embedded = llm is None and not settings.openai_base_url
        self._server: LocalServer | None = None
        self._lock = threading.RLock()  # the LLM (and its server) are made and started once, whoever asks first
        self._passages: list[Chunk] | None = None
        self._passages_lock = threading.Lock()  # not the LLM's: reading passages never waits for a model start
        self._corpus_text: str | None = None

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            self._store = VectorStore(self.settings)
        return self._store

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        return Embedder(s.embed_model, s.data_dir, batch_size=s.embed_batch_size, threads=s.embed_threads)

    def ingest(self, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        return ingest(self.settings, self.store, self.taxonomy, lambda: self.embedder, rebuild=rebuild, progress=progress)

    def index_is_current(self) -> bool:
        return is_current(self.settings, self.store)

    def ensure_index(self, progress: Progress | None = None) -> IngestReport | None:
        """Ingest if nothing (or an outdated corpus) is indexed; returns the report when it did."""
        return None if self.index_is_current() else self.ingest(progress=progress)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(lambda: self.embedder, lambda: self.store)

    @cached_property
    def corpus(self) -> _Corpus:
        """What the tools search: the retriever (arguments already checked by the tool) and the layer overview."""
        return _Corpus(self.retriever.search, self.layer_overview, self.mentions)

    def mentions(self, name: str) -> bool:
        """Whether any indexed passage mentions `name` (a product, company or person the learner asked about)."""
        if self._corpus_text is None:  # built once from the passages already read (two threads may both build it)
            self._corpus_text = " ".join(c.text for c in self.passages()).lower()
        return grounded.mentioned(name, self._corpus_text)

    def search(self, question: str, k: int | None = None, layer: int | None = None, mode: str = "hybrid") -> list[SearchHit]:
        """Validated hybrid search (the entry point for front ends that search directly)."""
        q = validate.question(question, self.settings.max_question_chars)
        k = validate.top_k(self.settings.top_k if k is None else k)
        return self.retriever.search(q, k, validate.layer(layer), mode)

    def layer_overview(self) -> list[dict]:
        counts: Counter = self.store.layer_counts()
        return [{"layer": l.number, "name": l.name, "summary": l.summary, "chunks": int(counts.get(l.number, 0))}
                for l in self.taxonomy]

    # -- the corpus as resources (the MCP server's layer:// and doc://, the UI's document titles) ------------
    @cached_property
    def documents(self) -> list[DocumentSpec]:
        """The corpus documents, as `corpus/documents.toml` lists them."""
        return load_manifest(self.settings.corpus_dir)

    @cached_property
    def document_titles(self) -> dict[str, str]:
        """Corpus file name -> its title, for citing a document to a person."""
        return {d.file: d.title for d in self.documents}

    def document_text(self, name: str) -> str:
        """The text of one corpus document, the part the tutor indexes (reader comments left out)."""
        spec = next((d for d in self.documents if d.file == name), None)
        if spec is None:
            raise InvalidInput(f"There is no document {str(name)[:80]!r}.",
                               f"The documents are: {', '.join(d.file for d in self.documents)}.")
        text = read_document(self.settings.corpus_dir, spec)
        return text[: content_end(text, spec)]

    def passages(self) -> list[Chunk]:
        """Every indexed passage in document order (read from the index once)."""
        with self._passages_lock:
            if self._passages is None:
                self._passages = sorted(self.store.chunks(), key=lambda c: (c.doc, c.char_start))
            return self._passages

    def layer_passages(self, layer: object) -> list[Chunk]:
        n = validate.layer(layer)
        if n is None:
            raise InvalidInput("Which layer?", validate.LAYER_HINT)
        return [c for c in self.passages() if c.layer == n]

    def describe(self) -> dict[str, str]:
        """What this process runs on, for status lines: the LLM endpoint and model, the embedder, the index."""
        s = self.settings
        if self.embedded_llm:
            model = s.llm_model_file.stem if s.llm_model_file else QWEN_CODER_1_5B.name
            where = f"127.0.0.1:{self._server.port}" if self._server is not None and self._server.alive() else "127.0.0.1"
            llm = f"embedded llama.cpp · {model} · {where}"
        elif s.openai_base_url:
            llm = f"{s.openai_base_url} · {s.llm_model or 'first model the server lists'}"
        else:
            llm = type(self._llm).__name__
        try:
            chunks = f"{self.store.count():,} passages"
        except Exception:  # noqa: BLE001 - a status line must not fail
            chunks = "not readable"
        return {"llm": llm, "embedder": s.embed_model, "index": f"Qdrant {s.qdrant_location} · {chunks}"}

    # -- the LLM and the agent ------------------------------------------------------------------------------
    @property
    def embedded_llm(self) -> bool:
        """Whether the LLM is the embedded llama.cpp server this process starts (no OPENAI_BASE_URL, no injected model)."""
        return self._embedded

    def model_file(self, progress: Callable[[int, int], None] | None = None):
        """The embedded model's GGUF file, assembled from its packages on first use."""
        s = self.settings
        return s.llm_model_file or assemble_model(QWEN_CODER_1_5B, s.data_dir, progress)

    @property
    def llm(self) -> ChatModel:
        with self._lock:
            return self._make_llm()

    def _make_llm(self) -> ChatModel:
        if self._llm is None:
            s = self.settings
            if s.openai_base_url:
                url = s.openai_base_url.strip()
                if not url.startswith(("http://", "https://")):
                    raise ConfigError(f"OPENAI_BASE_URL must be an http(s) URL, not {url!r}.",
                                      "Example: OPENAI_BASE_URL=http://localhost:8000/v1")
                key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
                self._llm = OpenAIChatModel(url, key, s.llm_model, timeout=s.llm_timeout, max_retries=s.llm_max_retries,
                                            temperature=s.llm_temperature, max_tokens=s.llm_max_tokens)
            else:
                server = self.local_server()
                self._llm = OpenAIChatModel(lambda: server.base_url, None, s.llm_model or "local", timeout=s.llm_timeout,
                                            max_retries=0, temperature=s.llm_temperature, max_tokens=s.llm_max_tokens,
                                            embedded=True)
        return self._llm

    def local_server(self, progress: Callable[[int, int], None] | None = None) -> LocalServer:
        """The embedded llama.cpp server (not started until first used)."""
        with self._lock:
            return self._make_server(progress)

    def _make_server(self, progress: Callable[[int, int], None] | None) -> LocalServer:
        if self._server is None:
            s = self.settings
            self._server = LocalServer(self.model_file(progress), s.data_dir / "logs" / "llm-server.log",
                                       threads=s.llm_threads, context=s.llm_context,
                                       startup_timeout=s.llm_startup_timeout, alias=s.llm_model or "local")
        return self._server

    def start_llm(self, progress: Callable[[int, int], None] | None = None) -> float | None:
        """Make the LLM ready now (assemble and start the embedded server); returns its start-up seconds."""
        if not self.embedded_llm:
            return None
        with self._lock:  # however many first requests arrive together, one start-up
            server = self.local_server(progress)
            _ = server.base_url
            return server.last_start_seconds

    @property
    def llm_concurrency(self) -> int:
        """How many answers are generated at once (front ends queue the rest)."""
        return self.settings.llm_concurrency or (1 if self.embedded_llm else 4)

    @cached_property
    def toolbox(self) -> Toolbox:
        return Toolbox(self.corpus, k=self.settings.context_passages, max_query_chars=self.settings.max_question_chars)

    @cached_property
    def tutor(self) -> Tutor:
        s = self.settings
        config = AgentConfig(context_passages=s.context_passages, max_steps=s.max_steps, history_turns=s.history_turns,
                             refusal_threshold=s.refusal_threshold, max_question_chars=s.max_question_chars,
                             max_tokens=s.llm_max_tokens, concurrency=self.llm_concurrency, pipeline=s.answer_pipeline)
        return Tutor(self.toolbox, self.llm, config, Suggestions.load(s.corpus_dir))

    @cached_property
    def coach(self) -> Coach:
        """Quizzes, grading, spaced review, flashcards, progress and the learning path (progress and review cards in
        <data_dir>/progress.sqlite)."""
        s = self.settings
        store = ProgressStore(s.data_dir / "progress.sqlite", self.taxonomy, self.clock,
                              make_scheduler(s.review_retention, s.review_fuzz), s.review_easy_seconds)
        return Coach(self.taxonomy, self.store.chunks, lambda: self.llm, store, s.learner, s.quiz_llm_questions)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> TutorApp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
