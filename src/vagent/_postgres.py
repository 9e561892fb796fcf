"""Postgres for the state every worker shares: the stores' connections and the checkpointer.

A ``database_url`` may name a schema through libpq's ``options``
(``postgresql://vagent@db/vagent?options=-csearch_path%3Dvagent_prod``). The first schema on the
search path is created when it does not exist yet, so deployments (or test runs) can share one
database without seeing each other's tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.base import SerializerProtocol

from vagent._locks import LoopLocks
from vagent.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# Workers starting together would race to create the same tables, and CREATE ... IF NOT EXISTS
# is not safe against a concurrent CREATE in Postgres: table setup takes this advisory lock.
_SETUP_LOCK = 0x76_61_67_65_6E_74  # "vagent"
_CHECKPOINT_LOCK = _SETUP_LOCK + 1
_LOCK_PAUSE_S = 0.1
_LOCK_POLLS = 3000
# Turns one worker may run at once on conversations of its own; more wait for a connection.
_LOCK_CONNECTIONS = 32
# A server that does not answer is a deployment mistake; say so instead of hanging.
_CONNECT_TIMEOUT_S = 10
_INSTALL = "install it with: pip install 'vagent[postgres]'"


def is_postgres(location: Path | str) -> bool:
    """Whether ``location`` is a Postgres URL rather than an SQLite file path.

    Raises:
        ConfigError: ``location`` is a URL of another kind of database.
    """
    text = str(location)
    if text.startswith(POSTGRES_SCHEMES):
        return True
    if "://" not in text:
        return False
    # Only the scheme is shown: the rest of a URL may hold a password.
    scheme = text.split("://", 1)[0]
    raise ConfigError(
        f"database URLs of scheme {scheme!r} are not supported; use a postgresql:// URL, "
        "or none to keep the stores in SQLite files under state_dir"
    )


def connect(url: str) -> Any:
    """A connection in autocommit mode that returns rows as dicts.

    Raises:
        ConfigError: psycopg is missing, or the database cannot be reached.
    """
    _require("psycopg")
    import psycopg
    from psycopg.rows import dict_row

    try:
        return psycopg.connect(url, **_connection_kwargs(url), row_factory=dict_row)
    except psycopg.Error as exc:
        raise ConfigError(
            f"cannot connect to the database: {exc}; check database_url and that the server is up"
        ) from None


class PostgresFile:
    """Pooled connections that async code uses from worker threads.

    The pool checks each connection before lending it, so a restarted or failed-over server
    costs the calls in flight, not the worker.
    """

    def __init__(self, url: str, schema: str) -> None:
        """Create the tables if needed, then open the pool (``pip install 'vagent[postgres]'``)."""
        with connect(url) as conn:
            _set_up(conn, schema)
        _require("psycopg_pool")
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        kwargs = {**_connection_kwargs(url), "row_factory": dict_row}
        self._pool: Any = ConnectionPool(
            url, kwargs=kwargs, min_size=1, max_size=4, num_workers=1, open=False
        )
        self._pool.open(wait=True)

    async def run(self, work: Callable[[Any], T]) -> T:
        """Run ``work`` on a pooled connection in a worker thread."""
        return await asyncio.to_thread(self.using, work)

    async def write(self, change: Callable[[Any], T]) -> T:
        """Run ``change`` in one transaction."""

        def in_transaction(conn: Any) -> T:
            with conn.transaction():
                return change(conn)

        return await self.run(in_transaction)

    def using(self, work: Callable[[Any], T]) -> T:
        """Run ``work`` now on a pooled connection."""
        with self._pool.connection() as conn:
            return work(conn)

    def close(self) -> None:
        """Close the pool and its connections."""
        self._pool.close()


class PostgresLocks:
    """Per-conversation locks in Postgres, shared by every worker on the database.

    An asyncio lock queues the turns of one event loop; a session advisory lock, keyed by a
    hash of the conversation id, queues the holders across processes and machines. Each held
    or awaited lock keeps one pooled connection for the turn.
    """

    def __init__(self, url: str) -> None:
        """Lock conversations in the database at ``url``; connections open on first use."""
        self._url = url
        self._local = LoopLocks()
        self._pools: dict[asyncio.AbstractEventLoop, Any] = {}

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold the conversation's lock in this event loop and in the database."""
        key = lock_key(conversation_id)
        async with self._local.hold(conversation_id):
            pool = await self._pool()
            async with pool.connection() as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                try:
                    yield
                finally:
                    await _unlock(conn, key)

    async def aclose(self) -> None:
        """Close the connections opened in the running event loop."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    async def _pool(self) -> Any:
        """The running event loop's pool, opened on first use."""
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            from psycopg_pool import AsyncConnectionPool

            # A lock a cancelled turn got just as it was cancelled must not outlive the turn:
            # every connection let go of all its locks before it serves another.
            pool = AsyncConnectionPool(
                self._url,
                kwargs=_connection_kwargs(self._url),
                min_size=1,
                max_size=_LOCK_CONNECTIONS,
                check=AsyncConnectionPool.check_connection,
                reset=_unlock_all,
                open=False,
            )
            await pool.open(wait=True)
            if loop in self._pools:
                # Another conversation's first turn opened one meanwhile; keep that one.
                await pool.close()
            else:
                self._pools[loop] = pool
        return self._pools[loop]


def lock_key(conversation_id: str) -> int:
    """The advisory lock key of a conversation: 64 bits of a hash, as Postgres's bigint."""
    digest = hashlib.sha256(f"vagent:{conversation_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _unlock(conn: Any, key: int) -> None:
    """Let go of one advisory lock; a broken connection took it with its session."""
    import psycopg

    try:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    except psycopg.Error as exc:
        logger.warning("conversation lock lost with its connection: %s", exc)


async def _unlock_all(conn: Any) -> None:
    """Let go of every advisory lock the connection's session holds."""
    await conn.execute("SELECT pg_advisory_unlock_all()")


async def open_checkpointer(
    url: str, serde: SerializerProtocol
) -> tuple[BaseCheckpointSaver[str], Callable[[], Awaitable[None]]]:
    """A checkpointer on a connection pool of the running event loop, and what closes it.

    Raises:
        ConfigError: the Postgres extras are missing, or the database cannot be reached.
    """
    _require("langgraph.checkpoint.postgres")
    _require("psycopg_pool")
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import AsyncConnectionPool

    await asyncio.to_thread(_set_up_checkpoints, url)
    # AsyncPostgresSaver needs autocommit and dict rows; prepare_threshold=0 is its documented
    # pool setting.
    kwargs = {**_connection_kwargs(url), "row_factory": dict_row, "prepare_threshold": 0}
    pool = AsyncConnectionPool[AsyncConnection[DictRow]](
        url,
        kwargs=kwargs,
        min_size=1,
        max_size=8,
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    try:
        await pool.open(wait=True)
    except BaseException:
        await pool.close()
        raise
    return AsyncPostgresSaver(pool, serde=serde), pool.close


def _set_up_checkpoints(url: str) -> None:
    """Create the checkpointer's tables, or bring them up to date, one worker at a time."""
    from langgraph.checkpoint.postgres import PostgresSaver

    with connect(url) as conn:
        _set_up(conn, "")
        _take_checkpoint_lock(conn)
        PostgresSaver(conn).setup()
    # Closing the session released the lock.


def _take_checkpoint_lock(conn: Any) -> None:
    """Wait for the session lock on the checkpointer's migrations.

    The migrations run CREATE INDEX CONCURRENTLY, which waits for every transaction holding a
    snapshot, and a worker blocked on a lock holds one: the two would wait on each other. So
    waiting workers ask again between pauses instead of queueing inside Postgres.
    """
    query = "SELECT pg_try_advisory_lock(%s) AS taken"
    for attempt in range(_LOCK_POLLS):
        if conn.execute(query, (_CHECKPOINT_LOCK,)).fetchone()["taken"]:
            return
        if attempt == 0:
            logger.info("waiting for another worker to set up the checkpoint tables")
        time.sleep(_LOCK_PAUSE_S)
    raise TimeoutError(
        f"another worker held the checkpoint set-up lock for {_LOCK_POLLS * _LOCK_PAUSE_S:.0f} s; "
        "look for a stuck vagent process in pg_stat_activity"
    )


def _set_up(conn: Any, schema: str) -> None:
    """Create the search path's schema and the given tables, one worker at a time."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
        _create_schema(conn)
        for statement in filter(str.strip, schema.split(";")):
            conn.execute(statement)


def _create_schema(conn: Any) -> None:
    """Create the first schema on the search path when no schema on it exists yet."""
    from psycopg import sql

    row = conn.execute(
        "SELECT current_schema() AS current, current_setting('search_path') AS path"
    ).fetchone()
    if row["current"] is not None:
        return
    first = row["path"].split(",")[0].strip().strip('"')
    if not first or first == "$user":
        raise ConfigError(
            "the database has no schema to create vagent's tables in; name one in "
            "database_url, such as ?options=-csearch_path%3Dvagent"
        )
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(first)))
    logger.info("database schema created: schema=%s", first)


def _connection_kwargs(url: str) -> dict[str, Any]:
    """Connection settings every vagent connection uses, on top of the URL's own."""
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in url:
        kwargs["connect_timeout"] = _CONNECT_TIMEOUT_S
    return kwargs


def _require(module: str) -> None:
    """Raise ConfigError unless ``module`` (one of the Postgres extras) is installed."""
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(
            f"database_url names Postgres but {module} is not installed; {_INSTALL}"
        ) from None
