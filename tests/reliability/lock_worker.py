"""A worker process that holds one conversation's lock until told to let go.

Usage: ``python lock_worker.py LOCK_DIR CONVERSATION_ID``. Prints ``held`` once it holds the
lock, lets go when a line arrives on stdin, and exits 0.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

# The module alone, by its path: importing the vagent package would take seconds.
_PATH = Path(__file__).resolve().parents[2] / "src" / "vagent" / "_locks.py"
_SPEC = importlib.util.spec_from_file_location("vagent_locks", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
_locks = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = _locks
_SPEC.loader.exec_module(_locks)


async def main(directory: Path, conversation_id: str) -> None:
    """Hold the lock until stdin says to let go."""
    async with _locks.FileLocks(directory).hold(conversation_id):
        print("held", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
