"""The conversation state the graph carries, and the records that leave it.

Everything here is plain pydantic data so that a checkpoint written by one worker loads in
another. The graph's state is :class:`ConversationState`; :class:`Reply` is what a turn returns,
:class:`HandoffPacket` what a live agent receives, and :class:`ConversationRecord` what every
conversation leaves behind.
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, ConfigDict, Field

from vagent.knowledge.store import Passage

IdentityStatus = Literal["anonymous", "identified", "verified"]
Confirmation = Literal["yes", "no", "none"]
ActionStatus = Literal["executed", "refused", "awaiting_confirmation", "declined", "failed"]
Outcome = Literal["resolved", "handed_off", "unresolved"]


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Caller(_Data):
    """What the channel knows about the caller before the conversation starts."""

    phone: str | None = None
    """The number the caller is calling or texting from, as the phone system reports it."""
    ivr_authenticated: bool = False
    """True when the IVR already authenticated the caller (for example by PIN)."""
    channel: Literal["voice", "chat", "sms"] = "voice"
    """How the caller reached the center."""
    language: str = "en"
    """The caller's preferred language (BCP 47 tag)."""


class Identity(_Data):
    """Who the caller is, as far as the policy gate is concerned."""

    status: IdentityStatus = "anonymous"
    """anonymous: nothing known; identified: matched a record; verified: proven per policy."""
    method: Literal["ivr", "verify_caller"] | None = None
    """How the caller was verified."""
    caller_id: str | None = None
    """The backend's id of the caller record; never shown to the model."""
    first_name: str | None = None
    """The caller's first name on file, used to greet them."""
    phones_on_file: list[str] = []
    """Numbers on file for the caller: the only SMS destinations besides confirmed ones."""
    cases: list[str] = []
    """Case numbers the caller owns (filled once verified)."""
    failed_attempts: int = 0
    """Failed verify_caller attempts in this conversation."""


class PendingAction(_Data):
    """An irreversible action waiting for the caller's explicit confirmation."""

    tool: str
    """The tool that will run."""
    args: dict[str, Any]
    """The exact arguments that were rendered to the caller."""
    args_hash: str
    """Hash binding the confirmation to the tool and these arguments."""
    rendering: str
    """The plain-language question the caller was asked."""
    turn: int
    """The turn in which the caller was asked."""


class ActionRecord(_Data):
    """One tool request and what the policy gate and backend made of it."""

    tool: str
    """The tool requested."""
    args: dict[str, Any]
    """The arguments (identifiers only; no free text from the caller)."""
    status: ActionStatus
    """What happened."""
    reason: str | None = None
    """Reason code of a refusal or failure."""
    message: str = ""
    """The plain-language result that was shown to the model."""
    summary: str = ""
    """What was done, in a few words, for records and confirmations."""
    turn: int
    """The turn in which it happened."""
    idempotency_key: str | None = None
    """Key of an executed side effect; the backend never acts twice on one key."""
    at: datetime = Field(default_factory=utcnow)
    """When it happened (UTC)."""


class Citation(_Data):
    """A passage a reply relied on."""

    passage_id: str
    """The passage's id (article id and chunk number)."""
    article_id: str
    """The article's id from its front matter."""
    title: str
    """The article's title."""
    section: str = ""
    """The heading of the section the passage came from."""
    source: str
    """Where the article comes from (a URL or a citation)."""
    turn: int
    """The turn whose reply cited it."""

    @classmethod
    def from_passage(cls, passage: Passage, *, turn: int) -> Citation:
        """Cite ``passage`` in ``turn``."""
        return cls(
            passage_id=passage.passage_id,
            article_id=passage.article_id,
            title=passage.title,
            section=passage.section,
            source=passage.source,
            turn=turn,
        )


class TranscriptEntry(_Data):
    """One utterance in the conversation record."""

    speaker: Literal["caller", "agent", "live_agent"]
    """Who spoke."""
    text: str
    """What they said."""
    turn: int
    """The turn it belongs to."""
    at: datetime = Field(default_factory=utcnow)
    """When (UTC)."""


class HandoffPacket(_Data):
    """Everything a live agent needs to take over without asking the caller again."""

    conversation_id: str
    """The conversation being handed off."""
    reason: str
    """Reason code: caller_request, model_unavailable, verification_failed, no_progress, ..."""
    priority: Literal["normal", "high", "urgent"] = "normal"
    """Queue priority."""
    identity_status: IdentityStatus
    """How far the caller's identity was established."""
    identity_method: str | None = None
    """How the caller was verified, if they were."""
    cases: list[str] = []
    """Cases in focus this conversation."""
    intents: list[str] = []
    """What the caller wanted, as the agent understood it."""
    tried: list[str] = []
    """What the agent already tried (articles cited, tools requested)."""
    actions: list[ActionRecord] = []
    """Actions done, refused or still awaiting confirmation."""
    pending: PendingAction | None = None
    """An action awaiting the caller's confirmation at handoff."""
    citations: list[Citation] = []
    """Passages the agent relied on."""
    summary: str
    """Built from state, deterministically: every fact in it comes from the conversation."""
    transcript: list[TranscriptEntry] = []
    """The last turns of the conversation, PII masked."""
    sentiment: list[float] = []
    """Sentiment of each caller turn, -1 (negative) to 1 (positive)."""
    sentiment_trend: Literal["improving", "steady", "worsening"] = "steady"
    """Where the caller's mood is heading over the recent turns."""
    narrative: str | None = None
    """An optional model-written narrative; the summary above is the authority."""
    created_at: datetime = Field(default_factory=utcnow)
    """When the handoff was made (UTC)."""


class ConversationRecord(_Data):
    """What every conversation leaves: who, what was asked, what was done, the outcome."""

    conversation_id: str
    """The conversation's id."""
    outcome: Outcome
    """resolved in self-service, handed off, or unresolved."""
    summary: str
    """Deterministic summary built from state."""
    identity_status: IdentityStatus
    """How far the caller's identity was established."""
    identity_method: str | None = None
    """How the caller was verified, if they were."""
    intents: list[str] = []
    """What the caller wanted."""
    actions: list[ActionRecord] = []
    """Every tool request and its result."""
    citations: list[Citation] = []
    """Every passage a reply relied on."""
    handoff: HandoffPacket | None = None
    """The handoff, if there was one."""
    turns: int
    """Caller turns taken."""
    sentiment: list[float] = []
    """Sentiment of each caller turn, -1 (negative) to 1 (positive)."""
    live_agent: str | None = None
    """The live agent who took the conversation, if one did."""
    transcript: list[TranscriptEntry] = []
    """The whole conversation, PII masked."""
    ended_at: datetime = Field(default_factory=utcnow)
    """When the conversation ended (UTC)."""


class Reply(_Data):
    """What one turn returns to the channel."""

    conversation_id: str
    """The conversation."""
    turn: int
    """The turn number, from 1."""
    text: str
    """What the agent says to the caller."""
    citations: list[Citation] = []
    """Passages this reply relied on."""
    actions: list[ActionRecord] = []
    """Tool requests made this turn, executed or not."""
    pending: PendingAction | None = None
    """An action now awaiting the caller's confirmation."""
    handoff: HandoffPacket | None = None
    """The handoff made this turn, or None."""

    @property
    def executed(self) -> list[ActionRecord]:
        """The actions that ran this turn."""
        return [a for a in self.actions if a.status == "executed"]


class TurnLog(_Data):
    """One turn as the full record keeps it, written once when the turn ends.

    The checkpoint keeps only the last :data:`WINDOW_TURNS` turns of transcript, citations and
    model messages, so that its size stays flat however long the conversation runs; the turn log
    is where the whole conversation is kept, and the record is assembled from it.
    """

    turn: int
    """The turn, from 1."""
    transcript: list[TranscriptEntry] = []
    """What was said this turn, PII masked."""
    citations: list[Citation] = []
    """Passages this turn's reply relied on."""
    sentiment: float | None = None
    """The caller's sentiment this turn."""


#: Caller turns of messages, transcript lines and citations a checkpoint keeps.
WINDOW_TURNS = 8
#: Per-turn values (sentiment scores) a checkpoint keeps; the sentiment window fits in it.
WINDOW_VALUES = 24


def recent_turns(left: list[Any], right: list[Any]) -> list[Any]:
    """Append, then keep the items of the last :data:`WINDOW_TURNS` turns (by ``.turn``)."""
    merged = [*left, *right]
    if not merged:
        return merged
    newest = max(item.turn for item in merged)
    return [item for item in merged if item.turn > newest - WINDOW_TURNS]


def recent_values(left: list[Any], right: list[Any]) -> list[Any]:
    """Append, then keep the last :data:`WINDOW_VALUES` values."""
    return [*left, *right][-WINDOW_VALUES:]


def distinct(left: list[str], right: list[str]) -> list[str]:
    """Append the values not already there, in first-seen order."""
    return list(dict.fromkeys([*left, *right]))


def recent_messages(left: list[AnyMessage], right: list[AnyMessage]) -> list[AnyMessage]:
    """``add_messages``, then keep the messages of the last :data:`WINDOW_TURNS` caller turns.

    The window starts at a caller message, so no tool result is kept without its call.
    """
    merged: list[AnyMessage] = add_messages(left, right)  # type: ignore[arg-type,assignment]
    starts = [i for i, m in enumerate(merged) if m.type == "human"]
    if len(starts) <= WINDOW_TURNS:
        return merged
    return merged[starts[-WINDOW_TURNS] :]


class ConversationState(TypedDict, total=False):
    """The graph's state. One graph invocation is one turn (or the wrap-up)."""

    messages: Annotated[list[AnyMessage], recent_messages]
    incoming: str
    ending: bool
    caller: Caller
    identity: Identity
    turn: int
    confirmation: Confirmation
    declined: str | None
    small_talk: str | None
    injection: bool
    query: str
    pending: PendingAction | None
    actions: Annotated[list[ActionRecord], operator.add]
    passages: list[Passage]
    citations: Annotated[list[Citation], recent_turns]
    intents: Annotated[list[str], distinct]
    tool_calls_turn: int
    tool_calls_total: int
    misses: int
    handoff: HandoffPacket | None
    handoff_reason: str | None
    handoff_turn: int
    sentiment: Annotated[list[float], recent_values]
    stalled: int
    live_agent: str | None
    reply: str
    transcript: Annotated[list[TranscriptEntry], recent_turns]
    record: ConversationRecord | None


STATE_TYPES: tuple[type[BaseModel], ...] = (
    Caller,
    Identity,
    PendingAction,
    ActionRecord,
    Citation,
    TranscriptEntry,
    HandoffPacket,
    ConversationRecord,
    Passage,
    TurnLog,
)
"""Types the checkpoint serializer may load back (anything else is refused)."""
