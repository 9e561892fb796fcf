"""The eval report as terminal text and as Markdown."""

from __future__ import annotations

from vagent.evals.format import (
    counts_text,
    headline,
    kpi_rows,
    pass_hat_text,
    problem_trials,
    trial_lines,
)
from vagent.evals.results import CaseResult, Comparison, EvalReport


def render_text(report: EvalReport) -> str:
    """A short summary for the terminal: suites, KPIs, failures explained, regressions."""
    lines = [headline(report), ""]
    for suite in report.suites:
        lines.append(f"{suite.name}: {counts_text(suite)}; {pass_hat_text(suite)}")
        lines.extend(f"  {label}: {value}" for label, value in kpi_rows(suite.kpis))
        lines.append("")
    for case in report.cases:
        lines.extend(_case_lines(case))
    if report.comparison is not None:
        lines.extend(_comparison_lines(report.comparison))
    return "\n".join(lines).rstrip() + "\n"


def _case_lines(case: CaseResult) -> list[str]:
    if case.status in ("passed", "xfailed"):
        return []
    lines = [f"{case.status.upper()} {case.key} ({case.file})"]
    if case.status == "xpassed":
        lines.append(f"  marked xfail ({case.xfail}) but passed: remove xfail")
    for trial in problem_trials(case):
        lines.extend(f"  {line}" for line in trial_lines(trial))
    return [*lines, ""]


def _comparison_lines(comparison: Comparison) -> list[str]:
    lines = [f"Against baseline {comparison.baseline}:"]
    if not comparison.regressions:
        lines.append("  no regressions")
    lines.extend(f"  REGRESSION {r}" for r in comparison.regressions)
    lines.extend(f"  improved {r}" for r in comparison.improvements)
    return lines


def render_markdown(report: EvalReport) -> str:
    """The report as Markdown: a summary table, KPIs per suite, failures, regressions."""
    out = [f"# vagent eval report\n\n{headline(report)}\n", "## Suites\n"]
    out.append("| suite | cases | pass^k |\n| --- | --- | --- |")
    out += [f"| {s.name} | {counts_text(s)} | {pass_hat_text(s)} |" for s in report.suites]
    for suite in report.suites:
        out.append(f"\n## {suite.name}: KPIs\n\n| KPI | value |\n| --- | --- |")
        out += [f"| {label} | {value} |" for label, value in kpi_rows(suite.kpis)]
        out.append("\n| case | status | passes | description |\n| --- | --- | --- | --- |")
        out += [
            f"| {c.id} | {c.status} | {c.passes}/{len(c.trials)} | {_cell(c.description)} |"
            for c in suite.cases
        ]
    failing = [c for c in report.cases if c.status not in ("passed", "xfailed")]
    if failing:
        out.append("\n## What went wrong\n")
        for case in failing:
            out.append(f"### {case.key}: {case.status}\n")
            for trial in problem_trials(case):
                out += [f"- {_cell(line)}" for line in trial_lines(trial)]
            out.append("")
    if report.comparison is not None:
        out.append("\n## Against the baseline\n")
        out += [f"- {line.strip()}" for line in _comparison_lines(report.comparison)[1:]]
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
