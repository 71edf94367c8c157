"""Suggested next questions, one per reply: curated in `corpus/suggestions.toml`, each one checked to be
answered by a verbatim quote of the corpus (tests/test_agent.py), so the tutor never suggests a question
its documents cannot answer."""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import ConfigError


@dataclass(frozen=True)
class Suggestion:
    layer: int
    question: str
    doc: str
    quote: str


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?. ")


class Suggestions:
    def __init__(self, items: list[Suggestion]):
        self.items = items

    @classmethod
    def load(cls, corpus_dir: Path) -> Suggestions:
        path = corpus_dir / "suggestions.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            items = [Suggestion(int(d["layer"]), str(d["question"]), str(d["doc"]), str(d["quote"]))
                     for d in data.get("suggestion", [])]
        except FileNotFoundError:
            return cls([])
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{path} is malformed ({e}).", "Restore it from git.") from None
        return cls(items)

    def pick(self, layers: list[int], exclude: list[str] = ()) -> str | None:
        """A question about the most-cited layer (then the next layers up the stack) not yet asked or suggested."""
        seen = " ".join(_norm(x) for x in exclude)
        order = [layer for layer, _ in Counter(layers).most_common()]
        if order:
            top = order[0]
            order += [n for n in range(top + 1, 15)] + [n for n in range(top - 1, 0, -1)]
        for layer in dict.fromkeys(order):
            for s in self.items:
                if s.layer == layer and _norm(s.question) not in seen:
                    return s.question
        return None
