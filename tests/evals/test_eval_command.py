"""`vagent eval`: exit status, summary, report files and the baseline comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evals.conftest import SuiteWriter

from vagent.cli import main
from vagent.evals import suite_json_schema

ANSWERED = {
    "id": "mortgage-insurance-is-answered",
    "turns": [
        {"say": "How does FHA mortgage insurance work?", "expect": {"citations": ["fha-mip"]}}
    ],
}
MISCITED = {
    "id": "mortgage-insurance-is-answered",
    "turns": [
        {"say": "How does FHA mortgage insurance work?", "expect": {"citations": ["fha-hecm"]}}
    ],
}


def test_the_schema_option_prints_the_suite_format(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval", "--schema"])

    assert status == 0
    assert json.loads(capsys.readouterr().out) == suite_json_schema()


def test_without_a_path_the_command_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval"])

    assert status == 2
    assert "vagent eval needs a PATH" in capsys.readouterr().err


def test_a_failing_case_exits_non_zero_explains_itself_and_still_writes_reports(
    write_suite: SuiteWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write_suite([MISCITED])
    junit = tmp_path / "ci" / "junit.xml"

    status = main(
        [
            "eval",
            str(suite),
            "--report",
            str(tmp_path / "r"),
            "--junit",
            str(junit),
            "--no-progress",
        ]
    )

    out = capsys.readouterr().out
    assert status == 1
    assert "turn 1 citations: expected citations of ['fha-hecm']; actual: the reply cited" in out
    assert junit.is_file()
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]


def test_a_case_that_passed_in_the_baseline_and_fails_now_is_a_regression(
    write_suite: SuiteWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = main(["eval", str(write_suite([ANSWERED])), "--report", str(tmp_path / "base")])
    baseline = tmp_path / "base" / "report.json"

    second = main(["eval", str(write_suite([MISCITED])), "--baseline", str(baseline)])

    out = capsys.readouterr().out
    assert (first, second) == (0, 1)
    assert f"Against baseline {baseline}:" in out
    assert (
        "REGRESSION t/mortgage-insurance-is-answered: passed (1/1 trials passed) -> failed" in out
    )
