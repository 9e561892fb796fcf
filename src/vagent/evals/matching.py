"""Matching the agent's tool actions against a case's expected tool calls.

The four modes follow the usual trajectory-match meanings: ``strict`` (same actions, same
order), ``unordered`` (same actions, any order), ``subset`` (the agent did nothing beyond the
listed actions) and ``superset`` (the agent did at least the listed actions). Actions count
one for one: an action listed once matches one action of the agent's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from vagent.evals.schema import ArgsMode, ToolCall, ToolCalls
from vagent.state import ActionRecord

_MASKED_PHONE = re.compile(r"\*{3}-\*{3}-(\d{4})")
_SECRET = "***"


def compare(check: ToolCalls, actions: Sequence[ActionRecord]) -> str | None:
    """Why the actions do not meet ``check``, or None when they do."""
    expected = check.expected()
    actual = [a for a in actions if _selected(check, a)]
    pairs = _matching(expected, actual, check.args)
    if _holds(check, expected, actual, pairs):
        return None
    return _explain(check, expected, actual, pairs)


def describe_action(action: ActionRecord) -> str:
    """``cancel_case(case_id='12345') executed (confirmed)``."""
    args = ", ".join(f"{k}={v!r}" for k, v in action.args.items())
    reason = f" ({action.reason})" if action.reason else ""
    return f"{action.tool}({args}) {action.status}{reason}"


def describe_call(call: ToolCall) -> str:
    """``cancel_case(case_id='12345') executed``, with ``*`` for any tool."""
    args = ", ".join(f"{k}={v!r}" for k, v in call.args.items())
    status = f" {call.status}" if call.status else ""
    reason = f" ({call.reason})" if call.reason else ""
    return f"{call.tool or '*'}({args}){status}{reason}"


def _selected(check: ToolCalls, action: ActionRecord) -> bool:
    """Whether the check compares this action at all."""
    if check.statuses and action.status not in check.statuses:
        return False
    return not check.reasons or action.reason in check.reasons


def _holds(
    check: ToolCalls,
    expected: list[ToolCall],
    actual: list[ActionRecord],
    pairs: dict[int, int],
) -> bool:
    """Whether the matching satisfies the mode."""
    if check.mode == "strict":
        return len(expected) == len(actual) and all(
            matches(e, a, check.args) for e, a in zip(expected, actual, strict=True)
        )
    if check.mode == "unordered":
        return len(expected) == len(actual) == len(pairs)
    if check.mode == "subset":
        return len(pairs) == len(actual)
    return len(pairs) == len(expected)


def _explain(
    check: ToolCalls,
    expected: list[ToolCall],
    actual: list[ActionRecord],
    pairs: dict[int, int],
) -> str:
    """What was missing and what was unexpected."""
    matched = set(pairs.values())
    missing = [describe_call(e) for i, e in enumerate(expected) if i not in pairs]
    extra = [describe_action(a) for j, a in enumerate(actual) if j not in matched]
    parts = [f"the agent's actions were [{', '.join(describe_action(a) for a in actual)}]"]
    if missing and check.mode != "subset":
        parts.append(f"missing: [{', '.join(missing)}]")
    if extra and check.mode != "superset":
        parts.append(f"not expected: [{', '.join(extra)}]")
    if check.mode == "strict" and not missing and not extra:
        parts.append("the same actions came in a different order")
    return "; ".join(parts)


def matches(call: ToolCall, action: ActionRecord, mode: ArgsMode) -> bool:
    """Whether one action is the expected call."""
    if call.tool is not None and call.tool != action.tool:
        return False
    if call.status is not None and call.status != action.status:
        return False
    if call.reason is not None and call.reason != action.reason:
        return False
    if mode == "ignore":
        return True
    if mode == "exact" and set(call.args) != set(action.args):
        return False
    return all(k in action.args and _same_value(v, action.args[k]) for k, v in call.args.items())


def _same_value(expected: Any, actual: Any) -> bool:
    """Equal as text; a masked phone matches its last four digits, a hidden secret anything."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return set(expected) == set(actual) and all(
            _same_value(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _same_value(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if actual == _SECRET:
        # Verification facts are never stored, so what was passed cannot be compared.
        return True
    masked = _MASKED_PHONE.fullmatch(str(actual))
    if masked is not None:
        return re.sub(r"\D", "", str(expected)).endswith(masked.group(1))
    return str(expected) == str(actual)


def _matching(
    expected: list[ToolCall], actual: list[ActionRecord], mode: ArgsMode
) -> dict[int, int]:
    """A largest one-for-one matching of expected calls to actions (expected index: action)."""
    owner: dict[int, int] = {}

    def place(i: int, seen: set[int]) -> bool:
        for j, action in enumerate(actual):
            if j in seen or not matches(expected[i], action, mode):
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        place(i, set())
    return {i: j for j, i in owner.items()}
