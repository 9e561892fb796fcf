"""The configured endpoint behind a circuit breaker, with the offline engine to fall back on.

A turn whose model call fails after its retries, or comes while the breaker is open, is
answered by the offline engine, so the caller is never dropped; the reply says the agent is in
a limited mode and how to reach a person. The rest of that turn stays on the offline engine, so
one turn never waits out the endpoint twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from vagent.errors import ModelError
from vagent.models.breaker import CircuitBreaker, Permit

logger = logging.getLogger(__name__)

FALLBACK_KEY = "vagent_fallback"
"""Key in a reply's ``response_metadata``, set to ``"offline"`` when the offline engine made it."""

LIMITED_MODE_NOTE = (
    "I'm working in a limited mode right now. If you'd like a person, say \"representative\"."
)
"""Added to every reply the offline engine makes in the endpoint's place. The screen hands off
on "representative" whatever the model, so the way out it names always works."""


class FallbackChatModel(BaseChatModel):
    """A chat model that calls ``primary`` while its breaker allows, else ``fallback``.

    With no ``fallback``, a failed call raises as before and an open breaker raises
    :class:`~vagent.errors.ModelError` at once, so the conversation hands off without a wait.

    Example:
        >>> model = FallbackChatModel(  # doctest: +SKIP
        ...     primary=OpenAIChatModel(model="llama3.1", base_url="http://vllm:8000/v1"),
        ...     fallback=OfflineEngine(),
        ...     breaker=CircuitBreaker("llama3.1@vllm:8000"),
        ... )
    """

    primary: BaseChatModel
    """The endpoint's model."""
    fallback: BaseChatModel | None = None
    """What answers when ``primary`` fails or its breaker is open; None raises instead."""
    breaker: CircuitBreaker
    """The endpoint's breaker, shared with every other model calling the same endpoint."""

    @property
    def _llm_type(self) -> str:
        """Name LangChain uses to tag runs of this model."""
        return "vagent-fallback"

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools for both models; each is bound afresh on every call."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    async def aclose(self) -> None:
        """Close the endpoint model's connections, if it holds any."""
        close = getattr(self.primary, "aclose", None)
        if close is not None:
            await close()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Ask the endpoint if the breaker allows, else (or on failure) the fallback."""
        permit = self._permit(messages)
        if permit is None:
            reply = await _bound(self._fallback_for(None), kwargs).ainvoke(messages)
            return _result(_marked(reply))
        try:
            reply = await _bound(self.primary, kwargs).ainvoke(messages, stop=stop)
        except Exception as error:
            fallback = self._failed(permit, error)
            reply = await _bound(fallback, kwargs).ainvoke(messages)
            return _result(_marked(reply))
        except BaseException:
            self.breaker.abandoned(permit)
            raise
        self.breaker.succeeded(permit)
        return _result(reply)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The synchronous twin of :meth:`_agenerate`."""
        permit = self._permit(messages)
        if permit is None:
            reply = _bound(self._fallback_for(None), kwargs).invoke(messages)
            return _result(_marked(reply))
        try:
            reply = _bound(self.primary, kwargs).invoke(messages, stop=stop)
        except Exception as error:
            fallback = self._failed(permit, error)
            return _result(_marked(_bound(fallback, kwargs).invoke(messages)))
        except BaseException:
            self.breaker.abandoned(permit)
            raise
        self.breaker.succeeded(permit)
        return _result(reply)

    def _permit(self, messages: Sequence[BaseMessage]) -> Permit | None:
        """Leave to call the endpoint, unless this turn already fell back or the breaker is open."""
        if _fell_back_this_turn(messages):
            return None
        permit = self.breaker.acquire()
        if permit is None:
            logger.debug("model circuit open, not calling: endpoint=%s", self.breaker.endpoint)
        return permit

    def _failed(self, permit: Permit, error: Exception) -> BaseChatModel:
        """Count the failure and return the model to fall back on, or re-raise the error."""
        self.breaker.failed(permit)
        fallback = self._fallback_for(error)
        logger.warning(
            "model call failed, answering offline: endpoint=%s error=%s status=%s",
            self.breaker.endpoint,
            type(error).__name__,
            getattr(error, "status", None),
        )
        return fallback

    def _fallback_for(self, error: Exception | None) -> BaseChatModel:
        """The fallback model; with none, the endpoint's error or an open-circuit error."""
        if self.fallback is not None:
            return self.fallback
        if error is not None:
            raise error
        raise ModelError(
            f"Chat endpoint {self.breaker.endpoint!r} is not being called: its circuit is open "
            f"after {self.breaker.failures} failed calls in a row, and one trial call is made "
            f"{self.breaker.cooldown_s:.0f}s after it opened; check that the endpoint is up.",
            model=str(getattr(self.primary, "model", self.breaker.endpoint)),
        )


def _bound(model: BaseChatModel, kwargs: dict[str, Any]) -> Runnable[LanguageModelInput, Any]:
    """``model`` with the tools and options bound to this wrapper."""
    options = dict(kwargs)
    tools = options.pop("tools", None)
    return model.bind_tools(tools, **options) if tools else model.bind(**options)


def _fell_back_this_turn(messages: Sequence[BaseMessage]) -> bool:
    """Whether the offline engine already spoke since the caller's latest message."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return False
        if isinstance(message, AIMessage) and message.response_metadata.get(FALLBACK_KEY):
            return True
    return False


def _marked(reply: BaseMessage) -> AIMessage:
    """The fallback's reply, marked as such, with the limited-mode note after any text."""
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=reply.content)
    text = reply.text.strip()
    content = f"{text} {LIMITED_MODE_NOTE}" if text else reply.content
    metadata = {**reply.response_metadata, FALLBACK_KEY: "offline"}
    return reply.model_copy(update={"content": content, "response_metadata": metadata})


def _result(reply: BaseMessage) -> ChatResult:
    """A ChatResult of one message."""
    return ChatResult(generations=[ChatGeneration(message=reply)])
