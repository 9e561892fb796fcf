"""Checks of the turn API's arguments, so a channel's coding mistake fails clearly and early.

These are mistakes in the code that calls the agent, not in what the caller said: what the
caller said is cleaned and answered, never refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from vagent.errors import ConversationError, TurnArgumentError
from vagent.guardrails.screen import clean
from vagent.state import Caller

_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_ID_CHAR = re.compile(r"[A-Za-z0-9._:@-]")
_ID_RULE = "use 1 to 128 letters, digits or ._:@-, starting with a letter or digit"


def check_id(conversation_id: object) -> None:
    """Refuse a conversation id that is not a short, plain string."""
    if not isinstance(conversation_id, str):
        kind = type(conversation_id).__name__
        raise TurnArgumentError(
            f"conversation id must be a str, got {kind}; {_ID_RULE}", conversation_id=f"<{kind}>"
        )
    if _CONVERSATION_ID.fullmatch(conversation_id):
        return
    shown = _shown(conversation_id)
    raise ConversationError(
        f"conversation id {shown} is not valid: {_id_problem(conversation_id)}; {_ID_RULE}",
        conversation_id=shown,
    )


def check_text(conversation_id: str, text: object) -> str:
    """The caller's text, cleaned; refuses anything but a str."""
    if isinstance(text, str):
        return clean(text)
    fix = (
        "decode it first, e.g. data.decode('utf-8', errors='replace')"
        if isinstance(text, bytes | bytearray | memoryview)
        else "pass what the caller said as a str"
    )
    raise TurnArgumentError(
        f"text must be a str, got {type(text).__name__}; {fix}", conversation_id=conversation_id
    )


def check_caller(conversation_id: str, caller: object) -> None:
    """Refuse a caller that is neither None nor a Caller."""
    if caller is None or isinstance(caller, Caller):
        return
    raise TurnArgumentError(
        f"caller must be a vagent.Caller or None, got {type(caller).__name__}; "
        "build one with Caller(...)",
        conversation_id=conversation_id,
    )


def live_agent_taking(conversation_id: str, live_agent: object, messages: object) -> dict[str, Any]:
    """What a live agent taking a conversation hands the graph: their id and their words."""
    if not isinstance(live_agent, str) or not clean(live_agent):
        raise TurnArgumentError(
            f"live_agent must be a non-empty str, got {type(live_agent).__name__}; "
            "pass the live agent's id",
            conversation_id=conversation_id,
        )
    if isinstance(messages, str) or not isinstance(messages, Sequence):
        raise TurnArgumentError(
            f"messages must be a sequence of str, got {type(messages).__name__}; "
            "wrap a single message in a list",
            conversation_id=conversation_id,
        )
    if not all(isinstance(message, str) for message in messages):
        raise TurnArgumentError(
            "messages must all be str; decode or convert them first",
            conversation_id=conversation_id,
        )
    said = [clean(message) for message in messages]
    return {"live_agent": clean(live_agent), "messages": [m for m in said if m]}


def _id_problem(conversation_id: str) -> str:
    """What is wrong with a conversation id the pattern refused."""
    if not conversation_id:
        return "it is empty"
    if len(conversation_id) > 128:
        return f"it has {len(conversation_id)} characters"
    first = conversation_id[0]
    if not (first.isascii() and first.isalnum()):
        return f"it starts with {first!r}"
    odd = next(ch for ch in conversation_id if not _ID_CHAR.fullmatch(ch))
    return f"it contains {odd!r}"


def _shown(value: str, limit: int = 40) -> str:
    """``value``'s repr, cut short for a message."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"
