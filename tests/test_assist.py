"""The live agent's copilot on Andy's call with Michelle, and the gate behind its approvals."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vagent import Agent, AgentConfig, Caller, ConversationError, load_config
from vagent.assist import (
    APPROVED,
    Copilot,
    LiveCall,
    Suggestions,
    format_suggestions,
    live_record_id,
    play,
)
from vagent.errors import BackendError
from vagent.state import ActionRecord, HandoffPacket

FHA_DIR = Path(__file__).resolve().parents[1] / "examples" / "fha_resource_center"
ANDY_CALL = LiveCall.load(FHA_DIR / "andy_transcript.json")
CALL = ANDY_CALL.conversation_id
MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True)


@pytest.fixture(scope="module")
def knowledge_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FHA knowledge store, ingested once for the module."""
    state = tmp_path_factory.mktemp("fha-knowledge")
    Agent.from_config(
        load_config(FHA_DIR / "agent.toml").model_copy(update={"state_dir": state})
    ).close()
    return state / "chroma"


@pytest.fixture
async def agent(fha_config: AgentConfig, knowledge_store: Path) -> AsyncIterator[Agent]:
    """The FHA agent on a fresh state directory, with a copy of the ingested knowledge store."""
    shutil.copytree(knowledge_store, fha_config.state_path / "chroma")
    built = Agent.from_config(fha_config)
    yield built
    await built.aclose()
    built.close()


@pytest.fixture
def copilot(agent: Agent) -> Copilot:
    """The copilot of the FHA agent."""
    return Copilot(agent)


async def hear(copilot: Copilot, *, until: str | None = None) -> Suggestions:
    """Feed Andy's call turn by turn, up to the turn that asks to approve ``until``."""
    suggestions = None
    for turn in ANDY_CALL.turns:
        suggestions = await copilot.listen(CALL, turn.speaker, turn.text, caller=MICHELLE)
        if until is not None and turn.approve == until:
            break
    assert suggestions is not None
    return suggestions


async def approve_next(copilot: Copilot, suggestions: Suggestions) -> ActionRecord:
    """Andy approves the suggested next action."""
    assert suggestions.next_action is not None
    return await copilot.approve(CALL, suggestions.next_action.action_id, live_agent="andy")


async def status(agent: Agent, case_id: str) -> str:
    """A case's status in the demo backend."""
    case = await agent.backend.get_case(case_id)
    assert case is not None
    return case.status


async def test_michelle_asking_to_cancel_surfaces_case_12345_ready_to_approve(
    copilot: Copilot,
) -> None:
    await copilot.listen(CALL, "live_agent", ANDY_CALL.turns[0].text, caller=MICHELLE)

    suggestions = await copilot.listen(CALL, "caller", ANDY_CALL.turns[1].text)

    action = suggestions.next_action
    assert suggestions.intent == "cancel_case"
    assert suggestions.identity_status == "verified"
    assert action is not None
    assert (action.tool, action.args, action.allowed) == ("cancel_case", {"case_id": "12345"}, True)
    assert action.irreversible
    assert "cancel case 12345" in action.rendering


async def test_the_cancellation_procedure_article_is_surfaced(copilot: Copilot) -> None:
    suggestions = await hear(copilot, until="cancel_case")

    assert "fha-cancel-procedure" in [p.citation.article_id for p in suggestions.articles]


async def test_nothing_is_cancelled_until_andy_approves(agent: Agent, copilot: Copilot) -> None:
    await hear(copilot, until="cancel_case")

    assert await status(agent, "12345") == "open"


async def test_approving_the_cancellation_twice_cancels_once(
    agent: Agent, copilot: Copilot
) -> None:
    suggestions = await hear(copilot, until="cancel_case")

    first = await approve_next(copilot, suggestions)
    second = await approve_next(copilot, suggestions)

    assert first == second
    assert (first.status, first.reason) == ("executed", APPROVED)
    assert await status(agent, "12345") == "cancelled"
    executed = [e for e in await agent.audit_log(CALL) if e.decision == "executed"]
    assert [(e.tool, e.args["approved_by"]) for e in executed] == [("cancel_case", "andy")]


async def test_the_cancelled_case_is_not_suggested_again(copilot: Copilot) -> None:
    await approve_next(copilot, await hear(copilot, until="cancel_case"))

    suggestions = await copilot.listen(CALL, "caller", "Okay, thank you.")

    assert suggestions.next_action is None


async def test_after_the_cancellation_the_text_is_suggested_and_sent_to_her_number(
    agent: Agent, copilot: Copilot
) -> None:
    await approve_next(copilot, await hear(copilot, until="cancel_case"))
    suggestions = await hear(copilot, until="send_sms")

    sent = await approve_next(copilot, suggestions)

    assert suggestions.intent == "send_sms"
    assert suggestions.next_action is not None
    assert suggestions.next_action.args["to"] == "555-555-1212"
    assert sent.status == "executed"
    assert sent.args["to"] == "***-***-1212"
    outbox = await agent.backend.outbox()
    assert [m.to for m in outbox] == ["555-555-1212"]
    assert "case 12345" in outbox[0].body


async def test_a_question_andy_asks_is_answered_from_the_procedure_with_its_citation(
    copilot: Copilot,
) -> None:
    await hear(copilot, until="cancel_case")

    suggestions = await copilot.listen(
        CALL, "live_agent", "Let me check one thing. Can a cancelled application be reopened?"
    )

    assert suggestions.answer is not None
    assert "cannot be reopened" in suggestions.answer.text
    assert suggestions.answer.citation.article_id == "fha-cancel-procedure"


async def test_a_question_the_caller_asks_on_the_way_leaves_her_request_standing(
    copilot: Copilot,
) -> None:
    await hear(copilot, until="cancel_case")

    suggestions = await copilot.listen(
        CALL,
        "caller",
        "If I apply again, what credit score do I need for the minimum down payment?",
    )

    assert suggestions.intent is not None
    assert suggestions.intent.startswith("question: ")
    assert suggestions.answer is not None
    assert "580" in suggestions.answer.text
    assert suggestions.next_action is not None
    assert suggestions.next_action.args == {"case_id": "12345"}


async def test_a_question_put_to_the_caller_gets_no_answer(copilot: Copilot) -> None:
    await hear(copilot, until="cancel_case")

    suggestions = await copilot.listen(CALL, "live_agent", "Is 555-555-1212 the best number?")

    assert suggestions.answer is None


async def test_the_whole_call_wraps_up_resolved_with_the_cancellation_in_the_summary(
    agent: Agent, copilot: Copilot
) -> None:
    steps = [step async for step in play(copilot, ANDY_CALL)]

    record = await copilot.wrap_up(CALL)

    assert [s.approved.tool for s in steps if s.approved] == ["cancel_case", "send_sms"]
    assert record.outcome == "resolved"
    assert "case 12345 (FHA loan application) cancelled" in record.summary
    assert "text sent to the number ending in 1212" in record.summary
    assert record.conversation_id == live_record_id(CALL)
    assert record.intents == ["cancel_case", "send_sms"]
    assert {t.speaker for t in record.transcript} == {"caller", "live_agent"}
    assert record.turns == 6
    assert await agent.record(live_record_id(CALL)) == record


async def test_wrapping_up_again_returns_the_saved_record_and_the_call_is_closed(
    copilot: Copilot,
) -> None:
    await hear(copilot, until="cancel_case")
    record = await copilot.wrap_up(CALL)

    again = await copilot.wrap_up(CALL)

    assert again == record
    assert record.outcome == "unresolved"
    with pytest.raises(ConversationError, match="already wrapped up"):
        await copilot.listen(CALL, "caller", "Hello?")


async def test_the_live_agent_can_mark_a_call_resolved_without_an_action(
    copilot: Copilot,
) -> None:
    await copilot.listen(CALL, "caller", "What is a 203(k) loan?", caller=MICHELLE)

    record = await copilot.wrap_up(CALL, resolved=True)

    assert record.outcome == "resolved"
    assert record.intents[0].startswith("question: ")


async def test_cancelling_another_callers_case_is_refused(agent: Agent, copilot: Copilot) -> None:
    await hear(copilot, until="cancel_case")
    prepared = await copilot.prepare(CALL, "cancel_case", {"case_id": "67890"})

    refused = await copilot.approve(CALL, prepared.action_id, live_agent="andy")

    assert (prepared.allowed, prepared.reason) == (False, "not_found")
    assert (refused.status, refused.reason) == ("refused", "not_found")
    assert await status(agent, "67890") == "open"
    audit = await agent.audit_log(CALL)
    assert [(e.decision, e.reason) for e in audit] == [("refuse", "not_found")]


async def test_a_case_the_caller_names_that_is_not_hers_is_shown_as_not_allowed(
    copilot: Copilot,
) -> None:
    await copilot.listen(CALL, "live_agent", "How can I help?", caller=MICHELLE)

    suggestions = await copilot.listen(CALL, "caller", "Please cancel case 67890.")

    assert suggestions.next_action is not None
    assert suggestions.next_action.args == {"case_id": "67890"}
    assert (suggestions.next_action.allowed, suggestions.next_action.reason) == (
        False,
        "not_found",
    )


async def test_a_caller_the_ivr_did_not_authenticate_cannot_have_a_case_cancelled(
    agent: Agent, copilot: Copilot
) -> None:
    unverified = Caller(phone="555-555-1212")
    await copilot.listen(CALL, "caller", "I want to cancel case 12345.", caller=unverified)
    suggestions = await copilot.listen(CALL, "live_agent", "Let me look at that.")

    refused = await approve_next(copilot, suggestions)

    assert suggestions.identity_status == "identified"
    assert (refused.status, refused.reason) == ("refused", "not_verified")
    assert await status(agent, "12345") == "open"


async def test_without_a_case_number_the_copilot_says_what_to_ask_for(copilot: Copilot) -> None:
    unverified = Caller(phone="555-555-1212")

    suggestions = await copilot.listen(
        CALL, "caller", "I'd like to cancel my loan application.", caller=unverified
    )

    assert suggestions.next_action is not None
    assert suggestions.next_action.reason == "missing_arguments"
    assert suggestions.next_action.missing == ["case_id"]
    assert "case number" in suggestions.next_action.rendering


async def test_a_packet_from_a_verified_handoff_verifies_the_caller_on_the_live_call(
    agent: Agent, copilot: Copilot
) -> None:
    await agent.run("m", "I'd like to talk to a person, please.", caller=MICHELLE)
    [packet] = await agent.handoffs()

    suggestions = await copilot.listen(
        "m",
        "caller",
        "I want to cancel my application.",
        packet=packet,
        caller=Caller(phone="555-555-1212"),
    )

    assert packet.identity_status == "verified"
    assert suggestions.identity_status == "verified"
    assert suggestions.turn == 2
    assert suggestions.next_action is not None
    assert suggestions.next_action.allowed


@pytest.mark.parametrize(
    ("verified_case", "expected"), [("12345", "verified"), ("67890", "identified")]
)
async def test_a_packet_verified_with_facts_counts_only_for_the_owner_of_the_verified_case(
    copilot: Copilot, verified_case: str, expected: str
) -> None:
    verification = ActionRecord(
        tool="verify_caller",
        args={"case_id": verified_case, "zip_code": "***"},
        status="executed",
        turn=1,
    )
    packet = HandoffPacket(
        conversation_id=CALL,
        reason="caller_request",
        identity_status="verified",
        identity_method="verify_caller",
        actions=[verification],
        summary="Caller verified with facts on file.",
    )

    suggestions = await copilot.listen(
        CALL, "live_agent", "Hello.", packet=packet, caller=Caller(phone="555-555-1212")
    )

    assert suggestions.identity_status == expected


async def test_a_backend_failure_is_recorded_as_failed_and_nothing_claims_success(
    agent: Agent, copilot: Copilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(case_id: str, *, idempotency_key: str) -> None:
        raise BackendError("case system unavailable")

    suggestions = await hear(copilot, until="cancel_case")
    monkeypatch.setattr(agent.backend, "cancel_case", down)

    failed = await approve_next(copilot, suggestions)

    assert (failed.status, failed.reason) == ("failed", "backend_error")
    assert "nothing was changed" in failed.message


async def test_a_handoff_is_not_offered_on_a_call_already_with_a_person(copilot: Copilot) -> None:
    await hear(copilot, until="cancel_case")
    prepared = await copilot.prepare(CALL, "hand_off", {"reason": "complex"})

    refused = await copilot.approve(CALL, prepared.action_id, live_agent="andy")

    assert (prepared.allowed, prepared.reason) == (False, "not_for_live_agent")
    assert (refused.status, refused.reason) == ("refused", "not_for_live_agent")


async def test_an_action_the_copilot_never_prepared_cannot_be_approved(copilot: Copilot) -> None:
    await hear(copilot, until="cancel_case")

    with pytest.raises(ConversationError, match="no prepared action"):
        await copilot.approve(CALL, "not-an-action", live_agent="andy")


async def test_a_call_the_copilot_is_not_following_cannot_be_acted_on(copilot: Copilot) -> None:
    with pytest.raises(ConversationError, match="not following"):
        await copilot.prepare("other-call", "cancel_case", {"case_id": "12345"})


async def test_suggestions_print_as_plain_lines_for_the_live_agent(copilot: Copilot) -> None:
    suggestions = await hear(copilot, until="cancel_case")

    text = format_suggestions(suggestions)

    assert text.splitlines()[0].startswith("intent: cancel_case")
    assert "next action" in text
    assert "Cancelling a loan application or case" in text


async def test_the_copilot_logs_no_caller_data(
    copilot: Copilot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vagent")

    async for _ in play(copilot, ANDY_CALL):
        pass
    await copilot.wrap_up(CALL)

    logged = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("vagent"))
    assert "live call wrapped up" in logged
    for private in ("555-555-1212", "12345", "Michelle"):
        assert private not in logged
