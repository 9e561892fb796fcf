"""The OpenAI-compatible model's time budget and its handling of malformed bodies (mocked HTTP).

A fake clock stands in for time: waits between attempts move it instead of sleeping.
"""

from __future__ import annotations

from typing import Any

import httpcore2
import httpx
import pytest
import respx
from langchain_core.messages import HumanMessage
from tests.models.completions import completion, failure, ok

from vagent.errors import ModelError
from vagent.models._retry import call_budget, turn_budget
from vagent.models.openai import OpenAIChatModel

BASE_URL = "http://llm.test/v1"
COMPLETIONS = f"{BASE_URL}/chat/completions"
QUESTION = [HumanMessage("Is my benefits claim C-1 still open?")]
HTML = {"content-type": "text/html"}
JSON = {"content-type": "application/json"}


class FakeTime:
    """A monotonic clock that moves only when the model waits, recording each wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def sync_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def time() -> FakeTime:
    """The model's clock and sleep."""
    return FakeTime()


def on_fake_time(model: OpenAIChatModel, time: FakeTime) -> OpenAIChatModel:
    """The model, reading the fake clock and waiting on it."""
    model._clock = time.clock
    model._sleep = time.sleep
    model._sync_sleep = time.sync_sleep
    return model


def model_with(time: FakeTime, **settings: Any) -> OpenAIChatModel:
    """A model on the mocked endpoint and the fake clock."""
    return on_fake_time(OpenAIChatModel(model="test-model", base_url=BASE_URL, **settings), time)


def read_timeout(call: Any) -> float:
    """The read timeout one request was sent with."""
    return float(call.request.extensions["timeout"]["read"])


async def test_a_retry_after_longer_than_what_is_left_of_the_budget_fails_at_once(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [failure(429, {"Retry-After": "4"}), failure(429, {"Retry-After": "8"})]
    model = model_with(time, budget=10, max_wait=20)

    with pytest.raises(ModelError, match="after 2 attempts") as caught:
        await model.ainvoke(QUESTION)

    assert caught.value.status == 429
    assert route.call_count == 2
    assert time.waits == [4.0]


async def test_a_retry_after_longer_than_max_wait_fails_at_once(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS).mock(return_value=failure(429, {"Retry-After": "600"}))
    model = model_with(time, budget=1000, max_wait=20)

    with pytest.raises(ModelError, match="after 1 attempts"):
        await model.ainvoke(QUESTION)

    assert route.call_count == 1
    assert time.waits == []


async def test_backoff_stops_when_the_budget_is_spent_before_max_attempts(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS).mock(side_effect=lambda _: failure(503))
    model = model_with(time, budget=3, max_attempts=10)

    with pytest.raises(ModelError, match="raise budget"):
        await model.ainvoke(QUESTION)

    assert 1 < route.call_count < 10
    assert sum(time.waits) < 3


async def test_each_attempt_may_take_no_longer_than_what_is_left_of_the_budget(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [failure(429, {"Retry-After": "5"}), ok()]
    model = model_with(time, budget=20, timeout=30)

    await model.ainvoke(QUESTION)

    first, second = route.calls
    assert (read_timeout(first), read_timeout(second)) == (20.0, 15.0)


async def test_the_per_attempt_timeout_applies_while_the_budget_is_larger(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion())
    model = model_with(time, budget=20, timeout=4)

    await model.ainvoke(QUESTION)

    assert read_timeout(route.calls.last) == 4.0


def test_the_sync_path_fails_at_once_on_a_retry_after_past_the_budget(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS).mock(return_value=failure(429, {"Retry-After": "30"}))
    model = model_with(time, budget=20)

    with pytest.raises(ModelError):
        model.invoke(QUESTION)

    assert route.call_count == 1
    assert time.waits == []


@pytest.mark.parametrize(
    "broken",
    [
        httpx.Response(200, text="<html>Bad Gateway</html>", headers=HTML),
        httpx.Response(200, content=b'{"id": "x", "cho', headers=JSON),
        httpx.Response(200, json={"id": "x", "object": "chat.completion", "model": "m"}),
        httpx.Response(200, json={"id": "x", "model": "m", "choices": [{"index": 0}]}),
        httpx.Response(200, json=[1, 2]),
    ],
    ids=["html-page", "cut-off-json", "no-choices", "choice-without-message", "json-list"],
)
async def test_a_body_that_is_not_a_completion_is_retried(
    httpx2_mock: respx.Router, time: FakeTime, broken: httpx.Response
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [broken, ok()]

    reply = await model_with(time).ainvoke(QUESTION)

    assert reply.content == "Your claim is open."
    assert route.call_count == 2


async def test_a_body_that_is_never_a_completion_raises_model_error_naming_the_problem(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    page = httpx.Response(200, text="<html>Bad Gateway</html>", headers=HTML)
    httpx2_mock.post(COMPLETIONS).mock(return_value=page)

    with pytest.raises(ModelError, match="not a completion") as caught:
        await model_with(time, max_attempts=2).ainvoke(QUESTION)

    assert caught.value.status is None


async def test_a_connection_dropped_mid_body_is_retried(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    route = httpx2_mock.post(COMPLETIONS)
    route.side_effect = [httpcore2.RemoteProtocolError("peer closed connection"), ok()]

    reply = await model_with(time).ainvoke(QUESTION)

    assert reply.content == "Your claim is open."
    assert route.call_count == 2


@pytest.mark.parametrize("content", ["", "   "], ids=["empty", "blank"])
async def test_an_empty_reply_raises_model_error_without_retrying(
    httpx2_mock: respx.Router, time: FakeTime, content: str
) -> None:
    route = httpx2_mock.post(COMPLETIONS).respond(json=completion(content))

    with pytest.raises(ModelError, match="empty reply"):
        await model_with(time).ainvoke(QUESTION)

    assert route.call_count == 1


async def test_a_call_to_a_custom_tool_is_passed_on_for_the_gate_to_refuse(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    custom = {"id": "call_1", "type": "custom", "custom": {"name": "shell", "input": "rm -rf /"}}
    httpx2_mock.post(COMPLETIONS).respond(json=completion(None, [custom]))

    reply = await model_with(time).ainvoke(QUESTION)

    [call] = reply.tool_calls
    assert (call["name"], call["args"], call["id"]) == (
        "shell",
        {"unparsable_arguments": ""},
        "call_1",
    )


def test_a_call_gets_what_is_left_of_the_turns_budget_never_more_than_its_own() -> None:
    with turn_budget(5.0):
        within_turn = call_budget(20.0)
        own_is_smaller = call_budget(2.0)

    assert 4.0 < within_turn <= 5.0
    assert own_is_smaller == 2.0
    assert call_budget(20.0) == 20.0


async def test_a_call_made_after_the_turns_budget_ran_out_fails_without_a_request(
    httpx2_mock: respx.Router, time: FakeTime
) -> None:
    model = model_with(time)

    with turn_budget(0.0), pytest.raises(ModelError):
        await model.ainvoke(QUESTION)

    assert httpx2_mock.calls.call_count == 0
