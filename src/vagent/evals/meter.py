"""Measuring the agent's model during an eval conversation: calls, latency, tokens and inputs.

:class:`Meter` is a langchain-core callback handler attached to the chat model a case runs on.
Tokens come from ``usage_metadata`` on the model's messages; an engine that reports none (the
offline engine, scripted models) leaves them unknown, and the reports say so instead of
showing zero as if it had been measured.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, LLMResult


class Meter(BaseCallbackHandler):
    """Counts one conversation's model calls, their latency and tokens, and keeps their inputs."""

    run_inline = True
    """Called in the model's own task, so measurements belong to the right conversation."""

    def __init__(self) -> None:
        """Start with nothing measured."""
        self.calls = 0
        self.latency_s = 0.0
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.inputs: list[str] = []
        self._started: dict[UUID, float] = {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Start the clock and keep what the model is shown."""
        self._started[run_id] = time.perf_counter()
        for batch in messages:
            self.inputs.extend(shown(m) for m in batch)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Stop the clock and add the tokens the model reported."""
        self._stop(run_id)
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration):
                    self._count(generation.message)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A failed call still took time."""
        self._stop(run_id)

    def _stop(self, run_id: UUID) -> None:
        started = self._started.pop(run_id, None)
        if started is not None:
            self.calls += 1
            self.latency_s += time.perf_counter() - started

    def _count(self, message: BaseMessage) -> None:
        usage = message.usage_metadata if isinstance(message, AIMessage) else None
        if not usage:
            return
        self.input_tokens = (self.input_tokens or 0) + usage.get("input_tokens", 0)
        self.output_tokens = (self.output_tokens or 0) + usage.get("output_tokens", 0)


def shown(message: BaseMessage) -> str:
    """Everything a message shows the model: its text, and a system message's context."""
    content = message.content
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    if isinstance(message, SystemMessage) and message.additional_kwargs:
        text += "\n" + json.dumps(message.additional_kwargs, default=str)
    return text
