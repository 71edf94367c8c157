"""The tutor's tools: plain typed functions whose docstrings are written for the model.

Declared once here. The agent hands their schemas to the LLM; the MCP server registers the same bound
methods. Parameter descriptions live in `Annotated[..., Field(description=...)]`, so both get them.
Tools raise `ToolError` (or `InvalidInput`) for bad arguments: the agent returns the message to the
model as the tool's result, the MCP server returns it as a tool error. A parameter annotated with
`NOT_FOR_MODEL` is left out of the schema the tutor's own LLM sees (MCP clients still get it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Protocol, get_type_hints

from pydantic import Field, TypeAdapter

from tutor import validate
from tutor.answering import calculator as calc
from tutor.errors import InvalidInput
from tutor.types import Passage, SearchHit


class _NotForModel:
    """`Annotated[..., NOT_FOR_MODEL]`: a parameter for MCP clients and front ends, hidden from the tutor's LLM."""

    def __repr__(self) -> str:
        return "NOT_FOR_MODEL"


NOT_FOR_MODEL = _NotForModel()


class ToolError(ValueError):
    """A tool could not do what was asked; the message tells the caller (a model or a person) how to fix it."""


class Searcher(Protocol):
    """Where the tools look: `search` takes checked arguments (the tools check them: they are the entry point
    for a model's or an MCP client's call); `layer_overview` lists the layers."""

    def search(self, question: str, k: int, layer: int | None = None) -> list[SearchHit]: ...

    def layer_overview(self) -> list[dict]: ...

    # Optional: `mentions(name) -> bool`, whether the documents mention a name at all (without it, they do).


class Toolbox:
    """The tools, bound to one searcher (`TutorApp.corpus`: its retriever and layer overview)."""

    def __init__(self, searcher: Searcher, k: int = 4, max_query_chars: int = 1000):
        self._searcher = searcher
        self.k = k
        self.max_query_chars = max_query_chars

    def search_corpus(
        self,
        query: Annotated[str, Field(description="What to look for, as a short standalone question or phrase.")],
        k: Annotated[int | None, Field(description=f"How many passages to return (1-{validate.MAX_K}); omit for the default."),
                     NOT_FOR_MODEL] = None,
        layer: Annotated[int | None, Field(description="Only search this layer of the stack (1-14); omit to search all.")] = None,
    ) -> list[Passage]:
        """Search the AI-stack documents for passages that answer a question. Use it for any fact you need.

        Each passage comes with the layer of the stack it belongs to (1 raw materials ... 14 applications).
        """
        try:
            query = validate.question(query, self.max_query_chars)
            k = self.k if k is None else validate.top_k(k)
            layer = validate.layer(layer)
        except InvalidInput as e:
            raise ToolError(str(e)) from None
        return [Passage.from_hit(h) for h in self._searcher.search(query, k=k, layer=layer)]

    def calculator(
        self,
        expression: Annotated[str, Field(description="Plain arithmetic using numbers from the passages, e.g. 72 * 8 or (700 - 350) / 350 * 100.")],
    ) -> str:
        """Compute an arithmetic expression exactly. Use it whenever the answer needs a calculation."""
        try:
            return calc.format_number(calc.evaluate(expression))
        except calc.CalculatorError as e:
            raise ToolError(f"calculator: {e}") from None

    def list_layers(self) -> list[dict]:
        """The 14 layers of the AI stack, bottom (1, raw materials) to top (14, applications), with a summary
        of each and how many passages the documents have about it."""
        return self._searcher.layer_overview()

    def mentions(self, name: str) -> bool:
        """Whether the documents mention `name` anywhere (True when the searcher can't tell)."""
        fn = getattr(self._searcher, "mentions", None)
        return True if fn is None else bool(fn(name))

    # -- for the agent ----------------------------------------------------------------------------------
    def for_model(self) -> dict[str, Callable]:
        """The tools the tutor's LLM may call (list_layers is for MCP clients and front ends)."""
        return {"search_corpus": self.search_corpus, "calculator": self.calculator}


def tool_schema(fn: Callable) -> dict:
    """The OpenAI `tools` entry of a function: name, its docstring, and a JSON schema of its parameters."""
    sig = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    props: dict = {}
    required: list[str] = []
    for name, p in sig.parameters.items():
        if any(m is NOT_FOR_MODEL for m in getattr(hints[name], "__metadata__", ())):
            continue
        schema = TypeAdapter(hints[name]).json_schema()
        if "anyOf" in schema:  # `int | None`: tell the model the type, not the null branch
            kinds = [s for s in schema.pop("anyOf") if s.get("type") != "null"]
            if len(kinds) == 1:
                schema.update(kinds[0])
            schema.pop("default", None)
        schema.pop("title", None)
        props[name] = schema
        if p.default is inspect.Parameter.empty:
            required.append(name)
    doc = inspect.cleandoc(fn.__doc__ or "")
    return {
        "type": "function",
        "function": {
            "name": fn.__name__,
            "description": " ".join(doc.split()),
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }
