"""KPIs: what one conversation measured, a suite's contact-center KPIs, and pass^k."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

from vagent.evals.conversation_checks import handoff_reason
from vagent.evals.meter import Meter
from vagent.evals.play import Conversation
from vagent.evals.results import CaseResult, Kpis, Mismatch, TrialMetrics, TrialResult
from vagent.evals.schema import EvalCase


def trial_metrics(
    case: EvalCase, played: Conversation, mismatches: Sequence[Mismatch], meter: Meter
) -> TrialMetrics:
    """What one conversation measured."""
    failed = {m.check for m in mismatches}
    checks = len(case.expect.tool_checks()) + sum(
        len(t.expect.tool_checks()) for t in case.turns[: len(played.replies)]
    )
    grounded = [
        reply
        for turn, reply in zip(case.turns, played.replies, strict=False)
        if turn.expect.citations or turn.expect.grounded
    ]
    return TrialMetrics(
        turns=len(played.replies),
        handoff=handoff_reason(played),
        outcome=played.record.outcome if played.record else None,
        handoff_expected=_handoff_held(case, failed),
        tool_checks=checks,
        tool_checks_met=checks - sum(m.check == "tool_calls" for m in mismatches),
        grounding_expected=len(grounded),
        grounding_met=sum(bool(r.citations) for r in grounded),
        cited_replies=sum(bool(r.citations) for r in played.replies),
        model_calls=meter.calls,
        model_latency_s=round(meter.latency_s, 4),
        input_tokens=meter.input_tokens,
        output_tokens=meter.output_tokens,
    )


def _handoff_held(case: EvalCase, failed: set[str]) -> bool | None:
    """Whether the case's handoff expectations held; None when it states none."""
    stated = case.expect.handoff is not None or any(
        t.expect.handoff is not None for t in case.turns
    )
    return ("handoff" not in failed) if stated else None


def suite_kpis(cases: Sequence[CaseResult]) -> Kpis:
    """The KPIs over every conversation played in a suite."""
    trials = [t for c in cases for t in c.trials if t.status in ("passed", "failed")]
    if not trials:
        return Kpis()
    m = [t.metrics for t in trials]
    stated = [x.handoff_expected for x in m if x.handoff_expected is not None]
    tokens_in = [x.input_tokens for x in m if x.input_tokens is not None]
    tokens_out = [x.output_tokens for x in m if x.output_tokens is not None]
    return Kpis(
        conversations=len(trials),
        containment=_share(sum(x.handoff is None for x in m), len(m)),
        correct_handoff_rate=_share(sum(stated), len(stated)),
        fcr_proxy=_share(sum(_resolved(t) for t in trials), len(trials)),
        avg_turns=_mean([x.turns for x in m]),
        tool_call_accuracy=_share(sum(x.tool_checks_met for x in m), sum(x.tool_checks for x in m)),
        grounding_rate=_share(
            sum(x.grounding_met for x in m), sum(x.grounding_expected for x in m)
        ),
        cited_share=_share(sum(x.cited_replies for x in m), sum(x.turns for x in m)),
        avg_model_calls=_mean([x.model_calls for x in m]),
        avg_model_latency_s=_mean([x.model_latency_s for x in m]),
        avg_input_tokens=_mean(tokens_in) if len(tokens_in) == len(m) else None,
        avg_output_tokens=_mean(tokens_out) if len(tokens_out) == len(m) else None,
    )


def _resolved(trial: TrialResult) -> bool:
    """Resolved by the record and every expectation met."""
    return trial.status == "passed" and trial.metrics.outcome == "resolved"


def pass_hat(cases: Sequence[CaseResult], trials: int) -> list[float]:
    """pass^k for k = 1..trials, by tau-bench's unbiased estimator.

    Cases that were skipped, broken by the simulated caller, or are known to fail (xfail) do
    not count.
    """
    counted = [c for c in cases if c.status not in ("skipped", "caller_broke", "xfailed")]
    if not counted:
        return []
    out: list[float] = []
    for k in range(1, trials + 1):
        chances = [comb(c.passes, k) / comb(len(c.trials), k) for c in counted]
        out.append(round(sum(chances) / len(chances), 4))
    return out


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
