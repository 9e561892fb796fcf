"""Tool-call matching: the four modes, the argument modes, and the explanations."""

from __future__ import annotations

from typing import Any

import pytest

from vagent.evals.matching import compare
from vagent.evals.schema import ToolCalls
from vagent.state import ActionRecord


def _action(tool: str, status: str = "executed", **args: Any) -> ActionRecord:
    return ActionRecord.model_validate({"tool": tool, "args": args, "status": status, "turn": 1})


LOOKUP = _action("lookup_case", case_id="12345")
CANCEL = _action("cancel_case", case_id="12345")
SMS = _action("send_sms", to="***-***-1212", template="action_confirmation")


def _check(mode: str, *calls: Any, args: str = "subset") -> ToolCalls:
    return ToolCalls.model_validate({"calls": list(calls), "mode": mode, "args": args})


@pytest.mark.parametrize(
    ("mode", "calls", "holds"),
    [
        ("strict", ["lookup_case", "cancel_case"], True),
        ("strict", ["cancel_case", "lookup_case"], False),
        ("unordered", ["cancel_case", "lookup_case"], True),
        ("unordered", ["cancel_case"], False),
        ("subset", ["cancel_case", "lookup_case", "send_sms"], True),
        ("subset", ["cancel_case"], False),
        ("superset", ["cancel_case"], True),
        ("superset", ["cancel_case", "send_sms"], False),
    ],
)
def test_each_mode_compares_the_agents_actions_as_documented(
    mode: str, calls: list[str], holds: bool
) -> None:
    problem = compare(_check(mode, *calls), [LOOKUP, CANCEL])

    assert (problem is None) is holds


def test_an_action_listed_once_matches_one_action_only() -> None:
    problem = compare(_check("subset", "cancel_case"), [CANCEL, CANCEL])

    assert problem is not None
    assert "not expected: [cancel_case(case_id='12345') executed]" in problem


@pytest.mark.parametrize(
    ("args_mode", "args", "holds"),
    [
        ("subset", {"case_id": "12345"}, True),
        ("subset", {"case_id": "67890"}, False),
        ("exact", {"case_id": "12345"}, True),
        ("exact", {}, False),
        ("ignore", {"case_id": "67890"}, True),
    ],
)
def test_arguments_are_compared_as_the_args_mode_says(
    args_mode: str, args: dict[str, str], holds: bool
) -> None:
    check = _check("strict", {"tool": "cancel_case", "args": args}, args=args_mode)

    assert (compare(check, [CANCEL]) is None) is holds


def test_a_masked_phone_matches_the_full_number_with_the_same_last_four_digits() -> None:
    right = _check("strict", {"tool": "send_sms", "args": {"to": "555-555-1212"}})
    wrong = _check("strict", {"tool": "send_sms", "args": {"to": "555-555-0147"}})

    assert compare(right, [SMS]) is None
    assert compare(wrong, [SMS]) is not None


def test_statuses_and_reasons_narrow_what_is_compared() -> None:
    refused = _action("lookup_case", "refused", case_id="67890").model_copy(
        update={"reason": "not_found"}
    )
    only_refusals = ToolCalls.model_validate(
        {"calls": [{"reason": "not_found"}], "mode": "unordered", "statuses": ["refused"]}
    )

    assert compare(only_refusals, [CANCEL, refused]) is None


def test_a_strict_mismatch_says_what_was_missing_and_what_was_not_expected() -> None:
    check = _check("strict", {"tool": "cancel_case", "status": "executed"})

    problem = compare(check, [_action("cancel_case", "awaiting_confirmation", case_id="12345")])

    assert problem == (
        "the agent's actions were [cancel_case(case_id='12345') awaiting_confirmation]; "
        "missing: [cancel_case() executed]; "
        "not expected: [cancel_case(case_id='12345') awaiting_confirmation]"
    )
