"""Config files and dicts with wrong types or unknown keys: one ConfigError naming each key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vagent import ConfigError, load_config

MINIMAL = 'name = "Test Center"\nscope = "testing"\n[knowledge]\narticles = "articles"\n'
BASE: dict[str, Any] = {"name": "Test Center", "scope": "testing", "knowledge": {"articles": "a"}}


def write(tmp_path: Path, text: str) -> Path:
    """Write an agent.toml and return its path."""
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("passagez = 3\n", "knowledge.passagez: unknown key; did you mean 'passages'?"),
        ('passages = "three"\n', "knowledge.passages: expected an integer, got 'three' (string)"),
        ("min_score = [1]\n", "knowledge.min_score: expected a number, got [1] (array)"),
        ("language = 7\n", "knowledge.language: expected a string, got 7 (integer)"),
        ("[guardrails]\ncheck_numbers = 2.5\n", "guardrails.check_numbers: expected true or false"),
        ("[tools]\nenabled = 3\n", "tools.enabled: expected an array, got 3 (integer)"),
        ('[policy]\nverified_by = ["x"]\n', "policy.verified_by[0]: Input should be 'ivr'"),
        ("[policy]\nmax_verify_attempts = 0\n", "max_verify_attempts: Input should be greater"),
        ("[handoff]\n[handoff.tier3_topics]\n", "handoff.tier3_topics: expected an array, got {}"),
    ],
    ids=[
        "unknown",
        "str-for-int",
        "array-for-float",
        "int-for-str",
        "float-for-bool",
        "int-for-array",
        "bad-choice",
        "out-of-range",
        "table-for-array",
    ],
)
def test_a_wrong_key_in_a_file_is_named_with_what_it_should_be(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, MINIMAL + extra))

    assert message in str(caught.value)
    assert "agent.toml" in str(caught.value)


def test_an_unknown_top_level_key_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"zzz: unknown key; the known keys here are backend, "):
        load_config(write(tmp_path, "zzz = 1\n" + MINIMAL))


def test_a_section_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    text = 'name = "X"\nscope = "y"\nknowledge = "articles"\n'

    with pytest.raises(ConfigError, match=r"knowledge: expected a table, got 'articles'"):
        load_config(write(tmp_path, text))


def test_every_problem_is_listed_on_its_own_line(tmp_path: Path) -> None:
    text = 'name = 1\n[knowledge]\narticles = "a"\npassages = "x"\n'

    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))

    lines = str(caught.value).splitlines()
    assert lines[0].endswith("fix these keys and build the agent again:")
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "name",
        "scope",
        "knowledge.passages",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"knowledge": {"articles": "a", "passagez": 3}}, "knowledge.passagez: unknown key"),
        ({"model": {"model": 3}}, "model.model: expected a string, got 3 (integer)"),
        ({"model": {"model": "m", "timeout": 1}}, "did you mean 'timeout_s'?"),
        ({"state_dir": None}, "state_dir: expected a path (a string), got None (NoneType)"),
        ({"name": "x" * 100, 5: 1}, "5: Keys should be strings"),
        ({"scope": ["y" * 100]}, "scope: expected a string, got ['yyyy"),
    ],
    ids=["unknown", "wrong-type", "suggestion", "none", "int-key", "long-value"],
)
def test_a_wrong_key_in_a_dict_is_named_with_what_it_should_be(
    change: dict[Any, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**BASE, **change})

    assert message in str(caught.value)
    assert "'<dict>'" in str(caught.value)
    assert all(len(line) < 200 for line in str(caught.value).splitlines())


@pytest.mark.parametrize("source", [5, None, ["agent.toml"]], ids=["int", "none", "list"])
def test_a_source_that_is_no_config_is_refused_with_what_to_pass(source: object) -> None:
    with pytest.raises(ConfigError, match=r"pass the agent\.toml path, an AgentConfig or a dict"):
        load_config(source)  # type: ignore[arg-type]


def test_a_folder_for_the_file_is_refused_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*: Is a directory"):
        load_config(tmp_path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_bytes(b'name = "caf\xe9"\n')

    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
KEYS = st.sampled_from(
    ["name", "state_dir", "model", "knowledge", "policy", "tools", "guardrails", "handoff", "x"]
)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(key=KEYS, value=VALUES)
def test_any_value_for_any_key_loads_or_raises_a_config_error_naming_the_key(
    key: str, value: object
) -> None:
    try:
        load_config({**BASE, key: value})
    except ConfigError as exc:
        problems = str(exc).splitlines()[1:]
        assert problems
        assert all(line.strip().startswith(key) for line in problems)


def test_an_unknown_key_with_control_characters_is_quoted_on_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**BASE, "model": {"model": "m", "\x1e\n": None}})

    [problem] = str(caught.value).splitlines()[1:]
    assert problem.strip().startswith('model."\\u001e\\n": unknown key')
