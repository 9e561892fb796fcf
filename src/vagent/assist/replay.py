"""A live call written down as data, and playing it through the copilot.

The demo and the tests drive the copilot from a transcript file such as
``examples/fha_resource_center/andy_transcript.json``::

    call = LiveCall.load(path)
    async for step in play(copilot, call):
        print(format_suggestions(step.suggestions))
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from vagent.assist.copilot import Copilot
from vagent.assist.models import Suggestions
from vagent.errors import ConfigError
from vagent.state import ActionRecord, Caller


class LiveTurn(BaseModel):
    """One utterance of a written-down live call."""

    model_config = ConfigDict(extra="forbid")

    speaker: Literal["caller", "live_agent"]
    """Who speaks."""
    text: str
    """What they say."""
    approve: str | None = None
    """A tool whose suggested action the live agent approves after this utterance."""


class LiveCall(BaseModel):
    """A live call between a caller and a live agent, as data."""

    model_config = ConfigDict(extra="forbid")

    title: str
    """What the call shows."""
    conversation_id: str
    """The conversation id the copilot follows it under."""
    live_agent: str
    """The live agent's id."""
    caller: Caller
    """What the channel knows about the caller."""
    note: str = ""
    """A remark for readers of the file."""
    turns: list[LiveTurn]
    """The utterances, in order."""

    @classmethod
    def load(cls, path: Path) -> LiveCall:
        """Read a call from a JSON file.

        Raises:
            ConfigError: the file is missing or does not have this shape.
        """
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"live call {str(path)!r} is not usable: {exc}") from None


@dataclass(frozen=True)
class Step:
    """One utterance played: what the copilot suggested, and the action approved after it."""

    turn: LiveTurn
    suggestions: Suggestions
    approved: ActionRecord | None = None


async def play(copilot: Copilot, call: LiveCall) -> AsyncIterator[Step]:
    """Feed the call to the copilot utterance by utterance, approving where the call says.

    An approval takes the suggested next action when it is for the named tool; when it is not,
    the step carries no approved action.
    """
    for turn in call.turns:
        suggestions = await copilot.listen(
            call.conversation_id, turn.speaker, turn.text, caller=call.caller
        )
        action = suggestions.next_action
        approved = None
        if turn.approve is not None and action is not None and action.tool == turn.approve:
            approved = await copilot.approve(
                call.conversation_id, action.action_id, live_agent=call.live_agent
            )
        yield Step(turn=turn, suggestions=suggestions, approved=approved)
