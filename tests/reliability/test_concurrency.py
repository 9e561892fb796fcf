"""Turns at the same time: of one conversation, of many, from two event loops, two processes."""

from __future__ import annotations

import asyncio
import fcntl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.conftest import FHA

from vagent import Agent, AgentConfig, ConversationRecord, load_config
from vagent._locks import FileLocks, LoopLocks, _locked

HERE = Path(__file__).resolve().parent
QUESTION = "Which type of FHA loan is right for me?"
HOW_MUCH = "How much down payment does an FHA loan need?"
WORKER_TIMEOUT_S = 300  # a safety net against a hung worker, not a speed requirement


def caller_said(record: ConversationRecord) -> list[tuple[int, str]]:
    """The caller's entries of a record as (turn, text)."""
    return [(e.turn, e.text) for e in record.transcript if e.speaker == "caller"]


def assert_whole(record: ConversationRecord, turns: int) -> None:
    """Each turn 1..turns has exactly one caller entry, followed by the agent's reply to it."""
    entries = [(e.speaker, e.turn) for e in record.transcript]
    expected = [(speaker, t) for t in range(1, turns + 1) for speaker in ("caller", "agent")]
    assert entries == expected
    assert record.turns == turns


# --- one process ------------------------------------------------------------------------------


@pytest.fixture
async def warm_agent(agent: Agent) -> Agent:
    """The FHA agent with its checkpointer already open in the test's loop and its own loop.

    Opening it from many first turns at once is the business of the cold-agent test below.
    """
    await agent.run("warm-up", QUESTION)
    agent.run_sync("warm-up-sync", QUESTION)
    return agent


async def test_first_turns_of_many_conversations_at_once_on_a_cold_agent_all_succeed(
    agent: Agent,
) -> None:
    outcomes = await asyncio.gather(
        *(agent.run(f"cold-{c}", QUESTION) for c in range(10)), return_exceptions=True
    )

    assert [o for o in outcomes if isinstance(o, BaseException)] == []


async def test_two_turns_of_one_conversation_at_once_run_one_after_the_other(
    warm_agent: Agent,
) -> None:
    replies = await asyncio.gather(
        warm_agent.run("same", QUESTION), warm_agent.run("same", HOW_MUCH)
    )
    record = await warm_agent.end("same")

    assert sorted(r.turn for r in replies) == [1, 2]
    assert_whole(record, 2)
    assert sorted(text for _, text in caller_said(record)) == sorted([QUESTION, HOW_MUCH])


async def test_thirty_conversations_of_three_turns_at_once_all_come_out_whole(
    warm_agent: Agent,
) -> None:
    texts = [QUESTION, HOW_MUCH, "What is a reverse mortgage?"]
    turns = [warm_agent.run(f"many-{c}", text) for c in range(30) for text in texts]

    await asyncio.gather(*turns)
    records = [await warm_agent.end(f"many-{c}") for c in range(30)]

    for record in records:
        assert_whole(record, 3)
        assert sorted(text for _, text in caller_said(record)) == sorted(texts)


async def test_the_lock_table_keeps_only_locks_in_use(warm_agent: Agent) -> None:
    await asyncio.gather(*(warm_agent.run(f"table-{c}", QUESTION) for c in range(10)))

    assert isinstance(warm_agent._locks, FileLocks)
    assert len(warm_agent._locks) == 0
    assert list((warm_agent.config.state_path / "locks").iterdir()) == []


async def test_turns_of_one_conversation_from_two_event_loops_do_not_interleave(
    warm_agent: Agent,
) -> None:
    # run_sync runs on the agent's own loop in another thread; run on the test's loop.
    await asyncio.gather(
        asyncio.to_thread(warm_agent.run_sync, "loops", QUESTION), warm_agent.run("loops", HOW_MUCH)
    )
    record = await warm_agent.end("loops")

    assert_whole(record, 2)


async def test_a_waiting_turn_that_is_cancelled_lets_the_next_one_in() -> None:
    locks = LoopLocks()
    inside = asyncio.Event()
    let_go = asyncio.Event()

    async def hold_until_told() -> None:
        async with locks.hold("c"):
            inside.set()
            await let_go.wait()

    holder = asyncio.create_task(hold_until_told())
    await inside.wait()
    waiter = asyncio.create_task(hold_until_told())
    # One pass of the loop: the waiter runs up to its wait for the lock.
    await asyncio.sleep(0)
    waiter.cancel()
    let_go.set()
    await holder

    async with locks.hold("c"):
        assert len(locks) == 1
    assert waiter.cancelled()
    assert len(locks) == 0


# --- two processes ------------------------------------------------------------------------------


def start(script: str, *args: str, stderr: Path) -> subprocess.Popen[str]:
    """Start a worker script of this folder, talking lines over stdin and stdout."""
    with stderr.open("w") as errors:
        return subprocess.Popen(
            [sys.executable, str(HERE / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )


def finish(worker: subprocess.Popen[str], stderr: Path) -> str:
    """Wait for a worker to exit and return what it wrote to stderr; it must exit 0."""
    worker.communicate(timeout=WORKER_TIMEOUT_S)
    errors = stderr.read_text()
    assert worker.returncode == 0, errors
    return errors


@pytest.fixture
def shared_state(tmp_path: Path) -> AgentConfig:
    """A state directory whose knowledge is ingested, as a deployment's setup step does."""
    config = load_config(FHA).model_copy(update={"state_dir": tmp_path / "state"})
    Agent.from_config(config).close()
    return config


def test_two_processes_take_turns_on_one_state_directory_without_losing_any(
    shared_state: AgentConfig, tmp_path: Path
) -> None:
    names, conversations = ("alpha", "beta"), 4
    logs = {name: tmp_path / f"{name}.err" for name in names}
    workers = {
        name: start("turn_worker.py", str(shared_state.state_dir), name, "4", stderr=logs[name])
        for name in names
    }
    for name, worker in workers.items():
        assert worker.stdout is not None
        assert worker.stdout.readline() == "ready\n", logs[name].read_text()

    # The barrier: both workers are built and waiting; let them go together.
    for worker in workers.values():
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    errors = [finish(workers[name], logs[name]) for name in names]

    assert not any("database is locked" in e for e in errors)
    agent = Agent.from_config(shared_state)
    for c in range(conversations):
        shared = agent.end_sync(f"shared-{c}")
        assert_whole(shared, 4)
        assert_in_order_per_worker(shared, names)
        for name in names:
            assert_whole(agent.end_sync(f"own-{name}-{c}"), 2)
    agent.close()


def assert_in_order_per_worker(record: ConversationRecord, names: tuple[str, ...]) -> None:
    """Every worker's two turns are in the record, its first before its second."""
    texts = [text for _, text in caller_said(record)]
    for name in names:
        first = texts.index(f"{name} first: {QUESTION}")
        second = texts.index(f"{name} second: {QUESTION}")
        assert first < second


async def test_a_conversation_locked_by_another_process_waits_until_it_lets_go(
    tmp_path: Path,
) -> None:
    locks = FileLocks(tmp_path / "locks")
    holder = start("lock_worker.py", str(locks.directory), "c", stderr=tmp_path / "holder.err")
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n", (tmp_path / "holder.err").read_text()

    refused = _locked(locks._path("c"), fcntl.LOCK_EX | fcntl.LOCK_NB)
    entered = asyncio.Event()
    waiter = asyncio.create_task(enter_and_leave(locks, "c", entered))
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    await asyncio.wait_for(waiter, WORKER_TIMEOUT_S)
    finish(holder, tmp_path / "holder.err")

    assert refused is None
    assert entered.is_set()
    assert list(locks.directory.iterdir()) == []


async def test_a_turn_cancelled_while_another_process_holds_the_lock_does_not_keep_it(
    tmp_path: Path,
) -> None:
    locks = FileLocks(tmp_path / "locks")
    holder = start("lock_worker.py", str(locks.directory), "c", stderr=tmp_path / "holder.err")
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n", (tmp_path / "holder.err").read_text()
    waiter = asyncio.create_task(enter_and_leave(locks, "c", asyncio.Event()))
    # One pass of the loop: the task runs up to its wait, in a thread, for the other process.
    await asyncio.sleep(0)
    assert any(t.name == "vagent-lock-wait" for t in threading.enumerate())

    waiter.cancel()
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    finish(holder, tmp_path / "holder.err")
    entered = asyncio.Event()
    await asyncio.wait_for(enter_and_leave(locks, "c", entered), WORKER_TIMEOUT_S)

    assert waiter.cancelled()
    assert entered.is_set()


async def enter_and_leave(locks: FileLocks, conversation_id: str, entered: asyncio.Event) -> None:
    """Take the conversation's lock, note it, and let go."""
    async with locks.hold(conversation_id):
        entered.set()
