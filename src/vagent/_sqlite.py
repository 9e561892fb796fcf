"""One SQLite file shared by threads: WAL, a busy timeout, and one call at a time."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
