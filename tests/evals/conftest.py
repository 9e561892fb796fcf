"""Shared eval fixtures: suite files written on the fly, and one mixed run reused by tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import FHA

from vagent.evals import EvalReport, RunOptions, evaluate

SuiteWriter = Callable[..., Path]

MICHELLE = {"phone": "555-555-1212", "ivr_authenticated": True}
CANCEL = {"tool": "cancel_case", "args": {"case_id": "12345"}}

MIXED_CASES: list[dict[str, Any]] = [
    {
        "id": "mortgage-insurance-is-answered",
        "turns": [
            {
                "say": "How does FHA mortgage insurance work?",
                "expect": {"must_mention": ["annual premium"], "citations": ["fha-mip"]},
            }
        ],
        "expect": {"handoff": False, "outcome": "resolved"},
    },
    {
        "id": "michelle-cancels-on-a-fresh-backend",
        "caller": MICHELLE,
        "turns": [
            {"say": "I'd like to cancel my loan application."},
            {"say": "Yes."},
        ],
        "expect": {"backend": {"cases": {"12345": "cancelled"}}},
    },
    {
        "id": "a-request-alone-is-expected-to-cancel",
        "caller": MICHELLE,
        "turns": [
            {
                "say": "I'd like to cancel my loan application.",
                "expect": {
                    "must_mention": ["approved"],
                    "tool_calls": {"calls": [{**CANCEL, "status": "executed"}]},
                },
            }
        ],
        "expect": {"backend": {"cases": {"12345": "cancelled"}}},
    },
    {
        "id": "the-weather-is-known-to-be-answered",
        "xfail": "the weather is out of scope, so this expectation cannot hold",
        "turns": [{"say": "What's the weather today?", "expect": {"grounded": True}}],
    },
    {
        "id": "a-fixed-gap-is-still-marked-xfail",
        "xfail": "stale mark",
        "turns": [{"say": "Can I speak to a representative?", "expect": {"handoff": True}}],
    },
    {
        "id": "a-caller-who-hangs-up-at-the-confirmation",
        "caller": MICHELLE,
        "simulated_caller": {
            "persona": "Michelle, in a hurry.",
            "goal": "Cancel her application.",
            "script": ["I'd like to cancel my loan application. [DONE]"],
        },
        "expect": {"backend": {"cases": {"12345": "cancelled"}}},
    },
    {
        "id": "a-simulated-caller-without-a-model",
        "simulated_caller": {"persona": "Anyone.", "goal": "Ask about FHA loans."},
    },
    {
        "id": "a-script-one-step-short",
        "caller": MICHELLE,
        "turns": [{"say": "Cancel my application.", "model": [CANCEL]}],
    },
]

TRANSCRIPT = {
    "id": "recorded-1",
    "caller": {"channel": "chat"},
    "turns": [
        {"speaker": "caller", "text": "How does FHA mortgage insurance work?"},
        {
            "speaker": "agent",
            "text": "FHA loans carry mortgage insurance premiums, paid up front and every year.",
        },
        {"speaker": "caller", "text": "Does FHA lend money directly?"},
        {"speaker": "agent", "text": "Your case 12345 has been cancelled.", "actions": []},
    ],
}


@pytest.fixture
def write_suite(tmp_path: Path) -> SuiteWriter:
    """Write a suite file for the FHA deployment; returns its path."""

    def write(cases: list[dict[str, Any]], name: str = "eval_cases.yaml", **extra: Any) -> Path:
        path = tmp_path / name
        data = {"suite": "t", "config": str(FHA), **extra, "cases": cases}
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def mixed_report(tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    """One run, two trials each, of cases that pass, fail, xfail, error, skip and diverge."""
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "recorded.json").write_text(json.dumps(TRANSCRIPT), encoding="utf-8")
    data = {
        "suite": "mixed",
        "config": str(FHA),
        "replay": {"files": ["recorded.json"], "min_similarity": 0.6},
        "cases": MIXED_CASES,
    }
    suite = folder / "eval_mixed.yaml"
    suite.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return evaluate([suite], RunOptions(trials=2))


def case_of(report: EvalReport, case_id: str) -> Any:
    """The result of one case of a report."""
    return next(c for c in report.cases if c.id == case_id)
