"""Test doubles for testing deployments: the same fakes vagent's own tests use.

:class:`ScriptedModel` plays back replies and tool calls in order, and records what it was sent,
so a test can drive the agent through an exact path (or play a hostile model) with no endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from vagent.errors import VagentError

Step = str | AIMessage | dict[str, Any] | Callable[[list[BaseMessage]], AIMessage]
"""A scripted step: text, a ready message, a tool call ``{"tool": name, "args": {...}}``
(or a list of them under ``"calls"``), or a function of the messages."""


class ScriptExhausted(VagentError):
    """The scripted model was called more often than its script has steps."""


def tool_call(name: str, **args: Any) -> dict[str, Any]:
    """A scripted step that calls tool ``name`` with ``args``."""
    return {"tool": name, "args": args}


class ScriptedModel(BaseChatModel):
    """A chat model that plays back a script, one step per call.

    Example:
        >>> model = ScriptedModel(script=[tool_call("cancel_case", case_id="12345"), "Done."])
    """

    script: list[Any] = Field(default_factory=list)
    """The steps, played in order."""
    received: list[list[BaseMessage]] = Field(default_factory=list)
    """The messages of every call, in order, for assertions."""
    bound_tools: list[dict[str, Any]] = Field(default_factory=list)
    """The tools last bound, in OpenAI function form."""
    position: int = 0
    """How many steps have been played."""

    @property
    def _llm_type(self) -> str:
        return "vagent-scripted"

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tools and bind them like a real model would."""
        self.bound_tools = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=self.bound_tools, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.received.append(list(messages))
        if self.position >= len(self.script):
            raise ScriptExhausted(
                f"ScriptedModel has {len(self.script)} steps and was called once more; "
                "add a step for this call"
            )
        step = self.script[self.position]
        self.position += 1
        return ChatResult(generations=[ChatGeneration(message=_message(step, messages))])


def _message(step: Step, messages: list[BaseMessage]) -> AIMessage:
    """The AI message for one step."""
    if isinstance(step, AIMessage):
        return step
    if isinstance(step, str):
        return AIMessage(content=step)
    if isinstance(step, dict):
        calls = step.get("calls", [step])
        return AIMessage(
            content=step.get("content", ""),
            tool_calls=[
                _call(c["tool"], c.get("args", {}), len(messages), i) for i, c in enumerate(calls)
            ],
        )
    return step(messages)


def _call(name: str, args: dict[str, Any], at: int, index: int) -> dict[str, Any]:
    """A tool call with a deterministic id."""
    digest = hashlib.sha1(f"{name}:{sorted(args.items())}:{at}:{index}".encode()).hexdigest()
    return {"name": name, "args": args, "id": f"call_{digest[:12]}"}
