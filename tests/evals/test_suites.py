"""The eval suite format: its published JSON schema, loading, and errors that name the field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from tests.conftest import ROOT
from tests.evals.conftest import SuiteWriter

from vagent.evals import EvalCase, EvalSuiteError, load_suites, suite_json_schema
from vagent.evals.load import load_file
from vagent.evals.schema import ToolCalls

SCHEMA = ROOT / "evals" / "schema.json"


def test_the_committed_json_schema_is_current() -> None:
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))

    assert committed == suite_json_schema(), (
        "evals/schema.json is stale: run `vagent eval --schema > evals/schema.json`"
    )


def test_the_schema_documents_the_fields_from_their_docstrings() -> None:
    expect = suite_json_schema()["$defs"]["TurnExpect"]["properties"]

    assert "case-insensitive" in expect["must_mention"]["description"]


def test_the_shipped_suites_load_with_enough_cases() -> None:
    suites = {s.name: s for s in load_suites([ROOT / "evals"])}
    fha = suites["fha"].cases
    scenarios = [c for c in fha if "scenario" in c.case.tags]

    assert set(suites) == {"fha", "handoff", "security"}
    assert len(scenarios) >= 3
    assert len(fha) - len(scenarios) >= 20
    assert len(suites["security"].cases) >= 25
    assert {"must-hand-off", "must-not-hand-off"} <= {
        tag for c in suites["handoff"].cases for tag in c.case.tags
    }
    assert {"question", "decline", "identity", "change-of-mind", "handoff"} <= {
        tag for c in fha for tag in c.case.tags
    }


def test_a_misspelt_expectation_names_the_file_the_case_and_the_field(
    write_suite: SuiteWriter,
) -> None:
    path = write_suite([{"id": "typo", "turns": [{"say": "Hi", "expect": {"must_mentoin": []}}]}])

    with pytest.raises(EvalSuiteError) as raised:
        load_file(path)

    message = str(raised.value)
    assert repr(str(path)) in message
    assert "cases[0] (id 'typo').turns[0].expect.must_mentoin" in message
    assert "Extra inputs are not permitted" in message


def test_a_misshapen_model_step_is_reported_against_the_shape_it_came_closest_to(
    write_suite: SuiteWriter,
) -> None:
    step = {"tool": "lookup_case", "argz": {}}
    path = write_suite([{"id": "step", "turns": [{"say": "Hi", "model": [step]}]}])

    with pytest.raises(EvalSuiteError) as raised:
        load_file(path)

    message = str(raised.value)
    assert "cases[0] (id 'step').turns[0].model[0].argz: Extra inputs are not permitted" in message
    assert "valid string" not in message


def test_a_suite_without_a_config_says_how_to_name_one(tmp_path: Path) -> None:
    path = tmp_path / "eval_bare.yaml"
    path.write_text("cases: []\n", encoding="utf-8")

    with pytest.raises(EvalSuiteError, match=r"add `config: path/to/agent\.toml`"):
        load_file(path)


def test_a_repeated_case_id_is_refused(write_suite: SuiteWriter) -> None:
    case = {"id": "twice", "turns": [{"say": "Hi"}]}
    path = write_suite([case, case])

    with pytest.raises(EvalSuiteError, match=r"case ids \['twice'\] more than once"):
        load_suites([path])


def test_a_folder_without_suite_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvalSuiteError, match=r"no eval suite files matching 'eval_\*\.yaml'"):
        load_suites([tmp_path])


def test_model_steps_put_a_case_on_the_scripted_engine() -> None:
    case = EvalCase.model_validate(
        {"id": "s", "turns": [{"say": "Hi", "model": [{"tool": "lookup_case"}, "Hello."]}]}
    )

    assert case.engine == "scripted"


def test_a_case_has_either_turns_or_a_simulated_caller() -> None:
    with pytest.raises(ValueError, match="either turns or a simulated_caller"):
        EvalCase.model_validate({"id": "empty"})


def test_a_plain_tool_name_is_a_call_with_any_arguments() -> None:
    check = ToolCalls.model_validate({"calls": ["lookup_case"]})

    assert [(c.tool, c.args, c.status) for c in check.expected()] == [("lookup_case", {}, None)]


def test_the_hostile_suite_converts_to_cases_with_its_own_expectations() -> None:
    hostile = ROOT / "evals/security/hostile.yaml"
    attempts = {a["id"]: a for a in yaml.safe_load(hostile.read_text(encoding="utf-8"))}
    cases = {c.case.id: c.case for c in load_file(ROOT / "evals/security/eval_security.yaml")}
    counted = {
        i: a["expect"]["refusal_counts"]
        for i, a in attempts.items()
        if "refusal_counts" in a.get("expect", {})
    }

    assert set(cases) == set(attempts)
    assert counted
    for attempt_id, counts in counted.items():
        case = cases[attempt_id]
        unordered = [c for c in case.expect.tool_checks() if c.mode == "unordered"]
        assert case.engine in ("scripted", "offline")
        assert Counter(c.reason for c in unordered[0].expected()) == Counter(counts)
