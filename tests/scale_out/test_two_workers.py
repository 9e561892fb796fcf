"""Two worker processes take turns of the same conversations, sharing one Postgres database.

Workers A and B are separate ``python`` processes (``worker.py``), each with a state directory
of its own. Turn k of conversation i goes to worker (i + k) % 2: every conversation changes
worker at every turn, while both workers are busy at once with different conversations. The
case system (the demo SQLite backend) is one file both workers open, standing in for the
agency's case system; everything vagent itself keeps lives in Postgres alone.

The reference is the same script played by one in-process agent on SQLite: the workers'
conversations, records, audit log, handoffs and side effects must come out exactly as its do.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vagent import Agent, load_config
from vagent.backends.sqlite import SQLiteBackend
from vagent.records import RecordStore
from vagent.state import Caller

from .conftest import FHA

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("worker.py")
MICHELLE = {"phone": "555-555-1212", "ivr_authenticated": True, "channel": "voice"}
DANIEL = {"phone": "555-555-0147", "ivr_authenticated": True, "channel": "voice"}
SCRIPT: dict[str, tuple[dict[str, Any], list[str]]] = {
    "michelle": (
        MICHELLE,
        [
            "Hi, this is Michelle. I'd like to cancel my loan application.",
            "Yes, please cancel it.",
            "Can you text me a confirmation?",
            "Yes, that's the right number.",
            "What is a Section 203(k) loan?",
            "Got it, thank you.",
        ],
    ),
    "daniel": (
        DANIEL,
        [
            "What is the status of my application?",
            "Can you text me the status?",
            "Yes, that's the right number.",
            "How much is the mortgage insurance premium?",
            "What credit score do I need?",
            "I'd rather talk to a person, please.",
        ],
    ),
    "alex": (
        {"channel": "chat"},
        [
            "Hi, I'm Alex. Which type of loan is right for me?",
            "I plan to buy a house and then fix it up.",
            "What are the requirements for that loan?",
            "What is a reverse mortgage?",
            "What about energy efficient mortgages?",
            "Thanks, that's all.",
        ],
    ),
}
TURNS = 6
# Keys that hold the time something happened: they differ between any two plays.
_CLOCK_KEYS = {"at", "created_at", "ended_at", "queued_at"}


@dataclass
class Played:
    """What a play of the script left behind."""

    replies: dict[str, list[dict[str, Any]]]
    outcomes: dict[str, str]
    records: dict[str, Any]
    audit: dict[str, list[Any]]
    handoffs: list[str]
    vault_rows: int
    side_effects: dict[str, list[tuple[Any, ...]]]
    local_files: set[str] = field(default_factory=set)


class Worker:
    """One worker process, spoken to a JSON line at a time."""

    def __init__(self, name: str, database_url: str, folder: Path, cases: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.state_dir = folder / name
        command = [sys.executable, str(WORKER), database_url, str(self.state_dir), str(cases)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True
        )

    def send(self, request: dict[str, Any]) -> None:
        """Send one request; its answer is read with :meth:`answer`, in order."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        """The next answer, or a failure that shows the worker's log."""
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        answer: dict[str, Any] = json.loads(line) if line else {"error": "the worker exited"}
        if "error" in answer:
            log = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            pytest.fail(f"worker {self.name}: {answer['error']}\n{log}")
        return answer

    def stop(self) -> None:
        """Close the worker's input, wait for it to finish, and close its pipes."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.close()
        self._process.wait()
        self._process.stdout.close()
        self._log.close()


@pytest.fixture(scope="module")
def workers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Played:
    """The script played by two worker processes taking turns, read back from the shared stores."""
    folder = tmp_path_factory.mktemp("workers")
    cases = folder / "cases.sqlite"
    # Seeded here, once: two workers seeding an empty file at once would both insert.
    SQLiteBackend(cases, seed=FHA.parent / "cases.json").close()
    pair = [Worker(name, database_url, folder, cases) for name in ("a", "b")]
    try:
        for worker in pair:
            worker.answer()
        replies, outcomes = _play(pair)
    finally:
        for worker in pair:
            worker.stop()
    store = RecordStore(database_url)
    try:
        shared = asyncio.run(_shared_stores(store))
    finally:
        store.close()
    return Played(
        replies,
        outcomes,
        **shared,
        vault_rows=_vault_rows(database_url),
        side_effects=_side_effects(cases),
        local_files={p.name for w in pair for p in w.state_dir.iterdir()},
    )


@pytest.fixture(scope="module")
def one_agent(tmp_path_factory: pytest.TempPathFactory) -> Played:
    """The script played by one in-process agent on SQLite: the reference."""
    state_dir = tmp_path_factory.mktemp("one-agent")
    agent = Agent.from_config(load_config(FHA).model_copy(update={"state_dir": state_dir}))
    try:
        replies, outcomes, shared = asyncio.run(_play_in_process(agent))
    finally:
        agent.close()
    with closing(sqlite3.connect(state_dir / "vault.sqlite")) as vault:
        vault_rows = vault.execute("SELECT count(*) FROM vault").fetchone()[0]
    return Played(
        replies,
        outcomes,
        **shared,
        vault_rows=vault_rows,
        side_effects=_side_effects(state_dir / "cases.sqlite"),
    )


def test_every_turn_of_every_conversation_is_in_its_record_in_order(workers: Played) -> None:
    for conversation, (_, lines) in SCRIPT.items():
        transcript = workers.records[conversation]["transcript"]

        said = [e["text"] for e in transcript if e["speaker"] == "caller"]
        turns = [e["turn"] for e in transcript]

        assert said == lines
        assert turns == [turn for turn in range(1, TURNS + 1) for _ in ("caller", "agent")]


def test_two_workers_reply_as_one_agent_does(workers: Played, one_agent: Played) -> None:
    assert workers.replies == one_agent.replies
    assert (
        workers.outcomes
        == one_agent.outcomes
        == {
            "michelle": "resolved",
            "daniel": "handed_off",
            "alex": "resolved",
        }
    )


def test_two_workers_leave_the_records_one_agent_leaves(workers: Played, one_agent: Played) -> None:
    assert workers.records == one_agent.records


def test_two_workers_leave_the_audit_log_one_agent_leaves(
    workers: Played, one_agent: Played
) -> None:
    assert workers.audit == one_agent.audit
    assert workers.audit["michelle"], "the script's tools were not exercised"


def test_two_workers_queue_the_handoffs_one_agent_queues(
    workers: Played, one_agent: Played
) -> None:
    assert workers.handoffs == one_agent.handoffs == ["daniel"]


def test_two_workers_act_on_the_case_system_once_per_action(
    workers: Played, one_agent: Played
) -> None:
    assert workers.side_effects == one_agent.side_effects
    assert len(workers.side_effects["outbox"]) == 2
    assert ("12345", "cancelled") in workers.side_effects["cases"]


def test_the_workers_keep_no_conversation_state_in_their_own_folders(workers: Played) -> None:
    assert workers.local_files.isdisjoint({"checkpoints.sqlite", "vault.sqlite", "records.sqlite"})


def test_the_vault_is_emptied_when_the_conversations_end(
    workers: Played, one_agent: Played
) -> None:
    assert workers.vault_rows == one_agent.vault_rows == 0


def _play(pair: list[Worker]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Every turn, then every end, each conversation on alternating workers."""
    replies: dict[str, list[dict[str, Any]]] = {c: [] for c in SCRIPT}
    for turn in range(TURNS):
        sent = []
        for i, (conversation, (caller, lines)) in enumerate(SCRIPT.items()):
            worker = pair[(i + turn) % 2]
            worker.send({"run": conversation, "text": lines[turn], "caller": caller})
            sent.append((worker, conversation))
        # Each worker answers its requests in the order they were sent.
        for worker, conversation in sent:
            replies[conversation].append(worker.answer())
    outcomes = {}
    for i, conversation in enumerate(SCRIPT):
        pair[(i + TURNS) % 2].send({"end": conversation})
        outcomes[conversation] = pair[(i + TURNS) % 2].answer()["outcome"]
    return replies, outcomes


async def _play_in_process(
    agent: Agent,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str], dict[str, Any]]:
    """The script on one agent, in the shape the workers answer in, and what it stored."""
    replies: dict[str, list[dict[str, Any]]] = {c: [] for c in SCRIPT}
    outcomes = {}
    for conversation, (caller, lines) in SCRIPT.items():
        for line in lines:
            reply = await agent.run(conversation, line, caller=Caller(**caller))
            actions = [[a.tool, a.status] for a in reply.actions]
            replies[conversation].append(
                {"turn": reply.turn, "text": reply.text, "actions": actions}
            )
        outcomes[conversation] = (await agent.end(conversation)).outcome
    shared = await _shared_stores(agent)
    await agent.aclose()
    return replies, outcomes, shared


async def _shared_stores(source: RecordStore | Agent) -> dict[str, Any]:
    """Records, audit log and handoff queue, without the times they were written."""
    records = {c: await source.record(c) for c in SCRIPT}
    audit = {c: await source.audit_log(c) for c in SCRIPT}
    return {
        "records": {
            c: _timeless(r.model_dump(mode="json")) if r else None for c, r in records.items()
        },
        "audit": {
            c: [_timeless(e.model_dump(mode="json")) for e in log] for c, log in audit.items()
        },
        "handoffs": [p.conversation_id for p in await source.handoffs()],
    }


def _vault_rows(database_url: str) -> int:
    """Secrets left in the shared vault."""
    from vagent._postgres import connect

    with connect(database_url) as conn:
        count: int = conn.execute("SELECT count(*) AS n FROM vagent_vault").fetchone()["n"]
        return count


def _side_effects(cases: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What the case system did: texts sent, actions taken once per key, case statuses."""
    with closing(sqlite3.connect(cases)) as conn:
        return {
            "outbox": conn.execute("SELECT recipient, body FROM outbox ORDER BY body").fetchall(),
            "effects": conn.execute("SELECT result FROM effects ORDER BY result").fetchall(),
            "cases": conn.execute("SELECT case_id, status FROM cases ORDER BY case_id").fetchall(),
        }


def _timeless(value: Any) -> Any:
    """``value`` without the keys that hold clock times."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in _CLOCK_KEYS}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value
