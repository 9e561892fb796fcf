"""The graph's nodes. Each is a verb; :mod:`vagent.graph` wires them together."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

from vagent.backends.base import CaseSystem, Messenger
from vagent.config import AgentConfig
from vagent.guardrails.screen import classify_confirmation, screen_text
from vagent.knowledge.store import KnowledgeBase, Passage
from vagent.models.offline import CONTEXT_KEY, TurnContext
from vagent.prompts import load_prompt
from vagent.records import RecordStore
from vagent.state import (
    ActionRecord,
    Caller,
    Citation,
    ConversationState,
    Identity,
    TranscriptEntry,
)
from vagent.summary import conversation_record, handoff_packet
from vagent.tools.base import Tool, ToolContext, last_four
from vagent.tools.policy import Decision, PolicyGate

logger = logging.getLogger(__name__)

# "that loan", "this program", "those": a turn pointing back at what was just discussed.
_REFERS_BACK = re.compile(r"\b(?:that|this|those|these|the same)\b(?!\s+(?:is|was|'s))", re.I)
_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
_HISTORY = 40
"""Messages of history the model sees; older turns stay in the record, not the prompt."""

HANDOFF_REPLY = (
    "I'm connecting you with a live agent now. I've passed along what we discussed, "
    "so you won't have to repeat yourself."
)
UNBACKED_CLAIM_REPLY = (
    "I'm sorry, I can't confirm that anything was changed. I can connect you with a person "
    "who can check."
)
WAITING_REPLY = "A live agent will be with you shortly. They have a summary of our conversation."


@dataclass
class Deps:
    """What the nodes work with; built once per agent."""

    config: AgentConfig
    model: BaseChatModel
    knowledge: KnowledgeBase
    tools: dict[str, Tool]
    gate: PolicyGate
    cases: CaseSystem
    messenger: Messenger
    store: RecordStore


def thread_id(config: RunnableConfig) -> str:
    """The conversation id, which is the graph's thread id."""
    return str(config["configurable"]["thread_id"])


class Nodes:
    """The node functions, bound to one agent's dependencies."""

    def __init__(self, deps: Deps) -> None:
        """Bind the nodes to ``deps`` and prepare the tool specs once."""
        self.deps = deps
        self._model = deps.model.bind_tools([t.spec(deps.config) for t in deps.tools.values()])
        self._titles: list[str] | None = None

    async def screen(self, state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        """Take in the caller's turn: clean it, establish identity, read confirmations."""
        screening = screen_text(state.get("incoming", ""))
        turn = state.get("turn", 0) + 1
        update: dict[str, Any] = {
            "turn": turn,
            "incoming": "",
            "messages": [HumanMessage(screening.text)],
            "transcript": [TranscriptEntry(speaker="caller", text=screening.text, turn=turn)],
            "passages": [],
            "tool_calls_turn": 0,
            "reply": "",
            "handoff_reason": "caller_request" if screening.wants_person else None,
            "small_talk": screening.small_talk,
            "declined": None,
        }
        update["identity"] = await self._identify(state)
        update.update(self._confirmation(state, screening.text, turn))
        return update

    async def _identify(self, state: ConversationState) -> Identity:
        """Recognise the caller from the channel on the first turn."""
        identity = state.get("identity") or Identity()
        caller = state.get("caller") or Caller()
        if identity.status != "anonymous" or not caller.phone:
            return identity
        profile = await self.deps.cases.find_caller(caller.phone)
        if profile is None:
            return identity
        ivr = caller.ivr_authenticated and "ivr" in self.deps.config.policy.verified_by
        cases = (
            [c.case_id for c in await self.deps.cases.cases_of(profile.caller_id)] if ivr else []
        )
        return Identity(
            status="verified" if ivr else "identified",
            method="ivr" if ivr else None,
            caller_id=profile.caller_id,
            first_name=profile.first_name,
            phones_on_file=list(profile.phones),
            cases=cases,
        )

    def _confirmation(self, state: ConversationState, text: str, turn: int) -> dict[str, Any]:
        """Read the caller's answer to a pending action; anything but yes cancels it."""
        pending = state.get("pending")
        if pending is None:
            return {"confirmation": "none"}
        answer = classify_confirmation(text)
        if answer == "yes":
            return {"confirmation": "yes"}
        declined = ActionRecord(
            tool=pending.tool,
            args=pending.args,
            status="declined",
            reason="caller_declined" if answer == "no" else "not_confirmed",
            turn=turn,
        )
        return {
            "confirmation": answer,
            "pending": None,
            "actions": [declined],
            "declined": pending.rendering if answer == "no" else None,
        }

    async def retrieve(self, state: ConversationState) -> dict[str, Any]:
        """Find passages for the turn, resolving references back to the previous answer."""
        text = _last_caller_text(state)
        query = text
        if _REFERS_BACK.search(text):
            topic = self._topic(state)
            query = f"{text} {topic}" if topic else text
        settings = self.deps.config.knowledge
        passages = await asyncio.to_thread(
            self.deps.knowledge.search, query, k=settings.passages, min_score=settings.min_score
        )
        return {"passages": passages, "query": query}

    def _topic(self, state: ConversationState) -> str:
        """What "that loan" points at: an article named in the previous reply, else its citation."""
        previous = _previous_reply(state).lower()
        if self._titles is None:
            self._titles = self.deps.knowledge.titles()
        named = [t for t in self._titles if t.lower() in previous]
        if named:
            return max(named, key=len)
        cited = state.get("citations", [])
        return cited[-1].title if cited else ""

    async def respond(self, state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        """Ask the model for the next message: a reply or tool calls."""
        system = self._system_message(state)
        history = _bounded(state.get("messages", []))
        try:
            message = await self._model.ainvoke([system, *history])
        except Exception:
            # Never a dead end: whatever the endpoint did, the caller reaches a person.
            logger.warning("model call failed: conversation=%s", thread_id(config), exc_info=True)
            return {"handoff_reason": "model_unavailable"}
        return {"messages": [message]}

    def _system_message(self, state: ConversationState) -> SystemMessage:
        """The system prompt, with the turn's facts as text and as structured context."""
        config = self.deps.config
        passages = state.get("passages", [])
        pending = state.get("pending")
        identity = state.get("identity") or Identity()
        prompt = load_prompt("system").substitute(
            agent_name=config.name,
            scope=config.scope,
            identity=_describe_identity(identity),
            pending=f"Awaiting the caller's yes or no: {pending.rendering}\n" if pending else "",
            passages=_numbered(passages) or "(none found)",
        )
        last_turn = {
            c.passage_id for c in state.get("citations", []) if c.turn == state.get("turn", 1) - 1
        }
        context = TurnContext(
            agent_name=config.name,
            scope=config.scope,
            query=str(state.get("query", "")),
            passages=[
                {
                    "n": i,
                    "title": p.title,
                    "section": p.section,
                    "text": p.text,
                    "score": p.score,
                    "cited_before": p.passage_id in last_turn,
                }
                for i, p in enumerate(passages, start=1)
            ],
            pending=pending.model_dump(mode="json") if pending else None,
            confirmation=str(state.get("confirmation", "none")),
            declined=state.get("declined"),
            small_talk=state.get("small_talk"),
            profile=_profile(identity),
        )
        return SystemMessage(prompt, additional_kwargs={CONTEXT_KEY: dict(context)})

    async def act(self, state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        """Put each requested tool call through the policy gate; run what it allows."""
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        conversation_id = thread_id(config)
        ctx = self._tool_context(state, conversation_id)
        out: dict[str, Any] = {"messages": [], "actions": [], "intents": []}
        for call in last.tool_calls:
            decision = await self.deps.gate.decide(call["name"], call["args"], ctx)
            ctx.tool_calls_turn += 1
            ctx.tool_calls_total += 1
            await self.deps.store.audit(
                conversation_id,
                ctx.turn,
                call["name"],
                decision.kind,
                decision.reason,
                _masked(self.deps.tools.get(call["name"]), decision),
            )
            record, message = await self._carry_out(call["name"], decision, ctx, out)
            if decision.kind == "allow":
                await self.deps.store.audit(
                    conversation_id,
                    ctx.turn,
                    call["name"],
                    record.status,
                    record.reason or "",
                    record.args,
                )
            out["actions"].append(record)
            out["messages"].append(ToolMessage(message, tool_call_id=call["id"] or call["name"]))
            out["intents"].append(call["name"])
        out.update(
            tool_calls_turn=ctx.tool_calls_turn,
            tool_calls_total=ctx.tool_calls_total,
            identity=ctx.identity,
            pending=ctx.pending,
        )
        return out

    def _tool_context(self, state: ConversationState, conversation_id: str) -> ToolContext:
        """The gate's view of the conversation."""
        return ToolContext(
            conversation_id=conversation_id,
            turn=state.get("turn", 1),
            identity=state.get("identity") or Identity(),
            pending=state.get("pending"),
            confirmation=state.get("confirmation", "none"),
            actions=list(state.get("actions", [])),
            cases=self.deps.cases,
            messenger=self.deps.messenger,
            config=self.deps.config,
            tool_calls_turn=state.get("tool_calls_turn", 0),
            tool_calls_total=state.get("tool_calls_total", 0),
            caller_said=[t.text for t in state.get("transcript", []) if t.speaker == "caller"],
        )

    async def _carry_out(
        self, name: str, decision: Decision, ctx: ToolContext, out: dict[str, Any]
    ) -> tuple[ActionRecord, str]:
        """Act on one decision; return its record and the message for the model."""
        tool = self.deps.tools.get(name)
        args = _masked(tool, decision)
        if decision.kind == "refuse":
            return _action(name, args, "refused", decision.reason, ctx), decision.message
        if decision.kind == "confirm":
            ctx.pending = decision.pending
            return _action(
                name, args, "awaiting_confirmation", decision.reason, ctx
            ), decision.message
        assert tool is not None
        assert decision.args is not None
        replay = _already_done(ctx.actions, decision.key)
        if replay is not None:
            return replay, replay.message
        return await self._execute(tool, decision, ctx, args, out)

    async def _execute(
        self,
        tool: Tool,
        decision: Decision,
        ctx: ToolContext,
        args: dict[str, Any],
        out: dict[str, Any],
    ) -> tuple[ActionRecord, str]:
        """Run an allowed tool; a backend failure is reported honestly, never as success."""
        try:
            result = await tool.run(decision.args, ctx, key=decision.key)
        except Exception:
            logger.warning(
                "tool failed: conversation=%s tool=%s",
                ctx.conversation_id,
                tool.name,
                exc_info=True,
            )
            message = (
                "I couldn't complete that right now, and nothing was changed. "
                "I can connect you with a person."
            )
            return _action(tool.name, args, "failed", "backend_error", ctx, message), message
        if decision.key is not None:
            ctx.pending = None
        if result.identity is not None:
            ctx.identity = result.identity
        if result.handoff_reason is not None:
            out["handoff_reason"] = result.handoff_reason
        status = "executed" if result.ok else "failed"
        record = _action(
            tool.name,
            args,
            status,
            decision.reason if result.ok else "tool_failed",
            ctx,
            result.message,
            key=decision.key,
            summary=result.summary,
        )
        ctx.actions.append(record)
        logger.info(
            "tool run: conversation=%s tool=%s status=%s", ctx.conversation_id, tool.name, status
        )
        return record, result.message

    async def check(self, state: ConversationState) -> dict[str, Any]:
        """Turn the model's last message into the reply: resolve citations, end the turn."""
        turn = state.get("turn", 1)
        text = _reply_text(state.get("messages", []))
        passages = state.get("passages", [])
        cited = _cited(text, passages, turn)
        spoken = _MARKER.sub("", text).strip() or "I'm sorry, I don't have an answer for that."
        pending = state.get("pending")
        if pending is not None and pending.turn == turn and pending.rendering not in spoken:
            # The caller's yes must answer the gate's own question, whatever the model said.
            spoken, cited = pending.rendering, []
        claimed = self._unbacked_claim(spoken, state.get("actions", []))
        if claimed is not None:
            logger.warning("reply claimed an action that did not run: tool=%s", claimed)
            spoken, cited = UNBACKED_CLAIM_REPLY, []
        update: dict[str, Any] = {
            "reply": spoken,
            "citations": cited,
            "transcript": [TranscriptEntry(speaker="agent", text=spoken, turn=turn)],
            "intents": [f"question: {c.title}" for c in cited],
        }
        if pending is not None and pending.turn < turn:
            update["pending"] = None
        return update

    def _unbacked_claim(self, text: str, actions: list[ActionRecord]) -> str | None:
        """A tool whose success the reply claims although it never ran in this conversation."""
        done = {a.tool for a in actions if a.status == "executed"}
        for name, tool in self.deps.tools.items():
            if name not in done and any(re.search(c, text, re.I) for c in tool.claims):
                return name
        return None

    async def hand_off(self, state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        """Build the handoff packet from state and queue it for a live agent."""
        turn = state.get("turn", 1)
        if state.get("handoff") is not None:
            return _say(WAITING_REPLY, turn)
        reason = state.get("handoff_reason") or "caller_request"
        packet = handoff_packet(state, thread_id(config), reason)
        await self.deps.store.enqueue_handoff(packet)
        logger.info("handoff queued: conversation=%s reason=%s", packet.conversation_id, reason)
        return {**_say(HANDOFF_REPLY, turn), "handoff": packet, "handoff_turn": turn}

    async def wrap_up(self, state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        """Write the conversation's record."""
        record = conversation_record(state, thread_id(config))
        await self.deps.store.save_record(record)
        logger.info(
            "conversation ended: conversation=%s outcome=%s", record.conversation_id, record.outcome
        )
        return {"record": record, "ending": False}


def _last_caller_text(state: ConversationState) -> str:
    """The caller's text in this turn."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return str(message.content)
    return ""


def _previous_reply(state: ConversationState) -> str:
    """What the agent said in the previous turn (the text "that loan" points back into)."""
    replies = [t.text for t in state.get("transcript", []) if t.speaker == "agent"]
    return replies[-1] if replies else ""


def _bounded(messages: list[AnyMessage]) -> list[AnyMessage]:
    """The last messages, starting at a caller message so no tool result loses its call."""
    recent = messages[-_HISTORY:]
    for i, message in enumerate(recent):
        if isinstance(message, HumanMessage):
            return recent[i:]
    return recent


def _numbered(passages: list[Passage]) -> str:
    """Passages as the numbered list the prompt shows."""
    return "\n".join(
        f"[{i}] {p.title}{' - ' + p.section if p.section else ''}: {p.text}"
        for i, p in enumerate(passages, start=1)
    )


def _describe_identity(identity: Identity) -> str:
    """The caller's identity status for the prompt, with no personal data but a first name."""
    if identity.status == "verified":
        return f"verified ({identity.method}); first name {identity.first_name}."
    if identity.status == "identified":
        return "recognised by phone number but not verified."
    return "not identified."


def _profile(identity: Identity) -> dict[str, str]:
    """Facts on file the offline engine may fill arguments from (verified callers only)."""
    if identity.status != "verified":
        return {}
    facts: dict[str, str] = {}
    if identity.phones_on_file:
        facts["phone"] = identity.phones_on_file[0]
    if len(identity.cases) == 1:
        facts["case_id"] = identity.cases[0]
    return facts


def _masked(tool: Tool | None, decision: Decision) -> dict[str, Any]:
    """The arguments for records and the audit log: phones cut to 4 digits, secrets hidden."""
    args = decision.args.model_dump(mode="json") if decision.args is not None else {}
    if tool is None:
        return args
    if tool.phone_arg and args.get(tool.phone_arg):
        args[tool.phone_arg] = f"***-***-{last_four(str(args[tool.phone_arg]))}"
    for name in tool.secret_fields():
        if args.get(name) is not None:
            args[name] = "***"
    return args


def _action(
    tool: str,
    args: dict[str, Any],
    status: Any,
    reason: str,
    ctx: ToolContext,
    message: str = "",
    *,
    key: str | None = None,
    summary: str = "",
) -> ActionRecord:
    """An action record for the current turn."""
    return ActionRecord(
        tool=tool,
        args=args,
        status=status,
        reason=reason,
        message=message,
        turn=ctx.turn,
        idempotency_key=key,
        summary=summary,
    )


def _already_done(actions: list[ActionRecord], key: str | None) -> ActionRecord | None:
    """The executed action with this idempotency key, if the conversation already has one."""
    if key is None:
        return None
    return next((a for a in actions if a.idempotency_key == key and a.status == "executed"), None)


def _reply_text(messages: list[AnyMessage]) -> str:
    """The text the agent says: the model's last words, or the tool results it stopped at."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage | ToolMessage) and str(message.content).strip():
            return str(message.content)
    return ""


def _cited(text: str, passages: list[Passage], turn: int) -> list[Citation]:
    """Citations for the passage markers in the reply; markers out of range are dropped."""
    numbers = dict.fromkeys(int(n) for n in _MARKER.findall(text))
    return [
        Citation.from_passage(passages[n - 1], turn=turn)
        for n in numbers
        if 1 <= n <= len(passages)
    ]


def _say(text: str, turn: int) -> dict[str, Any]:
    """State updates for a reply the graph itself makes."""
    return {
        "reply": text,
        "messages": [AIMessage(text)],
        "transcript": [TranscriptEntry(speaker="agent", text=text, turn=turn)],
    }
