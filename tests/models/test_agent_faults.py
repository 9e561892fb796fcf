"""End to end: an agent whose endpoint misbehaves still answers every caller and loses nothing.

The endpoint is a real local HTTP server (``chat_server``) scripted per request. Waits between
attempts are recorded instead of slept, and the breaker's clock is moved by hand.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest
from tests.models.chat_server import ANSWER, ChatServer, answer, body, calls, cut_off, hang, status
from tests.models.clock import FakeClock

from vagent import Agent, AgentConfig, Caller
from vagent.models import FallbackChatModel, OpenAIChatModel
from vagent.models.fallback import LIMITED_MODE_NOTE

QUESTION = "What is an FHA loan?"
VERIFIED = Caller(phone="555-555-1212", ivr_authenticated=True)

MakeAgent = Callable[..., Agent]


@pytest.fixture
def clock() -> FakeClock:
    """The breaker's clock."""
    return FakeClock()


@pytest.fixture
def waits() -> list[float]:
    """Waits between attempts, recorded instead of slept."""
    return []


@pytest.fixture
async def make_agent(
    fha_config: AgentConfig, chat_server: ChatServer, clock: FakeClock, waits: list[float]
) -> AsyncIterator[MakeAgent]:
    """A factory of FHA agents on the chat server, with the given [model] settings."""
    built: list[Agent] = []

    def make(**settings: object) -> Agent:
        model = {"model": "test-model", "base_url": chat_server.base_url, "max_attempts": 2}
        config = AgentConfig.model_validate(
            {**fha_config.model_dump(), "base_dir": fha_config.base_dir, "model": model | settings}
        )
        agent = Agent.from_config(config)
        built.append(agent)
        return _recording(agent, clock, waits)

    yield make
    for agent in built:
        await agent.aclose()
        agent.close()


def _recording(agent: Agent, clock: FakeClock, waits: list[float]) -> Agent:
    """Make the agent's model record its waits and its breaker read the fake clock."""
    model = agent._deps.model
    assert isinstance(model, FallbackChatModel)
    assert isinstance(model.primary, OpenAIChatModel)

    async def record(seconds: float) -> None:
        waits.append(seconds)

    model.primary._sleep = record
    model.breaker.clock = clock
    return agent


def fell_back(text: str) -> bool:
    """Whether a reply came from the offline engine in the endpoint's place."""
    return text.endswith(LIMITED_MODE_NOTE) and ANSWER not in text


async def test_an_endpoint_failing_past_its_retries_gets_the_offline_answer_and_a_person_offered(
    make_agent: MakeAgent, chat_server: ChatServer, waits: list[float]
) -> None:
    chat_server.play(status(503), status(503))
    agent = make_agent()

    reply = await agent.run("down", QUESTION)
    record = await agent.end("down")

    assert fell_back(reply.text)
    assert reply.citations
    assert reply.handoff is None
    assert len(chat_server.requests) == 2
    assert len(waits) == 1
    assert [(t.speaker, t.text) for t in record.transcript] == [
        ("caller", QUESTION),
        ("agent", reply.text),
    ]


async def test_an_endpoint_that_hangs_past_the_timeout_is_left_for_the_offline_engine(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(hang(chat_server.release), hang(chat_server.release))
    agent = make_agent(timeout_s=0.3)

    reply = await agent.run("hung", QUESTION)

    assert fell_back(reply.text)
    assert len(chat_server.requests) == 2


async def test_a_body_that_is_not_json_past_the_retries_gets_the_offline_answer(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(cut_off(), body(200, b"<html>Bad Gateway</html>", "text/html"))
    agent = make_agent()

    reply = await agent.run("garbled", QUESTION)

    assert fell_back(reply.text)
    assert len(chat_server.requests) == 2


async def test_an_empty_reply_is_not_retried_and_gets_the_offline_answer(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(answer(""))
    agent = make_agent()

    reply = await agent.run("empty", QUESTION)

    assert fell_back(reply.text)
    assert len(chat_server.requests) == 1


async def test_a_tool_call_with_unparsable_arguments_is_refused_and_the_model_hears_why(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(calls(("lookup_case", '{"case_id": "123')), answer("Which case, please?"))
    agent = make_agent()

    reply = await agent.run("bad-args", "Status of my case?", caller=VERIFIED)

    assert reply.text == "Which case, please?"
    [refused] = reply.actions
    assert (refused.tool, refused.status, refused.reason) == (
        "lookup_case",
        "refused",
        "invalid_arguments",
    )
    tool_message = chat_server.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "unparsable_arguments" in tool_message["content"]


async def test_a_call_to_an_unknown_tool_is_refused_and_the_model_hears_why(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(calls(("delete_everything", "{}")), answer("I can't do that."))
    agent = make_agent()

    reply = await agent.run("unknown-tool", "Delete my records.", caller=VERIFIED)

    assert reply.text == "I can't do that."
    [refused] = reply.actions
    assert (refused.status, refused.reason) == ("refused", "unknown_tool")
    assert "no tool named" in chat_server.requests[1]["messages"][-1]["content"]


async def test_the_breaker_opens_after_repeated_failures_and_closes_when_the_endpoint_recovers(
    make_agent: MakeAgent,
    chat_server: ChatServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat_server.play(status(500), status(500))
    agent = make_agent(max_attempts=1, breaker_failures=2, breaker_cooldown_s=30)

    with caplog.at_level(logging.INFO, logger="vagent.models.breaker"):
        failing = [await agent.run("outage", QUESTION) for _ in range(2)]
        while_open = await agent.run("outage", QUESTION)
        requests_while_open = len(chat_server.requests)
        clock.now += 30
        recovered = await agent.run("outage", QUESTION)
    record = await agent.end("outage")

    assert all(fell_back(r.text) for r in [*failing, while_open])
    assert requests_while_open == 2
    assert recovered.text == ANSWER
    assert len(chat_server.requests) == 3
    breaker_lines = [r for r in caplog.records if r.name == "vagent.models.breaker"]
    assert [r.levelname for r in breaker_lines] == ["WARNING", "INFO"]
    assert record.turns == 4
    said = [t.text for t in record.transcript if t.speaker == "agent"]
    assert said == [r.text for r in [*failing, while_open, recovered]]


async def test_a_turn_that_fell_back_does_not_call_the_endpoint_again(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(status(503))
    agent = make_agent(max_attempts=1, breaker_failures=5)

    reply = await agent.run("one-wait", "Status of my case?", caller=VERIFIED)

    assert fell_back(reply.text)
    assert [a.tool for a in reply.executed] == ["lookup_case"]
    assert len(chat_server.requests) == 1


async def test_with_on_failure_hand_off_an_open_breaker_hands_off_without_calling(
    make_agent: MakeAgent, chat_server: ChatServer
) -> None:
    chat_server.play(status(503))
    agent = make_agent(on_failure="hand_off", max_attempts=1, breaker_failures=1)
    first = await agent.run("strict-1", QUESTION)

    second = await agent.run("strict-2", QUESTION)

    assert [r.handoff.reason if r.handoff else None for r in (first, second)] == [
        "model_unavailable",
        "model_unavailable",
    ]
    assert len(chat_server.requests) == 1
