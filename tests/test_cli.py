"""The vagent command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ROOT

from vagent.cli import main


def test_demo_plays_the_three_scenarios_end_to_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)

    status = main(["demo"])

    out = capsys.readouterr().out
    assert status == 0
    assert "Section 203(k) rehabilitation mortgage is the FHA loan made for that" in out
    assert "580" in out
    assert "3.5 percent" in out
    assert "cited: Section 203(k) rehabilitation mortgage / Requirements" in out
    assert out.index("awaiting_confirmation") < out.index("cancel_case case_id=12345 -> executed")
    assert "SMS outbox: 1 message(s)" in out
    assert "to 555-555-1212" in out
    assert '"reason": "caller_request"' in out
    assert out.count("--- wrap-up record") == 4
    assert "approved by andy: cancel_case -> executed" in out
    assert "approved by andy: send_sms -> executed" in out


def test_demo_with_a_missing_config_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["demo", "--config", str(tmp_path / "agent.toml")])

    assert status == 2
    assert "config file not found" in capsys.readouterr().err


def test_ingest_reports_what_it_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    articles = ROOT / "examples" / "fha_resource_center" / "articles"

    status = main(["ingest", str(articles), "--store", str(tmp_path / "chroma")])

    assert status == 0
    assert "9 added" in capsys.readouterr().out


def test_chat_answers_each_line_and_prints_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    source = (ROOT / "examples" / "fha_resource_center" / "agent.toml").read_text()
    base = ROOT / "examples" / "fha_resource_center"
    config.write_text(
        source.replace('articles = "articles"', f'articles = "{base / "articles"}"').replace(
            'seed = "cases.json"', f'seed = "{base / "cases.json"}"'
        )
    )
    monkeypatch.setattr("sys.stdin", iter(["What is a reverse mortgage?\n", "/end\n"]))

    status = main(["chat", "--config", str(config)])

    out = capsys.readouterr().out
    assert status == 0
    assert "Home Equity Conversion Mortgage" in out
    assert "wrap-up record: chat-1" in out
