"""Evaluating a deployment before it reaches the public: eval suites, a runner and reports.

An eval suite is a YAML file of eval cases (see :mod:`vagent.evals.schema` and
``evals/README.md``): what the caller says, or a simulated caller with a goal, and what must be
true of each turn and of the conversation. Recorded transcripts can be replayed, and the
hostile suite's own format runs as is. Run suites from the command line (``vagent eval``),
from pytest (``pytest --vagent-evals``), or from Python::

    from vagent.evals import RunOptions, evaluate, render_text, write_reports

    report = evaluate(["evals/fha"], RunOptions(trials=3))
    print(render_text(report))
    write_reports(report, Path("eval-report"))
"""

from vagent.evals.compare import compare_reports, load_report
from vagent.evals.harness import EngineOptions
from vagent.evals.load import LoadedCase, Suite, load_suites
from vagent.evals.problems import EvalSuiteError
from vagent.evals.report_html import render_html
from vagent.evals.report_junit import render_junit
from vagent.evals.report_text import render_markdown, render_text
from vagent.evals.reports import render_json, write_reports
from vagent.evals.results import CaseResult, EvalReport, Mismatch, SuiteResult, TrialResult
from vagent.evals.runner import CaseRunner, RunOptions, evaluate, run_paths, run_suites
from vagent.evals.schema import EvalCase, SuiteFile, suite_json_schema

__all__ = [
    "CaseResult",
    "CaseRunner",
    "EngineOptions",
    "EvalCase",
    "EvalReport",
    "EvalSuiteError",
    "LoadedCase",
    "Mismatch",
    "RunOptions",
    "Suite",
    "SuiteFile",
    "SuiteResult",
    "TrialResult",
    "compare_reports",
    "evaluate",
    "load_report",
    "load_suites",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_text",
    "run_paths",
    "run_suites",
    "suite_json_schema",
    "write_reports",
]
