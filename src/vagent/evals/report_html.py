"""The eval report as one self-contained HTML page: inline CSS and SVG charts, no script."""

from __future__ import annotations

from html import escape

from vagent.evals.format import (
    KPI_LABELS,
    RATES,
    counts_text,
    headline,
    kpi_rows,
    pass_hat_text,
    trial_lines,
)
from vagent.evals.results import (
    CaseResult,
    Comparison,
    EvalReport,
    SuiteResult,
    TrialResult,
    TurnLog,
)
from vagent.evals.svg import STATUS_COLOURS, bars, lines, stacked

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#263238}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #cfd8dc}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #cfd8dc;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#eceff1}.charts{display:flex;flex-wrap:wrap;
gap:1.5rem}.badge{color:#fff;border-radius:3px;padding:0 .4rem;font-size:.85em}
.turn{margin:.25rem 0 .25rem 1rem}.caller{color:#37474f}.agent{color:#0d47a1}
.meta{color:#607d8b;font-size:.85em}ul.problems{color:#b71c1c}details{margin:.2rem 0}
"""


def render_html(report: EvalReport) -> str:
    """The whole report as an HTML document."""
    body = [
        f"<h1>vagent eval report</h1><p><strong>{escape(headline(report))}</strong></p>",
        f'<p class="meta">{escape(report.created_at.isoformat(timespec="seconds"))} · vagent '
        f"{escape(report.vagent_version)}</p>",
        _charts(report),
    ]
    if report.comparison is not None:
        body.append(_comparison(report.comparison))
    body += [_suite(s) for s in report.suites]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>vagent eval report</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def _charts(report: EvalReport) -> str:
    counts = [
        (s.name, {status: s.count(status) for status in STATUS_COLOURS}) for s in report.suites
    ]
    charts = [stacked("Cases by status", counts)]
    charts.append(lines("pass^k by suite", [(s.name, s.pass_hat) for s in report.suites]))
    for suite in report.suites:
        values = suite.kpis.model_dump()
        rows = [(KPI_LABELS[name], values[name]) for name in KPI_LABELS if name in RATES]
        charts.append(bars(f"{suite.name}: KPIs", rows))
    return '<div class="charts">' + "".join(charts) + "</div>"


def _comparison(comparison: Comparison) -> str:
    items = [
        f"<li><strong>regression</strong> {escape(str(r))}</li>" for r in comparison.regressions
    ]
    items += [f"<li>improved {escape(str(r))}</li>" for r in comparison.improvements]
    if not comparison.regressions:
        items.insert(0, "<li>no regressions</li>")
    return (
        f"<h2>Against the baseline</h2><p>{escape(comparison.baseline)}</p><ul>"
        + "".join(items)
        + "</ul>"
    )


def _suite(suite: SuiteResult) -> str:
    kpis = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in kpi_rows(suite.kpis)
    )
    cases = "".join(_case(c) for c in suite.cases)
    return (
        f"<h2>{escape(suite.name)}</h2><p>{escape(counts_text(suite))}; "
        f"{escape(pass_hat_text(suite))}</p><table>{kpis}</table><h3>Cases</h3>{cases}"
    )


def _case(case: CaseResult) -> str:
    colour = STATUS_COLOURS.get(case.status, "#607d8b")
    badge = f'<span class="badge" style="background:{colour}">{escape(case.status)}</span>'
    summary = (
        f"{badge} <strong>{escape(case.id)}</strong> {case.passes}/{len(case.trials)} · "
        f"{escape(case.description)}"
    )
    opened = " open" if case.status not in ("passed", "xfailed", "skipped") else ""
    trials = "".join(_trial(t) for t in case.trials)
    tags = f'<p class="meta">tags: {escape(", ".join(case.tags))} · {escape(case.file)}</p>'
    return f"<details{opened}><summary>{summary}</summary>{tags}{trials}</details>"


def _trial(trial: TrialResult) -> str:
    problems = ""
    if trial.status != "passed":
        items = "".join(f"<li>{escape(line)}</li>" for line in trial_lines(trial))
        problems = f'<ul class="problems">{items}</ul>'
    m = trial.metrics
    meta = (
        f'<p class="meta">trial {trial.trial}: {escape(trial.status)} · {m.turns} turns · '
        f"{m.model_calls} model calls · {trial.seconds:.2f} s</p>"
    )
    turns = "".join(
        f'<div class="turn"><span class="caller">caller: {escape(t.caller)}</span><br>'
        f'<span class="agent">agent: {escape(t.reply)}</span>{_turn_meta(t)}</div>'
        for t in trial.turns
    )
    return meta + problems + turns


def _turn_meta(turn: TurnLog) -> str:
    bits: list[str] = []
    if turn.citations:
        bits.append("cited " + ", ".join(turn.citations))
    bits += turn.actions
    if turn.pending:
        bits.append(f"awaiting yes: {turn.pending}")
    if turn.handoff:
        bits.append(f"handoff: {turn.handoff}")
    return f'<br><span class="meta">{escape(" · ".join(bits))}</span>' if bits else ""
