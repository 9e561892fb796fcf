"""A worker process for the concurrency tests: takes turns on a shared state directory.

Usage: ``python turn_worker.py STATE_DIR NAME CONVERSATIONS``. It builds the FHA agent, prints
``ready``, waits for a line on stdin (the test's barrier, so every worker starts at once), then
takes two turns in each of CONVERSATIONS shared conversations and CONVERSATIONS of its own, all
at the same time, and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from vagent import Agent, load_config

FHA = Path(__file__).resolve().parents[2] / "examples" / "fha_resource_center" / "agent.toml"
QUESTION = "Which type of FHA loan is right for me?"


def said(name: str, step: str) -> str:
    """What worker ``name`` says in its ``step`` turn of a conversation."""
    return f"{name} {step}: {QUESTION}"


async def converse(agent: Agent, conversation_id: str, name: str) -> None:
    """Two turns, one after the other."""
    for step in ("first", "second"):
        await agent.run(conversation_id, said(name, step))


async def main(state_dir: Path, name: str, conversations: int) -> None:
    """Build, wait at the barrier, take every turn at once."""
    agent = Agent.from_config(load_config(FHA).model_copy(update={"state_dir": state_dir}))
    await agent.run(f"warm-{name}", QUESTION)
    print("ready", flush=True)
    sys.stdin.readline()
    shared = [converse(agent, f"shared-{i}", name) for i in range(conversations)]
    own = [converse(agent, f"own-{name}-{i}", name) for i in range(conversations)]
    await asyncio.gather(*shared, *own)
    await agent.aclose()
    agent.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
