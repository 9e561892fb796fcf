"""The eval report in every format, and the comparison with a baseline."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.evals.conftest import case_of

from vagent.evals import (
    EvalReport,
    compare_reports,
    load_report,
    render_html,
    render_junit,
    render_markdown,
    render_text,
    write_reports,
)


def test_every_format_is_written_and_the_json_reads_back_as_the_same_report(
    mixed_report: EvalReport, tmp_path: Path
) -> None:
    written = write_reports(mixed_report, tmp_path / "report")

    assert sorted(p.name for p in written.values()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert load_report(written["json"]) == mixed_report


def test_the_terminal_summary_explains_failures_and_says_tokens_were_not_reported(
    mixed_report: EvalReport,
) -> None:
    text = render_text(mixed_report)

    assert text.startswith("vagent eval FAILED: ")
    assert "Input tokens per conversation: not reported by the engine" in text
    assert "FAILED mixed/a-request-alone-is-expected-to-cancel" in text
    assert "turn 1 must_mention: expected the reply to mention 'approved'" in text
    assert "XPASSED mixed/a-fixed-gap-is-still-marked-xfail" in text
    assert "first divergence at turn 2" in text
    assert "mixed/mortgage-insurance-is-answered" not in text


def test_junit_counts_failures_errors_and_skips_per_case(mixed_report: EvalReport) -> None:
    root = ET.fromstring(render_junit(mixed_report))
    suite = root.find("testsuite")
    assert suite is not None
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}

    assert (suite.get("tests"), suite.get("errors"), suite.get("skipped")) == ("9", "1", "3")
    assert failed == {
        "a-request-alone-is-expected-to-cancel",
        "a-fixed-gap-is-still-marked-xfail",
        "replay-recorded-1",
    }


def test_the_html_report_is_self_contained_with_inline_svg_charts(
    mixed_report: EvalReport,
) -> None:
    page = render_html(mixed_report)

    assert page.count("<svg") == 3
    assert "<script" not in page
    assert re.search(r"""(?:src|href)=["']https?:""", page) is None
    assert "Cases by status" in page
    assert "pass^k by suite" in page
    assert "expected the reply to mention &#x27;approved&#x27;" in page


def test_markdown_lists_kpis_and_what_went_wrong(mixed_report: EvalReport) -> None:
    page = render_markdown(mixed_report)

    assert "| Containment (no handoff) |" in page
    assert "### mixed/a-request-alone-is-expected-to-cancel: failed" in page


def test_a_baseline_comparison_names_cases_that_got_worse_or_went_and_those_that_got_better(
    mixed_report: EvalReport,
) -> None:
    baseline = mixed_report.model_copy(deep=True)
    case_of(baseline, "a-request-alone-is-expected-to-cancel").status = "passed"
    case_of(baseline, "mortgage-insurance-is-answered").status = "failed"
    retired = case_of(baseline, "mortgage-insurance-is-answered").model_copy(
        update={"id": "a-retired-case"}
    )
    baseline.suites[0].cases.append(retired)
    baseline.suites[0].kpis.containment = 1.0

    comparison = compare_reports(mixed_report, baseline, source="base.json")
    regressions = {r.name: str(r) for r in comparison.regressions}

    assert regressions["mixed/a-request-alone-is-expected-to-cancel"].endswith(
        "passed (0/2 trials passed) -> failed (0/2 trials passed)"
    )
    assert regressions["mixed/a-retired-case"].endswith("failed -> not run")
    assert regressions["mixed: Containment (no handoff)"].startswith(
        "mixed: Containment (no handoff): 100% -> "
    )
    assert [c.name for c in comparison.improvements] == ["mixed/mortgage-insurance-is-answered"]
