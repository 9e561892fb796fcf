"""One live call as the copilot follows it, and who the caller is on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from vagent.assist.models import PreparedAction
from vagent.backends.base import CaseSystem
from vagent.config import AgentConfig
from vagent.state import (
    ActionRecord,
    Caller,
    Citation,
    ConversationRecord,
    ConversationState,
    HandoffPacket,
    Identity,
    Outcome,
    TranscriptEntry,
)
from vagent.summary import summarize

Method = Literal["ivr", "verify_caller"]

LIVE_RECORD_SUFFIX = ":live"
"""Appended to the conversation id to name the record of the live part of the call."""


def live_record_id(conversation_id: str) -> str:
    """The id the copilot saves the live call's record under.

    The virtual agent's own record of the conversation (outcome ``handed_off``) stays as it
    wrote it; the live call's record sits beside it and carries the handoff packet.
    """
    return f"{conversation_id}{LIVE_RECORD_SUFFIX}"


@dataclass
class Session:
    """The copilot's in-memory state of one live call."""

    conversation_id: str
    caller: Caller | None = None
    packet: HandoffPacket | None = None
    identity: Identity = field(default_factory=Identity)
    turn: int = 0
    caller_turns: int = 0
    intent: str | None = None
    intents: list[str] = field(default_factory=list)
    transcript: list[TranscriptEntry] = field(default_factory=list)
    sentiments: list[float] = field(default_factory=list)
    prepared: dict[str, PreparedAction] = field(default_factory=dict)
    actions: list[ActionRecord] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    live_agents: list[str] = field(default_factory=list)
    approvals: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def said(self, speaker: str) -> list[str]:
        """What ``speaker`` said, newest first; the virtual agent's part counts for the caller."""
        live = [t.text for t in reversed(self.transcript) if t.speaker == speaker]
        earlier = self.packet.transcript if self.packet is not None else []
        return [*live, *(t.text for t in reversed(earlier) if t.speaker == speaker)]

    def past_actions(self) -> list[ActionRecord]:
        """Every action of the conversation: the virtual agent's, then the live call's."""
        earlier = self.packet.actions if self.packet is not None else []
        return [*earlier, *self.actions]

    def remember(self, intent: str) -> None:
        """Keep an intent for the record, once."""
        if intent not in self.intents:
            self.intents.append(intent)

    def cite(self, citation: Citation) -> None:
        """Keep a citation for the record, once per passage."""
        if all(c.passage_id != citation.passage_id for c in self.citations):
            self.citations.append(citation)


def record_of(session: Session, resolved: bool | None) -> ConversationRecord:
    """The live call's record, built from the session alone."""
    ran = any(a.status == "executed" for a in session.actions)
    outcome: Outcome = "resolved" if (ran if resolved is None else resolved) else "unresolved"
    state = ConversationState(
        identity=session.identity, citations=session.citations, actions=session.actions
    )
    parts = [summarize(state, outcome=outcome)]
    if session.live_agents:
        parts.insert(0, f"Live agent {', '.join(session.live_agents)} took the call.")
    if session.packet is not None:
        parts.insert(0, f"Handed off by the virtual agent ({session.packet.reason}).")
    return ConversationRecord(
        conversation_id=live_record_id(session.conversation_id),
        outcome=outcome,
        summary=" ".join(parts),
        identity_status=session.identity.status,
        identity_method=session.identity.method,
        intents=list(session.intents),
        actions=list(session.actions),
        citations=list(session.citations),
        handoff=session.packet,
        turns=session.caller_turns,
        transcript=list(session.transcript),
    )


def first_turn(packet: HandoffPacket | None) -> int:
    """The turn the live call continues from: the last turn the virtual agent took."""
    if packet is None:
        return 0
    return max((t.turn for t in packet.transcript), default=0)


async def identify(
    caller: Caller | None, packet: HandoffPacket | None, cases: CaseSystem, config: AgentConfig
) -> Identity:
    """The caller's identity from the channel, the handoff packet and the case system.

    The phone number finds the caller's record. The caller is verified when the channel says
    the IVR authenticated them, when the packet says the virtual agent verified them by IVR, or
    when it verified them with facts on file for a case that this phone's caller owns; the
    copilot trusts the packet as the agent trusts the channel. Otherwise the caller is at most
    identified, and the live agent verifies them on the call (``verify_caller``).
    """
    if caller is None or not caller.phone:
        return Identity()
    profile = await cases.find_caller(caller.phone)
    if profile is None:
        return Identity()
    owned = [c.case_id for c in await cases.cases_of(profile.caller_id)]
    method = _verified_by(caller, packet, owned, config)
    return Identity(
        status="verified" if method else "identified",
        method=method,
        caller_id=profile.caller_id,
        first_name=profile.first_name,
        phones_on_file=list(profile.phones),
        cases=owned if method else [],
    )


def _verified_by(
    caller: Caller, packet: HandoffPacket | None, owned: list[str], config: AgentConfig
) -> Method | None:
    """How the caller counts as verified, or None."""
    allowed = config.policy.verified_by
    if "ivr" in allowed and caller.ivr_authenticated:
        return "ivr"
    if packet is None or packet.identity_status != "verified":
        return None
    if packet.identity_method == "ivr" and "ivr" in allowed:
        return "ivr"
    if packet.identity_method == "verify_caller" and "verify_caller" in allowed:
        # The packet does not say whose facts matched: the verified case must be this caller's.
        verified_cases = {
            str(a.args.get("case_id"))
            for a in packet.actions
            if a.tool == "verify_caller" and a.status == "executed"
        }
        return "verify_caller" if verified_cases & set(owned) else None
    return None
