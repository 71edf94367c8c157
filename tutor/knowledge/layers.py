"""The 14-layer taxonomy, loaded from `corpus/layers.toml`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tutor.errors import ConfigError
from tutor.types import N_LAYERS, Layer

CROSS_LAYER = Layer(0, "Cross-layer", "Passages about how the layers connect, not about any one layer.")


class Taxonomy:
    def __init__(self, layers: list[Layer]):
        numbers = [layer.number for layer in layers]
        if numbers != list(range(1, N_LAYERS + 1)):
            raise ConfigError(
                f"layers.toml must define layers 1..{N_LAYERS} in order, found {numbers}.",
                "Restore corpus/layers.toml from git.",
            )
        self.layers = layers
        self._by_number = {layer.number: layer for layer in layers}
        self._by_number[0] = CROSS_LAYER

    @classmethod
    def load(cls, corpus_dir: Path) -> Taxonomy:
        path = corpus_dir / "layers.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"No layer taxonomy at {path}.", "Set TUTOR_CORPUS_DIR to the project's corpus/ folder.") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path} is not valid TOML ({e}).", "Restore it from git.") from None
        try:
            layers = [Layer(int(d["number"]), str(d["name"]), str(d["summary"])) for d in data["layer"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{path} has a malformed [[layer]] entry ({e}).", "Each needs number, name and summary.") from None
        return cls(layers)

    def get(self, number: int) -> Layer:
        try:
            return self._by_number[number]
        except KeyError:
            raise KeyError(number) from None

    def name(self, number: int) -> str:
        return self.get(number).name

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)
