"""One SQLite file shared by threads: WAL, a busy timeout, and one call at a time."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from vagent._checkpoints import ThreadedSqliteSaver

T = TypeVar("T")


class SQLiteFile:
    """An SQLite connection that async code uses from worker threads, one call at a time."""

    def __init__(self, path: Path | str, schema: str) -> None:
        """Open (and create) the file and its tables."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Another process may hold the write lock for a moment; wait rather than fail.
        self.conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self.conn:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(schema)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection in a worker thread."""
        return await asyncio.to_thread(self.locked, work)

    async def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``change`` in one transaction."""

        def in_transaction(conn: sqlite3.Connection) -> T:
            with conn:
                return change(conn)

        return await self.run(in_transaction)

    def locked(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` now, holding the lock (sqlite3 connections are not thread-safe)."""
        with self._lock:
            return work(self.conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


async def open_checkpointer(
    path: Path, serde: SerializerProtocol
) -> tuple[BaseCheckpointSaver[str], Callable[[], Awaitable[None]]]:
    """A checkpointer on an SQLite file, opened in the running event loop, and what closes it.

    Workers starting together on a fresh state directory race to create the tables; the loser
    of that race gets "database is locked" at once (a busy timeout does not cover it), so the
    set-up is tried again after a short wait.
    """
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_locked),
        stop=stop_after_attempt(6),
        wait=wait_random_exponential(multiplier=0.05, max=1.0),
        reraise=True,
    ):
        with attempt:
            return await _open_checkpointer(path, serde)
    raise AssertionError("unreachable: the last attempt re-raises")


async def _open_checkpointer(
    path: Path, serde: SerializerProtocol
) -> tuple[BaseCheckpointSaver[str], Callable[[], Awaitable[None]]]:
    """One attempt of :func:`open_checkpointer`."""
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    saver = ThreadedSqliteSaver(conn, serde=serde)
    try:
        await saver.call(_prepare, saver)
    except BaseException:
        await saver.aclose()
        raise
    return saver, saver.aclose


def _prepare(saver: ThreadedSqliteSaver) -> None:
    """WAL, and commits that survive a crash of the process (not of the machine), then tables.

    ``synchronous=NORMAL`` in WAL mode skips the disk flush at each commit: a killed process
    loses nothing, a power cut may lose the last commits. Each graph step commits, so a full
    flush per commit would make the disk the limit on turns per second.
    """
    saver.conn.execute("PRAGMA journal_mode=WAL")
    saver.conn.execute("PRAGMA synchronous=NORMAL")
    saver.setup()


def _locked(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "database is locked"."""
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)
