"""A LangChain chat model for any endpoint that speaks the OpenAI chat-completions API.

OpenAI, Azure OpenAI, vLLM and Ollama all serve this API, so one client covers hosted and
on-premises deployments. The SDK's own retries are switched off; tenacity retries rate limits,
server errors, timeouts, dropped connections and undecodable bodies, honouring the server's
``Retry-After``, all within one time budget per model call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from openai.types.chat import ChatCompletion
from pydantic import Field, PrivateAttr, SecretStr
from tenacity import AsyncRetrying, RetryCallState, Retrying, stop_after_attempt
from tenacity.retry import retry_if_exception
from tenacity.wait import wait_exponential_jitter

from vagent.errors import ModelError
from vagent.models._convert import (
    checked_completion,
    to_ai_message,
    to_openai_message,
    to_openai_tool_choice,
    usage,
)
from vagent.models._retry import (
    BadResponse,
    Budget,
    OutOfTime,
    call_budget,
    failure,
    is_retryable,
    retry_after,
    status,
    status_label,
)

logger = logging.getLogger(__name__)

_NO_KEY = "not-needed"
_GAVE_UP = (openai.APIError, BadResponse, TimeoutError)
"""What an attempt raises when the endpoint fails: the SDK's errors, a body that is not a
completion, and the budget's own timeout."""


class OpenAIChatModel(BaseChatModel):
    """Chat model for OpenAI-compatible chat-completions endpoints.

    Failed calls are retried with exponential backoff and jitter, or after the delay the server
    asks for in ``Retry-After``, for at most ``max_attempts`` attempts and ``budget`` seconds.
    A ``Retry-After`` longer than ``max_wait`` or than what is left of the budget ends the call
    at once. When the call gives up, or the endpoint rejects the request, or its reply is empty,
    :class:`~vagent.errors.ModelError` is raised.

    Example:
        >>> model = OpenAIChatModel(model="llama3.1", base_url="http://localhost:11434/v1")
        >>> reply = await model.bind_tools([lookup_case]).ainvoke(messages)  # doctest: +SKIP
    """

    model: str
    """Model name the endpoint serves, e.g. ``"gpt-4o-mini"`` or a vLLM model id."""

    base_url: str | None = None
    """Endpoint root such as ``"http://vllm:8000/v1"``; ``None`` means the OpenAI API."""

    api_key: SecretStr | None = None
    """API key; falls back to ``OPENAI_API_KEY``, then to a placeholder for keyless servers."""

    timeout: float = Field(default=30.0, gt=0)
    """Seconds allowed for one attempt; never more than what is left of ``budget``."""

    budget: float = Field(default=20.0, gt=0)
    """Seconds one model call may take in all: every attempt and every wait between them."""

    max_attempts: int = Field(default=4, ge=1)
    """Attempts per model call, the first one included."""

    max_wait: float = Field(default=20.0, ge=0)
    """Longest single wait between attempts; a longer ``Retry-After`` ends the call instead."""

    temperature: float | None = 0.0
    """Sampling temperature; ``None`` leaves it to the server."""

    max_tokens: int | None = None
    """Cap on generated tokens; ``None`` leaves it to the server."""

    http_client: Any = None
    """An ``httpx2.AsyncClient`` for async calls, e.g. to route through a proxy."""

    default_headers: dict[str, str] | None = None
    """Headers sent with every request, e.g. a gateway's routing header."""

    # Waits and the budget's clock go through these so tests can record waits and move time
    # instead of sleeping. Factories, because pydantic would bind a function default to the
    # instance like a method.
    _sleep: Callable[[float], Awaitable[None]] = PrivateAttr(default_factory=lambda: asyncio.sleep)
    _sync_sleep: Callable[[float], None] = PrivateAttr(default_factory=lambda: time.sleep)
    _clock: Callable[[], float] = PrivateAttr(default_factory=lambda: time.monotonic)
    _async_client: openai.AsyncOpenAI | None = PrivateAttr(default=None)
    _sync_client: openai.OpenAI | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        """Name LangChain uses to tag runs of this model."""
        return "openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """Settings that distinguish this model in traces and caches."""
        return {
            "model": self.model,
            "base_url": self.base_url,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Return this model with tools attached to every call.

        Args:
            tools: Pydantic models, LangChain tools, functions or OpenAI tool dicts.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` (or its alias ``"any"``), a
                tool name to force that tool, or an OpenAI ``tool_choice`` dict.
            **kwargs: Further chat-completions parameters sent with every call.

        Returns:
            A runnable that calls the model with the tools.
        """
        schemas = [_without_extensions(convert_to_openai_tool(tool)) for tool in tools]
        return self.bind(tools=schemas, tool_choice=to_openai_tool_choice(tool_choice), **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Call the endpoint asynchronously, retrying transient failures within the budget."""
        request = self._request(messages, stop, kwargs)
        budget = Budget(call_budget(self.budget), self._clock)
        try:
            async for attempt in AsyncRetrying(sleep=self._sleep, **self._retry_policy(budget)):
                with attempt:
                    response = await self._attempt(request, budget)
        except _GAVE_UP as error:
            raise self._model_error(error, budget) from error
        return self._to_result(response)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Call the endpoint synchronously, retrying transient failures within the budget.

        Each attempt is bounded by the HTTP client's timeouts only; the async path also cuts
        off an endpoint that trickles its answer past the budget.
        """
        request = self._request(messages, stop, kwargs)
        budget = Budget(call_budget(self.budget), self._clock)
        try:
            for attempt in Retrying(sleep=self._sync_sleep, **self._retry_policy(budget)):
                with attempt:
                    response = self._sync_attempt(request, budget)
        except _GAVE_UP as error:
            raise self._model_error(error, budget) from error
        return self._to_result(response)

    async def _attempt(self, request: dict[str, Any], budget: Budget) -> ChatCompletion:
        """One call to the endpoint, cut off when the budget runs out."""
        client = self._get_async_client()
        budget.attempts += 1
        remaining = budget.remaining()
        # The SDK's create() is not detectably a coroutine function, so tenacity would call it
        # as sync; the attempt is awaited here instead.
        async with asyncio.timeout(remaining):
            with _undecodable_as_bad_response():
                response = await client.chat.completions.create(
                    **request, timeout=min(self.timeout, remaining)
                )
        return checked_completion(response)

    def _sync_attempt(self, request: dict[str, Any], budget: Budget) -> ChatCompletion:
        """One call to the endpoint, within what is left of the budget."""
        client = self._get_sync_client()
        budget.attempts += 1
        timeout = min(self.timeout, budget.remaining())
        with _undecodable_as_bad_response():
            response = client.chat.completions.create(**request, timeout=timeout)
        return checked_completion(response)

    async def aclose(self) -> None:
        """Close the connections this model opened; it opens new ones if called again.

        An ``http_client`` passed in is left open for its owner to close.
        """
        client, self._async_client = self._async_client, None
        if client is not None and self.http_client is None:
            await client.close()
        sync_client, self._sync_client = self._sync_client, None
        if sync_client is not None:
            sync_client.close()

    def _get_async_client(self) -> openai.AsyncOpenAI:
        """Build the async SDK client on first use."""
        if self._async_client is None:
            self._async_client = openai.AsyncOpenAI(
                http_client=self.http_client, **self._client_options()
            )
        return self._async_client

    def _get_sync_client(self) -> openai.OpenAI:
        """Build the sync SDK client on first use; ``http_client`` is async-only."""
        if self._sync_client is None:
            self._sync_client = openai.OpenAI(**self._client_options())
        return self._sync_client

    def _client_options(self) -> dict[str, Any]:
        """Settings shared by the sync and async SDK clients."""
        api_key = self.api_key.get_secret_value() if self.api_key else None
        return {
            "api_key": api_key or os.environ.get("OPENAI_API_KEY") or _NO_KEY,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": 0,
            "default_headers": self.default_headers,
        }

    def _retry_policy(self, budget: Budget) -> dict[str, Any]:
        """Tenacity settings shared by the sync and async paths."""
        return {
            "stop": stop_after_attempt(self.max_attempts) | OutOfTime(budget, self.max_wait),
            "wait": self._wait,
            "retry": retry_if_exception(is_retryable),
            "before_sleep": self._log_retry,
            "reraise": True,
        }

    def _wait(self, state: RetryCallState) -> float:
        """Seconds to wait: the server's Retry-After if given, else jittered backoff."""
        requested = retry_after(failure(state))
        if requested is not None:
            return requested
        backoff = wait_exponential_jitter(multiplier=0.5, max=self.max_wait, jitter=0.5)
        return backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        """Log one retry; the status or error type only, never the conversation."""
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "model call retry: model=%s attempt=%d status=%s wait=%.1fs",
            self.model,
            state.attempt_number,
            status_label(failure(state)),
            wait,
        )

    def _model_error(self, error: BaseException, budget: Budget) -> ModelError:
        """Translate a failed call into a ModelError that carries no conversation text."""
        code = status(error)
        where = f"model {self.model!r} at base_url={self.base_url!r}"
        # The SDK's own message may quote the endpoint's error body, so only ours is shown.
        detail = f": {error}" if isinstance(error, BadResponse) else ""
        what = f"{type(error).__name__}, status={code!r}{detail}"
        if is_retryable(error) or isinstance(error, TimeoutError):
            message = (
                f"Chat {where} still failed after {budget.attempts} attempts in "
                f"{budget.elapsed():.1f}s ({what}); check that the endpoint is up and "
                "reachable, or raise budget, max_attempts or timeout."
            )
            return ModelError(message, model=self.model, status=code)
        reason = f", code={error.code!r}" if isinstance(error, openai.APIError) else ""
        message = (
            f"Chat {where} rejected the request ({what}{reason}) and it was not retried; "
            "check the model name, api_key and the bound tools."
        )
        return ModelError(message, model=self.model, status=code)

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Build the chat-completions arguments, leaving out unset options."""
        options = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop,
            **kwargs,
        }
        request = {key: value for key, value in options.items() if value is not None}
        request["model"] = self.model
        request["messages"] = [to_openai_message(message) for message in messages]
        return request

    def _to_result(self, response: ChatCompletion) -> ChatResult:
        """Turn the SDK's completion into a LangChain ChatResult.

        Raises:
            ModelError: the reply has neither text nor tool calls, so the turn has nothing to
                say; asking again at temperature 0 would bring the same nothing.
        """
        choice = response.choices[0]
        message = to_ai_message(choice.message)
        if not message.text.strip() and not message.tool_calls:
            raise ModelError(
                f"Chat model {self.model!r} returned an empty reply (id={response.id!r}, "
                f"finish_reason={choice.finish_reason!r}); check the endpoint's logs for that "
                "request, and max_tokens.",
                model=self.model,
            )
        message.response_metadata = {
            "model_name": response.model,
            "finish_reason": choice.finish_reason,
        }
        message.usage_metadata = usage(response)
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": choice.finish_reason}
        )
        return ChatResult(generations=[generation], llm_output={"model_name": response.model})


@contextmanager
def _undecodable_as_bad_response() -> Iterator[None]:
    """Report a 200 whose body is not JSON, such as a cut-off body, as a bad response."""
    try:
        yield
    except json.JSONDecodeError as error:
        raise BadResponse(f"the body is not valid JSON ({error.msg})") from error


def _without_extensions(schema: Any) -> Any:
    """A tool schema without vagent's ``x-`` keys (cues for the offline engine, entity kinds),
    which an endpoint has no use for and a strict one may refuse."""
    if isinstance(schema, dict):
        return {k: _without_extensions(v) for k, v in schema.items() if not k.startswith("x-")}
    if isinstance(schema, list):
        return [_without_extensions(item) for item in schema]
    return schema
