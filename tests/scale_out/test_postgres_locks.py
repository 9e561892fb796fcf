"""Per-conversation locks in Postgres: one turn at a time across workers on one database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from vagent._postgres import PostgresLocks, connect, lock_key

#: Polls of pg_locks, 20 ms apart, before a test gives up waiting for a lock to be awaited.
_POLLS = 500


@pytest.fixture
async def workers(database_url: str) -> AsyncIterator[tuple[PostgresLocks, PostgresLocks]]:
    """The locks of two workers on the same database."""
    pair = (PostgresLocks(database_url), PostgresLocks(database_url))
    yield pair
    for locks in pair:
        await locks.aclose()


@pytest.fixture
def conversation() -> str:
    """A conversation id no other test uses."""
    return f"lock-{uuid.uuid4().hex}"


async def test_a_worker_waits_for_the_lock_another_worker_holds(
    workers: tuple[PostgresLocks, PostgresLocks], conversation: str, database_url: str
) -> None:
    one, other = workers
    order: list[str] = []

    async def second_turn() -> None:
        async with other.hold(conversation):
            order.append("second turn")

    async with one.hold(conversation):
        waiting = asyncio.create_task(second_turn())
        await _until_awaited(database_url, conversation)
        order.append("first turn")
    await waiting

    assert order == ["first turn", "second turn"]


async def test_turns_of_different_conversations_do_not_wait_for_each_other(
    workers: tuple[PostgresLocks, PostgresLocks], conversation: str, database_url: str
) -> None:
    one, other = workers
    second = f"{conversation}-other"

    async with one.hold(conversation), other.hold(second):
        held = (await _held(database_url, conversation), await _held(database_url, second))

    assert held == (1, 1)


async def test_a_turn_that_fails_lets_go_of_its_lock(
    workers: tuple[PostgresLocks, PostgresLocks], conversation: str, database_url: str
) -> None:
    one, _ = workers

    with pytest.raises(RuntimeError, match="turn failed"):
        async with one.hold(conversation):
            raise RuntimeError("turn failed")

    assert await _held(database_url, conversation) == 0


async def test_a_cancelled_wait_leaves_no_lock_behind(
    workers: tuple[PostgresLocks, PostgresLocks], conversation: str, database_url: str
) -> None:
    one, other = workers

    async def wait_forever() -> None:
        async with other.hold(conversation):
            await asyncio.Event().wait()

    async with one.hold(conversation):
        waiting = asyncio.create_task(wait_forever())
        await _until_awaited(database_url, conversation)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    async with other.hold(conversation):
        held_inside = await _held(database_url, conversation)

    assert held_inside == 1
    assert await _held(database_url, conversation) == 0


async def _until_awaited(database_url: str, conversation: str) -> None:
    """Return once some session waits for the conversation's lock."""
    for _ in range(_POLLS):
        if await _held(database_url, conversation, granted=False):
            return
        await asyncio.sleep(0.02)
    pytest.fail("no session ever waited for the conversation's lock")


async def _held(database_url: str, conversation: str, *, granted: bool = True) -> int:
    """Sessions holding (or, with ``granted=False``, awaiting) the conversation's lock."""
    unsigned = lock_key(conversation) & 0xFFFF_FFFF_FFFF_FFFF
    query = (
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted = %s"
        " AND classid = %s AND objid = %s AND objsubid = 1"
    )
    args = (granted, unsigned >> 32, unsigned & 0xFFFF_FFFF)

    def count() -> int:
        with connect(database_url) as conn:
            n: int = conn.execute(query, args).fetchone()["n"]
            return n

    return await asyncio.to_thread(count)
