"""An SQLite checkpointer whose every call is one hop to a thread of its own.

LangGraph's ``AsyncSqliteSaver`` holds an asyncio lock across several round trips to aiosqlite's
thread for each read or write, so under many concurrent conversations the event loop queues on
that lock (``tools/bench_load.py`` measured 58 thread hops and 14 lock waits per turn). This
saver runs the synchronous ``SqliteSaver``, which stores the same tables, on one dedicated
thread: one hop per call, in the order the calls were made, and no other work queued behind it.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.sqlite import SqliteSaver

T = TypeVar("T")


class ThreadedSqliteSaver(SqliteSaver):
    """``SqliteSaver`` with its async methods run, one call at a time, on its own thread.

    Args:
        conn: an SQLite connection opened with ``check_same_thread=False``.
        serde: the serializer of checkpoints.
    """

    def __init__(self, conn: sqlite3.Connection, *, serde: SerializerProtocol) -> None:
        super().__init__(conn, serde=serde)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vagent-checkpoints")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the saver's thread and wait for it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """:meth:`get_tuple` on the saver's thread."""
        return await self.call(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """:meth:`list` on the saver's thread, read in full before the first item is given."""
        found = await self.call(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """:meth:`put` on the saver's thread."""
        return await self.call(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """:meth:`put_writes` on the saver's thread."""
        await self.call(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """:meth:`delete_thread` on the saver's thread."""
        await self.call(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        """:meth:`get_delta_channel_history` on the saver's thread."""
        return await self.call(self.get_delta_channel_history, config=config, channels=channels)

    async def aclose(self) -> None:
        """Finish the calls in flight, then close the thread and the connection."""
        await self.call(self.conn.close)
        self._thread.shutdown(wait=False)
