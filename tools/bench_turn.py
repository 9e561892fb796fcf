"""Per-turn cost of vagent's graph beside a bare LangGraph react agent.

Both agents get the same zero-latency scripted model (``vagent.testing.ScriptedModel``), which
plays, every turn, a ``lookup_case`` call for case 12345 and then a short text reply, and both
keep their state in an SQLite checkpointer (``AsyncSqliteSaver`` on aiosqlite). The bare agent is
``langgraph.prebuilt.create_react_agent`` with one ``lookup_case`` tool that reads the same seeded
case database through vagent's ``SQLiteBackend``. With the model's time taken out, the difference
is vagent's graph: screening, retrieval, the policy gate, the audit log and the reply check.

vagent also retrieves passages every turn (a MiniLM embedding plus a Chroma query), which the bare
agent never does; the time spent inside ``KnowledgeBase.search`` is measured on its own, and a
second vagent figure is printed with it taken out.

Turns alternate between the two agents (which one goes first alternates too) after a warm-up
conversation, so a noisy machine slows both alike. The caller is IVR-authenticated, so vagent's
policy gate lets the lookup run.

Run it from the repository root::

    python tools/bench_turn.py                      # 200 turns over 20 conversations
    python tools/bench_turn.py --turns 1000 --conversations 50
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.warnings import LangGraphDeprecatedSinceV10

from vagent import Agent
from vagent.backends.sqlite import SQLiteBackend
from vagent.config import load_config
from vagent.knowledge.store import KnowledgeBase, Passage
from vagent.state import Caller
from vagent.testing import ScriptedModel, tool_call
from vagent.tools.builtin import describe

with warnings.catch_warnings():
    # It moved to langchain.agents, which is not installed; the prebuilt one is what we compare.
    warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
    from langgraph.prebuilt import create_react_agent

CONFIG = Path(__file__).resolve().parent.parent / "examples/fha_resource_center/agent.toml"
CALLER = Caller(phone="555-555-1212", ivr_authenticated=True)
QUESTION = "What is the status of case 12345?"
ANSWER = "Here is your case status."
WARM_UP_TURNS = 5


class SearchClock:
    """Seconds spent in ``KnowledgeBase.search`` since the last :meth:`take`."""

    def __init__(self) -> None:
        self._spent = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Time every search while the block runs (searches run in worker threads)."""
        original = KnowledgeBase.search

        def timed(kb: KnowledgeBase, query: str, **options: Any) -> list[Passage]:
            start = time.perf_counter()
            try:
                return original(kb, query, **options)
            finally:
                with self._lock:
                    self._spent += time.perf_counter() - start

        KnowledgeBase.search = timed  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            KnowledgeBase.search = original  # type: ignore[method-assign]

    def take(self) -> float:
        """The seconds counted so far, resetting the count."""
        with self._lock:
            spent, self._spent = self._spent, 0.0
        return spent


def scripted_model(turns: int) -> ScriptedModel:
    """A model that, each turn, looks up case 12345 and then answers."""
    return ScriptedModel(script=[tool_call("lookup_case", case_id="12345"), ANSWER] * turns)


def lookup_tool(backend: SQLiteBackend) -> BaseTool:
    """The bare agent's lookup_case: the same backend read that vagent's tool makes."""

    @tool
    async def lookup_case(case_id: str) -> str:
        """Look up the status of one of the caller's cases."""
        case = await backend.get_case(case_id)
        return describe(case) if case is not None else f"There is no case {case_id}."

    return lookup_case


async def react_agent(
    model: BaseChatModel, tools: list[BaseTool], path: Path
) -> tuple[CompiledStateGraph[Any], aiosqlite.Connection]:
    """create_react_agent with an SQLite checkpointer set up the way vagent sets up its own."""
    conn = await aiosqlite.connect(str(path), timeout=30)
    await conn.execute("PRAGMA journal_mode=WAL")
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        graph = create_react_agent(model, tools=tools, checkpointer=saver)
    return graph, conn


async def vagent_turn(agent: Agent, conversation_id: str) -> None:
    """One vagent turn; fails loudly if the lookup did not run."""
    reply = await agent.run(conversation_id, QUESTION, caller=CALLER)
    ran = [a for a in reply.actions if a.tool == "lookup_case" and a.status == "executed"]
    if reply.text != ANSWER or not ran:
        raise RuntimeError(f"vagent took another path: {reply.text!r} {reply.actions!r}")


async def bare_turn(graph: CompiledStateGraph[Any], conversation_id: str) -> None:
    """One bare react-agent turn; fails loudly if the lookup did not run."""
    config: RunnableConfig = {"configurable": {"thread_id": conversation_id}}
    state = await graph.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)
    tool_result, last = state["messages"][-2], state["messages"][-1]
    if not (isinstance(last, AIMessage) and last.content == ANSWER) or "12345" not in str(
        tool_result.content
    ):
        raise RuntimeError(f"the bare agent took another path: {state['messages'][-3:]!r}")


async def timed(turn: Callable[[], Any]) -> float:
    """Seconds one turn takes."""
    start = time.perf_counter()
    await turn()
    return time.perf_counter() - start


async def measure(turns: int, conversations: int, state_dir: Path) -> dict[str, list[float]]:
    """Per-turn seconds for vagent, for vagent's searches, and for the bare agent."""
    per_conversation = math.ceil(turns / conversations)
    config = load_config(CONFIG)
    # The per-conversation tool budget is a policy limit, not a cost; lift it for long runs.
    policy = config.policy.model_copy(
        update={
            "max_tool_calls_per_conversation": max(
                per_conversation, config.policy.max_tool_calls_per_conversation
            )
        }
    )
    config = config.model_copy(update={"state_dir": state_dir / "vagent", "policy": policy})
    agent = Agent.from_config(config, model=scripted_model(turns + WARM_UP_TURNS))
    bare_model = scripted_model(turns + WARM_UP_TURNS)
    graph, conn = await react_agent(
        bare_model, [lookup_tool(agent.backend)], state_dir / "bare.sqlite"
    )
    clock = SearchClock()
    times: dict[str, list[float]] = {"vagent": [], "search": [], "bare": []}
    try:
        with clock.installed():
            for _ in range(WARM_UP_TURNS):
                await vagent_turn(agent, "warm-up")
                await bare_turn(graph, "warm-up")
            clock.take()
            for n in range(turns):
                conversation_id = f"bench-{n * conversations // turns}"

                async def run_vagent(conversation_id: str = conversation_id) -> None:
                    await vagent_turn(agent, conversation_id)

                async def run_bare(conversation_id: str = conversation_id) -> None:
                    await bare_turn(graph, conversation_id)

                if n % 2 == 0:
                    times["vagent"].append(await timed(run_vagent))
                    times["bare"].append(await timed(run_bare))
                else:
                    times["bare"].append(await timed(run_bare))
                    times["vagent"].append(await timed(run_vagent))
                times["search"].append(clock.take())
    finally:
        await conn.close()
        await agent.aclose()
        agent.close()
    return times


def p90(values: list[float]) -> float:
    """The 90th percentile."""
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def report(times: dict[str, list[float]], turns: int, conversations: int) -> str:
    """The table of medians and p90s, and the ratios of medians."""
    without_search = [v - s for v, s in zip(times["vagent"], times["search"], strict=True)]
    rows = [
        ("vagent", times["vagent"]),
        ("  of which search", times["search"]),
        ("vagent minus search", without_search),
        ("bare react agent", times["bare"]),
    ]
    bare = statistics.median(times["bare"])
    ratio = statistics.median(times["vagent"]) / bare
    ratio_without_search = statistics.median(without_search) / bare
    lines = [
        f"{turns} turns per agent over {conversations} conversations, interleaved, "
        f"after {WARM_UP_TURNS} warm-up turns;",
        "scripted model (zero latency) and an SQLite checkpointer for both agents",
        "",
        f"{'per turn':<22}{'median ms':>10}{'p90 ms':>10}",
    ]
    lines += [
        f"{name:<22}{statistics.median(v) * 1e3:>10.2f}{p90(v) * 1e3:>10.2f}" for name, v in rows
    ]
    lines += [
        "",
        f"ratio of medians, vagent / bare:                {ratio:.2f}",
        f"ratio of medians, (vagent minus search) / bare: {ratio_without_search:.2f}",
        "",
        "vagent retrieves passages every turn (MiniLM embedding + Chroma query); the bare agent",
        "does not. 'vagent minus search' subtracts each turn's time inside KnowledgeBase.search.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="measured turns per agent")
    parser.add_argument("--conversations", type=int, default=20, help="conversations per agent")
    args = parser.parse_args(argv)
    if args.turns < 2 or not 1 <= args.conversations <= args.turns:
        parser.error("need --turns >= 2 and 1 <= --conversations <= --turns")
    with tempfile.TemporaryDirectory(prefix="vagent-bench-") as state_dir:
        times = asyncio.run(measure(args.turns, args.conversations, Path(state_dir)))
    print(report(times, args.turns, args.conversations))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
