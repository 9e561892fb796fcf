"""A vagent worker for the scale-out tests: one process, one agent, requests on stdin.

Usage: ``python worker.py DATABASE_URL STATE_DIR CASES``

The agent is the FHA example on the offline engine, with ``database_url`` set and a state
directory of its own. Its case system is the demo SQLite backend in the file CASES, which every
worker opens, as every worker of a deployment reaches the agency's one case system.

Each stdin line is a JSON request, ``{"run": id, "text": ..., "caller": {...}}`` or
``{"end": id}``; each answer is one JSON line on stdout: ``{"turn", "text", "actions"}`` for a
turn, ``{"outcome"}`` for an end, ``{"error"}`` when the request failed. The first line is
``{"ready": true}``. The worker stops at the end of its input.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

from vagent import Agent, load_config
from vagent.backends.sqlite import SQLiteBackend
from vagent.state import Caller

FHA = Path(__file__).resolve().parents[2] / "examples" / "fha_resource_center" / "agent.toml"


def main(database_url: str, state_dir: str, cases_path: str) -> None:
    """Serve requests from stdin until it closes."""
    config = load_config(FHA).model_copy(
        update={"state_dir": Path(state_dir), "database_url": database_url}
    )
    with _answer_channel() as answers:
        cases = SQLiteBackend(cases_path)
        agent = Agent.from_config(config, cases=cases, messenger=cases)
        try:
            _send(answers, {"ready": True})
            for line in sys.stdin:
                _send(answers, _handle(agent, json.loads(line)))
        finally:
            agent.close()
            cases.close()


def _handle(agent: Agent, request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request."""
    try:
        if "end" in request:
            return {"outcome": agent.end_sync(request["end"]).outcome}
        caller = Caller(**request["caller"]) if request.get("caller") else None
        reply = agent.run_sync(request["run"], request["text"], caller=caller)
        return {
            "turn": reply.turn,
            "text": reply.text,
            "actions": [[a.tool, a.status] for a in reply.actions],
        }
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def _answer_channel() -> TextIO:
    """Stdout for answers only: anything else written to it goes to stderr instead."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


def _send(answers: TextIO, answer: dict[str, Any]) -> None:
    """Write one answer line and flush it to the test."""
    answers.write(json.dumps(answer) + "\n")
    answers.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
