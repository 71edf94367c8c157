"""A scripted chat model for fast tests of the agent loop (no network, no model).

Each call to `complete` pops the next item of the script: a string (the reply text, streamed word by
word), a `ToolCallRequest` or list of them (tool calls), an exception (raised), or a callable that gets
the messages and returns one of those. Every request is recorded for assertions.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque

from tutor.llm.client import Completion, ToolCallRequest


def call(name: str, **arguments) -> ToolCallRequest:
    return ToolCallRequest(id=f"call_{name}", name=name, arguments=json.dumps(arguments))


def raw_call(name: str, arguments: str) -> ToolCallRequest:
    return ToolCallRequest(id=f"call_{name}", name=name, arguments=arguments)


class ScriptedModel:
    def __init__(self, *script):
        self.script = deque(script)
        self.requests: list[dict] = []

    def complete(self, messages, *, tools=None, tool_choice=None, max_tokens=None, on_token=None) -> Completion:
        self.requests.append({"messages": copy.deepcopy(messages), "tools": tools, "tool_choice": tool_choice,
                              "max_tokens": max_tokens})
        if not self.script:
            raise AssertionError(f"the agent made an unscripted LLM call #{len(self.requests)}")
        item = self.script.popleft()
        if callable(item) and not isinstance(item, ToolCallRequest):
            item = item(messages)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ToolCallRequest):
            item = [item]
        if isinstance(item, list):
            return Completion(content="", tool_calls=list(item), finish_reason="tool_calls", prompt_tokens=100,
                              completion_tokens=10, first_token_seconds=0.01, seconds=0.02)
        for tok in re.findall(r"\S+\s*|\s+", item):
            if on_token:
                on_token(tok)
        return Completion(content=item, finish_reason="stop", prompt_tokens=100, completion_tokens=len(item.split()),
                          first_token_seconds=0.01, seconds=0.02)

    def describe(self) -> str:
        return "scripted test model"
