"""What the copilot shows the live agent: suggestions, prepared actions, passages, answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from vagent.state import Citation, IdentityStatus


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreparedAction(_Data):
    """A tool call the copilot filled in and checked, waiting for the live agent's approval."""

    action_id: str
    """Pass it to ``Copilot.approve``; the same tool and arguments keep the same id."""
    tool: str
    """The tool that would run."""
    args: dict[str, Any]
    """The exact arguments, with the caller's real values: this is the live agent's screen."""
    rendering: str
    """Plain language: what to confirm with the caller, what is missing, or why it is refused."""
    allowed: bool
    """Whether the policy gate lets it run once the live agent approves."""
    reason: str
    """The gate's reason code (needs_confirmation, allowed, not_found, ...), or
    missing_arguments."""
    missing: list[str] = []
    """Required arguments nobody has said yet."""
    irreversible: bool = False
    """Whether the action cannot be undone; the live agent confirms it with the caller first."""
    turn: int
    """The turn it was first prepared in."""


class SuggestedPassage(_Data):
    """A knowledge passage relevant to the conversation so far."""

    citation: Citation
    """Where the passage comes from."""
    text: str
    """The passage."""
    score: float
    """Similarity to the conversation (cosine, higher is closer)."""


class Answer(_Data):
    """The best passage answering a question asked on the call."""

    text: str
    """The sentences of the passage that answer the question."""
    citation: Citation
    """Where they come from."""
    score: float
    """Similarity of the passage to the question."""


class Suggestions(_Data):
    """What the copilot suggests after one turn of the live call."""

    conversation_id: str
    """The conversation."""
    turn: int
    """The caller turn the suggestions follow."""
    intent: str | None = None
    """What the caller wants: a tool name, or ``"question: <article title>"``."""
    articles: list[SuggestedPassage] = []
    """Passages relevant to what the caller said last, best first."""
    next_action: PreparedAction | None = None
    """The next best action, prepared and checked by the policy gate."""
    answer: Answer | None = None
    """An answer to a question asked in this turn, with its citation."""
    identity_status: IdentityStatus = "anonymous"
    """How far the caller's identity is established."""
    sentiment: float = 0.0
    """The caller's sentiment over their last three turns, from -1 to 1."""


def format_suggestions(suggestions: Suggestions) -> str:
    """The suggestions as a few lines of plain text, for a terminal or a log of the demo.

    The text carries the caller's data (case numbers, the prepared action): show it to the
    live agent, never write it to the library's logs.
    """
    lines = [
        f"intent: {suggestions.intent or '-'}   identity: {suggestions.identity_status}   "
        f"sentiment: {suggestions.sentiment:+.2f}"
    ]
    action = suggestions.next_action
    if action is not None:
        verdict = "ready to approve" if action.allowed else f"not allowed: {action.reason}"
        lines.append(
            f"next action [{action.action_id}] {action.tool} ({verdict}): {action.rendering}"
        )
    for passage in suggestions.articles:
        lines.append(f"article: {_cite(passage.citation)} ({passage.score:.2f})")
    if suggestions.answer is not None:
        lines.append(f"answer: {suggestions.answer.text} [{_cite(suggestions.answer.citation)}]")
    return "\n".join(lines)


def _cite(citation: Citation) -> str:
    """An article title with its section."""
    return f"{citation.title} - {citation.section}" if citation.section else citation.title
