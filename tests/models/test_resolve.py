"""Choosing the model an agent runs on."""

from __future__ import annotations

import httpx
import pytest
import respx
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from vagent import Agent, AgentConfig, Caller, ConfigError
from vagent.models import OfflineEngine, OpenAIChatModel

COMPLETIONS = "http://llm.test/v1/chat/completions"


def with_endpoint(config: AgentConfig) -> AgentConfig:
    """The config with an OpenAI-compatible endpoint set."""
    return AgentConfig.model_validate(
        {
            **config.model_dump(),
            "base_dir": config.base_dir,
            "model": {"model": "test-model", "base_url": "http://llm.test/v1", "max_attempts": 1},
        }
    )


def test_no_endpoint_means_the_offline_engine(fha_config: AgentConfig) -> None:
    agent = Agent.from_config(fha_config)

    assert isinstance(agent._deps.model, OfflineEngine)
    agent.close()


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

    assert isinstance(agent._deps.model, OpenAIChatModel)
    assert reply.text == "Case 12345 is open."
    assert [a.tool for a in reply.executed] == ["lookup_case"]
    assert route.call_count == 2


async def test_an_endpoint_that_fails_hands_the_caller_to_a_person(
    fha_config: AgentConfig, httpx2_mock: respx.Router
) -> None:
    httpx2_mock.post(COMPLETIONS).respond(status_code=503, json={"error": {"message": "down"}})
    agent = Agent.from_config(with_endpoint(fha_config))

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
