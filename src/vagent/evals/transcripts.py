"""Recorded transcripts, replayed: the caller's side is said again and the agent compared.

Two layouts are read. JSON: a conversation object, a list of them, or ``{"conversations":
[...]}``; a conversation has an ``id`` (or ``conversation_id``), an optional ``caller`` (the
channel's fields) and ``turns`` (or ``transcript``): entries with ``speaker`` (caller, agent or
live_agent), ``text``, and on agent entries optional ``actions`` (``tool``, ``args``,
``status``) and ``handoff`` (true or a reason). A vagent conversation record (``agent.end``)
is such a conversation: its ``actions`` carry their ``turn``. CSV: a header with
``conversation_id,speaker,text`` and optionally ``tools`` (agent rows: ``tool[:status]``
separated by ``;``) and the caller's ``phone``, ``ivr_authenticated`` and ``channel`` (read
from a conversation's first row). Rows are in conversation order.

Each recorded caller turn becomes a turn of an eval case whose reply must resemble the
recorded agent reply and whose tool actions must be the recorded ones; the replay stops where
a live agent took over.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vagent.evals.problems import EvalSuiteError, validation_problem
from vagent.evals.schema import EvalCase, Expect, ToolCall, ToolCalls, Turn, TurnExpect
from vagent.state import ActionStatus, Caller

_UNSAFE_ID = re.compile(r"[^a-z0-9-]+")


class _Loose(BaseModel):
    # Records written by agent.end carry more fields than a replay needs.
    model_config = ConfigDict(extra="ignore")


class RecordedAction(_Loose):
    """A tool action the recorded agent took."""

    tool: str
    args: dict[str, Any] = {}
    status: ActionStatus | None = None
    turn: int | None = None


class Entry(_Loose):
    """One utterance of a recorded conversation."""

    speaker: Literal["caller", "agent", "live_agent"]
    text: str
    turn: int | None = None
    actions: list[RecordedAction] = []
    handoff: bool | str | None = None


class Transcript(_Loose):
    """One recorded conversation."""

    id: str = Field(min_length=1)
    caller: Caller = Caller()
    turns: list[Entry] = Field(min_length=1)
    actions: list[RecordedAction] = []


class ReplayTurn(BaseModel):
    """A caller turn and the agent's recorded answer to it."""

    say: str
    reply: str | None = None
    actions: list[RecordedAction] = []
    handoff: bool | str | None = None


def replay_cases(
    files: Iterable[Path], min_similarity: float = 0.6, *, compare_tools: bool = True
) -> list[EvalCase]:
    """Eval cases replaying every conversation in ``files``.

    Raises:
        EvalSuiteError: a file cannot be read or does not match either layout.
    """
    cases: list[EvalCase] = []
    for path in files:
        for transcript in read_transcripts(path):
            cases.append(to_case(transcript, min_similarity, compare_tools=compare_tools))
    return cases


def read_transcripts(path: Path) -> list[Transcript]:
    """The conversations of one JSON or CSV transcript file.

    Raises:
        EvalSuiteError: the file cannot be read or does not match its layout.
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = _csv_conversations(text) if path.suffix.lower() == ".csv" else _json(text)
    except (OSError, ValueError) as exc:
        raise EvalSuiteError(f"transcript {str(path)!r} cannot be read: {exc}") from None
    try:
        return [Transcript.model_validate(_normalised(c)) for c in raw]
    except ValidationError as exc:
        raise validation_problem(path, exc, raw) from None


def to_case(transcript: Transcript, min_similarity: float, *, compare_tools: bool) -> EvalCase:
    """The eval case that replays ``transcript``."""
    turns = [
        Turn(say=t.say, expect=_turn_expect(t, min_similarity, compare_tools))
        for t in caller_turns(transcript)
    ]
    slug = _UNSAFE_ID.sub("-", transcript.id.lower()).strip("-") or "conversation"
    return EvalCase(
        id=f"replay-{slug}",
        description=f"Replay of recorded conversation {transcript.id!r}.",
        tags=["replay"],
        caller=transcript.caller,
        turns=turns,
        # What the recording changed in the agency's systems is unknown; compare turns only.
        expect=Expect(backend=None),
    )


def caller_turns(transcript: Transcript) -> list[ReplayTurn]:
    """The caller's turns with the agent's recorded replies, up to a live agent's takeover."""
    turns: list[ReplayTurn] = []
    for entry in transcript.turns:
        if entry.speaker == "live_agent":
            break
        if entry.speaker == "caller":
            turns.append(ReplayTurn(say=entry.text))
        elif turns:
            _add_reply(turns[-1], entry)
    for action in transcript.actions:
        if action.turn is not None and 1 <= action.turn <= len(turns):
            turns[action.turn - 1].actions.append(action)
    return turns


def _add_reply(turn: ReplayTurn, entry: Entry) -> None:
    """Attach an agent entry to the caller turn it answers."""
    turn.reply = f"{turn.reply} {entry.text}" if turn.reply else entry.text
    turn.actions.extend(entry.actions)
    if entry.handoff not in (None, False):
        turn.handoff = entry.handoff


def _turn_expect(turn: ReplayTurn, min_similarity: float, compare_tools: bool) -> TurnExpect:
    """Resemble the recorded reply; take the recorded actions (tool and status)."""
    tools = None
    if compare_tools:
        calls: list[ToolCall | str] = [ToolCall(tool=a.tool, status=a.status) for a in turn.actions]
        tools = ToolCalls(calls=calls, mode="unordered", args="ignore")
    return TurnExpect(
        similar_to=turn.reply,
        min_similarity=min_similarity,
        tool_calls=tools,
        handoff=turn.handoff,
    )


def _json(text: str) -> list[Any]:
    """The conversations of a JSON transcript file."""
    data = json.loads(text)
    if isinstance(data, dict) and "conversations" in data:
        data = data["conversations"]
    return data if isinstance(data, list) else [data]


def _normalised(conversation: Any) -> Any:
    """Accept ``conversation_id`` for ``id`` and ``transcript`` for ``turns``."""
    if not isinstance(conversation, dict):
        return conversation
    out = dict(conversation)
    if "id" not in out and "conversation_id" in out:
        out["id"] = out.pop("conversation_id")
    if "turns" not in out and "transcript" in out:
        out["turns"] = out.pop("transcript")
    if isinstance(out.get("handoff"), dict):
        out.pop("handoff")
    return out


def _csv_conversations(text: str) -> list[dict[str, Any]]:
    """The conversations of a CSV transcript file, in first-appearance order."""
    rows = list(csv.DictReader(text.splitlines()))
    missing = {"conversation_id", "speaker", "text"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"the CSV header lacks {sorted(missing)!r}")
    conversations: dict[str, dict[str, Any]] = {}
    for row in rows:
        conversation = conversations.setdefault(
            row["conversation_id"], {"id": row["conversation_id"], "caller": _caller(row)}
        )
        conversation.setdefault("turns", []).append(_csv_entry(row))
    return list(conversations.values())


def _caller(row: dict[str, str]) -> dict[str, Any]:
    """The channel's facts from a CSV row's optional columns."""
    caller: dict[str, Any] = {}
    if row.get("phone"):
        caller["phone"] = row["phone"]
    if row.get("ivr_authenticated"):
        caller["ivr_authenticated"] = row["ivr_authenticated"].strip().lower() in {"1", "true"}
    if row.get("channel"):
        caller["channel"] = row["channel"]
    return caller


def _csv_entry(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as a transcript entry."""
    entry: dict[str, Any] = {"speaker": row["speaker"].strip(), "text": row["text"]}
    tools = (row.get("tools") or "").strip()
    if tools:
        entry["actions"] = [_csv_action(t) for t in tools.split(";") if t.strip()]
    return entry


def _csv_action(spec: str) -> dict[str, Any]:
    """``tool`` or ``tool:status``."""
    tool, _, status = spec.strip().partition(":")
    return {"tool": tool.strip(), "status": status.strip() or None}
