"""A deliberately broken agent fails the shipped eval cases, and says why."""

from __future__ import annotations

import asyncio

from tests.conftest import ROOT
from tests.evals.conftest import case_of

from vagent.evals import EngineOptions, RunOptions, load_suites, run_suites
from vagent.testing import ScriptedModel

SCENARIOS = ROOT / "evals" / "fha" / "eval_scenarios.yaml"


def _claims_success() -> ScriptedModel:
    """A model that never calls a tool and says the job is done."""
    return ScriptedModel(script=["Done. Your case 12345 is now cancelled. Goodbye."] * 20)


def test_an_agent_that_claims_success_without_acting_fails_with_explanations() -> None:
    suites = load_suites([SCENARIOS])
    options = RunOptions(engine=EngineOptions(model=_claims_success))

    report = asyncio.run(run_suites(suites, options))
    michelle = case_of(report, "michelle-cancels-her-application-and-gets-a-text")
    explained = [str(m) for m in michelle.trials[0].mismatches]

    assert not report.passed
    assert {c.status for c in report.cases} == {"failed"}
    assert (
        "turn 2 tool_calls: expected [cancel_case(case_id='12345') executed] (strict, arguments "
        "subset); actual: the agent's actions were []; missing: [cancel_case(case_id='12345') "
        "executed]"
    ) in explained
    assert "conversation backend: expected case 12345 cancelled; actual: case 12345 is 'open'" in (
        explained
    )
    assert any(
        e.startswith("turn 1 must_mention: expected the reply to mention 'cancel case")
        for e in explained
    )
    assert any("a text to 555-555-1212" in e for e in explained)
