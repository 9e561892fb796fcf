"""examples/evals.ipynb runs headless: it evaluates a suite and shows the report."""

from __future__ import annotations

import pytest
from tests.test_notebooks import _executed, _printed


@pytest.mark.slow
def test_the_evals_notebook_runs_a_suite_and_shows_the_report() -> None:
    notebook = _executed("evals.ipynb")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    printed = "\n".join(_printed(cell) for cell in code)
    shown = [
        output["data"]["text/html"]
        for output in code[-2].get("outputs", [])
        if output.get("output_type") == "execute_result"
    ]

    assert "vagent eval PASSED: 4/4 cases as expected" in printed
    assert "pass^1 100% · pass^2 100%" in printed
    assert "Input tokens per conversation: not reported by the engine" in printed
    assert "action: cancel_case(case_id='12345') executed (confirmed)" in printed
    assert "fha/michelle-cancels-her-application-and-gets-a-text: failed" in printed
    assert "actual: case 12345 is 'open'" in printed
    assert len(shown) == 1
    assert shown[0].count("<svg") == 3
