"""This run against a baseline report: which cases and KPIs got worse, and which got better.

A case regresses when it passed in the baseline and does not now, or passes fewer trials; a
case the baseline had and this run lacks is named too. Files the run left out are not compared,
and a suite's KPIs only when the run covered the same files. A rate KPI (containment, handoff,
resolution, tool-call accuracy, grounding) regresses when it drops by more than the
tolerance; pass^1 likewise.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from vagent.errors import VagentError
from vagent.evals.format import KPI_LABELS, RATES, kpi_value
from vagent.evals.results import CaseResult, Change, Comparison, EvalReport, SuiteResult

TOLERANCE = 0.02
"""How far a rate may drop before it counts as a regression."""
_GOOD = ("passed", "xfailed")


def load_report(path: Path) -> EvalReport:
    """A JSON report written by an earlier run.

    Raises:
        VagentError: the file is missing or is not a vagent eval report.
    """
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VagentError(f"baseline report {str(path)!r} cannot be read: {exc}") from None
    except ValidationError as exc:
        raise VagentError(
            f"baseline report {str(path)!r} is not a vagent eval JSON report "
            f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']}); pass the "
            "report.json an earlier `vagent eval --report DIR` wrote"
        ) from None


def compare_reports(
    report: EvalReport, baseline: EvalReport, *, source: str, tolerance: float = TOLERANCE
) -> Comparison:
    """What got worse and what got better since ``baseline``."""
    comparison = Comparison(baseline=source)
    now = {c.key: c for c in report.cases}
    # Files this run did not include make a narrower run, not a regression.
    ran = {c.file for c in report.cases}
    for before in baseline.cases:
        if before.file in ran:
            _compare_case(comparison, before, now.get(before.key))
    suites = {s.name: s for s in report.suites}
    for old in baseline.suites:
        new = suites.get(old.name)
        if new is not None and _files(new) == _files(old):
            _compare_suite(comparison, old, new, tolerance)
    return comparison


def _files(suite: SuiteResult) -> set[str]:
    return {c.file for c in suite.cases}


def _compare_case(comparison: Comparison, before: CaseResult, now: CaseResult | None) -> None:
    if now is None:
        comparison.regressions.append(
            Change(kind="missing", name=before.key, baseline=before.status, now="not run")
        )
        return
    was, is_ = _case_text(before), _case_text(now)
    worse = before.status in _GOOD and now.status not in _GOOD
    fewer = _rate(now) < _rate(before)
    if worse or (fewer and now.status not in _GOOD):
        comparison.regressions.append(Change(kind="case", name=now.key, baseline=was, now=is_))
    elif before.status not in _GOOD and now.status in _GOOD:
        comparison.improvements.append(Change(kind="case", name=now.key, baseline=was, now=is_))


def _compare_suite(
    comparison: Comparison, old: SuiteResult, new: SuiteResult, tolerance: float
) -> None:
    before, after = old.kpis.model_dump(), new.kpis.model_dump()
    for name in sorted(RATES):
        if before[name] is None or after[name] is None:
            continue
        item = Change(
            kind="kpi",
            name=f"{new.name}: {KPI_LABELS[name]}",
            baseline=kpi_value(name, before[name]),
            now=kpi_value(name, after[name]),
        )
        if after[name] < before[name] - tolerance:
            comparison.regressions.append(item)
        elif after[name] > before[name] + tolerance:
            comparison.improvements.append(item)
    if old.pass_hat and new.pass_hat and new.pass_hat[0] < old.pass_hat[0] - tolerance:
        comparison.regressions.append(
            Change(
                kind="kpi",
                name=f"{new.name}: pass^1",
                baseline=f"{old.pass_hat[0]:.0%}",
                now=f"{new.pass_hat[0]:.0%}",
            )
        )


def _rate(case: CaseResult) -> float:
    return case.passes / len(case.trials) if case.trials else 0.0


def _case_text(case: CaseResult) -> str:
    return f"{case.status} ({case.passes}/{len(case.trials)} trials passed)"
