"""Tests for the policy gate: whether a tool call the model requested may run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vagent.state import ActionRecord, Identity, PendingAction
from vagent.tools.base import ToolContext
from vagent.tools.builtin import BUILTIN_TOOLS
from vagent.tools.policy import Decision, PolicyGate, args_hash

from .conftest import make_config

MakeCtx = Callable[..., ToolContext]


@pytest.fixture
def gate() -> PolicyGate:
    """A gate with every built-in tool enabled."""
    return PolicyGate({name: cls() for name, cls in BUILTIN_TOOLS.items()})


@pytest.fixture
def cancelled_action() -> ActionRecord:
    """An executed cancellation, the action a confirmation text would confirm."""
    return ActionRecord(
        tool="cancel_case",
        args={"case_id": "11111"},
        status="executed",
        summary="case 11111 (FHA loan application) cancelled",
        turn=1,
        idempotency_key="abcdef0123456789",
    )


async def ask_to_cancel(gate: PolicyGate, make_ctx: MakeCtx, case_id: str = "11111") -> Decision:
    """Request cancel_case in turn 1 and return the decision (a confirm, for an open case)."""
    return await gate.decide("cancel_case", {"case_id": case_id}, make_ctx(turn=1))


# Tools and arguments


async def test_decide_refuses_a_tool_that_does_not_exist(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await gate.decide("delete_everything", {}, make_ctx())

    assert decision.kind == "refuse"
    assert decision.reason == "unknown_tool"


async def test_decide_refuses_a_built_in_tool_that_is_not_enabled(make_ctx: MakeCtx) -> None:
    gate = PolicyGate({"lookup_case": BUILTIN_TOOLS["lookup_case"]()})

    decision = await gate.decide("cancel_case", {"case_id": "11111"}, make_ctx())

    assert decision.kind == "refuse"
    assert decision.reason == "unknown_tool"


async def test_decide_refuses_arguments_with_an_extra_field_instead_of_ignoring_it(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await gate.decide(
        "cancel_case", {"case_id": "11111", "reason": "caller asked"}, make_ctx()
    )

    assert decision.kind == "refuse"
    assert decision.reason == "invalid_arguments"
    assert "reason" in decision.message


async def test_decide_refuses_arguments_missing_a_required_field(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await gate.decide("cancel_case", {}, make_ctx())

    assert decision.kind == "refuse"
    assert decision.reason == "invalid_arguments"
    assert "case_id" in decision.message


@pytest.mark.parametrize("tool", ["lookup_case", "cancel_case"])
@pytest.mark.parametrize("case_id", ["1234", "123456", "ABCDE", "12345; DROP TABLE cases"])
async def test_decide_refuses_a_case_id_that_does_not_match_the_deployment_pattern(
    gate: PolicyGate, make_ctx: MakeCtx, tool: str, case_id: str
) -> None:
    decision = await gate.decide(tool, {"case_id": case_id}, make_ctx())

    assert decision.kind == "refuse"
    assert decision.reason == "invalid_arguments"


async def test_decide_refuses_a_malformed_case_id_given_to_verify_caller(
    gate: PolicyGate, make_ctx: MakeCtx, anonymous: Identity
) -> None:
    decision = await gate.decide(
        "verify_caller", {"case_id": "ABC", "zip_code": "20410"}, make_ctx(identity=anonymous)
    )

    assert decision.kind == "refuse"
    assert decision.reason == "invalid_arguments"


# Identity and ownership


@pytest.mark.parametrize("tool", ["lookup_case", "cancel_case"])
async def test_decide_refuses_an_anonymous_caller_a_case_tool(
    gate: PolicyGate, make_ctx: MakeCtx, anonymous: Identity, tool: str
) -> None:
    decision = await gate.decide(tool, {"case_id": "11111"}, make_ctx(identity=anonymous))

    assert decision.kind == "refuse"
    assert decision.reason == "not_verified"


@pytest.mark.parametrize("tool", ["lookup_case", "cancel_case"])
async def test_decide_refuses_a_merely_identified_caller_a_case_tool(
    gate: PolicyGate, make_ctx: MakeCtx, identified: Identity, tool: str
) -> None:
    decision = await gate.decide(tool, {"case_id": "11111"}, make_ctx(identity=identified))

    assert decision.kind == "refuse"
    assert decision.reason == "not_verified"


async def test_decide_allows_a_verified_caller_to_look_up_their_own_case(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await gate.decide("lookup_case", {"case_id": "11111"}, make_ctx())

    assert decision.kind == "allow"
    assert decision.key is None


@pytest.mark.parametrize("tool", ["lookup_case", "cancel_case"])
async def test_decide_refuses_another_callers_case_exactly_like_a_missing_case(
    gate: PolicyGate, make_ctx: MakeCtx, tool: str
) -> None:
    others = await gate.decide(tool, {"case_id": "33333"}, make_ctx())
    missing = await gate.decide(tool, {"case_id": "99999"}, make_ctx())

    assert (others.kind, others.reason) == ("refuse", "not_found")
    assert (missing.kind, missing.reason) == ("refuse", "not_found")
    assert "33333" in others.message
    assert others.message.replace("33333", "<case>") == missing.message.replace("99999", "<case>")


# Confirmation of irreversible actions


async def test_decide_asks_to_confirm_a_first_cancel_request(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await ask_to_cancel(gate, make_ctx)

    assert decision.kind == "confirm"
    assert decision.reason == "needs_confirmation"
    assert decision.key is None
    assert decision.pending is not None
    assert "11111" in decision.pending.rendering
    assert decision.message == decision.pending.rendering


async def test_decide_binds_the_pending_action_to_the_tool_and_exact_arguments(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await ask_to_cancel(gate, make_ctx)

    assert decision.pending is not None
    assert decision.pending.tool == "cancel_case"
    assert decision.pending.args == {"case_id": "11111"}
    assert decision.pending.args_hash == args_hash("cancel_case", {"case_id": "11111"})
    assert decision.pending.args_hash != args_hash("cancel_case", {"case_id": "11112"})
    assert decision.pending.turn == 1


async def test_decide_allows_a_cancel_confirmed_with_yes_in_the_next_turn(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx)).pending

    decision = await gate.decide(
        "cancel_case", {"case_id": "11111"}, make_ctx(turn=2, pending=pending, confirmation="yes")
    )

    assert decision.kind == "allow"
    assert decision.reason == "confirmed"
    assert decision.key
    assert decision.pending is None


async def test_decide_asks_again_when_the_confirmed_case_differs_from_the_pending_one(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx, "11111")).pending

    decision = await gate.decide(
        "cancel_case", {"case_id": "44444"}, make_ctx(turn=2, pending=pending, confirmation="yes")
    )

    assert decision.kind == "confirm"
    assert decision.key is None
    assert decision.pending is not None
    assert decision.pending.args == {"case_id": "44444"}
    assert decision.pending.turn == 2


@pytest.mark.parametrize("confirmation", ["none", "no"])
async def test_decide_asks_again_without_an_explicit_yes(
    gate: PolicyGate, make_ctx: MakeCtx, confirmation: str
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx)).pending

    decision = await gate.decide(
        "cancel_case",
        {"case_id": "11111"},
        make_ctx(turn=2, pending=pending, confirmation=confirmation),
    )

    assert decision.kind == "confirm"
    assert decision.key is None
    assert decision.pending is not None
    assert decision.pending.turn == 2


async def test_decide_asks_again_when_the_pending_action_is_two_turns_old(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx)).pending

    decision = await gate.decide(
        "cancel_case", {"case_id": "11111"}, make_ctx(turn=3, pending=pending, confirmation="yes")
    )

    assert decision.kind == "confirm"
    assert decision.key is None
    assert decision.pending is not None
    assert decision.pending.turn == 3


async def test_decide_asks_again_when_yes_was_said_in_the_same_turn_as_the_question(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx)).pending

    decision = await gate.decide(
        "cancel_case", {"case_id": "11111"}, make_ctx(turn=1, pending=pending, confirmation="yes")
    )

    assert decision.kind == "confirm"
    assert decision.key is None


async def test_decide_asks_again_when_the_pending_action_is_for_another_tool(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    same_args = {"case_id": "11111"}
    pending = PendingAction(
        tool="send_sms",
        args=same_args,
        args_hash=args_hash("send_sms", same_args),
        rendering="I'll text the number ending in 1212.",
        turn=1,
    )

    decision = await gate.decide(
        "cancel_case", same_args, make_ctx(turn=2, pending=pending, confirmation="yes")
    )

    assert decision.kind == "confirm"
    assert decision.key is None
    assert decision.pending is not None
    assert decision.pending.tool == "cancel_case"


async def test_decide_gives_the_same_key_to_a_replayed_confirmation(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx)).pending
    ctx = make_ctx(turn=2, pending=pending, confirmation="yes")

    first = await gate.decide("cancel_case", {"case_id": "11111"}, ctx)
    replay = await gate.decide("cancel_case", {"case_id": "11111"}, ctx)

    assert first.key is not None
    assert first.key == replay.key


async def test_decide_gives_different_keys_in_different_conversations(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    pending = (await ask_to_cancel(gate, make_ctx)).pending

    one = await gate.decide(
        "cancel_case",
        {"case_id": "11111"},
        make_ctx(conversation_id="conv-1", turn=2, pending=pending, confirmation="yes"),
    )
    other = await gate.decide(
        "cancel_case",
        {"case_id": "11111"},
        make_ctx(conversation_id="conv-2", turn=2, pending=pending, confirmation="yes"),
    )

    assert one.key is not None
    assert other.key is not None
    assert one.key != other.key


# SMS destinations and preconditions


async def test_decide_refuses_a_text_to_a_number_not_on_file(
    gate: PolicyGate, make_ctx: MakeCtx, cancelled_action: ActionRecord
) -> None:
    decision = await gate.decide(
        "send_sms", {"to": "555-555-0147"}, make_ctx(actions=[cancelled_action])
    )

    assert decision.kind == "refuse"
    assert decision.reason == "unknown_destination"


async def test_decide_accepts_a_number_on_file_written_in_another_format(
    gate: PolicyGate, make_ctx: MakeCtx, cancelled_action: ActionRecord
) -> None:
    decision = await gate.decide(
        "send_sms", {"to": "+1 (555) 555-1212"}, make_ctx(actions=[cancelled_action])
    )

    assert decision.kind == "confirm"
    assert decision.reason == "needs_confirmation"


async def test_decide_refuses_a_confirmation_text_when_nothing_was_done(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await gate.decide(
        "send_sms", {"to": "555-555-1212", "template": "action_confirmation"}, make_ctx()
    )

    assert decision.kind == "refuse"
    assert decision.reason == "precondition_failed"


async def test_decide_refuses_to_cancel_an_already_cancelled_case(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    decision = await gate.decide("cancel_case", {"case_id": "22222"}, make_ctx())

    assert decision.kind == "refuse"
    assert decision.reason == "precondition_failed"
    assert "22222" in decision.message


# Call limits


async def test_decide_refuses_once_the_per_turn_budget_is_spent(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    ctx.tool_calls_turn = ctx.config.policy.max_tool_calls_per_turn

    decision = await gate.decide("lookup_case", {}, ctx)

    assert decision.kind == "refuse"
    assert decision.reason == "turn_limit"


async def test_decide_allows_the_last_call_within_the_per_turn_budget(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    ctx.tool_calls_turn = ctx.config.policy.max_tool_calls_per_turn - 1

    decision = await gate.decide("lookup_case", {}, ctx)

    assert decision.kind == "allow"


async def test_decide_refuses_once_the_per_conversation_budget_is_spent(
    gate: PolicyGate, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(config=make_config(policy={"max_tool_calls_per_conversation": 5}))
    ctx.tool_calls_total = 5

    decision = await gate.decide("lookup_case", {}, ctx)

    assert decision.kind == "refuse"
    assert decision.reason == "conversation_limit"
