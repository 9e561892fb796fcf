"""SIGKILL at the worst moment of a turn, then the retried turn: no duplicate side effect."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import FHA, ROOT

WORKER = Path(__file__).with_name("crash_worker.py")

pytestmark = pytest.mark.slow


def turns(
    state: Path, *texts: str, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run caller turns in a fresh process."""
    command = [sys.executable, str(WORKER), "--config", str(FHA), "--state", str(state)]
    said = [arg for text in texts for arg in ("--text", text)]
    return subprocess.run(
        [*command, *said, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def count(state: Path, sql: str) -> int:
    """One number from the demo backend's database."""
    with sqlite3.connect(state / "cases.sqlite") as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_a_cancellation_killed_before_its_checkpoint_happens_once_on_retry(
    tmp_path: Path,
) -> None:
    assert turns(tmp_path, "I'd like to cancel my loan application.").returncode == 0

    killed = turns(tmp_path, "Yes.", extra=("--kill", "cancel"))
    acted_before_death = count(tmp_path, "SELECT count(*) FROM effects")
    retried = turns(tmp_path, "Yes.", extra=("--end",))

    reply, record = (json.loads(line) for line in retried.stdout.splitlines()[-2:])
    assert killed.returncode == -signal.SIGKILL
    assert acted_before_death == 1
    assert count(tmp_path, "SELECT count(*) FROM effects") == 1
    assert [a["tool"] for a in reply["actions"] if a["status"] == "executed"] == ["cancel_case"]
    assert [a["tool"] for a in record["actions"] if a["status"] == "executed"] == ["cancel_case"]
    assert reply["turn"] == 2


def test_a_text_killed_before_its_checkpoint_is_sent_once_on_retry(tmp_path: Path) -> None:
    setup = ("I'd like to cancel my loan application.", "Yes.", "Text me a confirmation.")
    assert turns(tmp_path, *setup).returncode == 0

    killed = turns(tmp_path, "Yes, that's right.", extra=("--kill", "sms"))
    retried = turns(tmp_path, "Yes, that's right.")

    reply = json.loads(retried.stdout.splitlines()[-1])
    assert killed.returncode == -signal.SIGKILL
    assert count(tmp_path, "SELECT count(*) FROM outbox") == 1
    assert [a["tool"] for a in reply["actions"] if a["status"] == "executed"] == ["send_sms"]


@pytest.mark.parametrize("node", ["screen", "retrieve", "respond", "act", "check"])
def test_a_turn_killed_entering_any_node_is_finished_once_on_retry(
    tmp_path: Path, node: str
) -> None:
    cancel = "I'd like to cancel my loan application."

    killed = turns(tmp_path, cancel, "Yes.", extra=("--kill-node", node))
    retried = turns(tmp_path, "Yes.", extra=("--end",))

    reply, record = (json.loads(line) for line in retried.stdout.splitlines()[-2:])
    assert killed.returncode == -signal.SIGKILL
    assert count(tmp_path, "SELECT count(*) FROM effects") == 1
    assert reply["turn"] == 2
    assert [a["tool"] for a in record["actions"] if a["status"] == "executed"] == ["cancel_case"]
    caller_lines = [t["text"] for t in record["transcript"] if t["speaker"] == "caller"]
    assert caller_lines == [cancel, "Yes."]
