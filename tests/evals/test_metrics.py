"""Model metering and suite KPIs: tokens are counted when the model reports them, never faked."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from vagent.evals.meter import Meter
from vagent.evals.metrics import suite_kpis
from vagent.evals.results import CaseResult, TrialMetrics, TrialResult
from vagent.testing import ScriptedModel


def test_the_meter_counts_calls_and_the_tokens_a_model_reports() -> None:
    usage = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    model = ScriptedModel(script=[AIMessage("Hello.", usage_metadata=usage), "Bye."])
    meter = Meter()
    model.callbacks = [meter]

    model.invoke("Hi")
    model.invoke("Thanks")

    assert meter.calls == 2
    assert (meter.input_tokens, meter.output_tokens) == (120, 30)
    assert meter.latency_s > 0
    assert meter.inputs == ["Hi", "Thanks"]


def test_a_model_that_reports_no_usage_leaves_tokens_unknown() -> None:
    model = ScriptedModel(script=["Hello."])
    meter = Meter()
    model.callbacks = [meter]

    model.invoke("Hi")

    assert (meter.input_tokens, meter.output_tokens) == (None, None)


def _played(handoff: str | None, tokens: int | None, *, passed: bool = True) -> CaseResult:
    metrics = TrialMetrics(
        turns=2,
        handoff=handoff,
        outcome="handed_off" if handoff else "resolved",
        handoff_expected=True,
        input_tokens=tokens,
        output_tokens=tokens,
        model_calls=3,
    )
    trial = TrialResult(trial=1, status="passed" if passed else "failed", metrics=metrics)
    status = "passed" if passed else "failed"
    return CaseResult(suite="s", id="c", file="f", status=status, trials=[trial])


def test_suite_kpis_average_over_conversations_and_report_tokens_only_when_all_have_them() -> None:
    reported = suite_kpis([_played(None, 100), _played("caller_request", 300, passed=False)])
    partly = suite_kpis([_played(None, 100), _played(None, None)])

    assert (reported.containment, reported.fcr_proxy, reported.avg_turns) == (0.5, 0.5, 2.0)
    assert reported.avg_input_tokens == 200.0
    assert partly.avg_input_tokens is None
