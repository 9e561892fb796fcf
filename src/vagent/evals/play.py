"""Playing one eval case through its bench and keeping everything the checks read.

Scripted turns are said one by one; a scripted model must be called exactly as often as the
turn scripts it, or the case (not the agent) is wrong and the trial errors. A simulated caller
is played by :mod:`vagent.evals.simulate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vagent.backends.base import Case, SentMessage
from vagent.backends.sqlite import SQLiteBackend
from vagent.errors import VagentError
from vagent.evals.harness import Bench
from vagent.evals.schema import EvalCase
from vagent.records import AuditEntry
from vagent.state import ConversationRecord, Reply


class CaseProblem(VagentError):
    """The eval case cannot be played as written (for example, its model script is short)."""


@dataclass(frozen=True)
class BackendState:
    """The cases and outbox at one moment."""

    cases: dict[str, Case | None]
    outbox: list[SentMessage]


@dataclass
class Conversation:
    """One trial's conversation, as the checks see it."""

    said: list[str] = field(default_factory=list)
    """What the caller said, turn by turn."""
    replies: list[Reply] = field(default_factory=list)
    """The agent's replies, turn by turn."""
    record: ConversationRecord | None = None
    """The record ``agent.end`` wrote."""
    audit: list[AuditEntry] = field(default_factory=list)
    """The conversation's audit log."""
    before: BackendState = field(default_factory=lambda: BackendState({}, []))
    """Cases and outbox before the first turn."""
    after: BackendState = field(default_factory=lambda: BackendState({}, []))
    """Cases and outbox after the conversation ended."""
    model_inputs: list[str] = field(default_factory=list)
    """Everything the agent's model was shown."""
    article_titles: dict[str, str] = field(default_factory=dict)
    """The deployment's article titles by id."""
    caller_problem: str | None = None
    """What the simulated caller did wrong, if anything."""


async def snapshot(backend: SQLiteBackend, case_ids: Iterable[str]) -> BackendState:
    """The named cases and the whole outbox, now."""
    cases = {case_id: await backend.get_case(case_id) for case_id in sorted(set(case_ids))}
    return BackendState(cases, await backend.outbox())


def tracked_cases(case: EvalCase, bench: Bench) -> list[str]:
    """Cases whose state the checks compare: every seeded case and every case expected."""
    seeded = [str(k["case_id"]) for k in bench.seed.get("cases", [])]
    named = list(case.expect.backend.cases) if case.expect.backend else []
    return seeded + named


async def play_turns(case: EvalCase, bench: Bench, conversation_id: str) -> Conversation:
    """Say the case's turns, end the conversation, and read what it left."""
    tracked = tracked_cases(case, bench)
    played = Conversation(before=await snapshot(bench.backend, tracked))
    steps = 0
    for n, turn in enumerate(case.turns, start=1):
        reply = await bench.agent.run(conversation_id, turn.say, caller=case.caller)
        played.said.append(turn.say)
        played.replies.append(reply)
        steps += len(turn.model)
        _check_script(bench, n, steps)
    await finish(bench, conversation_id, played, tracked)
    return played


async def finish(
    bench: Bench, conversation_id: str, played: Conversation, tracked: list[str]
) -> None:
    """End the conversation and read its record, audit log and the backend's end state."""
    if played.replies:
        played.record = await bench.agent.end(conversation_id)
    played.audit = await bench.agent.audit_log(conversation_id)
    played.after = await snapshot(bench.backend, tracked)
    played.model_inputs = list(bench.meter.inputs)
    played.article_titles = bench.titles


def _check_script(bench: Bench, turn: int, steps: int) -> None:
    """A scripted model was called once per step scripted up to this turn."""
    model = bench.scripted
    if model is None or (model.position, len(model.received)) == (steps, steps):
        return
    raise CaseProblem(
        f"turn {turn} called the scripted model {len(model.received)} times in all, but the "
        f"case scripts {steps} steps up to it; give each turn one step per model call "
        "(a tool call, then the reply after the tool results)"
    )
