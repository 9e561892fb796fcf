"""Loading and validating agent.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from vagent import ConfigError, load_config

MINIMAL = 'name = "Test Center"\nscope = "testing"\n[knowledge]\narticles = "articles"\n'


def write(tmp_path: Path, text: str) -> Path:
    """Write an agent.toml and return its path."""
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_config_files_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))

    assert config.resolve(config.knowledge.articles) == tmp_path / "articles"
    assert config.state_path == tmp_path / ".vagent"


def test_a_missing_file_raises_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_a_file_that_is_not_toml_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "name = [unclosed"))


def test_an_unknown_key_is_refused_rather_than_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"knowledge\.passagez"):
        load_config(write(tmp_path, MINIMAL + "passagez = 3\n"))


def test_a_wrong_type_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"knowledge\.passages"):
        load_config(write(tmp_path, MINIMAL + 'passages = "three"\n'))


def test_a_missing_required_field_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scope"):
        load_config(write(tmp_path, 'name = "X"\n[knowledge]\narticles = "a"\n'))


def test_an_unknown_tool_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="delete_everything"):
        load_config(write(tmp_path, MINIMAL + '[tools]\nenabled = ["delete_everything"]\n'))


def test_a_case_pattern_that_is_not_a_regex_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('scope = "testing"', 'scope = "testing"\ncase_id_pattern = "(["')

    with pytest.raises(ConfigError, match="case_id_pattern"):
        load_config(write(tmp_path, text))


def test_a_short_collection_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="collection"):
        load_config(write(tmp_path, MINIMAL + 'collection = "ab"\n'))
