"""The tutor's only settings class. Built once (by the CLI, UI, MCP server or a test) and passed down.

Every field reads `TUTOR_<FIELD>` from the environment or a `.env` file in the working directory;
a few also accept the ecosystem's own names (`QDRANT_URL`, `QDRANT_API_KEY`).
"""

from __future__ import annotations

from pathlib import Path

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
