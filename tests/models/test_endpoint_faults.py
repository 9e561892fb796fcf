"""The OpenAI-compatible model against a real local endpoint that misbehaves, then recovers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langchain_core.messages import HumanMessage
from tests.models.chat_server import (
    ANSWER,
    Behaviour,
    ChatServer,
    body,
    cut_off,
    drop,
    hang,
    status,
)

from vagent.errors import ModelError
from vagent.models.openai import OpenAIChatModel

QUESTION = [HumanMessage("What is an FHA loan?")]


@pytest.fixture
def waits() -> list[float]:
    """Waits between attempts, recorded instead of slept."""
    return []


@pytest.fixture
async def model(chat_server: ChatServer, waits: list[float]) -> AsyncIterator[OpenAIChatModel]:
    """A model on the chat server with a short timeout, recording its waits."""
    model = OpenAIChatModel(model="test-model", base_url=chat_server.base_url, timeout=0.3)

    async def record(seconds: float) -> None:
        waits.append(seconds)

    model._sleep = record
    yield model
    await model.aclose()


async def test_a_rate_limit_is_waited_out_for_as_long_as_retry_after_says(
    model: OpenAIChatModel, chat_server: ChatServer, waits: list[float]
) -> None:
    chat_server.play(status(429, {"Retry-After": "1"}))

    reply = await model.ainvoke(QUESTION)

    assert reply.content == ANSWER
    assert waits == [1.0]


async def test_a_rate_limit_whose_retry_after_is_past_the_budget_fails_at_once(
    model: OpenAIChatModel, chat_server: ChatServer, waits: list[float]
) -> None:
    chat_server.play(status(429, {"Retry-After": "120"}))

    with pytest.raises(ModelError) as caught:
        await model.ainvoke(QUESTION)

    assert caught.value.status == 429
    assert len(chat_server.requests) == 1
    assert waits == []


async def test_server_errors_are_retried_with_backoff_until_the_endpoint_recovers(
    model: OpenAIChatModel, chat_server: ChatServer, waits: list[float]
) -> None:
    chat_server.play(status(500), status(503))

    reply = await model.ainvoke(QUESTION)

    assert reply.content == ANSWER
    assert len(chat_server.requests) == 3
    first, second = waits
    assert first <= second


async def test_a_request_that_hangs_past_the_timeout_is_retried(
    model: OpenAIChatModel, chat_server: ChatServer
) -> None:
    chat_server.play(hang(chat_server.release))

    reply = await model.ainvoke(QUESTION)

    assert reply.content == ANSWER
    assert len(chat_server.requests) == 2


@pytest.mark.parametrize(
    "broken",
    [
        body(200, b'{"id": "chatcmpl-1", "choices": [{"index": 0, "mess'),
        body(200, b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        cut_off(),
        drop(),
    ],
    ids=["malformed-json", "html-page", "cut-off-body", "dropped-connection"],
)
async def test_a_broken_response_is_retried_and_the_next_one_is_used(
    model: OpenAIChatModel, chat_server: ChatServer, broken: Behaviour
) -> None:
    chat_server.play(broken)

    reply = await model.ainvoke(QUESTION)

    assert reply.content == ANSWER
    assert len(chat_server.requests) == 2
