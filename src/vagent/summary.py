"""Summaries, handoff packets and conversation records, built deterministically from state.

Every fact here comes from the conversation's state, never from model prose, so a live agent or
a reviewer can rely on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from vagent import sentiment
from vagent.state import (
    ActionRecord,
    ConversationRecord,
    ConversationState,
    HandoffPacket,
    Identity,
    Outcome,
    TurnLog,
)

_URGENT_REASONS = {"crisis"}
_HIGH_REASONS = {
    "verification_failed",
    "model_unavailable",
    "backend_unavailable",
    "negative_sentiment",
    "tier3_topic",
}


def summarize(state: ConversationState, *, outcome: str | None = None) -> str:
    """A few plain sentences: who, what was asked, what was done, and how it ended."""
    parts = [_identity_sentence(state.get("identity", Identity()))]
    topics = _unique(c.title for c in state.get("citations", []))
    if topics:
        parts.append("Asked about: " + "; ".join(topics) + ".")
    parts.extend(_action_sentences(state.get("actions", [])))
    pending = state.get("pending")
    if pending is not None:
        parts.append(f"Awaiting the caller's confirmation: {pending.tool} {_args(pending.args)}.")
    if outcome is not None:
        parts.append(f"Outcome: {outcome.replace('_', ' ')}.")
    return " ".join(parts)


def handoff_packet(state: ConversationState, conversation_id: str, reason: str) -> HandoffPacket:
    """The packet a live agent receives."""
    identity = state.get("identity", Identity())
    return HandoffPacket(
        conversation_id=conversation_id,
        reason=reason,
        priority=_priority(reason),
        identity_status=identity.status,
        identity_method=identity.method,
        cases=cases_in_focus(state.get("actions", [])),
        intents=_unique(state.get("intents", [])),
        tried=_tried(state),
        actions=list(state.get("actions", [])),
        pending=state.get("pending"),
        citations=list(state.get("citations", [])),
        summary=summarize(state) + f" Handed off: {reason.replace('_', ' ')}.",
        transcript=list(state.get("transcript", []))[-10:],
        sentiment=list(state.get("sentiment", [])),
        sentiment_trend=sentiment.direction(state.get("sentiment", [])),
    )


def conversation_record(
    state: ConversationState, conversation_id: str, history: Sequence[TurnLog] = ()
) -> ConversationRecord:
    """The record a conversation leaves when it ends.

    Args:
        state: the conversation's state, which keeps only its last turns.
        conversation_id: the conversation.
        history: the turn log, which keeps every turn; state fills in turns it lacks.
    """
    whole = _whole(state, history)
    identity = whole.get("identity", Identity())
    outcome = _outcome(whole)
    return ConversationRecord(
        conversation_id=conversation_id,
        outcome=outcome,
        summary=summarize(whole, outcome=outcome),
        identity_status=identity.status,
        identity_method=identity.method,
        intents=_unique(whole.get("intents", [])),
        actions=list(whole.get("actions", [])),
        citations=list(whole.get("citations", [])),
        handoff=whole.get("handoff"),
        turns=whole.get("turn", 0),
        sentiment=list(whole.get("sentiment", [])),
        live_agent=whole.get("live_agent"),
        transcript=list(whole.get("transcript", [])),
    )


def _whole(state: ConversationState, history: Sequence[TurnLog]) -> ConversationState:
    """The state with the whole conversation's transcript, citations and sentiment."""
    if not history:
        return state
    logged = {entry.turn for entry in history}
    whole = ConversationState(**state)
    whole["transcript"] = [
        *(t for entry in history for t in entry.transcript),
        *(t for t in state.get("transcript", []) if t.turn not in logged),
    ]
    whole["citations"] = [
        *(c for entry in history for c in entry.citations),
        *(c for c in state.get("citations", []) if c.turn not in logged),
    ]
    whole["sentiment"] = [e.sentiment for e in history if e.sentiment is not None]
    return whole


def cases_in_focus(actions: list[ActionRecord]) -> list[str]:
    """Case numbers the conversation's actions named."""
    return _unique(str(a.args["case_id"]) for a in actions if a.args.get("case_id"))


def _outcome(state: ConversationState) -> Outcome:
    """Handed off, resolved (something answered or done), or unresolved."""
    if state.get("handoff") is not None:
        return "handed_off"
    done = any(a.status == "executed" for a in state.get("actions", []))
    return "resolved" if done or state.get("citations") else "unresolved"


def _identity_sentence(identity: Identity) -> str:
    """The caller's identity status, without any personal data."""
    if identity.status == "verified":
        how = "by the IVR" if identity.method == "ivr" else "with facts on file"
        return f"Caller verified {how}."
    if identity.status == "identified":
        return "Caller identified by phone number, not verified."
    return "Caller not identified."


def _action_sentences(actions: list[ActionRecord]) -> list[str]:
    """One sentence per kind of action outcome."""
    done = [a.summary or a.tool for a in actions if a.status == "executed" and a.tool != "hand_off"]
    refused = [f"{a.tool} ({a.reason})" for a in actions if a.status == "refused"]
    declined = [f"{a.tool} {_args(a.args)}" for a in actions if a.status == "declined"]
    failed = [f"{a.tool} ({a.reason})" for a in actions if a.status == "failed"]
    sentences = []
    for label, items in (
        ("Done", done),
        ("Refused", refused),
        ("Declined by the caller", declined),
        ("Failed", failed),
    ):
        if items:
            sentences.append(f"{label}: " + "; ".join(items) + ".")
    return sentences


def _tried(state: ConversationState) -> list[str]:
    """What the agent already tried: articles it cited and tools it requested."""
    articles = [f"article: {c.title}" for c in state.get("citations", [])]
    tools = [f"tool: {a.tool} ({a.status})" for a in state.get("actions", [])]
    return _unique([*articles, *tools])


def _priority(reason: str) -> str:
    """Queue priority for a handoff reason."""
    if reason in _URGENT_REASONS:
        return "urgent"
    return "high" if reason in _HIGH_REASONS else "normal"


def _args(args: dict[str, object]) -> str:
    """Arguments in a short readable form."""
    return ", ".join(f"{k}={v}" for k, v in sorted(args.items()))


def _unique(items: object) -> list[str]:
    """Items in first-seen order, without repeats."""
    return list(dict.fromkeys(items))  # type: ignore[call-overload]
