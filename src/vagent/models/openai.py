"""A LangChain chat model for any endpoint that speaks the OpenAI chat-completions API.

OpenAI, Azure OpenAI, vLLM and Ollama all serve this API, so one client covers hosted and
on-premises deployments. The SDK's own retries are switched off; tenacity retries rate limits,
server errors, timeouts and dropped connections, honouring the server's ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from pydantic import Field, PrivateAttr, SecretStr
from tenacity import AsyncRetrying, RetryCallState, Retrying, stop_after_attempt
from tenacity.retry import retry_if_exception
from tenacity.wait import wait_exponential_jitter

from vagent.errors import ModelError

logger = logging.getLogger(__name__)

_NO_KEY = "not-needed"
_RETRYABLE_CLIENT_STATUSES = frozenset({408, 409, 429})
_TOOL_CHOICE_KEYWORDS = frozenset({"auto", "none", "required"})
_ONLY_FUNCTION_CALLS = "Only function tool calls are supported; bind function tools instead."


class OpenAIChatModel(BaseChatModel):
    """Chat model for OpenAI-compatible chat-completions endpoints.

    Failed calls are retried with exponential backoff and jitter, or after the delay the server
    asks for in ``Retry-After``; once retries run out, or on a request the endpoint rejects,
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
    """Seconds allowed for one HTTP call, not for all attempts together."""

    max_attempts: int = Field(default=4, ge=1)
    """Attempts per model call, the first one included."""

    max_wait: float = Field(default=20.0, ge=0)
    """Cap in seconds on any single wait between attempts, ``Retry-After`` included."""

    temperature: float | None = 0.0
    """Sampling temperature; ``None`` leaves it to the server."""

    max_tokens: int | None = None
    """Cap on generated tokens; ``None`` leaves it to the server."""

    http_client: Any = None
    """An ``httpx2.AsyncClient`` for async calls, e.g. to route through a proxy."""

    default_headers: dict[str, str] | None = None
    """Headers sent with every request, e.g. a gateway's routing header."""

    # Waits between attempts go through these so tests can record them instead of sleeping.
    # Factories, because pydantic would bind a function default to the instance like a method.
    _sleep: Callable[[float], Awaitable[None]] = PrivateAttr(default_factory=lambda: asyncio.sleep)
    _sync_sleep: Callable[[float], None] = PrivateAttr(default_factory=lambda: time.sleep)
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
        schemas = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=schemas, tool_choice=_to_openai_tool_choice(tool_choice), **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Call the endpoint asynchronously, retrying transient failures."""
        request = self._request(messages, stop, kwargs)
        client = self._get_async_client()
        try:
            # The SDK's create() is not detectably a coroutine function, so tenacity
            # would call it as sync; the attempt loop awaits it explicitly instead.
            async for attempt in AsyncRetrying(sleep=self._sleep, **self._retry_policy()):
                with attempt:
                    response = await client.chat.completions.create(**request)
        except openai.APIError as error:
            raise self._model_error(error) from error
        return self._to_result(response)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Call the endpoint synchronously, retrying transient failures."""
        request = self._request(messages, stop, kwargs)
        client = self._get_sync_client()
        try:
            for attempt in Retrying(sleep=self._sync_sleep, **self._retry_policy()):
                with attempt:
                    response = client.chat.completions.create(**request)
        except openai.APIError as error:
            raise self._model_error(error) from error
        return self._to_result(response)

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

    def _retry_policy(self) -> dict[str, Any]:
        """Tenacity settings shared by the sync and async paths."""
        return {
            "stop": stop_after_attempt(self.max_attempts),
            "wait": self._wait,
            "retry": retry_if_exception(_is_retryable),
            "before_sleep": self._log_retry,
            "reraise": True,
        }

    def _wait(self, state: RetryCallState) -> float:
        """Seconds to wait: the server's Retry-After if given, else jittered backoff."""
        requested = _retry_after(_failure(state))
        if requested is not None:
            return min(requested, self.max_wait)
        backoff = wait_exponential_jitter(multiplier=0.5, max=self.max_wait, jitter=0.5)
        return backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        """Log one retry; the status or error type only, never the conversation."""
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "model call retry: model=%s attempt=%d status=%s wait=%.1fs",
            self.model,
            state.attempt_number,
            _status_label(_failure(state)),
            wait,
        )

    def _model_error(self, error: openai.APIError) -> ModelError:
        """Translate an SDK error into a ModelError that carries no conversation text."""
        status = _status(error)
        where = f"model {self.model!r} at base_url={self.base_url!r}"
        if _is_retryable(error):
            message = (
                f"Chat {where} still failed after {self.max_attempts} attempts "
                f"({type(error).__name__}, status={status!r}); check that the endpoint is up "
                "and reachable, or raise max_attempts or timeout."
            )
            return ModelError(message, model=self.model, status=status)
        message = (
            f"Chat {where} rejected the request ({type(error).__name__}, status={status!r}, "
            f"code={error.code!r}) and it was not retried; check the model name, api_key and "
            "the bound tools."
        )
        return ModelError(message, model=self.model, status=status)

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
        request["messages"] = [_to_openai_message(message) for message in messages]
        return request

    def _to_result(self, response: ChatCompletion) -> ChatResult:
        """Turn the SDK's completion into a LangChain ChatResult."""
        if not response.choices:
            raise ModelError(
                f"Chat model {self.model!r} returned a completion with no choices "
                f"(id={response.id!r}); check the endpoint's logs for that request.",
                model=self.model,
            )
        choice = response.choices[0]
        message = _to_ai_message(choice.message)
        message.response_metadata = {
            "model_name": response.model,
            "finish_reason": choice.finish_reason,
        }
        message.usage_metadata = _usage(response)
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": choice.finish_reason}
        )
        return ChatResult(generations=[generation], llm_output={"model_name": response.model})


def _is_retryable(error: BaseException) -> bool:
    """Whether another attempt could succeed: timeouts, lost connections, 408/409/429, 5xx."""
    if isinstance(error, openai.APIConnectionError):
        return True
    if not isinstance(error, openai.APIStatusError):
        return False
    return error.status_code in _RETRYABLE_CLIENT_STATUSES or error.status_code >= 500


def _failure(state: RetryCallState) -> BaseException | None:
    """The exception the last attempt raised, if any."""
    return state.outcome.exception() if state.outcome else None


def _status(error: BaseException | None) -> int | None:
    """HTTP status of a failed call, or None when the endpoint never answered."""
    return error.status_code if isinstance(error, openai.APIStatusError) else None


def _status_label(error: BaseException | None) -> str:
    """HTTP status for the retry log, or the error type when there is none."""
    status = _status(error)
    return str(status) if status is not None else type(error).__name__


def _retry_after(error: BaseException | None) -> float | None:
    """Seconds the server asked to wait via ``retry-after-ms`` or ``Retry-After``, if any."""
    if not isinstance(error, openai.APIStatusError):
        return None
    headers = error.response.headers
    milliseconds = _finite_float(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return max(milliseconds / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite_float(value)
    return max(seconds, 0.0) if seconds is not None else _seconds_until(value)


def _finite_float(value: str | None) -> float | None:
    """Parse a header as a finite number, or None."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _seconds_until(http_date: str) -> float | None:
    """Seconds from now until an HTTP date, never negative; None if it does not parse."""
    try:
        moment = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _to_openai_tool_choice(tool_choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    """Map LangChain's tool_choice conventions onto the chat-completions values."""
    if tool_choice is None or isinstance(tool_choice, dict):
        return tool_choice
    if tool_choice == "any":
        return "required"
    if tool_choice in _TOOL_CHOICE_KEYWORDS:
        return tool_choice
    return {"type": "function", "function": {"name": tool_choice}}


def _to_openai_message(message: BaseMessage) -> dict[str, Any]:
    """Convert one LangChain message to a chat-completions message."""
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text(message)}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _text(message)}
    if isinstance(message, AIMessage):
        return _to_openai_assistant_message(message)
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": _text(message)}
    if isinstance(message, ChatMessage):
        return {"role": message.role, "content": _text(message)}
    raise TypeError(
        f"Cannot send a message of type {type(message).__name__!r} to a chat-completions "
        "endpoint; use SystemMessage, HumanMessage, AIMessage, ToolMessage or ChatMessage."
    )


def _text(message: BaseMessage) -> str:
    """The message's text as a plain str, whether its content is a str or blocks."""
    return str(message.text)


def _to_openai_assistant_message(message: AIMessage) -> dict[str, Any]:
    """Convert an AIMessage, keeping its tool calls so tool replies can refer to them."""
    calls = [
        _to_openai_tool_call(call["id"], call["name"], json.dumps(call["args"]))
        for call in message.tool_calls
    ]
    calls += [
        _to_openai_tool_call(call["id"], call["name"], call["args"])
        for call in message.invalid_tool_calls
    ]
    if not calls:
        return {"role": "assistant", "content": _text(message)}
    return {"role": "assistant", "content": _text(message) or None, "tool_calls": calls}


def _to_openai_tool_call(
    call_id: str | None, name: str | None, arguments: str | None
) -> dict[str, Any]:
    """One assistant tool call in chat-completions form."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments or ""},
    }


def _to_ai_message(message: ChatCompletionMessage) -> AIMessage:
    """Convert the SDK's reply message, sorting tool calls into valid and invalid."""
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in message.tool_calls or []:
        if call.type != "function":
            invalid.append(invalid_tool_call(id=call.id, error=_ONLY_FUNCTION_CALLS))
            continue
        name, arguments = call.function.name, call.function.arguments
        args, error = _parse_arguments(arguments)
        if error is not None:
            invalid.append(invalid_tool_call(name=name, args=arguments, id=call.id, error=error))
            continue
        valid.append(tool_call(name=name, args=args, id=call.id))
    return AIMessage(content=message.content or "", tool_calls=valid, invalid_tool_calls=invalid)


def _parse_arguments(arguments: str) -> tuple[dict[str, Any], str | None]:
    """Parse tool-call arguments into a dict, or say why they cannot be used."""
    try:
        args = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError as error:
        return {}, f"Arguments are not valid JSON: {error.msg} at position {error.pos}."
    if not isinstance(args, dict):
        return {}, f"Arguments must be a JSON object, got {type(args).__name__!r}."
    return args, None


def _usage(response: ChatCompletion) -> UsageMetadata | None:
    """Token counts in LangChain's shape, when the endpoint reports them."""
    if response.usage is None:
        return None
    return UsageMetadata(
        input_tokens=response.usage.prompt_tokens,
        output_tokens=response.usage.completion_tokens,
        total_tokens=response.usage.total_tokens,
    )
