"""Agent assist: a copilot for the live agent who takes a call after a handoff.

While the live agent talks with the caller, the copilot listens to each utterance and suggests
the caller's intent, the passages that matter, an answer to a question asked on the call, and
the next best action, prepared and checked by the same policy gate as the virtual agent. The
live agent approves that action with one call; at the end the copilot writes the wrap-up record::

    copilot = Copilot(agent)
    s = await copilot.listen("call-42", "caller", "I'd like to cancel my application.",
                             caller=Caller(phone="555-555-1212", ivr_authenticated=True))
    print(format_suggestions(s))
    if s.next_action and s.next_action.allowed:
        await copilot.approve("call-42", s.next_action.action_id, live_agent="andy")
    record = await copilot.wrap_up("call-42")   # saved as "call-42:live"

The copilot serves a person, not a model: it works on the caller's real values, which it shows
the live agent and never writes to the logs.
"""

from vagent.assist._actions import APPROVED
from vagent.assist._session import LIVE_RECORD_SUFFIX, live_record_id
from vagent.assist.copilot import Copilot
from vagent.assist.models import (
    Answer,
    PreparedAction,
    SuggestedPassage,
    Suggestions,
    format_suggestions,
)
from vagent.assist.replay import LiveCall, LiveTurn, Step, play

__all__ = [
    "APPROVED",
    "LIVE_RECORD_SUFFIX",
    "Answer",
    "Copilot",
    "LiveCall",
    "LiveTurn",
    "PreparedAction",
    "Step",
    "SuggestedPassage",
    "Suggestions",
    "format_suggestions",
    "live_record_id",
    "play",
]
