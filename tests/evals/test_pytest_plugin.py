"""The pytest plugin: installed with vagent, inert until enabled, one item per eval case."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.evals.conftest import SuiteWriter

from vagent.evals.pytest_plugin import pytest_collect_file

PASSING = {
    "id": "fha-does-not-lend-directly",
    "turns": [
        {"say": "Does FHA lend money directly?", "expect": {"citations": ["fha-how-it-works"]}}
    ],
}
FAILING = {
    "id": "a-reverse-mortgage-is-miscited",
    "turns": [{"say": "What is a reverse mortgage?", "expect": {"citations": ["fha-eem"]}}],
}


def test_the_plugin_is_registered_but_collects_nothing_unless_enabled(
    request: pytest.FixtureRequest, write_suite: SuiteWriter
) -> None:
    suite = write_suite([PASSING], name="eval_demo.yaml")

    collected = pytest_collect_file(suite, request.session)

    assert request.config.pluginmanager.has_plugin("vagent.evals.pytest_plugin")
    assert collected is None


def test_enabled_it_runs_each_case_as_an_item_and_explains_failures(
    write_suite: SuiteWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_suite([PASSING, FAILING], name="eval_demo.yaml")
    arguments = ["--vagent-evals", str(tmp_path), "-p", "vagent.evals.pytest_plugin"]
    arguments += ["-p", "no:cacheprovider", "-p", "no:asyncio", "-q", "--rootdir", str(tmp_path)]

    status = pytest.main(arguments)

    out = capsys.readouterr().out
    assert status == pytest.ExitCode.TESTS_FAILED
    assert "1 failed, 1 passed" in out
    assert "eval case t/a-reverse-mortgage-is-miscited" in out
    assert "turn 1 citations: expected citations of ['fha-eem']" in out
