"""The public face: build an agent from a config, run turns, end conversations, read records."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from vagent import _postgres, _sqlite
from vagent._arguments import check_caller, check_id, check_text, live_agent_taking
from vagent._deps import Deps
from vagent._locks import HAS_FLOCK, ConversationLocks, FileLocks, LoopLocks
from vagent._nodes import WAITING_REPLY, Nodes
from vagent.backends.base import CaseSystem, Messenger
from vagent.backends.sqlite import SQLiteBackend
from vagent.config import AgentConfig, load_config
from vagent.errors import ConversationError
from vagent.graph import build_graph
from vagent.guardrails.pii import PiiDetector
from vagent.guardrails.vault import Vault
from vagent.knowledge.store import KnowledgeBase, server_client
from vagent.models import FallbackChatModel, resolve_model
from vagent.models._retry import turn_budget
from vagent.records import AuditEntry, RecordStore
from vagent.state import (
    STATE_TYPES,
    Caller,
    ConversationRecord,
    ConversationState,
    HandoffPacket,
    Reply,
)
from vagent.tools.builtin import BUILTIN_TOOLS
from vagent.tools.policy import PolicyGate

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WAIT = "await_live_agent"
_NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"


class Agent:
    """A virtual agent for one deployment.

    Build it with :meth:`from_config`. Each :meth:`run` is one caller turn of one conversation;
    the conversation's state lives in the checkpointer, so any process sharing the state
    directory (or the ``database_url``) can take the next turn.
    """

    def __init__(self, config: AgentConfig, deps: Deps) -> None:
        """Use :meth:`from_config`; this is for callers that assemble their own parts."""
        self.config = config
        self._deps = deps
        self._builder = build_graph(Nodes(deps))
        self._graphs: dict[asyncio.AbstractEventLoop, CompiledStateGraph[Any]] = {}
        self._connections: dict[asyncio.AbstractEventLoop, Callable[[], Awaitable[None]]] = {}
        # Workers sharing a database may run on several machines: lock in the database then.
        self._locks: ConversationLocks = (
            _postgres.PostgresLocks(config.database_url)
            if config.database_url
            else FileLocks(config.state_path / "locks")
            if HAS_FLOCK
            else LoopLocks()
        )
        self._opening: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(
        cls,
        path_or_config: str | Path | AgentConfig | dict[str, Any],
        *,
        model: BaseChatModel | None = None,
        cases: CaseSystem | None = None,
        messenger: Messenger | None = None,
    ) -> Agent:
        """Build an agent from a TOML file (or a config object).

        Args:
            path_or_config: the agent.toml path, an ``AgentConfig``, or a dict of its shape.
            model: any langchain-core chat model that supports ``bind_tools``. None means the
                configured OpenAI-compatible endpoint, or the offline engine if none is set.
            cases: the agency's case system; None means the SQLite demo backend.
            messenger: the agency's SMS gateway; None means the SQLite demo outbox.

        Raises:
            ConfigError: the configuration or the model is unusable.
        """
        config = load_config(path_or_config)
        state_dir = config.state_path
        state_dir.mkdir(parents=True, exist_ok=True)
        tools = {name: BUILTIN_TOOLS[name]() for name in config.tools.enabled}
        backend = SQLiteBackend(
            state_dir / "cases.sqlite",
            seed=config.resolve(config.backend.seed) if config.backend.seed else None,
        )
        k = config.knowledge
        knowledge = KnowledgeBase(
            None if k.chroma_url else state_dir / "chroma",
            k.collection,
            client=server_client(k.chroma_url) if k.chroma_url else None,
            vector_weight=k.vector_weight,
            language_weights=k.language_weights,
            language=k.language,
        )
        knowledge.ingest(config.resolve(k.articles), fields=k.fields, language=k.language)
        deps = Deps(
            config=config,
            model=resolve_model(config, model, tools),
            knowledge=knowledge,
            tools=tools,
            gate=PolicyGate(tools),
            cases=cases or backend,
            messenger=messenger or backend,
            store=RecordStore(config.database_url or state_dir / "records.sqlite"),
            vault=Vault(
                config.database_url or state_dir / "vault.sqlite",
                PiiDetector(identifiers={"CASE_ID": config.case_id_pattern}),
            ),
        )
        return cls(config, deps)

    async def run(self, conversation_id: str, text: str, *, caller: Caller | None = None) -> Reply:
        """Take one caller turn and return the agent's reply.

        Turns of one conversation run one at a time, in this process and in any other sharing
        the state directory. The text is cleaned first (:func:`vagent.guardrails.screen.clean`):
        control characters and undecodable bytes go, and text past ``MAX_TURN_CHARS`` (4000)
        characters is cut off. Text with nothing left gets a request to say it again and takes
        no turn.

        Args:
            conversation_id: the conversation (letters, digits and ``._:@-``, up to 128).
            text: what the caller said.
            caller: what the channel knows about the caller; read on the conversation's first
                turn and kept after.

        Raises:
            ConversationError: the conversation id is malformed, or the conversation has ended.
            TurnArgumentError: ``text`` is not a str (decode bytes first), or ``caller`` is not
                a :class:`Caller`.
        """
        check_id(conversation_id)
        said = check_text(conversation_id, text)
        check_caller(conversation_id, caller)
        graph = await self._graph()
        config: RunnableConfig = {"configurable": {"thread_id": conversation_id}}
        async with self._lock(conversation_id):
            current, resumed, waiting = await _finish_interrupted_turn(graph, config)
            if waiting:
                return Reply(
                    conversation_id=conversation_id, turn=current.get("turn", 0), text=WAITING_REPLY
                )
            if resumed and _caller_text(current) == said:
                # The channel retried the turn a crash interrupted: that turn is its answer.
                return _reply(conversation_id, cast(ConversationState, current))
            if current.get("record") is not None:
                raise ConversationError(
                    f"conversation {conversation_id!r} has ended; start a new conversation id",
                    conversation_id=conversation_id,
                )
            if not said:
                return Reply(
                    conversation_id=conversation_id, turn=current.get("turn", 0), text=_NOT_HEARD
                )
            # The cleaned text, so the checkpoint never holds more than a turn's bounded share.
            update: dict[str, Any] = {"incoming": said}
            if caller is not None and not current:
                update["caller"] = caller
            # Each step's checkpoint is on disk before the next step starts, so a side effect
            # never runs ahead of the state that led to it, and a crash loses no caller turn.
            with turn_budget(self.config.model.budget_s if self.config.model else None):
                output = await graph.ainvoke(update, config, durability="sync")
            state = cast(ConversationState, output)
        return _reply(conversation_id, state)

    async def end(self, conversation_id: str) -> ConversationRecord:
        """End the conversation and return its record (the same record on a repeat call).

        Raises:
            ConversationError: there is no such conversation.
        """
        check_id(conversation_id)
        graph = await self._graph()
        config: RunnableConfig = {"configurable": {"thread_id": conversation_id}}
        async with self._lock(conversation_id):
            current, _, waiting = await _finish_interrupted_turn(graph, config)
            if waiting:
                # Ended before a live agent took it: close the wait so the record can be written.
                await graph.ainvoke(Command(resume={}), config, durability="sync")
            if not current:
                raise ConversationError(
                    f"no conversation {conversation_id!r} to end", conversation_id=conversation_id
                )
            if current.get("record") is not None:
                record: ConversationRecord = current["record"]
                return record
            state = await graph.ainvoke({"ending": True}, config, durability="sync")
        return state["record"]  # type: ignore[no-any-return]

    async def resume(
        self, conversation_id: str, *, live_agent: str, messages: Sequence[str] = ()
    ) -> HandoffPacket:
        """A live agent takes a conversation that was handed off; it continues without loss.

        Args:
            conversation_id: the conversation waiting for a live agent.
            live_agent: the live agent's id, kept in the record.
            messages: what the live agent said on taking the call, for the transcript.

        Returns:
            The handoff packet the live agent works from.

        Raises:
            ConversationError: the conversation is not waiting for a live agent.
            TurnArgumentError: ``live_agent`` is not a non-empty str, or ``messages`` is not a
                sequence of str.
        """
        check_id(conversation_id)
        taken = live_agent_taking(conversation_id, live_agent, messages)
        graph = await self._graph()
        config: RunnableConfig = {"configurable": {"thread_id": conversation_id}}
        async with self._lock(conversation_id):
            if not await _awaiting_live_agent(graph, config):
                raise ConversationError(
                    f"conversation {conversation_id!r} is not waiting for a live agent",
                    conversation_id=conversation_id,
                )
            state = await graph.ainvoke(Command(resume=taken), config, durability="sync")
        packet: HandoffPacket = state["handoff"]
        return packet

    def resume_sync(
        self, conversation_id: str, *, live_agent: str, messages: Sequence[str] = ()
    ) -> HandoffPacket:
        """:meth:`resume` for scripts and notebooks."""
        return self._sync(self.resume(conversation_id, live_agent=live_agent, messages=messages))

    async def record(self, conversation_id: str) -> ConversationRecord | None:
        """The stored record of an ended conversation, or None."""
        return await self._deps.store.record(conversation_id)

    async def audit_log(self, conversation_id: str) -> list[AuditEntry]:
        """Every policy decision taken in the conversation, oldest first."""
        return await self._deps.store.audit_log(conversation_id)

    async def handoffs(self) -> list[HandoffPacket]:
        """Handoffs waiting for a live agent, most urgent first."""
        return await self._deps.store.handoffs()

    @property
    def backend(self) -> SQLiteBackend:
        """The embedded demo backend (case system and SMS outbox)."""
        assert isinstance(self._deps.cases, SQLiteBackend)
        return self._deps.cases

    def run_sync(self, conversation_id: str, text: str, *, caller: Caller | None = None) -> Reply:
        """:meth:`run` for scripts and notebooks."""
        return self._sync(self.run(conversation_id, text, caller=caller))

    def end_sync(self, conversation_id: str) -> ConversationRecord:
        """:meth:`end` for scripts and notebooks."""
        return self._sync(self.end(conversation_id))

    async def aclose(self) -> None:
        """Close the connections (checkpointer, locks, model endpoint) opened in this loop."""
        loop = asyncio.get_running_loop()
        self._graphs.pop(loop, None)
        self._opening.pop(loop, None)
        close = self._connections.pop(loop, None)
        if close is not None:
            await close()
        if isinstance(self._locks, _postgres.PostgresLocks):
            await self._locks.aclose()
        if isinstance(self._deps.model, FallbackChatModel):
            # Only the endpoint model vagent built; a model passed in belongs to its owner.
            await self._deps.model.aclose()

    def close(self) -> None:
        """Close everything the agent opened; it cannot be used afterwards."""
        if self._loop is not None:
            self._sync(self.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join()
            self._loop.close()
            self._loop = None
        if self._connections:
            logger.warning(
                "checkpointer connections left open in %d event loops; await aclose() in each",
                len(self._connections),
            )
        self._deps.store.close()
        self._deps.vault.close()

    async def _graph(self) -> CompiledStateGraph[Any]:
        """The graph compiled with a checkpointer opened in the running loop.

        Postgres when ``database_url`` is set, so every worker reads the same conversations;
        otherwise an SQLite file in the state directory.
        """
        loop = asyncio.get_running_loop()
        if loop in self._graphs:
            return self._graphs[loop]
        # The first turns of a loop arrive together; one opens the checkpointer, the rest wait
        # (two simultaneous set-ups of a fresh SQLite file fail with "database is locked").
        async with self._opening.setdefault(loop, asyncio.Lock()):
            if loop in self._graphs:
                return self._graphs[loop]
            serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
            url = self.config.database_url
            if url:
                saver, close = await _postgres.open_checkpointer(url, serde)
            else:
                path = self.config.state_path / "checkpoints.sqlite"
                saver, close = await _sqlite.open_checkpointer(path, serde)
            self._connections[loop] = close
            self._graphs[loop] = self._builder.compile(checkpointer=saver)
        return self._graphs[loop]

    def _lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """The lock that keeps two turns of one conversation from interleaving."""
        return self._locks.hold(conversation_id)

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the agent's private event loop and wait for it."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, daemon=True, name="vagent-agent-loop"
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()


async def _finish_interrupted_turn(
    graph: CompiledStateGraph[Any], config: RunnableConfig
) -> tuple[dict[str, Any], bool, bool]:
    """The conversation's state, after finishing a turn that a crash stopped part-way.

    Returns the state, whether a turn was finished, and whether the conversation waits for a
    live agent.

    The interrupted node runs again from its top; side effects are safe to replay because the
    policy gate derives the same idempotency key and backends act once per key.
    """
    snapshot = await graph.aget_state(config)
    if not snapshot.next or snapshot.next == (_WAIT,):
        return dict(snapshot.values), False, snapshot.next == (_WAIT,)
    logger.warning(
        "finishing an interrupted turn: conversation=%s next=%s",
        config["configurable"]["thread_id"],
        ",".join(snapshot.next),
    )
    await graph.ainvoke(None, config, durability="sync")
    snapshot = await graph.aget_state(config)
    return dict(snapshot.values), True, snapshot.next == (_WAIT,)


async def _awaiting_live_agent(graph: CompiledStateGraph[Any], config: RunnableConfig) -> bool:
    """Whether the conversation is paused at handoff, waiting for a live agent."""
    return (await graph.aget_state(config)).next == (_WAIT,)


def _caller_text(state: dict[str, Any]) -> str:
    """What the caller said in the conversation's latest turn."""
    said = [t.text for t in state.get("transcript", []) if t.speaker == "caller"]
    return said[-1] if said else ""


def _reply(conversation_id: str, state: ConversationState) -> Reply:
    """The reply object for the turn that just ran."""
    turn = state.get("turn", 0)
    handoff = state.get("handoff") if state.get("handoff_turn") == turn else None
    return Reply(
        conversation_id=conversation_id,
        turn=turn,
        text=state.get("reply", ""),
        citations=[c for c in state.get("citations", []) if c.turn == turn],
        actions=[a for a in state.get("actions", []) if a.turn == turn],
        pending=state.get("pending"),
        handoff=handoff,
    )
