"""Talking to an LLM over the OpenAI chat-completions protocol. The only module that imports `openai`.

`ChatModel` is the small interface the agent uses; `OpenAIChatModel` implements it for any compatible
server (OpenAI, vLLM, Ollama, llama.cpp, the embedded server). Every call streams, so front ends get
tokens as they come and the time to first token is measured; every failure becomes a `TutorError`
that says what to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import openai

from tutor.errors import LLMTimeout, LLMUnavailable

OnToken = Callable[[str], None]


@dataclass(frozen=True)
class ToolCallRequest:
    """A tool call as the model wrote it. `arguments` is raw text: small models write broken JSON."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict:
        """The arguments as a dict; raises ValueError with a message the model can act on."""
        text = (self.arguments or "").strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"the arguments are not valid JSON ({e.msg} at position {e.pos}); send a JSON object") from None
        if not isinstance(value, dict):
            raise ValueError("the arguments must be a JSON object such as {\"expression\": \"2*3\"}")
        return value


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_seconds: float | None = None
    seconds: float = 0.0


class ChatModel(Protocol):
    """What the agent needs from an LLM. Tests replace it with a scripted fake."""

    def complete(self, messages: list[dict], *, tools: list[dict] | None = None, tool_choice: object = None,
                 max_tokens: int | None = None, on_token: OnToken | None = None,
                 schema: dict | None = None) -> Completion:
        """One chat completion. `schema` (a JSON schema) asks the server to constrain the reply to it; a server
        that can't is asked without, so the caller must still validate what comes back."""
        ...

    def describe(self) -> str: ...


class OpenAIChatModel:
    """A ChatModel for any OpenAI-compatible endpoint.

    `base_url` may be a callable, so the embedded server can be (re)started lazily and move to a new
    port; the client is rebuilt when the URL changes. `model=None` uses the first model the server lists.
    """

    def __init__(self, base_url: str | Callable[[], str], api_key: str | None, model: str | None, *,
                 timeout: float = 180.0, max_retries: int = 1, temperature: float = 0.0, max_tokens: int = 512,
                 embedded: bool = False):
        self._base_url = base_url
        self._api_key = api_key or "not-needed"
        self._model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.embedded = embedded
        # How this server takes a JSON schema, tried in order until one is accepted: llama-cpp-python's own
        # form, OpenAI's (vLLM too), or none (the prompt asks for JSON and the caller checks it).
        self._json_modes = ["llama", "none"] if embedded else ["json_schema", "llama", "none"]
        self._client: openai.OpenAI | None = None
        self._client_url: str | None = None

    # -- plumbing --------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._base_url() if callable(self._base_url) else self._base_url

    def _get_client(self) -> openai.OpenAI:
        url = self.base_url
        if self._client is None or url != self._client_url:
            self._client = openai.OpenAI(base_url=url, api_key=self._api_key, timeout=self.timeout,
                                         max_retries=self.max_retries)
            self._client_url = url
        return self._client

    @property
    def model(self) -> str:
        if self._model is None:
            client = self._get_client()
            try:
                models = [m.id for m in client.models.list()]
            except openai.APIError as e:
                raise self._error(e) from None
            if not models:
                raise LLMUnavailable(f"The LLM server at {self._client_url} lists no models.",
                                     "Set TUTOR_LLM_MODEL to the model name it serves.")
            self._model = models[0]
        return self._model

    def describe(self) -> str:
        where = "embedded llama.cpp" if self.embedded else (self._client_url or (self._base_url if isinstance(self._base_url, str) else "?"))
        return f"{self._model or '(first listed model)'} @ {where}"

    # -- the one call ----------------------------------------------------------------------------------
    @property
    def json_mode(self) -> str:
        """How constrained output is requested from this server now: "llama", "json_schema" or "none"."""
        return self._json_modes[0]

    @staticmethod
    def _response_format(schema: dict, mode: str) -> dict | None:
        if mode == "llama":
            return {"type": "json_object", "schema": schema}
        if mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "decision", "schema": schema}}
        return None

    def complete(self, messages: list[dict], *, tools: list[dict] | None = None, tool_choice: object = None,
                 max_tokens: int | None = None, on_token: OnToken | None = None,
                 schema: dict | None = None) -> Completion:
        while True:
            try:
                return self._complete(messages, tools, tool_choice, max_tokens, on_token, schema)
            except _FormatRejected as e:
                if len(self._json_modes) > 1 and self._json_modes[0] == e.mode:  # another thread may have moved on
                    self._json_modes.pop(0)  # this server doesn't take that form: the next one, for good

    def _complete(self, messages, tools, tool_choice, max_tokens, on_token, schema) -> Completion:
        client = self._get_client()
        kwargs: dict = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": max_tokens or self.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            kwargs["tools"] = tools
            if tool_choice is not None:
                kwargs["tool_choice"] = tool_choice
        mode = self.json_mode
        fmt = self._response_format(schema, mode) if schema is not None else None
        if fmt is not None:
            kwargs["response_format"] = fmt
        t0 = time.perf_counter()
        out = Completion(content="")
        parts: list[str] = []
        calls: dict[int, dict] = {}
        try:
            stream = client.chat.completions.create(**kwargs)
            for chunk in stream:
                if getattr(chunk, "usage", None):
                    out.prompt_tokens = chunk.usage.prompt_tokens
                    out.completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices or ():
                    delta = choice.delta
                    if choice.finish_reason:
                        out.finish_reason = choice.finish_reason
                    if delta is None:
                        continue
                    if delta.content:
                        if out.first_token_seconds is None:
                            out.first_token_seconds = time.perf_counter() - t0
                        parts.append(delta.content)
                        if on_token:
                            on_token(delta.content)
                    for tc in delta.tool_calls or ():
                        if out.first_token_seconds is None:
                            out.first_token_seconds = time.perf_counter() - t0
                        slot = calls.setdefault(tc.index if tc.index is not None else len(calls),
                                                {"id": "", "name": "", "arguments": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            if tc.function.name:
                                slot["name"] += tc.function.name
                            if tc.function.arguments:
                                slot["arguments"] += tc.function.arguments
        except openai.APIStatusError as e:
            if fmt is not None and e.status_code in (400, 404, 415, 422, 500, 501) and len(self._json_modes) > 1:
                raise _FormatRejected(mode) from None
            raise self._error(e) from None
        except openai.APIError as e:
            raise self._error(e) from None
        except LLMUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - the transport broke mid-stream (httpx errors are not wrapped)
            raise LLMUnavailable(
                f"The connection to the LLM broke mid-answer ({type(e).__name__}: {str(e)[:120]}).",
                self._retry_hint(),
            ) from None
        if out.finish_reason is None:  # every server ends a stream with a finish reason; a cut connection doesn't
            raise LLMUnavailable("The connection to the LLM broke mid-answer (the stream ended without finishing).",
                                 self._retry_hint())
        out.content = "".join(parts)
        out.tool_calls = [ToolCallRequest(c["id"] or f"call_{i}", c["name"], c["arguments"])
                          for i, c in sorted(calls.items()) if c["name"]]
        out.seconds = time.perf_counter() - t0
        return out

    def _retry_hint(self) -> str:
        if self.embedded:
            return "Ask again: the embedded server is restarted if it died (its log is in the data directory)."
        return "Check that the server at OPENAI_BASE_URL is running, then ask again."

    def _error(self, e: openai.APIError) -> LLMUnavailable:
        url = self._client_url
        if isinstance(e, openai.APITimeoutError):
            return LLMTimeout(f"The LLM at {url} did not answer within {self.timeout:.0f} s.",
                              "Ask again, raise TUTOR_LLM_TIMEOUT, or use a faster server (OPENAI_BASE_URL).")
        if isinstance(e, openai.APIConnectionError):
            hint = self._retry_hint() if self.embedded else (
                "Check OPENAI_BASE_URL (is the server running? does the URL end in /v1?), "
                "or unset it to use the embedded model.")
            return LLMUnavailable(f"Cannot reach the LLM at {url}.", hint)
        if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return LLMUnavailable(f"The LLM server at {url} rejected the API key (HTTP {e.status_code}).",
                                  "Set OPENAI_API_KEY to a valid key for that server.")
        if isinstance(e, openai.NotFoundError):
            return LLMUnavailable(f"The LLM server at {url} has no model {self._model!r} or no such endpoint (HTTP 404).",
                                  "Set TUTOR_LLM_MODEL to a model it serves, and check OPENAI_BASE_URL ends in /v1.")
        if isinstance(e, openai.RateLimitError):
            return LLMUnavailable(f"The LLM server at {url} is rate-limiting requests (HTTP 429).",
                                  "Wait a moment and ask again.")
        if isinstance(e, openai.APIStatusError):
            msg = _short(getattr(e, "message", "") or str(e))
            hint = ("If the conversation is long, start a new one (/reset), then ask again."
                    if e.status_code == 400 else self._retry_hint())
            return LLMUnavailable(f"The LLM server at {url} refused the request (HTTP {e.status_code}: {msg}).", hint)
        return LLMUnavailable(f"The LLM request failed ({type(e).__name__}: {_short(str(e))}).", self._retry_hint())


class _FormatRejected(Exception):
    """The server refused the request's form of constrained output (llama-cpp-python answers json_schema with 500)."""

    def __init__(self, mode: str):
        super().__init__(mode)
        self.mode = mode


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
