"""One caller turn in a process of its own, for the crash tests.

With ``--kill cancel`` or ``--kill sms`` the process SIGKILLs itself right after the backend has
committed the side effect and before the graph can checkpoint it: the worst moment to die. With
``--kill-node NAME`` it dies as the last turn enters that node of the graph.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
from pathlib import Path
from typing import Any

from vagent import Agent, Caller, load_config
from vagent._nodes import Nodes
from vagent.backends import Case, SentMessage, SQLiteBackend

MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True)


class DieAfterActing:
    """Delegates to the demo backend, then dies once the chosen side effect is committed."""

    def __init__(self, inner: SQLiteBackend, kill: str | None) -> None:
        self.inner = inner
        self.kill = kill

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        case = await self.inner.cancel_case(case_id, idempotency_key=idempotency_key)
        self._die_if("cancel")
        return case

    async def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SentMessage:
        sent = await self.inner.send_sms(to, body, idempotency_key=idempotency_key)
        self._die_if("sms")
        return sent

    def _die_if(self, point: str) -> None:
        if self.kill == point:
            os.kill(os.getpid(), signal.SIGKILL)


def die_entering(node: str) -> None:
    """Make the graph's ``node`` SIGKILL the process when it is entered while armed."""
    original = getattr(Nodes, node)

    # The graph reads the node's signature to know what to pass: keep the original's.
    @functools.wraps(original)
    async def dying(self: Nodes, *args: Any, **kwargs: Any) -> Any:
        if os.environ.get("CRASH_ARMED") == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        return await original(self, *args, **kwargs)

    setattr(Nodes, node, dying)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--text", action="append", required=True, help="one per turn")
    parser.add_argument("--kill", choices=["cancel", "sms"])
    parser.add_argument("--kill-node", choices=["screen", "retrieve", "respond", "act", "check"])
    parser.add_argument("--end", action="store_true")
    args = parser.parse_args()

    if args.kill_node:
        die_entering(args.kill_node)
    config = load_config(args.config).model_copy(update={"state_dir": args.state})
    seed = config.resolve(config.backend.seed) if config.backend.seed else None
    backend = DieAfterActing(SQLiteBackend(args.state / "cases.sqlite", seed=seed), args.kill)
    agent = Agent.from_config(config, cases=backend, messenger=backend)

    for n, text in enumerate(args.text, start=1):
        if args.kill_node and n == len(args.text):
            os.environ["CRASH_ARMED"] = "1"
        reply = await agent.run("crash", text, caller=MICHELLE)
        print(reply.model_dump_json())
    if args.end:
        print((await agent.end("crash")).model_dump_json())
    await agent.aclose()
    agent.close()


if __name__ == "__main__":
    asyncio.run(main())
