"""Choosing the model an agent runs on."""

from __future__ import annotations

import httpx
import pytest
import respx
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from vagent import Agent, AgentConfig, Caller, ConfigError, load_config
from vagent.models import FallbackChatModel, OfflineEngine, OpenAIChatModel, resolve_model
from vagent.testing import ScriptedModel

COMPLETIONS = "http://llm.test/v1/chat/completions"


def with_endpoint(config: AgentConfig, **settings: object) -> AgentConfig:
    """The config with an OpenAI-compatible endpoint set."""
    model = {"model": "test-model", "base_url": "http://llm.test/v1", "max_attempts": 1}
    return AgentConfig.model_validate(
        {**config.model_dump(), "base_dir": config.base_dir, "model": {**model, **settings}}
    )


def test_no_endpoint_means_the_offline_engine(fha_config: AgentConfig) -> None:
    agent = Agent.from_config(fha_config)

    assert isinstance(agent._deps.model, OfflineEngine)
    agent.close()


def test_a_configured_endpoint_runs_behind_a_breaker_with_the_offline_engine_to_fall_back_on(
    fha_config: AgentConfig,
) -> None:
    config = with_endpoint(fha_config, timeout_s=5, budget_s=12, max_attempts=2)

    model = resolve_model(config, None, {})

    assert isinstance(model, FallbackChatModel)
    assert isinstance(model.fallback, OfflineEngine)
    assert isinstance(model.primary, OpenAIChatModel)
    assert (model.primary.timeout, model.primary.budget, model.primary.max_attempts) == (5, 12, 2)
    assert (model.breaker.failures, model.breaker.cooldown_s) == (3, 30.0)


def test_on_failure_hand_off_keeps_the_breaker_but_has_no_fallback(
    fha_config: AgentConfig,
) -> None:
    config = with_endpoint(fha_config, on_failure="hand_off")

    model = resolve_model(config, None, {})

    assert isinstance(model, FallbackChatModel)
    assert model.fallback is None


def test_agents_on_the_same_endpoint_share_one_breaker(fha_config: AgentConfig) -> None:
    config = with_endpoint(fha_config)

    first = resolve_model(config, None, {})
    second = resolve_model(config, None, {})

    assert isinstance(first, FallbackChatModel)
    assert isinstance(second, FallbackChatModel)
    assert first.breaker is second.breaker


@pytest.mark.parametrize(
    "settings",
    [{"on_failure": "retry"}, {"budget_s": 0}, {"breaker_failures": 0}, {"breaker_cooldown_s": 0}],
    ids=["unknown-on-failure", "no-budget", "no-failures", "no-cooldown"],
)
def test_unusable_fault_settings_are_refused_when_the_config_is_loaded(
    fha_config: AgentConfig, settings: dict[str, object]
) -> None:
    data = {**fha_config.model_dump(), "model": {"model": "m", **settings}}

    with pytest.raises(ConfigError, match="model"):
        load_config(data)


def test_a_model_passed_in_is_used_as_it_is(fha_config: AgentConfig) -> None:
    scripted = ScriptedModel()

    model = resolve_model(with_endpoint(fha_config), scripted, {})

    assert model is scripted


def test_a_model_without_bind_tools_is_refused_at_build_time(fha_config: AgentConfig) -> None:
    with pytest.raises(ConfigError, match="bind_tools"):
        Agent.from_config(fha_config, model=GenericFakeChatModel(messages=iter([])))


async def test_a_configured_endpoint_serves_the_turn_with_tool_calls(
    fha_config: AgentConfig, httpx2_mock: respx.Router
) -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "lookup_case", "arguments": '{"case_id": "12345"}'},
    }
    replies = iter(
        [
            httpx.Response(200, json=_completion(None, [call])),
            httpx.Response(200, json=_completion("Case 12345 is open.", None)),
        ]
    )
    route = httpx2_mock.post(COMPLETIONS).mock(side_effect=lambda request: next(replies))
    agent = Agent.from_config(with_endpoint(fha_config))

    reply = await agent.run(
        "o", "Status of my case?", caller=Caller(phone="555-555-1212", ivr_authenticated=True)
    )
    await agent.aclose()
    agent.close()

    assert reply.text == "Case 12345 is open."
    assert [a.tool for a in reply.executed] == ["lookup_case"]
    assert route.call_count == 2


async def test_an_endpoint_that_fails_hands_the_caller_to_a_person_when_on_failure_says_so(
    fha_config: AgentConfig, httpx2_mock: respx.Router
) -> None:
    httpx2_mock.post(COMPLETIONS).respond(status_code=503, json={"error": {"message": "down"}})
    agent = Agent.from_config(with_endpoint(fha_config, on_failure="hand_off"))

    reply = await agent.run("o", "What is FHA?")
    await agent.aclose()
    agent.close()

    assert reply.handoff is not None
    assert reply.handoff.reason == "model_unavailable"


def _completion(
    content: str | None, tool_calls: list[dict[str, object]] | None
) -> dict[str, object]:
    """A chat-completions body."""
    message: dict[str, object] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
    }
