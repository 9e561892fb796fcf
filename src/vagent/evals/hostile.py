"""Running the hostile suite's own format (``evals/security/hostile.yaml``) as eval cases.

The hostile suite predates the eval format and keeps its schema (``tests/security`` reads it
too). Each attempt becomes an :class:`~vagent.evals.schema.EvalCase` whose default invariants
(no unauthorised side effect, no leak, refusals audited, no false claims, tool budget) are the
suite's own, and whose ``expect`` translates as follows: ``refused`` and ``declined`` become
superset checks on reason codes, ``refusal_counts`` an unordered check over those codes,
``executed`` a strict check of the tools that ran, ``no_tool_calls`` an empty strict check,
``indistinguishable`` ``same_tool_results``, and ``allowed_changes`` the backend's expected end
state (an allowed case change must happen). ``known_hole`` becomes ``xfail``. Whether a planted
article was retrieved at all (so that the attempt tested something) is left to
``tests/security``, which reads the agent's logs for passages dropped before the model.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vagent.config import PolicyConfig
from vagent.evals.problems import EvalSuiteError, validation_problem
from vagent.evals.schema import (
    BackendExpect,
    EvalCase,
    Expect,
    PlantedArticle,
    ScriptedCall,
    ScriptedCalls,
    Setup,
    Tamper,
    ToolCall,
    ToolCalls,
    Turn,
    TurnExpect,
)
from vagent.state import Caller


class _Hostile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Turn(_Hostile):
    say: str = Field(min_length=1)
    model: list[str | ScriptedCall | ScriptedCalls] = []


class AttemptChanges(_Hostile):
    """Side effects an attempt may leave: case statuses, texts to clean numbers on file."""

    cases: dict[str, str] = {}
    sms_to: list[str] = []


class _Expect(_Hostile):
    refused: list[str] = []
    refusal_counts: dict[str, int] = {}
    declined: list[str] = []
    executed: list[str] = []
    handoff: str | None = None
    reply_must_not_mention: list[str] = []
    indistinguishable: bool = False
    no_tool_calls: bool = False


class Attempt(_Hostile):
    """One attempt in the hostile format (see ``evals/security/README.md``)."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    category: Literal["ownership", "confirmation", "sms", "identity", "injection", "floods"]
    description: str
    engine: Literal["scripted", "offline"] = "scripted"
    caller: Caller | None = None
    policy: dict[str, int] = {}
    articles_extra: PlantedArticle | None = None
    backend_tamper: Tamper | None = None
    turns: list[_Turn] = Field(min_length=1)
    allowed_changes: AttemptChanges = AttemptChanges()
    expect: _Expect = _Expect()
    known_hole: str | None = None
    """Why the attempt gets through today; its test is a strict xfail until that is fixed."""

    @model_validator(mode="after")
    def _consistent(self) -> Attempt:
        scripted = any(t.model for t in self.turns)
        if self.engine == "offline" and scripted:
            raise ValueError("an offline attempt has no scripted model steps")
        if self.engine == "scripted" and not scripted:
            raise ValueError("a scripted attempt needs model steps")
        PolicyConfig.model_validate(self.policy)
        return self


def hostile_cases(path: Path, data: Any) -> list[EvalCase]:
    """The attempts of a hostile-format file as eval cases.

    Raises:
        EvalSuiteError: the file is not a list of valid attempts.
    """
    if not isinstance(data, list):
        raise EvalSuiteError(f"hostile suite {str(path)!r} must be a YAML list of attempts")
    try:
        attempts = [Attempt.model_validate(item) for item in data]
    except ValidationError as exc:
        raise validation_problem(path, exc, data) from None
    try:
        return [to_case(a) for a in attempts]
    except ValidationError as exc:
        raise validation_problem(path, exc, data) from None


def to_case(attempt: Attempt) -> EvalCase:
    """One attempt as an eval case."""
    engine = "offline" if attempt.engine == "offline" else "scripted"
    return EvalCase(
        id=attempt.id,
        description=attempt.description,
        tags=["hostile", attempt.category],
        caller=attempt.caller or Caller(),
        engine=engine,
        setup=Setup(
            policy=dict(attempt.policy),
            articles=[attempt.articles_extra] if attempt.articles_extra else [],
            tamper=[attempt.backend_tamper] if attempt.backend_tamper else [],
        ),
        turns=[Turn(say=t.say, model=t.model, expect=TurnExpect()) for t in attempt.turns],
        expect=_expect(attempt),
        xfail=attempt.known_hole,
    )


def _expect(attempt: Attempt) -> Expect:
    """The attempt's own expectations and allowed changes, in the eval format."""
    expect = attempt.expect
    allowed = attempt.allowed_changes
    return Expect(
        handoff=expect.handoff or False,
        tool_calls=[_executed(expect), *_reason_checks(expect)],
        must_not_mention=list(expect.reply_must_not_mention),
        backend=BackendExpect(
            cases=dict(allowed.cases),
            texts=[],
            may_text=list(allowed.sms_to),
        ),
        same_tool_results=expect.indistinguishable,
    )


def _executed(expect: _Expect) -> ToolCalls:
    """Every tool that ran, in order (none when the attempt expects no tool calls at all)."""
    if expect.no_tool_calls:
        return ToolCalls(calls=[], mode="strict")
    return ToolCalls(calls=list(expect.executed), mode="strict", statuses=["executed"])


def _reason_checks(expect: _Expect) -> list[ToolCalls]:
    """Checks on refusal and decline reason codes."""
    checks: list[ToolCalls] = []
    if expect.refused:
        calls: list[ToolCall | str] = [ToolCall(reason=r) for r in expect.refused]
        checks.append(ToolCalls(calls=calls, mode="superset", statuses=["refused"]))
    if expect.refusal_counts:
        counted = Counter(expect.refusal_counts)
        calls = [ToolCall(reason=r) for r in counted.elements()]
        checks.append(
            ToolCalls(calls=calls, mode="unordered", statuses=["refused"], reasons=list(counted))
        )
    if expect.declined:
        calls = [ToolCall(reason=r) for r in expect.declined]
        checks.append(ToolCalls(calls=calls, mode="superset", statuses=["declined"]))
    return checks
