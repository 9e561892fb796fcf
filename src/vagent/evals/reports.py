"""Writing an eval report in every format: JSON, Markdown, HTML and JUnit XML."""

from __future__ import annotations

from pathlib import Path

from vagent.evals.report_html import render_html
from vagent.evals.report_junit import render_junit
from vagent.evals.report_text import render_markdown
from vagent.evals.results import EvalReport

REPORT_FILES = {
    "json": "report.json",
    "markdown": "report.md",
    "html": "report.html",
    "junit": "junit.xml",
}
"""The file each format is written to in the report folder."""


def render_json(report: EvalReport) -> str:
    """The report as JSON (what ``--baseline`` reads back)."""
    return report.model_dump_json(indent=2) + "\n"


def write_reports(report: EvalReport, directory: Path) -> dict[str, Path]:
    """Write every format into ``directory`` (created if missing); returns the paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    renderers = {
        "json": render_json,
        "markdown": render_markdown,
        "html": render_html,
        "junit": render_junit,
    }
    written: dict[str, Path] = {}
    for kind, render in renderers.items():
        path = directory / REPORT_FILES[kind]
        path.write_text(render(report), encoding="utf-8")
        written[kind] = path
    return written
