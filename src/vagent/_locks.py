"""One turn at a time per conversation, across tasks, event loops and processes.

A turn reads the conversation's checkpoint, runs the graph and writes the next checkpoint; two
turns of one conversation that overlap would both start from the same checkpoint and one would
be lost. :class:`FileLocks` serialises them for every worker sharing a state directory: an
asyncio lock queues the turns of one event loop, and an OS file lock (``flock``) queues the
holders of those locks across loops and processes.

``flock`` works between processes of one machine on a local file system; it is not reliable on
network file systems. Workers on several machines need a lock in their shared database instead,
such as a Postgres advisory lock; it would implement :class:`ConversationLocks` the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: Whether this platform has ``flock`` (not Windows); without it turns are serialised only
#: within one process.
HAS_FLOCK = sys.platform != "win32"
if sys.platform != "win32":
    import fcntl


class ConversationLocks(Protocol):
    """Hands out the lock that keeps two turns of one conversation from overlapping."""

    def hold(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """A context in which no other turn of ``conversation_id`` runs."""
        ...


@dataclass
class _Entry:
    """An asyncio lock and how many tasks hold it or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class LoopLocks:
    """Per-conversation asyncio locks, kept only while a task holds or waits for one."""

    def __init__(self) -> None:
        """Start with no locks."""
        # Keyed by loop too: an asyncio lock belongs to one event loop, and ``run_sync`` runs
        # turns on a private loop beside the caller's own.
        self._entries: dict[tuple[asyncio.AbstractEventLoop, str], _Entry] = {}

    def __len__(self) -> int:
        """Conversations whose lock is held or waited for now."""
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold the conversation's lock in the running event loop."""
        key = (asyncio.get_running_loop(), conversation_id)
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            # Nobody holds or waits: drop it so the table stays as small as the live turns.
            if entry.users == 0:
                del self._entries[key]


class FileLocks:
    """Per-conversation locks shared by every process that uses one state directory.

    Lock files are named by a hash of the conversation id, so no id reaches the file system,
    and each is removed when its lock is let go, so the folder holds only the live turns.
    """

    def __init__(self, directory: Path) -> None:
        """Keep lock files in ``directory`` (created on first use)."""
        self.directory = directory
        self._local = LoopLocks()

    def __len__(self) -> int:
        """Conversations whose lock is held or waited for in this process now."""
        return len(self._local)

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold the conversation's lock in this process and on the state directory."""
        path = self._path(conversation_id)
        async with self._local.hold(conversation_id):
            fd = await _acquire(path)
            try:
                yield
            finally:
                _release(path, fd)

    def _path(self, conversation_id: str) -> Path:
        """The lock file of one conversation."""
        digest = hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{digest}.lock"


async def _acquire(path: Path) -> int:
    """Lock ``path``, waiting in a thread of its own if another holder has it."""
    fd = _locked(path, fcntl.LOCK_EX | fcntl.LOCK_NB)
    if fd is not None:
        return fd
    got: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    # A thread per wait, not the loop's shared executor: a wait can last a whole turn of
    # another process, and the turn that holds the lock may need the executor to finish.
    threading.Thread(target=_wait, args=(path, got), name="vagent-lock-wait", daemon=True).start()
    try:
        return await got
    except asyncio.CancelledError:
        # Cancelled after the lock arrived but before this task resumed: let go of it here.
        if got.done() and not got.cancelled() and got.exception() is None:
            _release(path, got.result())
        raise


def _wait(path: Path, got: asyncio.Future[int]) -> None:
    """In a thread: wait for the lock on ``path`` and hand it to ``got``'s event loop."""
    loop = got.get_loop()
    try:
        fd = _locked(path, fcntl.LOCK_EX)
    except OSError as exc:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_fail, got, exc)
        return
    assert fd is not None  # a blocking flock returns only once it holds the lock
    try:
        loop.call_soon_threadsafe(_deliver, path, got, fd)
    except RuntimeError:
        _release(path, fd)  # the loop has closed: no turn is left to use the lock


def _deliver(path: Path, got: asyncio.Future[int], fd: int) -> None:
    """In the loop: hand the lock to the waiting turn, or let go if it was cancelled."""
    if got.cancelled():
        _release(path, fd)
        return
    got.set_result(fd)


def _fail(got: asyncio.Future[int], exc: OSError) -> None:
    """In the loop: tell the waiting turn that the lock could not be taken."""
    if not got.cancelled():
        got.set_exception(exc)


def _locked(path: Path, operation: int) -> int | None:
    """Open ``path`` and ``flock`` it; None if the lock is taken and ``LOCK_NB`` was asked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if _still_linked(path, fd):
            return fd
        # The holder before us removed the file as it let go; lock the one now at the path.
        os.close(fd)


def _still_linked(path: Path, fd: int) -> bool:
    """Whether ``fd`` is the file at ``path`` now."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _release(path: Path, fd: int) -> None:
    """Remove the lock file and let go of it (removing first, while it is still ours)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.close(fd)
