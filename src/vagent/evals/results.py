"""The eval report's data: mismatches, trials, cases, suites and their KPIs.

These are the shapes of the JSON report (``report.json``), which a later run reads back as its
baseline, so every field is plain data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TrialStatus = Literal["passed", "failed", "error", "caller_broke", "skipped"]
CaseStatus = Literal["passed", "failed", "error", "caller_broke", "skipped", "xfailed", "xpassed"]
FAILING: frozenset[str] = frozenset({"failed", "error", "xpassed"})
"""Case statuses that fail the run."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Mismatch(_Data):
    """One expectation that did not hold, and why."""

    check: str
    """The expectation (``must_mention``, ``tool_calls``, ``backend``...)."""
    turn: int | None = None
    """The turn it belongs to; None for the whole conversation."""
    expected: str
    """What the case expected."""
    actual: str
    """What happened."""

    def __str__(self) -> str:
        where = f"turn {self.turn}" if self.turn is not None else "conversation"
        return f"{where} {self.check}: expected {self.expected}; actual: {self.actual}"


class TurnLog(_Data):
    """One turn as it happened."""

    turn: int
    """The turn number, from 1."""
    caller: str
    """What the caller said."""
    reply: str
    """What the agent said."""
    citations: list[str] = []
    """Article ids the reply cited."""
    actions: list[str] = []
    """The turn's tool actions, described."""
    handoff: str | None = None
    """The handoff reason, if the turn handed off."""
    pending: str | None = None
    """The tool awaiting the caller's yes after the turn."""


class TrialMetrics(_Data):
    """What one conversation measured, for the suite's KPIs."""

    turns: int = 0
    """Caller turns taken."""
    handoff: str | None = None
    """The handoff reason, if the conversation handed off."""
    outcome: str | None = None
    """The conversation record's outcome."""
    handoff_expected: bool | None = None
    """Whether the case states a handoff expectation and it held (None: states none)."""
    tool_checks: int = 0
    """Tool-call expectations checked."""
    tool_checks_met: int = 0
    """Tool-call expectations that held."""
    grounding_expected: int = 0
    """Turns whose reply had to cite a passage."""
    grounding_met: int = 0
    """Those turns whose reply did."""
    cited_replies: int = 0
    """Replies citing at least one passage."""
    model_calls: int = 0
    """Calls to the agent's chat model."""
    model_latency_s: float = 0.0
    """Seconds spent in those calls."""
    input_tokens: int | None = None
    """Tokens sent, as the model reported them; None when it reported none."""
    output_tokens: int | None = None
    """Tokens received, as the model reported them; None when it reported none."""


class TrialResult(_Data):
    """One run of one case."""

    trial: int
    """The trial number, from 1."""
    status: TrialStatus
    """passed, failed, error (the case could not be played), caller_broke (the simulated
    caller, not the agent, broke the conversation) or skipped."""
    mismatches: list[Mismatch] = []
    """Every expectation that did not hold."""
    note: str = ""
    """Why the trial errored, was skipped, or what the simulated caller did wrong."""
    turns: list[TurnLog] = []
    """The conversation."""
    metrics: TrialMetrics = TrialMetrics()
    """What the conversation measured."""
    seconds: float = 0.0
    """Wall-clock time of the trial."""

    @property
    def first_divergence(self) -> int | None:
        """The first turn with a mismatch (for replays: where the agent diverged)."""
        turns = [m.turn for m in self.mismatches if m.turn is not None]
        return min(turns) if turns else None


class CaseResult(_Data):
    """Every trial of one eval case."""

    suite: str
    """The suite's name."""
    id: str
    """The case id."""
    file: str
    """The file the case came from."""
    description: str = ""
    """What the case shows."""
    tags: list[str] = []
    """Its tags."""
    xfail: str | None = None
    """Why the case is expected to fail, if it is."""
    status: CaseStatus
    """The case's status over its trials."""
    trials: list[TrialResult]
    """Each trial."""

    @property
    def key(self) -> str:
        """``suite/case-id``."""
        return f"{self.suite}/{self.id}"

    @property
    def passes(self) -> int:
        """Trials that passed."""
        return sum(t.status == "passed" for t in self.trials)


class Kpis(_Data):
    """Contact-center KPIs of one suite, over every conversation played."""

    conversations: int = 0
    """Conversations counted (skipped and errored trials are not)."""
    containment: float | None = None
    """Share of conversations that ended without a handoff."""
    correct_handoff_rate: float | None = None
    """Share of conversations whose case states a handoff expectation (to hand off, why, or
    not to) in which the agent did as expected."""
    fcr_proxy: float | None = None
    """First-contact resolution proxy: share of conversations the record calls resolved and
    whose every expectation held."""
    avg_turns: float | None = None
    """Caller turns per conversation."""
    tool_call_accuracy: float | None = None
    """Share of tool-call expectations that held."""
    grounding_rate: float | None = None
    """Share of replies that had to cite a passage and did."""
    cited_share: float | None = None
    """Share of all replies that cite a passage (answered from passages)."""
    avg_model_calls: float | None = None
    """Model calls per conversation."""
    avg_model_latency_s: float | None = None
    """Seconds in the model per conversation."""
    avg_input_tokens: float | None = None
    """Tokens sent per conversation; None when the engine reports no usage (the offline
    engine and scripted models do not)."""
    avg_output_tokens: float | None = None
    """Tokens received per conversation; None when the engine reports no usage."""


class SuiteResult(_Data):
    """One suite's cases, KPIs and pass^k."""

    name: str
    """The suite's name."""
    cases: list[CaseResult]
    """Its cases."""
    kpis: Kpis
    """Its KPIs."""
    pass_hat: list[float] = []
    """pass^k for k = 1..trials: the chance that k trials of a case all pass, averaged over
    cases (tau-bench's estimator; with k = trials, the share of cases passing every trial)."""

    def count(self, status: str) -> int:
        """Cases with ``status``."""
        return sum(c.status == status for c in self.cases)


class Change(_Data):
    """A difference from the baseline report."""

    kind: Literal["case", "kpi", "missing"]
    """A case that got worse, a KPI that dropped, or a case the run no longer has."""
    name: str
    """The case key or ``suite: kpi``."""
    baseline: str
    """What the baseline had."""
    now: str
    """What this run has."""

    def __str__(self) -> str:
        return f"{self.name}: {self.baseline} -> {self.now}"


class Comparison(_Data):
    """This run against a baseline report."""

    baseline: str
    """The baseline report's path."""
    regressions: list[Change] = []
    """What got worse."""
    improvements: list[Change] = []
    """What got better."""


class EvalReport(_Data):
    """Everything one ``vagent eval`` run found."""

    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """When the run finished (UTC)."""
    vagent_version: str = ""
    """The vagent version that ran."""
    model: str = "offline"
    """The agent's model for cases on the default engine."""
    trials: int = 1
    """Trials per case."""
    seconds: float = 0.0
    """Wall-clock time of the run."""
    suites: list[SuiteResult] = []
    """Each suite."""
    comparison: Comparison | None = None
    """This run against ``--baseline``, if given."""

    @property
    def cases(self) -> list[CaseResult]:
        """Every case of every suite."""
        return [c for s in self.suites for c in s.cases]

    @property
    def failing(self) -> list[CaseResult]:
        """Cases that fail the run."""
        return [c for c in self.cases if c.status in FAILING]

    @property
    def passed(self) -> bool:
        """No case fails and nothing regressed against the baseline."""
        regressed = self.comparison is not None and bool(self.comparison.regressions)
        return not self.failing and not regressed
