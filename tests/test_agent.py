"""The public turn API: runs, restarts, endings, bad input, and an untrusted model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from tests.conftest import FHA, ScriptedAgent

from vagent import Agent, AgentConfig, Caller, ConversationError
from vagent.backends import Case, SQLiteBackend
from vagent.testing import tool_call

MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True)


async def test_a_conversation_survives_a_process_restart(fha_config: AgentConfig) -> None:
    first = Agent.from_config(fha_config)
    await first.run("m", "I'd like to cancel my loan application.", caller=MICHELLE)
    await first.aclose()
    first.close()

    second = Agent.from_config(fha_config)
    reply = await second.run("m", "Yes, cancel it.")
    await second.aclose()
    second.close()

    assert reply.turn == 2
    assert [a.tool for a in reply.executed] == ["cancel_case"]


def test_run_sync_works_outside_an_event_loop(fha_config: AgentConfig) -> None:
    agent = Agent.from_config(fha_config)

    reply = agent.run_sync("s", "Which type of FHA loan is right for me?")
    record = agent.end_sync("s")
    agent.close()

    assert reply.citations
    assert record.turns == 1


@pytest.mark.parametrize("bad_id", ["", " ", "a" * 129, "x/../y", "id\n2", "émoji🙂"])
async def test_a_malformed_conversation_id_is_refused_clearly(agent: Agent, bad_id: str) -> None:
    with pytest.raises(ConversationError, match="conversation id"):
        await agent.run(bad_id, "hello")


async def test_blank_text_gets_a_clear_reply_and_takes_no_turn(agent: Agent) -> None:
    await agent.run("b", "Which type of FHA loan is right for me?")

    reply = await agent.run("b", "  \n\t ")

    assert reply.turn == 1
    assert "didn't catch" in reply.text


async def test_control_characters_are_removed_before_the_model_sees_the_text(
    scripted_agent: ScriptedAgent,
) -> None:
    agent, model = scripted_agent("Hello.")

    await agent.run("c", "hi\x00 there\x1b[31m")

    assert model.received[0][-1].content == "hi there [31m"


async def test_ending_twice_returns_the_same_record(agent: Agent) -> None:
    await agent.run("e", "Which type of FHA loan is right for me?")

    first = await agent.end("e")
    second = await agent.end("e")

    assert first == second
    assert await agent.record("e") == first


async def test_a_turn_after_the_end_is_refused(agent: Agent) -> None:
    await agent.run("e", "Which type of FHA loan is right for me?")
    await agent.end("e")

    with pytest.raises(ConversationError, match="has ended"):
        await agent.run("e", "One more thing.")


async def test_ending_an_unknown_conversation_is_refused(agent: Agent) -> None:
    with pytest.raises(ConversationError, match="no conversation"):
        await agent.end("never-started")


async def test_a_failing_model_hands_the_caller_to_a_person(scripted_agent: ScriptedAgent) -> None:
    def broken(messages: list[BaseMessage]) -> AIMessage:
        raise RuntimeError("endpoint down")

    agent, _ = scripted_agent(broken)

    reply = await agent.run("f", "What is FHA?")

    assert reply.handoff is not None
    assert reply.handoff.reason == "model_unavailable"
    assert reply.handoff.priority == "high"


async def test_a_model_cannot_cancel_another_callers_case(scripted_agent: ScriptedAgent) -> None:
    agent, _ = scripted_agent(tool_call("cancel_case", case_id="67890"), "Done.")

    reply = await agent.run("h", "Cancel case 67890.", caller=MICHELLE)

    assert [(a.status, a.reason) for a in reply.actions] == [("refused", "not_found")]
    assert (await agent.backend.get_case("67890")).status == "open"  # type: ignore[union-attr]


async def test_a_model_cannot_skip_confirmation_by_asking_twice(
    scripted_agent: ScriptedAgent,
) -> None:
    cancel = tool_call("cancel_case", case_id="12345")
    agent, _ = scripted_agent(cancel, cancel, "Done.")

    reply = await agent.run("h", "Cancel my application.", caller=MICHELLE)

    assert [a.status for a in reply.actions] == ["awaiting_confirmation"] * 2
    assert (await agent.backend.get_case("12345")).status == "open"  # type: ignore[union-attr]


async def test_a_yes_does_not_carry_over_to_different_arguments(
    scripted_agent: ScriptedAgent,
) -> None:
    agent, _ = scripted_agent(
        tool_call("cancel_case", case_id="12345"),
        "Please confirm.",
        tool_call("cancel_case", case_id="12346"),
        "Done.",
    )
    await agent.run("h", "Cancel my application.", caller=MICHELLE)

    reply = await agent.run("h", "Yes.")

    assert reply.executed == []
    assert (await agent.backend.get_case("12345")).status == "open"  # type: ignore[union-attr]


async def test_the_model_claiming_a_cancellation_does_not_make_one(
    scripted_agent: ScriptedAgent,
) -> None:
    agent, _ = scripted_agent("Your application is cancelled.")

    reply = await agent.run("h", "Cancel my application.", caller=MICHELLE)

    assert reply.executed == []
    assert "cancelled" not in reply.text
    assert "can't confirm that anything was changed" in reply.text
    assert (await agent.backend.get_case("12345")).status == "open"  # type: ignore[union-attr]


async def test_citation_markers_become_citations_and_are_not_spoken(
    scripted_agent: ScriptedAgent,
) -> None:
    agent, _ = scripted_agent("FHA insures loans made by approved lenders [1].")

    reply = await agent.run("q", "Does FHA lend money directly?")

    assert reply.text == "FHA insures loans made by approved lenders."
    assert [c.article_id for c in reply.citations] == ["fha-how-it-works"]


async def test_a_citation_marker_out_of_range_is_dropped(scripted_agent: ScriptedAgent) -> None:
    agent, _ = scripted_agent("Something [9].")

    reply = await agent.run("q", "Does FHA lend money directly?")

    assert reply.citations == []


async def test_every_gate_decision_is_audited(scripted_agent: ScriptedAgent) -> None:
    agent, _ = scripted_agent(
        tool_call("lookup_case", case_id="67890"),
        "Sorry.",
    )

    await agent.run("a", "Look up case 67890.", caller=MICHELLE)

    log = await agent.audit_log("a")
    assert [(e.tool, e.decision, e.reason) for e in log] == [("lookup_case", "refuse", "not_found")]


async def test_tools_not_enabled_do_not_exist_for_the_model(
    fha_config: AgentConfig, scripted_agent: ScriptedAgent
) -> None:
    config = fha_config.model_copy(
        update={"tools": fha_config.tools.model_copy(update={"enabled": ["lookup_case"]})}
    )
    agent, model = scripted_agent(
        tool_call("cancel_case", case_id="12345"), "Sorry.", config=config
    )

    reply = await agent.run("t", "Cancel my application.", caller=MICHELLE)

    assert [t["function"]["name"] for t in model.bound_tools] == ["lookup_case"]
    assert [a.reason for a in reply.actions] == ["unknown_tool"]


async def test_the_model_sees_the_prompt_with_passages_and_the_callers_status(
    scripted_agent: ScriptedAgent,
) -> None:
    agent, model = scripted_agent("Hi.")

    await agent.run("p", "What is a reverse mortgage?", caller=MICHELLE)

    system = str(model.received[0][0].content)
    assert "FHA Resource Center" in system
    assert "Home Equity Conversion Mortgage" in system
    assert "verified (ivr)" in system


class Crash(BaseException):
    """Stands in for the process dying: nothing in vagent catches it."""


class CrashAfterCancel:
    """A case system that dies once, right after the cancellation was committed."""

    def __init__(self, inner: SQLiteBackend) -> None:
        self.inner = inner
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        case = await self.inner.cancel_case(case_id, idempotency_key=idempotency_key)
        if not self.crashed:
            self.crashed = True
            raise Crash
        return case


async def test_a_turn_retried_after_a_crash_mid_action_acts_once(
    fha_config: AgentConfig,
) -> None:
    backend = SQLiteBackend(":memory:", seed=FHA.parent / "cases.json")
    agent = Agent.from_config(fha_config, cases=CrashAfterCancel(backend), messenger=backend)
    await agent.run("k", "I'd like to cancel my loan application.", caller=MICHELLE)
    with pytest.raises(Crash):
        await agent.run("k", "Yes.")

    reply = await agent.run("k", "Yes.")
    await agent.aclose()
    agent.close()

    effects = backend._db.conn.execute("SELECT count(*) FROM effects").fetchone()[0]
    assert reply.turn == 2
    assert [a.tool for a in reply.executed] == ["cancel_case"]
    assert effects == 1


async def test_verification_facts_are_never_stored_in_the_audit_log_or_actions(
    agent: Agent,
) -> None:
    await agent.run("v", "I want to verify my identity.")
    await agent.run("v", "My case number is 67890 and my zip code is 60601.")

    log = await agent.audit_log("v")
    record = await agent.end("v")

    assert next(e.args for e in log if e.tool == "verify_caller")["zip_code"] == "***"
    assert all("60601" not in a.model_dump_json() for a in record.actions)


async def test_a_tool_call_whose_arguments_did_not_parse_is_refused_and_answered(
    scripted_agent: ScriptedAgent,
) -> None:
    unreadable = AIMessage(
        content="",
        invalid_tool_calls=[
            {"name": "lookup_case", "args": '{"case_id": "123', "id": "c1", "error": "bad json"}
        ],
    )
    agent, model = scripted_agent(unreadable, "Which case number, please?")

    reply = await agent.run("unreadable", "What's the status of my case?")

    assert reply.text == "Which case number, please?"
    [refused] = reply.actions
    assert (refused.tool, refused.status, refused.reason) == (
        "lookup_case",
        "refused",
        "invalid_arguments",
    )
    answered = [m for m in model.received[-1] if isinstance(m, ToolMessage)]
    assert [m.tool_call_id for m in answered] == ["c1"]
