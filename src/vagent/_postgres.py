"""One Postgres connection shared by threads, with the same surface as :mod:`vagent._sqlite`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from vagent.errors import ConfigError

T = TypeVar("T")


class PostgresFile:
    """A Postgres connection that async code uses from worker threads, one call at a time."""

    def __init__(self, url: str, schema: str) -> None:
        """Connect and create the tables (psycopg comes with ``vagent[postgres]``)."""
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise ConfigError(
                "database_url names Postgres but psycopg is not installed; "
                "install it with: pip install 'vagent[postgres]'"
            ) from None
        try:
            self.conn: Any = psycopg.connect(url, row_factory=dict_row, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConfigError(f"cannot connect to the database: {exc}") from None
        self._lock = threading.Lock()
        with self.conn.transaction():
            for statement in filter(str.strip, schema.split(";")):
                self.conn.execute(statement)

    async def run(self, work: Callable[[Any], T]) -> T:
        """Run ``work`` on the connection in a worker thread."""
        return await asyncio.to_thread(self.locked, work)

    async def write(self, change: Callable[[Any], T]) -> T:
        """Run ``change`` in one transaction."""

        def in_transaction(conn: Any) -> T:
            with conn.transaction():
                return change(conn)

        return await self.run(in_transaction)

    def locked(self, work: Callable[[Any], T]) -> T:
        """Run ``work`` now, holding the lock (one statement at a time on a connection)."""
        with self._lock:
            return work(self.conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
