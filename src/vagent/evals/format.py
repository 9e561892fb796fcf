"""Words and numbers shared by every report format."""

from __future__ import annotations

from vagent.evals.results import CaseResult, EvalReport, Kpis, SuiteResult, TrialResult

NOT_REPORTED = "not reported by the engine"
KPI_LABELS: dict[str, str] = {
    "containment": "Containment (no handoff)",
    "correct_handoff_rate": "Correct handoff rate",
    "fcr_proxy": "First-contact resolution (proxy)",
    "avg_turns": "Average turns",
    "tool_call_accuracy": "Tool-call accuracy",
    "grounding_rate": "Grounding rate",
    "cited_share": "Replies citing a passage",
    "avg_model_calls": "Model calls per conversation",
    "avg_model_latency_s": "Model latency per conversation (s)",
    "avg_input_tokens": "Input tokens per conversation",
    "avg_output_tokens": "Output tokens per conversation",
}
RATES = frozenset(
    {
        "containment",
        "correct_handoff_rate",
        "fcr_proxy",
        "tool_call_accuracy",
        "grounding_rate",
        "cited_share",
    }
)
"""KPIs that are shares of 0..1, where higher is better."""
STATUS_ORDER = ("failed", "error", "xpassed", "caller_broke", "skipped", "xfailed", "passed")


def kpi_value(name: str, value: float | None) -> str:
    """One KPI for people: a percentage, a number, or why there is none."""
    if value is None:
        if name in ("avg_input_tokens", "avg_output_tokens"):
            return NOT_REPORTED
        return "n/a"
    if name in RATES:
        return f"{value:.0%}"
    if name == "avg_model_latency_s":
        return f"{value:.3f}"
    return f"{value:.1f}" if name != "avg_model_calls" else f"{value:.2f}"


def kpi_rows(kpis: Kpis) -> list[tuple[str, str]]:
    """(label, value) for each KPI."""
    values = kpis.model_dump()
    return [(label, kpi_value(name, values[name])) for name, label in KPI_LABELS.items()]


def pass_hat_text(suite: SuiteResult) -> str:
    """``pass^1 100% · pass^2 95%``."""
    return " · ".join(f"pass^{k} {v:.0%}" for k, v in enumerate(suite.pass_hat, start=1))


def counts_text(suite: SuiteResult) -> str:
    """``21 passed, 1 failed``."""
    parts = [f"{suite.count(s)} {s}" for s in STATUS_ORDER if suite.count(s)]
    return ", ".join(parts) or "no cases"


def headline(report: EvalReport) -> str:
    """One line on the whole run."""
    cases = report.cases
    passed = sum(c.status in ("passed", "xfailed") for c in cases)
    verdict = "PASSED" if report.passed else "FAILED"
    return (
        f"vagent eval {verdict}: {passed}/{len(cases)} cases as expected in "
        f"{len(report.suites)} suite(s); {report.trials} trial(s) each; model {report.model}; "
        f"{report.seconds:.1f} s"
    )


def problem_trials(case: CaseResult) -> list[TrialResult]:
    """The trials worth explaining: not passed."""
    return [t for t in case.trials if t.status != "passed"]


def trial_lines(trial: TrialResult) -> list[str]:
    """What went wrong in one trial, one line each."""
    lines = [f"trial {trial.trial}: {trial.status}" + (f" ({trial.note})" if trial.note else "")]
    if trial.first_divergence is not None:
        lines.append(f"first divergence at turn {trial.first_divergence}")
    lines.extend(str(m) for m in trial.mismatches)
    return lines
