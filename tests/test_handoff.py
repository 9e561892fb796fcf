"""Handoff: every trigger, the packet's accuracy, and a live agent resuming the conversation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import respx
from tests.conftest import ROOT, ScriptedAgent

from vagent import Agent, AgentConfig, BackendError, Caller, ConversationError, HandoffPacket
from vagent.backends import Case, SQLiteBackend
from vagent.testing import tool_call

MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True)
SCHEMA = ROOT / "docs" / "handoff_packet.schema.json"


def with_handoff(config: AgentConfig, **rules: Any) -> AgentConfig:
    """The config with handoff rules changed."""
    return config.model_copy(update={"handoff": config.handoff.model_copy(update=rules)})


async def test_a_handoff_waits_for_a_live_agent_and_the_caller_hears_so(agent: Agent) -> None:
    await agent.run("w", "I want to talk to a person.")

    reply = await agent.run("w", "Hello? Anyone there?")

    assert reply.handoff is None
    assert "live agent will be with you" in reply.text


async def test_a_live_agent_resumes_after_a_restart_and_the_record_keeps_everything(
    fha_config: AgentConfig,
) -> None:
    first = Agent.from_config(fha_config)
    await first.run("r", "I'd like to cancel my loan application.", caller=MICHELLE)
    await first.run("r", "Actually, let me speak to a representative.")
    await first.aclose()
    first.close()

    second = Agent.from_config(fha_config)
    packet = await second.resume("r", live_agent="andy", messages=["Hi, this is Andy."])
    later = await second.run("r", "Hi Andy.")
    record = await second.end("r")
    await second.aclose()
    second.close()

    assert packet.reason == "caller_request"
    assert "live agent" in later.text
    assert record.outcome == "handed_off"
    assert record.live_agent == "andy"
    assert [t.speaker for t in record.transcript].count("live_agent") == 1
    assert record.turns == 3


async def test_resuming_a_conversation_that_is_not_waiting_is_refused(agent: Agent) -> None:
    await agent.run("n", "What is FHA?")

    with pytest.raises(ConversationError, match="not waiting"):
        await agent.resume("n", live_agent="andy")


async def test_ending_a_conversation_still_waiting_writes_its_record(agent: Agent) -> None:
    await agent.run("e", "Get me a human.")

    record = await agent.end("e")

    assert record.outcome == "handed_off"
    assert record.live_agent is None


async def test_a_tier3_topic_hands_off_in_the_same_turn(
    fha_config: AgentConfig, scripted_agent: ScriptedAgent
) -> None:
    config = with_handoff(fha_config, tier3_topics=["foreclosure"])
    agent, _ = scripted_agent(config=config)

    reply = await agent.run("t", "My house is going into foreclosure next week.")

    assert reply.handoff is not None
    assert (reply.handoff.reason, reply.handoff.priority) == ("tier3_topic", "high")


async def test_turns_without_progress_hand_off(scripted_agent: ScriptedAgent) -> None:
    agent, _ = scripted_agent("Hmm.", "Hmm.", "Hmm.")

    replies = [await agent.run("p", text) for text in ("Blue?", "Green?", "Red?")]

    assert [r.handoff is not None for r in replies] == [False, False, True]
    assert replies[-1].handoff.reason == "no_progress"  # type: ignore[union-attr]


async def test_repeated_policy_refusals_hand_off(scripted_agent: ScriptedAgent) -> None:
    steps = [tool_call("lookup_case", case_id=n) for n in ("67890", "24680", "13579")]
    agent, _ = scripted_agent(steps[0], "No.", steps[1], "No.", steps[2], "No.")

    replies = [await agent.run("f", "Look it up.", caller=MICHELLE) for _ in range(3)]

    assert replies[-1].handoff is not None
    assert replies[-1].handoff.reason == "repeated_refusals"


async def test_falling_sentiment_hands_off(scripted_agent: ScriptedAgent) -> None:
    agent, _ = scripted_agent(*["FHA insures loans made by approved lenders [1]."] * 3)
    angry = ["This is terrible.", "I hate this awful useless service.", "Worst, most horrible day."]

    replies = [await agent.run("s", text) for text in angry]

    assert replies[-1].handoff is not None
    assert replies[-1].handoff.reason == "negative_sentiment"
    assert replies[-1].handoff.sentiment[-1] < -0.5


class DownCaseSystem(SQLiteBackend):
    """A case system whose writes fail."""

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        raise BackendError("case system unavailable")


async def test_a_backend_that_is_down_hands_off_without_claiming_success(
    fha_config: AgentConfig,
) -> None:
    backend = DownCaseSystem(":memory:", seed=fha_config.resolve(Path("cases.json")))
    agent = Agent.from_config(fha_config, cases=backend)
    await agent.run("b", "I'd like to cancel my loan application.", caller=MICHELLE)

    reply = await agent.run("b", "Yes.")
    await agent.aclose()
    agent.close()

    assert reply.handoff is not None
    assert reply.handoff.reason == "backend_unavailable"
    assert [a.status for a in reply.actions] == ["failed"]
    assert "is now cancelled" not in reply.text


async def test_the_packet_is_built_from_state(agent: Agent) -> None:
    await agent.run("k", "I'd like to cancel my loan application.", caller=MICHELLE)

    reply = await agent.run("k", "Can I talk to a real person?")

    packet = reply.handoff
    assert packet is not None
    assert (packet.identity_status, packet.identity_method) == ("verified", "ivr")
    assert packet.cases == ["12345"]
    assert packet.pending is None
    assert [(a.status, a.reason) for a in packet.actions] == [
        ("awaiting_confirmation", "needs_confirmation"),
        ("declined", "not_confirmed"),
    ]
    assert len(packet.sentiment) == 2
    assert "555-555-1212" not in packet.model_dump_json()


def test_the_published_packet_schema_is_current() -> None:
    published = json.loads(SCHEMA.read_text(encoding="utf-8"))

    assert published == HandoffPacket.model_json_schema()


@respx.mock
async def test_a_handoff_is_posted_to_the_configured_webhook(fha_config: AgentConfig) -> None:
    route = respx.post("https://contact-center.example/handoffs").respond(202)
    config = with_handoff(fha_config, webhook_url="https://contact-center.example/handoffs")
    agent = Agent.from_config(config)

    await agent.run("h", "Transfer me to a representative.")
    await agent.aclose()
    agent.close()

    body = json.loads(route.calls.last.request.content)
    assert route.call_count == 1
    assert (body["conversation_id"], body["reason"]) == ("h", "caller_request")


class HangingCaseSystem(SQLiteBackend):
    """A case system whose writes never answer."""

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_backend_that_hangs_is_cut_off_and_the_caller_hears_the_outcome_is_unknown(
    fha_config: AgentConfig,
) -> None:
    config = fha_config.model_copy(
        update={"policy": fha_config.policy.model_copy(update={"tool_timeout_s": 0.2})}
    )
    backend = HangingCaseSystem(":memory:", seed=fha_config.resolve(Path("cases.json")))
    agent = Agent.from_config(config, cases=backend)
    await agent.run("t", "I'd like to cancel my loan application.", caller=MICHELLE)

    reply = await agent.run("t", "Yes.")
    record = await agent.end("t")
    await agent.aclose()
    agent.close()

    assert reply.handoff is not None
    assert reply.handoff.reason == "backend_unavailable"
    assert [(a.status, a.reason) for a in reply.actions] == [("failed", "backend_timeout")]
    assert reply.text.startswith("I can't confirm whether that went through.")
    assert "is now cancelled" not in reply.text
    assert record.turns == 2
