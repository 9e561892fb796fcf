"""Tests for the OpenAI-compatible chat model against a mocked chat-completions endpoint."""

from __future__ import annotations

import email.utils
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpcore2
import pytest
import respx
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field, SecretStr
from tests.models.completions import completion, failure, function_call, ok

from vagent.errors import ModelError
from vagent.models.openai import OpenAIChatModel

BASE_URL = "http://llm.test/v1"
COMPLETIONS = f"{BASE_URL}/chat/completions"
QUESTION = [HumanMessage("Is my benefits claim C-1 still open?")]


class LookupCase(BaseModel):
    """Look up a case by its id."""

    case_id: str = Field(description="The case id, e.g. C-1.")


def sent_json(route: respx.Route) -> Any:
    """The JSON body of the last request the route received."""
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def waits() -> list[float]:
    """Backoff waits the model asked for, recorded instead of slept."""
    return []


def recording_waits(model: OpenAIChatModel, waits: list[float]) -> OpenAIChatModel:
    """Make the model record its waits between attempts instead of sleeping."""

    async def record(seconds: float) -> None:
        waits.append(seconds)

    model._sleep = record
    model._sync_sleep = waits.append
    return model


@pytest.fixture
def model(waits: list[float]) -> OpenAIChatModel:
    """A model pointed at the mocked endpoint that records its waits instead of sleeping."""
    model = OpenAIChatModel(model="test-model", base_url=BASE_URL, api_key=SecretStr("test-key"))
    return recording_waits(model, waits)


async def test_plain_text_reply_becomes_an_ai_message(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())

    reply = await model.ainvoke(QUESTION)

    assert isinstance(reply, AIMessage)
    assert reply.content == "Your claim is open."
    assert reply.tool_calls == []
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == "Bearer test-key"


async def test_request_carries_model_settings_and_no_tools_when_none_are_bound(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())

    await model.ainvoke(QUESTION, stop=["\n\n"])

    assert sent_json(route) == {
        "model": "test-model",
        "messages": [{"role": "user", "content": "Is my benefits claim C-1 still open?"}],
        "temperature": 0.0,
        "stop": ["\n\n"],
    }


async def test_usage_and_response_metadata_are_mapped(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    httpx2_mock.post(COMPLETIONS).respond(json=completion(finish_reason="length"))

    reply = await model.ainvoke(QUESTION)

    assert reply.usage_metadata == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    assert reply.response_metadata["model_name"] == "test-model-2024"
    assert reply.response_metadata["finish_reason"] == "length"


async def test_tool_calls_in_the_reply_are_parsed_and_keep_their_ids(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    calls = [
        function_call("call_1", "LookupCase", '{"case_id": "C-1"}'),
        function_call("call_2", "LookupCase", '{"case_id": "C-2"}'),
    ]
    body = completion(content=None, tool_calls=calls, finish_reason="tool_calls")
    httpx2_mock.post(COMPLETIONS).respond(json=body)

    reply = await model.ainvoke(QUESTION)

    assert reply.content == ""
    assert reply.tool_calls == [
        {"name": "LookupCase", "args": {"case_id": "C-1"}, "id": "call_1", "type": "tool_call"},
        {"name": "LookupCase", "args": {"case_id": "C-2"}, "id": "call_2", "type": "tool_call"},
    ]
    assert reply.invalid_tool_calls == []


@pytest.mark.parametrize(
    "arguments", ['{"case_id": "C-1"', '["C-1"]'], ids=["cut-off-json", "not-an-object"]
)
async def test_tool_call_with_unusable_arguments_is_passed_on_for_the_gate_to_refuse(
    model: OpenAIChatModel, httpx2_mock: respx.Router, arguments: str
) -> None:
    body = completion(content=None, tool_calls=[function_call("call_1", "LookupCase", arguments)])
    httpx2_mock.post(COMPLETIONS).respond(json=body)

    reply = await model.ainvoke(QUESTION)

    assert reply.tool_calls == [
        {
            "name": "LookupCase",
            "args": {"unparsable_arguments": arguments},
            "id": "call_1",
            "type": "tool_call",
        }
    ]
    assert reply.invalid_tool_calls == []


async def test_assistant_tool_calls_and_tool_results_are_serialised_for_the_endpoint(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())
    history = [
        SystemMessage("You help residents with benefits claims."),
        HumanMessage("Is claim C-1 open?"),
        AIMessage("", tool_calls=[{"name": "LookupCase", "args": {"case_id": "C-1"}, "id": "c1"}]),
        ToolMessage('{"status": "open"}', tool_call_id="c1"),
    ]

    await model.ainvoke(history)

    assert sent_json(route)["messages"] == [
        {"role": "system", "content": "You help residents with benefits claims."},
        {"role": "user", "content": "Is claim C-1 open?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "LookupCase", "arguments": '{"case_id": "C-1"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"status": "open"}'},
    ]


async def test_bound_tools_are_sent_as_function_schemas_with_the_forced_choice(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())

    await model.bind_tools([LookupCase], tool_choice="LookupCase").ainvoke(QUESTION)

    request = sent_json(route)
    [tool] = request["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "LookupCase"
    assert tool["function"]["description"] == "Look up a case by its id."
    assert tool["function"]["parameters"]["required"] == ["case_id"]
    assert tool["function"]["parameters"]["properties"]["case_id"]["type"] == "string"
    assert request["tool_choice"] == {"type": "function", "function": {"name": "LookupCase"}}


async def test_tool_choice_any_is_sent_as_required(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())

    await model.bind_tools([LookupCase], tool_choice="any").ainvoke(QUESTION)

    assert sent_json(route)["tool_choice"] == "required"


async def test_rate_limited_call_waits_for_retry_after_then_succeeds(
    model: OpenAIChatModel, httpx2_mock: respx.Router, waits: list[float]
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [failure(429, {"Retry-After": "0"}), ok()]

    reply = await model.ainvoke(QUESTION)

    assert reply.content == "Your claim is open."
    assert route.call_count == 2
    assert waits == [0.0]


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "3", "retry-after-ms": "250"}, 0.25),
    ],
    ids=["seconds", "milliseconds-win"],
)
async def test_rate_limited_call_waits_as_long_as_the_server_asks(
    model: OpenAIChatModel,
    httpx2_mock: respx.Router,
    waits: list[float],
    headers: dict[str, str],
    expected_wait: float,
) -> None:
    httpx2_mock.post(COMPLETIONS).side_effect = [failure(429, headers), ok()]

    await model.ainvoke(QUESTION)

    assert waits == [expected_wait]


async def test_retry_after_as_an_http_date_waits_until_that_time(
    model: OpenAIChatModel, httpx2_mock: respx.Router, waits: list[float]
) -> None:
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    httpx2_mock.post(COMPLETIONS).side_effect = [failure(429, {"Retry-After": later}), ok()]

    await model.ainvoke(QUESTION)

    [wait] = waits
    assert 8.0 <= wait <= 10.0


async def test_server_errors_twice_then_success_backs_off_exponentially(
    model: OpenAIChatModel, httpx2_mock: respx.Router, waits: list[float]
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [failure(500), failure(502), ok()]

    reply = await model.ainvoke(QUESTION)

    assert reply.content == "Your claim is open."
    assert route.call_count == 3
    first, second = waits
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 1.5


@pytest.mark.parametrize(
    ("network_error", "sdk_error"),
    [
        (httpcore2.ReadTimeout("read timed out"), "APITimeoutError"),
        (httpcore2.ConnectError("connection refused"), "APIConnectionError"),
    ],
    ids=["timeout", "connection-error"],
)
async def test_network_failure_is_retried_then_succeeds(
    model: OpenAIChatModel,
    httpx2_mock: respx.Router,
    waits: list[float],
    caplog: pytest.LogCaptureFixture,
    network_error: Exception,
    sdk_error: str,
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [network_error, ok()]

    with caplog.at_level(logging.WARNING, logger="vagent.models.openai"):
        reply = await model.ainvoke(QUESTION)

    assert reply.content == "Your claim is open."
    assert route.call_count == 2
    assert len(waits) == 1
    assert f"status={sdk_error}" in caplog.text


async def test_persistent_server_error_raises_model_error_after_max_attempts(
    httpx2_mock: respx.Router, waits: list[float]
) -> None:
    model = OpenAIChatModel(model="test-model", base_url=BASE_URL, max_attempts=3)
    recording_waits(model, waits)
    route = httpx2_mock.post(COMPLETIONS).mock(side_effect=lambda _: failure(503))

    with pytest.raises(ModelError, match="after 3 attempts") as caught:
        await model.ainvoke(QUESTION)

    assert caught.value.status == 503
    assert caught.value.model == "test-model"
    assert route.call_count == 3
    assert len(waits) == 2


async def test_rejected_request_raises_model_error_without_retrying(
    model: OpenAIChatModel, httpx2_mock: respx.Router, waits: list[float]
) -> None:
    route = httpx2_mock.post(COMPLETIONS).mock(return_value=failure(400))

    with pytest.raises(ModelError, match="not retried") as caught:
        await model.ainvoke(QUESTION)

    assert caught.value.status == 400
    assert route.call_count == 1
    assert waits == []
    assert "benefits claim" not in str(caught.value)


async def test_retry_is_logged_without_the_conversation(
    model: OpenAIChatModel,
    httpx2_mock: respx.Router,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpx2_mock.post(COMPLETIONS).side_effect = [failure(429, {"Retry-After": "2"}), ok()]

    with caplog.at_level(logging.WARNING, logger="vagent.models.openai"):
        await model.ainvoke(QUESTION)

    [record] = caplog.records
    assert record.getMessage() == (
        "model call retry: model=test-model attempt=1 status=429 wait=2.0s"
    )
    assert "benefits claim" not in caplog.text


async def test_missing_api_key_falls_back_to_a_placeholder_for_keyless_servers(
    httpx2_mock: respx.Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = OpenAIChatModel(model="llama3.1", base_url=BASE_URL)
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())

    await model.ainvoke(QUESTION)

    assert route.calls.last.request.headers["authorization"] == "Bearer not-needed"


def test_sync_invoke_uses_the_same_retry_policy(
    model: OpenAIChatModel, httpx2_mock: respx.Router, waits: list[float]
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [failure(429, {"Retry-After": "1"}), ok()]

    reply = model.invoke(QUESTION)

    assert reply.content == "Your claim is open."
    assert route.call_count == 2
    assert waits == [1.0]


def test_sync_invoke_raises_model_error_on_a_rejected_request(
    model: OpenAIChatModel, httpx2_mock: respx.Router
) -> None:
    route = httpx2_mock.post(COMPLETIONS).mock(return_value=failure(401))

    with pytest.raises(ModelError) as caught:
        model.invoke(QUESTION)

    assert caught.value.status == 401
    assert route.call_count == 1


def test_tool_schemas_reach_the_endpoint_without_vagents_extension_keys() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup_case",
            "description": "Look up a case.",
            "parameters": {
                "type": "object",
                "properties": {"case_id": {"type": "string", "x-entity": "CASE_ID"}},
                "x-cues": ["case"],
            },
        },
    }

    bound = OpenAIChatModel(model="m", base_url="http://llm.test/v1").bind_tools([tool])

    sent = bound.kwargs["tools"][0]["function"]["parameters"]  # type: ignore[attr-defined]
    assert sent == {"type": "object", "properties": {"case_id": {"type": "string"}}}
