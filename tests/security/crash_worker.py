"""One caller turn in a process of its own, for the crash tests.

With ``--kill cancel`` or ``--kill sms`` the process SIGKILLs itself right after the backend has
committed the side effect and before the graph can checkpoint it: the worst moment to die.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from vagent import Agent, Caller, load_config
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--text", action="append", required=True, help="one per turn")
    parser.add_argument("--kill", choices=["cancel", "sms"])
    parser.add_argument("--end", action="store_true")
    args = parser.parse_args()

    config = load_config(args.config).model_copy(update={"state_dir": args.state})
    seed = config.resolve(config.backend.seed) if config.backend.seed else None
    backend = DieAfterActing(SQLiteBackend(args.state / "cases.sqlite", seed=seed), args.kill)
    agent = Agent.from_config(config, cases=backend, messenger=backend)

    for text in args.text:
        reply = await agent.run("crash", text, caller=MICHELLE)
        print(reply.model_dump_json())
    if args.end:
        print((await agent.end("crash")).model_dump_json())
    await agent.aclose()
    agent.close()


if __name__ == "__main__":
    asyncio.run(main())
