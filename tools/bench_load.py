"""Throughput of many concurrent conversations through the OpenAI path, beside the ideal.

N conversations run at once (``asyncio.gather``) on one FHA Resource Center agent, each taking
``--turns`` turns in a row. Their starts are spread evenly over one latency, so turns reach the
agent as a steady stream, as callers do (``--burst`` starts them all at once instead, the worst
case). The agent's model is the OpenAI-compatible client, pointed at a fake chat-completions
endpoint on localhost that answers every request ``--latency`` seconds after it came. The
endpoint runs in a process of its own, so its work never shares the agent's event loop.

Its replies are shaped like a real model's: an answer made of the first sentence of passage
[1] of the system prompt, cited as [1]; or, when the caller asks about the status of a case, a
``lookup_case`` call, which the policy gate refuses (the caller is recognised by phone, not
verified), followed by a second request that answers in words. Every request is counted. A
conversation that hands off takes no further turns.

If the agent added no time of its own, the run would take as long as its busiest conversation's
start plus ``latency`` per model call. The achieved fraction is that ideal time over the measured
time: for conversations of equal length, the throughput in turns per second over the ideal
N / (latency x requests per turn). The issue's target is 0.9 or more at N = 200. Beside each
agent run, two baselines run the same load: a bare LangGraph react agent
(``create_react_agent`` with an SQLite checkpointer and one tool, on the same endpoint and
caller lines: what LangGraph and the client cost with none of vagent's work), and the bare
client making the same number of model calls with no graph (what the client and the fake
endpoint cost).

Overhead per turn is the turn's time less ``latency`` per model call it made. Loop CPU is the
CPU time of the event loop's thread per turn: the work every turn queues behind, which caps
throughput at 1 / (loop CPU per turn) turns per second however slow the model is. The machine's
other load makes absolute times noisy; compare the columns of one run.

Run it from the repository root::

    python tools/bench_load.py                          # N = 10, 50, 200; 3 turns; 1 s latency
    python tools/bench_load.py --sizes 200 --latency 2 --turns 5
    python tools/bench_load.py --burst
    python tools/bench_load.py --workers 2          # two agent processes share the load

With ``--workers W`` the conversations are dealt out to W processes, each with its own agent
and state directory (as workers behind a load balancer, with no conversation shared), started
together once all are warm; loop and all-thread CPU are then summed over the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph.state import CompiledStateGraph

from bench_turn import react_agent
from vagent import Agent
from vagent.config import ModelConfig, load_config
from vagent.models import OpenAIChatModel
from vagent.state import Caller

CONFIG = Path(__file__).resolve().parent.parent / "examples/fha_resource_center/agent.toml"
KEY_ENV = "VAGENT_BENCH_API_KEY"
MODEL = "fake-chat"

# Caller lines from examples/fha_resource_center/demo.json and like them. The second caller is
# recognised by phone but not verified, so the status question's lookup_case call is refused.
SCRIPTS: tuple[tuple[Caller, tuple[str, ...]], ...] = (
    (
        Caller(channel="chat"),
        (
            "Hi, I'm Alex. I want to get an FHA loan. Which type of loan is right for me?",
            "I plan to buy a house and then fix it up.",
            "What are the requirements for that loan?",
        ),
    ),
    (
        Caller(phone="555-555-0147", channel="voice"),
        (
            "What is the status of my application? The case number is 67890.",
            "What does a Section 203(k) loan pay for?",
            "How much do I need for a down payment?",
        ),
    ),
    (
        Caller(channel="chat"),
        (
            "How does FHA mortgage insurance work?",
            "How long do I have to pay it?",
            "Can I get a loan for energy efficient upgrades?",
        ),
    ),
)
WARM_UP_CONVERSATIONS = 6

# Counters the endpoint shares with the bench: requests, requests in flight, most in flight.
REQUESTS, IN_FLIGHT, MOST_IN_FLIGHT = range(3)

_PASSAGE_ONE = re.compile(r"^\[1\] .*?: (.+)$", re.MULTILINE)
_CASE_PLACEHOLDER = re.compile(r"<CASE_ID_\d+>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_NO_ANSWER = "I'm sorry, I don't know that. I can connect you with a person."


# The fake endpoint: runs in its own process.


def completion(request: dict[str, Any], number: int) -> dict[str, Any]:
    """The chat completion a model might return for ``request``."""
    messages = request.get("messages", [])
    last = messages[-1] if messages else {}
    said = str(last.get("content") or "")
    if last.get("role") == "user" and "status" in said.lower():
        case = _CASE_PLACEHOLDER.search(said)
        arguments = json.dumps({"case_id": case.group(0)} if case else {})
        call = {
            "id": f"call_{number}",
            "type": "function",
            "function": {"name": "lookup_case", "arguments": arguments},
        }
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": _answer(messages)}
        finish = "stop"
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", MODEL),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
    }


def _answer(messages: list[dict[str, Any]]) -> str:
    """The first sentence of passage [1] of the system prompt, cited; or no answer."""
    system = next((m for m in messages if m.get("role") == "system"), {})
    found = _PASSAGE_ONE.search(str(system.get("content") or ""))
    if found is None:
        return _NO_ANSWER
    sentence = _SENTENCE_END.split(found.group(1).strip(), maxsplit=1)[0]
    return f"{sentence[:300]} [1]"


async def _respond(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    latency: float,
    counters: SynchronizedArray[int],
) -> None:
    """Serve one keep-alive connection: each POST is answered ``latency`` seconds after it came."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = loop.time()
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(":", 1) for line in lines[1:] if ":" in line)
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            counters[REQUESTS] += 1
            counters[IN_FLIGHT] += 1
            counters[MOST_IN_FLIGHT] = max(counters[MOST_IN_FLIGHT], counters[IN_FLIGHT])
            answer = completion(json.loads(body), counters[REQUESTS])
            payload = json.dumps(answer).encode()
            await asyncio.sleep(max(0.0, latency - (loop.time() - arrived)))
            counters[IN_FLIGHT] -= 1
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


def serve(latency: float, ready: Connection, counters: SynchronizedArray[int]) -> None:
    """The endpoint's process: listen on a free port, send the port back, serve until killed."""

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _respond(r, w, latency, counters), "127.0.0.1", 0, backlog=4096
        )
        ready.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


@dataclass
class FakeEndpoint:
    """A handle on the endpoint's process and its counters."""

    base_url: str
    counters: SynchronizedArray[int]

    def count(self, which: int) -> int:
        """One of the counters (REQUESTS, MOST_IN_FLIGHT)."""
        return int(self.counters[which])


@contextmanager
def fake_endpoint(latency: float) -> Iterator[FakeEndpoint]:
    """Start the endpoint in a fresh process; stop it when the block ends."""
    context = multiprocessing.get_context("spawn")
    counters = context.Array("q", 3)
    ours, theirs = context.Pipe(duplex=False)
    process = context.Process(target=serve, args=(latency, theirs, counters), daemon=True)
    process.start()
    try:
        while not ours.poll(0.1):
            if not process.is_alive():
                raise RuntimeError(f"the fake endpoint exited with code {process.exitcode}")
        yield FakeEndpoint(f"http://127.0.0.1:{ours.recv()}/v1", counters)
    finally:
        process.terminate()
        process.join()


# The load.


@dataclass
class Run:
    """What one batch of concurrent conversations measured."""

    size: int
    turns: int = 0
    seconds: float = 0.0
    ideal_seconds: float = 0.0
    requests: int = 0
    most_in_flight: int = 0
    loop_cpu: float = 0.0
    process_cpu: float = 0.0
    turn_seconds: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    handoffs: int = 0
    client_fraction: float = 0.0
    client_loop_cpu: float = 0.0
    # The react agent runs in one process, so it is measured beside a one-process agent only.
    react_fraction: float | None = None
    react_loop_cpu: float | None = None

    @property
    def fraction(self) -> float:
        """The ideal time over the measured time."""
        return self.ideal_seconds / self.seconds


@dataclass
class Conversation:
    """One conversation's start, turn times and model calls."""

    start: float
    turn_seconds: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    handed_off: bool = False


def starts(size: int, latency: float, burst: bool) -> list[float]:
    """Seconds after the run's start at which each conversation begins."""
    if burst:
        return [0.0] * size
    # Spread over one latency, the turns reach the loop as a steady stream, as callers do.
    return [latency * i / size for i in range(size)]


def caller_line(lines: tuple[str, ...], n: int) -> str:
    """The caller's n-th line; past the script, its lines again without the opening one."""
    if n < len(lines):
        return lines[n]
    return lines[1 + (n - 1) % (len(lines) - 1)]


async def converse(
    agent: Agent, conversation_id: str, script: int, turns: int, start: float
) -> Conversation:
    """Wait until ``start``, then take up to ``turns`` turns of one scripted caller, timing each.

    A conversation that hands off stops there: from then on a live agent answers.
    """
    caller, lines = SCRIPTS[script % len(SCRIPTS)]
    out = Conversation(start)
    await asyncio.sleep(start)
    for n in range(turns):
        began = time.perf_counter()
        reply = await agent.run(conversation_id, caller_line(lines, n), caller=caller)
        out.turn_seconds.append(time.perf_counter() - began)
        # The fake endpoint asks for one tool call at a time: a request for each, one to answer.
        out.calls.append(1 + len(reply.actions))
        if reply.handoff is not None:
            out.handed_off = True
            break
    return out


async def measure(
    agent: Agent,
    endpoint: FakeEndpoint | None,
    size: int,
    turns: int,
    latency: float,
    burst: bool,
    part: tuple[int, int] = (0, 1),
) -> Run:
    """Run ``size`` conversations at once and measure them (with ``part = (k, w)``, only the
    k-th of every w, for worker k of w; its requests are then counted from its replies)."""
    tag = f"load-{time.monotonic_ns()}-{part[0]}"
    requests_before = endpoint.count(REQUESTS) if endpoint else 0
    if endpoint:
        endpoint.counters[MOST_IN_FLIGHT] = 0
    cpu, loop_cpu, began = time.process_time(), time.thread_time(), time.perf_counter()
    conversations = await asyncio.gather(
        *(
            converse(agent, f"{tag}-{i}", i, turns, start)
            for i, start in enumerate(starts(size, latency, burst))
            if i % part[1] == part[0]
        )
    )
    expected = sum(sum(c.calls) for c in conversations)
    run = Run(
        size=size,
        turns=sum(len(c.turn_seconds) for c in conversations),
        seconds=time.perf_counter() - began,
        ideal_seconds=max(c.start + latency * sum(c.calls) for c in conversations),
        requests=endpoint.count(REQUESTS) - requests_before if endpoint else expected,
        most_in_flight=endpoint.count(MOST_IN_FLIGHT) if endpoint else 0,
        loop_cpu=time.thread_time() - loop_cpu,
        process_cpu=time.process_time() - cpu,
        handoffs=sum(c.handed_off for c in conversations),
    )
    for c in conversations:
        run.turn_seconds += c.turn_seconds
        run.overhead += [t - latency * k for t, k in zip(c.turn_seconds, c.calls, strict=True)]
    if expected != run.requests:
        print(f"warning: N={size}: {expected} model calls expected, {run.requests} requests seen")
    return run


# Several worker processes, each with its own agent, sharing the load as behind a balancer.


def build_agent(base_url: str, state_dir: Path) -> Agent:
    """The FHA agent on the fake endpoint, with its state in ``state_dir``."""
    os.environ.setdefault(KEY_ENV, "sk-bench-not-a-real-key")
    config = load_config(CONFIG)
    model = ModelConfig(model=MODEL, base_url=base_url, api_key_env=KEY_ENV, timeout_s=60.0)
    return Agent.from_config(config.model_copy(update={"state_dir": state_dir, "model": model}))


def work(part: tuple[int, int], job: tuple[str, int, int, float, bool], go: Any, out: Any) -> None:
    """A worker process: build an agent, warm it up, wait for the others, run its share."""

    async def main() -> Run:
        base_url, size, turns, latency, burst = job
        with tempfile.TemporaryDirectory(prefix="vagent-bench-worker-") as state_dir:
            agent = build_agent(base_url, Path(state_dir))
            try:
                await measure(agent, None, WARM_UP_CONVERSATIONS, 1, latency, burst)
                await asyncio.to_thread(go.wait)
                return await measure(agent, None, size, turns, latency, burst, part)
            finally:
                await agent.aclose()
                agent.close()

    out.send(asyncio.run(main()))


def measure_workers(
    endpoint: FakeEndpoint, workers: int, size: int, turns: int, latency: float, burst: bool
) -> Run:
    """Run ``size`` conversations split over ``workers`` processes and merge what they saw."""
    context = multiprocessing.get_context("spawn")
    go = context.Barrier(workers)
    pipes = [context.Pipe(duplex=False) for _ in range(workers)]
    job = (endpoint.base_url, size, turns, latency, burst)
    processes = [
        context.Process(target=work, args=((k, workers), job, go, theirs))
        for k, (_, theirs) in enumerate(pipes)
    ]
    for process in processes:
        process.start()
    parts: list[Run] = [ours.recv() for ours, _ in pipes]
    for process in processes:
        process.join()
    merged = Run(
        size=size,
        turns=sum(r.turns for r in parts),
        seconds=max(r.seconds for r in parts),
        ideal_seconds=max(r.ideal_seconds for r in parts),
        requests=sum(r.requests for r in parts),
        most_in_flight=endpoint.count(MOST_IN_FLIGHT),
        loop_cpu=sum(r.loop_cpu for r in parts),
        process_cpu=sum(r.process_cpu for r in parts),
        handoffs=sum(r.handoffs for r in parts),
    )
    for r in parts:
        merged.turn_seconds += r.turn_seconds
        merged.overhead += r.overhead
    return merged


async def client_only(
    model: OpenAIChatModel, size: int, turns: int, latency: float, burst: bool
) -> tuple[float, float]:
    """The achieved fraction, and loop CPU seconds per call, of the bare client's calls."""
    messages = [
        SystemMessage("Passages:\n[1] FHA loans: An FHA loan is insured by the FHA."),
        HumanMessage(SCRIPTS[0][1][0]),
    ]

    async def calls(start: float) -> None:
        await asyncio.sleep(start)
        for _ in range(turns):
            await model.ainvoke(messages)

    offsets = starts(size, latency, burst)
    loop_cpu, began = time.thread_time(), time.perf_counter()
    await asyncio.gather(*(calls(start) for start in offsets))
    seconds = time.perf_counter() - began
    ideal = max(offsets) + latency * turns
    return ideal / seconds, (time.thread_time() - loop_cpu) / (size * turns)


@tool
async def lookup_case(case_id: str) -> str:
    """Look up the status of the caller's case by its case number."""
    return f"No case {case_id} is on file for you."


async def react_only(
    graph: CompiledStateGraph[Any], size: int, turns: int, latency: float, burst: bool
) -> tuple[float, float]:
    """The achieved fraction, and loop CPU seconds per turn, of the bare react agent."""
    tag = f"react-{time.monotonic_ns()}"

    async def converse(i: int, start: float) -> float:
        _, lines = SCRIPTS[i % len(SCRIPTS)]
        config: RunnableConfig = {"configurable": {"thread_id": f"{tag}-{i}"}}
        await asyncio.sleep(start)
        calls = 0
        for n in range(turns):
            state = await graph.ainvoke({"messages": [HumanMessage(caller_line(lines, n))]}, config)
            calls += _model_calls_of_turn(state["messages"])
        return start + latency * calls

    loop_cpu, began = time.thread_time(), time.perf_counter()
    ideal = max(
        await asyncio.gather(*(converse(i, t) for i, t in enumerate(starts(size, latency, burst))))
    )
    seconds = time.perf_counter() - began
    return ideal / seconds, (time.thread_time() - loop_cpu) / (size * turns)


def _model_calls_of_turn(messages: Sequence[Any]) -> int:
    """How many model replies came after the caller's latest message."""
    calls = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        calls += isinstance(message, AIMessage)
    return calls


async def bench(
    sizes: Sequence[int], turns: int, latency: float, burst: bool, state_dir: Path, workers: int
) -> list[Run]:
    """Warm up, then measure each size with the agent and with the bare client."""
    with fake_endpoint(latency) as endpoint:
        if workers > 1:
            return await bench_workers(endpoint, sizes, turns, latency, burst, workers)
        agent = build_agent(endpoint.base_url, state_dir)
        client = OpenAIChatModel(model=MODEL, base_url=endpoint.base_url, api_key=None)
        react_model = OpenAIChatModel(model=MODEL, base_url=endpoint.base_url, api_key=None)
        react_path = state_dir / "react.sqlite"
        react, react_conn = await react_agent(react_model, [lookup_case], react_path)
        runs = []
        try:
            # Loads the embedder, compiles the graphs and opens the connections.
            await measure(agent, endpoint, WARM_UP_CONVERSATIONS, 1, latency, burst)
            await client_only(client, WARM_UP_CONVERSATIONS, 1, latency, burst)
            await react_only(react, WARM_UP_CONVERSATIONS, 1, latency, burst)
            for size in sizes:
                run = await measure(agent, endpoint, size, turns, latency, burst)
                run.react_fraction, run.react_loop_cpu = await react_only(
                    react, size, turns, latency, burst
                )
                run.client_fraction, run.client_loop_cpu = await client_only(
                    client, size, turns, latency, burst
                )
                runs.append(run)
        finally:
            await agent.aclose()
            agent.close()
            await client.aclose()
            await react_model.aclose()
            await react_conn.close()
        return runs


async def bench_workers(
    endpoint: FakeEndpoint,
    sizes: Sequence[int],
    turns: int,
    latency: float,
    burst: bool,
    workers: int,
) -> list[Run]:
    """Each size over ``workers`` processes, then the bare client in this one."""
    client = OpenAIChatModel(model=MODEL, base_url=endpoint.base_url, api_key=None)
    runs = []
    try:
        await client_only(client, WARM_UP_CONVERSATIONS, 1, latency, burst)
        for size in sizes:
            endpoint.counters[MOST_IN_FLIGHT] = 0
            run = await asyncio.to_thread(
                measure_workers, endpoint, workers, size, turns, latency, burst
            )
            run.client_fraction, run.client_loop_cpu = await client_only(
                client, size, turns, latency, burst
            )
            runs.append(run)
    finally:
        await client.aclose()
    return runs


def quantile(values: list[float], q: int) -> float:
    """The q-th percentile."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _figure(value: float | None, scale: float, digits: int = 2) -> str:
    """A measured figure, or a dash where it was not measured."""
    return "-" if value is None else f"{value * scale:.{digits}f}"


def report(runs: list[Run], turns: int, latency: float, burst: bool) -> str:
    """The table, one row per size, and what its columns mean."""
    arrivals = "all at once" if burst else f"spread over {latency * 1e3:.0f} ms"
    header = (
        f"{'N':>5}{'fraction':>10}{'react':>7}{'client':>8}{'turns/s':>9}{'ideal/s':>9}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'ovh p50':>9}{'ovh p95':>9}{'req/turn':>10}"
        f"{'loop cpu':>10}{'react':>7}{'client':>8}{'all cpu':>9}{'held':>6}"
    )
    lines = [
        f"{turns} turns per conversation, conversations starting {arrivals};",
        f"fake endpoint latency {latency * 1e3:.0f} ms per call",
        "",
        header,
    ]
    for r in runs:
        lines.append(
            f"{r.size:>5}{r.fraction:>10.2f}{_figure(r.react_fraction, 1):>7}"
            f"{r.client_fraction:>8.2f}"
            f"{r.turns / r.seconds:>9.1f}{r.turns / r.ideal_seconds:>9.1f}"
            f"{quantile(r.turn_seconds, 50) * 1e3:>8.0f}{quantile(r.turn_seconds, 95) * 1e3:>8.0f}"
            f"{quantile(r.overhead, 50) * 1e3:>9.0f}{quantile(r.overhead, 95) * 1e3:>9.0f}"
            f"{r.requests / r.turns:>10.2f}{r.loop_cpu / r.turns * 1e3:>10.1f}"
            f"{_figure(r.react_loop_cpu, 1e3, 1):>7}{r.client_loop_cpu * 1e3:>8.1f}"
            f"{r.process_cpu / r.turns * 1e3:>9.1f}"
            f"{r.most_in_flight:>6}"
        )
    lines += [
        "",
        "fraction  ideal time (each conversation's start + latency x its model calls, the",
        "          busiest one's) / measured time; react: the same for a bare LangGraph react",
        "          agent (create_react_agent, SQLite checkpointer, one tool) on the same endpoint",
        "          and caller lines; client: the bare OpenAI client making the same number of",
        "          calls, without any graph",
        "ovh       turn time less latency per model call (ms)",
        "loop cpu  CPU ms per turn on the event loop's thread; react: the same per react-agent",
        "          turn; client: the same per bare call;",
        "          all cpu: CPU ms per turn of the whole bench process, every thread",
        "held      most requests the endpoint held at once",
    ]
    handoffs = sum(r.handoffs for r in runs)
    if handoffs:
        lines.append(f"note: {handoffs} conversations handed off and took no further turns")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--turns", type=int, default=3, help="turns per conversation")
    parser.add_argument(
        "--sizes", default="10,50,200", help="comma-separated numbers of conversations"
    )
    parser.add_argument(
        "--burst", action="store_true", help="start every conversation at once (the worst case)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="agent processes sharing the conversations"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.latency <= 0 or args.turns < 1 or not sizes or min(sizes) < 1 or args.workers < 1:
        parser.error("need --latency > 0, --turns >= 1, sizes >= 1 and --workers >= 1")
    with tempfile.TemporaryDirectory(prefix="vagent-bench-") as state_dir:
        runs = asyncio.run(
            bench(sizes, args.turns, args.latency, args.burst, Path(state_dir), args.workers)
        )
    print(report(runs, args.turns, args.latency, args.burst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
