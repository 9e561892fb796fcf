"""The copilot: it listens to a live call, suggests, prepares actions and writes the wrap-up."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from vagent._arguments import check_id
from vagent.assist._actions import Actions
from vagent.assist._session import Session, first_turn, identify, live_record_id, record_of
from vagent.assist._suggest import Reader
from vagent.assist.models import Answer, PreparedAction, Suggestions
from vagent.errors import ConversationError
from vagent.sentiment import score, trend
from vagent.state import ActionRecord, Caller, ConversationRecord, HandoffPacket, TranscriptEntry

if TYPE_CHECKING:
    from vagent.agent import Agent

logger = logging.getLogger(__name__)

Speaker = Literal["caller", "live_agent"]


class Copilot:
    """Assists a live agent during a call, with the virtual agent's tools, gate and knowledge.

    One copilot serves many calls. Each call's state (transcript, prepared actions, actions
    taken) lives in this object's memory until :meth:`wrap_up`; the actions are audited and the
    wrap-up record is saved in the agent's record store as they happen. A process restart
    loses a live call's suggestions, never an action: backends act once per idempotency key.

    Args:
        agent: the virtual agent whose deployment the call belongs to.
        tool_threshold: similarity above which the caller's words select a tool.
        answer_min_score: similarity a passage needs to answer a question asked on the call.
    """

    def __init__(
        self, agent: Agent, *, tool_threshold: float = 0.55, answer_min_score: float = 0.45
    ) -> None:
        self._deps = agent._deps
        self._reader = Reader(
            self._deps.config,
            self._deps.tools,
            self._deps.knowledge,
            tool_threshold=tool_threshold,
            answer_min_score=answer_min_score,
        )
        self._actions = Actions(self._deps, self._reader)
        self._sessions: dict[str, Session] = {}

    async def listen(
        self,
        conversation_id: str,
        speaker: Speaker,
        text: str,
        *,
        packet: HandoffPacket | None = None,
        caller: Caller | None = None,
    ) -> Suggestions:
        """Take one utterance of the live call and return what the copilot suggests now.

        Args:
            conversation_id: the conversation; for a handed-off call, the packet's.
            speaker: who said it.
            text: what they said.
            packet: the handoff packet the call came with; read when first given.
            caller: what the channel knows about the caller; read when first given.

        Raises:
            ConversationError: the id is malformed, or the live call was already wrapped up.
        """
        session = await self._open(conversation_id, packet, caller)
        async with session.lock:
            self._hear(session, speaker, text)
            answer = await self._reader.answer(text, session.turn)
            if answer is not None:
                session.cite(answer.citation)
            question = await self._caller_intent(session, speaker, text, answer)
            return Suggestions(
                conversation_id=conversation_id,
                turn=session.turn,
                intent=question or session.intent,
                articles=await self._reader.passages(session),
                next_action=await self._next_action(session),
                answer=answer,
                identity_status=session.identity.status,
                sentiment=trend(session.sentiments),
            )

    async def prepare(
        self, conversation_id: str, tool: str, args: dict[str, Any]
    ) -> PreparedAction:
        """Prepare an action the live agent chose, and check it with the policy gate.

        Raises:
            ConversationError: the copilot is not following this call.
        """
        session = self._existing(conversation_id)
        async with session.lock:
            return await self._actions.prepare(session, tool, args)

    async def approve(
        self, conversation_id: str, action_id: str, *, live_agent: str
    ) -> ActionRecord:
        """Run a prepared action: the live agent confirmed it with the caller on the call.

        The policy gate decides again, with the live agent's approval standing in for the
        caller's yes: identity, case ownership and SMS destinations still hold, so a live agent
        cannot act on another caller's case either. Approving the same action again returns
        the first result; the backend acts once.

        Args:
            conversation_id: the conversation.
            action_id: a :class:`PreparedAction`'s id.
            live_agent: the live agent's id, kept in the audit log.

        Returns:
            The action record: executed, refused (with the gate's reason) or failed.

        Raises:
            ConversationError: the copilot is not following this call, or prepared no such
                action.
        """
        session = self._existing(conversation_id)
        async with session.lock:
            prepared = session.prepared.get(action_id)
            if prepared is None:
                raise ConversationError(
                    f"no prepared action {action_id!r} in this conversation",
                    conversation_id=conversation_id,
                )
            if live_agent not in session.live_agents:
                session.live_agents.append(live_agent)
            return await self._actions.approve(session, prepared, live_agent)

    async def wrap_up(
        self, conversation_id: str, *, resolved: bool | None = None
    ) -> ConversationRecord:
        """End the live call and save its record under :func:`live_record_id`.

        The record has the virtual agent's format: a deterministic summary, the live call's
        transcript (caller and live agent), its actions and citations, and the handoff packet.

        Args:
            conversation_id: the conversation.
            resolved: the live agent's disposition; None means resolved when an action ran.

        Raises:
            ConversationError: the copilot never followed this call.
        """
        session = self._sessions.get(conversation_id)
        if session is None:
            stored = await self._deps.store.record(live_record_id(conversation_id))
            if stored is None:
                raise ConversationError("no live call to wrap up", conversation_id=conversation_id)
            return stored
        async with session.lock:
            record = record_of(session, resolved)
            await self._deps.store.save_record(record)
            self._sessions.pop(conversation_id, None)
        logger.info(
            "live call wrapped up: conversation=%s outcome=%s", conversation_id, record.outcome
        )
        return record

    async def _open(
        self, conversation_id: str, packet: HandoffPacket | None, caller: Caller | None
    ) -> Session:
        """The call's session, started on first sight; a later packet or caller fills gaps."""
        session = self._sessions.get(conversation_id)
        if session is None:
            check_id(conversation_id)
            session = Session(conversation_id, turn=first_turn(packet))
            # Registered before any await, so concurrent first utterances share one session.
            self._sessions[conversation_id] = session
            async with session.lock:
                await self._refuse_wrapped_up(session)
        async with session.lock:
            if self._sessions.get(conversation_id) is not session:
                raise ConversationError(
                    "this live call was wrapped up meanwhile", conversation_id=conversation_id
                )
            if (packet and not session.packet) or (caller and not session.caller):
                session.packet = session.packet or packet
                session.caller = session.caller or caller
                if session.identity.status != "verified":
                    session.identity = await identify(
                        session.caller, session.packet, self._deps.cases, self._deps.config
                    )
        return session

    async def _refuse_wrapped_up(self, session: Session) -> None:
        """Forget and refuse a call whose live record was already saved."""
        if await self._deps.store.record(live_record_id(session.conversation_id)) is None:
            return
        self._sessions.pop(session.conversation_id, None)
        raise ConversationError(
            "this live call was already wrapped up", conversation_id=session.conversation_id
        )

    def _existing(self, conversation_id: str) -> Session:
        """The session of a call the copilot is following."""
        session = self._sessions.get(conversation_id)
        if session is None:
            raise ConversationError(
                "the copilot is not following this call", conversation_id=conversation_id
            )
        return session

    def _hear(self, session: Session, speaker: Speaker, text: str) -> None:
        """Add the utterance to the transcript; a caller's utterance starts a new turn."""
        text = " ".join(text.split())
        if speaker == "caller":
            session.turn += 1
            session.caller_turns += 1
            session.sentiments.append(score(text))
        session.transcript.append(TranscriptEntry(speaker=speaker, text=text, turn=session.turn))

    async def _caller_intent(
        self, session: Session, speaker: Speaker, text: str, answer: Answer | None
    ) -> str | None:
        """Read what the caller wants; return the question they asked, if that is what it is.

        As in the offline engine, a tool wins only when the words match it at least as well as
        the passage answering them: a question on the way leaves the standing request as is.
        """
        if speaker != "caller":
            return None
        tool, similarity = await self._reader.intent(text)
        if answer is not None and (tool is None or answer.score > similarity):
            question = f"question: {answer.citation.title}"
            session.remember(question)
            return question
        if tool is not None:
            session.intent = tool
            session.remember(tool)
        return None

    async def _next_action(self, session: Session) -> PreparedAction | None:
        """The intent's tool, filled in and checked; None once that very action has run."""
        tool = session.intent
        if tool is None or tool not in self._deps.tools:
            return None
        args, missing = self._reader.fill(tool, session)
        prepared = await self._actions.prepare(session, tool, args, missing)
        return None if self._actions.done(session, prepared) is not None else prepared
