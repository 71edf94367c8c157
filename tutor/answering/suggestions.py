"""Suggested next questions, one per reply: curated in `corpus/suggestions.toml`, each one checked to be
answered by a verbatim quote of the corpus (tests/test_agent.py), so the tutor never suggests a question
its documents cannot answer."""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import ConfigError
from tutor.knowledge.bm25 import tokenize

SAME_QUESTION_SHARE = 0.6  # of a suggestion's content words found in one question the learner asked: the same question


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

    def pick(self, layers: list[int], exclude: list[str] = (), asked: list[str] = ()) -> str | None:
        """A question about the most-cited layer (then the next layers up the stack, then down) that was not
        suggested or said before (`exclude`: earlier messages and suggestions) and does not restate one the learner
        asked (`asked`: most of its words in one of them)."""
        seen = " ".join(_norm(x) for x in [*exclude, *asked])
        asked_words = [set(tokenize(a)) for a in asked if a]
        order = [layer for layer, _ in Counter(layers).most_common()]
        if order:
            top = order[0]
            order += [n for n in range(top + 1, 15)] + [n for n in range(top - 1, 0, -1)]
        for layer in dict.fromkeys(order):
            for s in self.items:
                if s.layer != layer or _norm(s.question) in seen:
                    continue
                words = set(tokenize(s.question))
                if words and any(len(words & a) / len(words) >= SAME_QUESTION_SHARE for a in asked_words):
                    continue
                return s.question
        return None
