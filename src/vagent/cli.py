"""The ``vagent`` command: ``demo``, ``chat``, ``ingest`` and ``eval``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from vagent.agent import Agent
from vagent.assist import Copilot, LiveCall, format_suggestions, play
from vagent.config import AgentConfig, load_config
from vagent.errors import VagentError
from vagent.evals.cli import add_eval_command
from vagent.knowledge.store import KnowledgeBase, server_client
from vagent.state import Caller, ConversationRecord, Reply

DEFAULT_CONFIG = Path("examples/fha_resource_center/agent.toml")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except VagentError as exc:
        print(f"vagent: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="vagent", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="play the example conversations end to end")
    demo.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="agent.toml")
    demo.add_argument("--script", type=Path, help="demo.json (default: beside the config)")
    demo.set_defaults(handler=_demo)

    chat = commands.add_parser("chat", help="talk to the agent in the terminal")
    chat.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="agent.toml")
    chat.add_argument("--phone", help="the caller's phone number, as the channel reports it")
    chat.add_argument("--ivr", action="store_true", help="the IVR authenticated the caller")
    chat.add_argument("--conversation", default="chat-1", help="conversation id")
    chat.set_defaults(handler=_chat)

    ingest = commands.add_parser("ingest", help="build the knowledge store from articles")
    ingest.add_argument("directory", type=Path, help="folder of Markdown articles")
    ingest.add_argument("--config", type=Path, help="agent.toml: use its store and collection")
    ingest.add_argument("--store", type=Path, default=Path(".vagent/chroma"))
    ingest.add_argument("--collection", default="articles")
    ingest.set_defaults(handler=_ingest)

    add_eval_command(commands)
    return parser


def _demo(args: argparse.Namespace) -> int:
    """Play each scripted conversation on a fresh state directory, printing everything."""
    config = load_config(args.config)
    script = _read_script(args.script or config.base_dir / "demo.json")
    with tempfile.TemporaryDirectory(prefix="vagent-demo-") as state_dir:
        agent = Agent.from_config(config.model_copy(update={"state_dir": Path(state_dir)}))
        try:
            asyncio.run(_play(agent, script, sys.stdout))
        finally:
            agent.close()
    if script.get("live_call"):
        _live_call(config, config.resolve(Path(script["live_call"])), sys.stdout)
    return 0


async def _play(agent: Agent, script: dict[str, Any], out: TextIO) -> None:
    """Play the script's conversations through the agent."""
    for conversation in script["conversations"]:
        out.write(f"\n=== {conversation['title']} ===\n")
        caller = Caller.model_validate(conversation.get("caller", {}))
        for text in conversation["turns"]:
            out.write(f"\ncaller> {text}\n")
            _print_reply(await agent.run(conversation["id"], text, caller=caller), out)
        _print_record(await agent.end(conversation["id"]), out)
    outbox = await agent.backend.outbox()
    out.write(f"\n=== SMS outbox: {len(outbox)} message(s) ===\n")
    for message in outbox:
        out.write(f"  to {message.to}: {message.body}\n")
    await agent.aclose()


def _live_call(config: AgentConfig, path: Path, out: TextIO) -> None:
    """The live call on a fresh state directory of its own (its caller's case is still open)."""
    call = LiveCall.model_validate_json(path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="vagent-demo-live-") as state_dir:
        agent = Agent.from_config(config.model_copy(update={"state_dir": Path(state_dir)}))
        try:
            asyncio.run(_play_live_call(agent, call, out))
        finally:
            agent.close()


async def _play_live_call(agent: Agent, call: LiveCall, out: TextIO) -> None:
    """A live agent's call with the copilot listening: its suggestions after each utterance."""
    copilot = Copilot(agent)
    out.write(f"\n=== {call.title} ===\n")
    async for step in play(copilot, call):
        who = "live agent" if step.turn.speaker == "live_agent" else "caller"
        out.write(f"\n{who}> {step.turn.text}\n")
        out.write(
            "  copilot: " + format_suggestions(step.suggestions).replace("\n", "\n    ") + "\n"
        )
        if step.approved is not None:
            a = step.approved
            out.write(f"  approved by {call.live_agent}: {a.tool} -> {a.status} ({a.reason})\n")
    _print_record(await copilot.wrap_up(call.conversation_id), out)
    outbox = await agent.backend.outbox()
    out.write(f"  texts sent in this call: {[m.to for m in outbox]}\n")
    await agent.aclose()


def _print_reply(reply: Reply, out: TextIO) -> None:
    """One turn: the reply, its citations, actions and handoff."""
    out.write(f"agent> {reply.text}\n")
    for c in reply.citations:
        section = f" / {c.section}" if c.section else ""
        out.write(f"  cited: {c.title}{section} ({c.source})\n")
    for a in reply.actions:
        args = " ".join(f"{k}={v}" for k, v in a.args.items())
        out.write(f"  action: {a.tool} {args} -> {a.status} ({a.reason})\n")
    if reply.pending is not None:
        out.write(f"  awaiting confirmation: {reply.pending.tool} {reply.pending.args}\n")
    if reply.handoff is not None:
        packet = reply.handoff.model_dump(mode="json", exclude={"transcript", "actions"})
        out.write("  handoff packet: " + json.dumps(packet, indent=2).replace("\n", "\n  ") + "\n")


def _print_record(record: ConversationRecord, out: TextIO) -> None:
    """The wrap-up record of a conversation."""
    out.write(f"\n--- wrap-up record: {record.conversation_id} ---\n")
    out.write(f"  outcome: {record.outcome}; turns: {record.turns}\n")
    out.write(f"  summary: {record.summary}\n")
    out.write(f"  intents: {', '.join(record.intents) or '-'}\n")


def _chat(args: argparse.Namespace) -> int:
    """An interactive conversation; /end ends it and prints the record."""
    agent = Agent.from_config(args.config)
    caller = Caller(phone=args.phone, ivr_authenticated=args.ivr, channel="chat")
    print(f"Talking to {agent.config.name}. Type /end to finish.")
    try:
        for line in sys.stdin:
            if line.strip() == "/end":
                break
            _print_reply(agent.run_sync(args.conversation, line, caller=caller), sys.stdout)
        _print_record(agent.end_sync(args.conversation), sys.stdout)
    finally:
        agent.close()
    return 0


def _ingest(args: argparse.Namespace) -> int:
    """Ingest a folder of articles into the knowledge store."""
    store, collection, client = args.store, args.collection, None
    if args.config is not None:
        config: AgentConfig = load_config(args.config)
        store, collection = config.state_path / "chroma", config.knowledge.collection
        if config.knowledge.chroma_url:
            store, client = None, server_client(config.knowledge.chroma_url)
    report = KnowledgeBase(store, collection, client=client).ingest(args.directory)
    print(
        f"ingested {args.directory}: {report.articles_added} added, "
        f"{report.articles_updated} updated, {report.articles_unchanged} unchanged, "
        f"{report.articles_deleted} deleted; {report.passages} passages in {collection!r}"
    )
    return 0


def _read_script(path: Path) -> dict[str, Any]:
    """The demo script, or a clear error."""
    try:
        script: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VagentError(f"demo script {str(path)!r} is not readable JSON: {exc}") from None
    return script


if __name__ == "__main__":
    raise SystemExit(main())
