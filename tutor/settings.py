"""The tutor's only settings class. Built once (by the CLI, UI, MCP server or a test) and passed down.

Every field reads `TUTOR_<FIELD>` from the environment or a `.env` file in the working directory;
a few also accept the ecosystem's own names (`QDRANT_URL`, `QDRANT_API_KEY`, `OPENAI_BASE_URL`/`OPENAI_API_BASE`,
`OPENAI_API_KEY`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUTOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(
        default=PROJECT_ROOT / ".tutor",
        description="Where the embedded Qdrant index (and later caches) live.",
    )
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="The documents, layers.toml and documents.toml.")

    qdrant_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TUTOR_QDRANT_URL", "QDRANT_URL", "qdrant_url"),
        description="A Qdrant server or cluster (http://host:6333). Unset: embedded Qdrant on disk under data_dir.",
    )
    qdrant_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TUTOR_QDRANT_API_KEY", "QDRANT_API_KEY", "qdrant_api_key")
    )
    qdrant_path: str | None = Field(
        default=None,
        description="Embedded Qdrant location: a folder, or ':memory:'. Unset: <data_dir>/qdrant.",
    )
    collection: str = Field(default="stack_tutor", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    embed_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="A packaged embedder name (all-MiniLM-L6-v2, all-mpnet-base-v2) or a local model folder.",
    )
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    embed_threads: int | None = Field(default=None, ge=1, le=256, description="torch threads; unset: torch's default.")

    chunk_size: int = Field(default=160, ge=32, le=2048, description="Chunk size in tokens (cl100k).")
    chunk_overlap: int = Field(default=24, ge=0, le=512)
    upsert_batch_size: int = Field(default=256, ge=1, le=10_000)

    top_k: int = Field(default=5, ge=1, le=50)
    max_question_chars: int = Field(default=4000, ge=16, le=100_000)

    # -- the LLM: any OpenAI-compatible server, or the embedded llama.cpp server when no base URL is set --
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TUTOR_OPENAI_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_BASE", "openai_base_url"),
        description="An OpenAI-compatible endpoint (https://api.openai.com/v1, http://localhost:8000/v1 for vLLM, "
        "http://localhost:11434/v1 for Ollama). Unset: the embedded llama.cpp server on 127.0.0.1.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TUTOR_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key")
    )
    llm_model: str | None = Field(
        default=None,
        description="Model name sent to the server. Unset: the first model the server lists (the embedded one locally).",
    )
    llm_timeout: float = Field(default=180.0, gt=0, le=3600, description="Seconds to wait for one LLM reply.")
    llm_max_retries: int = Field(default=1, ge=0, le=10)
    llm_max_tokens: int = Field(default=256, ge=16, le=8192, description="Longest answer, in tokens.")
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    llm_threads: int | None = Field(default=None, ge=1, le=256, description="Embedded server threads; unset: all cores.")
    llm_context: int = Field(default=6144, ge=1024, le=131072, description="Embedded server context window (tokens).")
    llm_startup_timeout: float = Field(default=180.0, gt=0, le=3600)
    llm_concurrency: int | None = Field(
        default=None, ge=1, le=256,
        description="Answers generated at once; more wait their turn. Unset: 1 for the embedded server (it serves one "
        "request at a time), 4 for an OPENAI_BASE_URL server.",
    )
    llm_model_file: Path | None = Field(
        default=None, description="A GGUF file for the embedded server. Unset: the packaged Qwen2.5-Coder-1.5B-Instruct."
    )

    # -- the agent --
    context_passages: int = Field(default=4, ge=1, le=20, description="Passages the first search hands the LLM.")
    answer_pipeline: Literal["classic", "grounded"] = Field(
        default="grounded",
        description="grounded (the default): code checks what the question is about, the model picks the sentences or "
        "the calculation that answer (constrained to a JSON schema), code confirms a calculation before it shows a "
        "result, and every sentence the model writes is checked against its sentence before it is shown. classic: "
        "one free cited answer from whole passages, with tool calls (the pipeline before; see docs/benchmarks.md).")
    max_steps: int = Field(default=3, ge=1, le=20, description="LLM calls per answer, tool rounds included.")
    history_turns: int = Field(default=6, ge=0, le=100, description="Earlier messages the LLM sees.")
    refusal_threshold: float = Field(
        default=0.26, ge=-1.0, le=1.0,
        description="Below this cosine similarity between the question and its best passage, the tutor says the "
        "documents don't cover it (calibrated in docs/benchmarks.md).",
    )

    # -- the eval judge (`tutor eval`): unset, the tutor's own LLM endpoint judges --
    judge_base_url: str | None = Field(default=None, description="An OpenAI-compatible endpoint for the RAGAS judge.")
    judge_model: str | None = Field(default=None, description="The judge's model; unset: the first the server lists.")
    judge_api_key: SecretStr | None = None
    judge_timeout: float = Field(default=600.0, gt=0, le=7200, description="Seconds for one judge call.")

    # -- tutoring (`tutor quiz`, `grade`, `progress`) --
    learner: str = Field(default="learner", pattern=r"^[\w][\w .@+-]{0,63}$",
                         description="Whose progress quizzes and grades count towards, unless a command names one.")
    quiz_llm_questions: bool = Field(default=True, description="Let the LLM phrase quiz questions (checked; a "
                                     "fill-in-the-blank of the passage is used when its question fails the checks).")

    # -- spaced review (`tutor review`): the FSRS scheduler --
    review_retention: float = Field(default=0.9, ge=0.7, le=0.99, description="The recall FSRS schedules reviews for: "
                                    "a card is due when the learner's expected recall of it falls to this.")
    review_fuzz: bool = Field(default=True, description="Spread reviews by FSRS's small random fuzz (so cards learnt "
                              "together don't all fall due the same day).")
    review_easy_seconds: float = Field(default=8.0, ge=0, le=600, description="A right answer given within this many "
                                       "seconds (when the front end measures it) counts as Easy.")

    # -- the browser UI (`tutor ui`) --
    ui_host: str = Field(default="127.0.0.1", description="Interface the UI binds; 0.0.0.0 exposes it to the network.")
    ui_port: int = Field(default=7860, ge=1, le=65535)

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:
        size = info.data.get("chunk_size")
        if size is not None and v >= size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return v

    @property
    def qdrant_location(self) -> str:
        """What the index connects to, for messages: a URL, ':memory:' or a folder."""
        if self.qdrant_url:
            return self.qdrant_url
        return self.qdrant_path or str(self.data_dir / "qdrant")
