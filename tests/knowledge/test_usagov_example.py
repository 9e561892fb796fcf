"""Tests for the USAGov benefits example, built from the shared Benefit Finder data."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from vagent.config import load_config
from vagent.knowledge import load_folder

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "usagov_benefits"
SHARED = ROOT.parent / "shared" / "data" / "usagov-benefits"

needs_shared_data = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/usagov-benefits is absent"
)


def load_build() -> ModuleType:
    """The example's build script, imported from its file."""
    spec = importlib.util.spec_from_file_location("usagov_build", EXAMPLE / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE / "agent.toml")

    assert config.knowledge.collection == "usagov-benefits"
    assert config.tools.enabled == ["hand_off"]


@needs_shared_data
def test_build_writes_every_benefit_in_english_and_spanish(tmp_path: Path) -> None:
    load_build().main(["--output", str(tmp_path)])

    articles = load_folder(tmp_path)

    assert Counter(a.language for a in articles) == {"en": 64, "es": 62}


@needs_shared_data
def test_built_articles_carry_source_date_program_and_audience(tmp_path: Path) -> None:
    load_build().main(["--output", str(tmp_path)])

    articles = load_folder(tmp_path)

    assert all(a.source.startswith("http") and a.updated is not None for a in articles)
    assert Counter(a.program for a in articles if a.language == "en")["ssa"] == 22
    assert sum("death" in a.audience for a in articles if a.language == "en") >= 20


@needs_shared_data
def test_built_articles_keep_eligibility_as_a_section(tmp_path: Path) -> None:
    load_build().main(["--output", str(tmp_path)])

    articles = {a.id: a for a in load_folder(tmp_path)}

    assert "## Who is eligible" in articles["covid-19-funeral-assistance-en"].body
