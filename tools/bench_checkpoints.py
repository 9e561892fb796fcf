"""How a conversation's checkpoints grow with its length.

One conversation of the FHA example on the offline engine takes ``--turns`` caller turns (200 by
default), cycling through knowledge questions an IVR-authenticated caller might ask. After each
turn the script reads the SQLite checkpointer's file: the size of the newest checkpoint of the
conversation (the serialized state plus its pending writes) and the bytes of all checkpoints
written so far. A state that keeps every turn grows its newest checkpoint linearly with the turn
count, so the total grows quadratically; a bounded state keeps the newest checkpoint flat and the
total linear.

Printed: per sampled turn, the newest checkpoint's bytes, the bytes per checkpoint written by that
turn, and the running total; then the ratio of the newest checkpoint at the last turn to the one
at turn 10 (1.0 means flat). ``--unbounded`` runs the same conversation with the state's window
opened wide (every turn kept in the checkpoint, as before the turn log), for comparison.

Run it from the repository root::

    python tools/bench_checkpoints.py
    python tools/bench_checkpoints.py --turns 400
    python tools/bench_checkpoints.py --unbounded
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
from pathlib import Path

import vagent.state
from vagent import Agent
from vagent.config import load_config
from vagent.state import Caller

CONFIG = Path(__file__).resolve().parent.parent / "examples/fha_resource_center/agent.toml"
QUESTIONS = (
    "Which FHA loan helps me buy a house and fix it up?",
    "What are the requirements for that loan?",
    "What credit score do I need for an FHA loan?",
    "How much is the down payment?",
    "Can I use a 203(k) loan for a condo?",
    "What is mortgage insurance?",
)
CALLER = Caller(phone="555-555-1212", ivr_authenticated=True, channel="chat")
SAMPLES = (1, 10, 25, 50, 100, 150, 200, 300, 400)


def checkpoint_bytes(path: Path, conversation: str) -> tuple[int, int, int]:
    """The newest checkpoint's bytes, all checkpoints' bytes, and how many there are."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT checkpoint_id, length(checkpoint) + length(metadata) FROM checkpoints "
            "WHERE thread_id = ? ORDER BY checkpoint_id",
            (conversation,),
        ).fetchall()
        writes = dict(
            db.execute(
                "SELECT checkpoint_id, sum(length(value)) FROM writes WHERE thread_id = ? "
                "GROUP BY checkpoint_id",
                (conversation,),
            ).fetchall()
        )
    sizes = [size + (writes.get(cid) or 0) for cid, size in rows]
    return sizes[-1], sum(sizes), len(sizes)


async def run(turns: int) -> None:
    """Play the conversation and print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(CONFIG).model_copy(update={"state_dir": Path(tmp)})
        agent = Agent.from_config(config)
        path = Path(tmp) / "checkpoints.sqlite"
        print(f"{'turn':>5} {'newest B':>10} {'B/checkpoint':>13} {'total kB':>10} {'count':>6}")
        newest_at: dict[int, int] = {}
        previous_total, previous_count = 0, 0
        for turn in range(1, turns + 1):
            reply = await agent.run("bench", QUESTIONS[turn % len(QUESTIONS)], caller=CALLER)
            if reply.handoff is not None:
                raise SystemExit(f"turn {turn} handed off ({reply.handoff.reason}); stopping")
            newest, total, count = checkpoint_bytes(path, "bench")
            newest_at[turn] = newest
            if turn in SAMPLES or turn == turns:
                added = (total - previous_total) / max(1, count - previous_count)
                print(f"{turn:>5} {newest:>10,} {added:>13,.0f} {total / 1000:>10,.0f} {count:>6}")
            previous_total, previous_count = total, count
        await agent.aclose()
        agent.close()
    print(
        f"\nnewest checkpoint at turn {turns} / at turn 10: {newest_at[turns] / newest_at[10]:.2f}"
    )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--unbounded", action="store_true", help="keep every turn in state")
    args = parser.parse_args()
    if args.unbounded:
        vagent.state.WINDOW_TURNS = vagent.state.WINDOW_VALUES = 1_000_000
    asyncio.run(run(max(10, args.turns)))


if __name__ == "__main__":
    main()
