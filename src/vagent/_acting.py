"""The ``act`` step: each tool call the model asks for goes through the policy gate, and what
the gate allows runs once, with its outcome audited and told honestly."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig

from vagent._deps import Deps, thread_id
from vagent.guardrails.vault import Secret, unmask, unmask_args
from vagent.state import ActionRecord, ConversationState, Identity
from vagent.tools.base import Tool, ToolContext
from vagent.tools.policy import Decision

logger = logging.getLogger(__name__)

TIMEOUT_MESSAGE = (
    "That is taking longer than it should, and I can't confirm whether it went through. "
    "I'll connect you with a person who can check."
)


class ToolRunner:
    """Runs the model's tool calls for one agent."""

    def __init__(self, deps: Deps) -> None:
        """Bind the runner to the agent's dependencies."""
        self.deps = deps

    async def act(self, state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        """Put each requested tool call through the policy gate; run what it allows."""
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        conversation_id = thread_id(config)
        secrets = await self.deps.vault.secrets(conversation_id)
        ctx = self._tool_context(state, conversation_id, secrets)
        out: dict[str, Any] = {"messages": [], "actions": [], "intents": []}
        for call in requested_calls(last):
            args = unmask_args(call["args"], secrets)
            decision = await self.deps.gate.decide(call["name"], args, ctx)
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
            masked = await self.deps.vault.mask(conversation_id, message)
            out["messages"].append(ToolMessage(masked, tool_call_id=call["id"] or call["name"]))
            out["intents"].append(call["name"])
        out.update(
            tool_calls_turn=ctx.tool_calls_turn,
            tool_calls_total=ctx.tool_calls_total,
            identity=ctx.identity,
            pending=ctx.pending,
        )
        return out

    def _tool_context(
        self, state: ConversationState, conversation_id: str, secrets: dict[str, Secret]
    ) -> ToolContext:
        """The gate's view of the conversation, with the caller's words as they were said."""
        said = [
            unmask(str(m.content), secrets)
            for m in state.get("messages", [])
            if isinstance(m, HumanMessage)
        ]
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
            caller_said=said,
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
        timeout = self.deps.config.policy.tool_timeout_s
        try:
            result = await asyncio.wait_for(
                tool.run(decision.args, ctx, key=decision.key), timeout=timeout
            )
        except TimeoutError:
            logger.warning(
                "tool timed out: conversation=%s tool=%s timeout_s=%s",
                ctx.conversation_id,
                tool.name,
                timeout,
            )
            # The backend may still have acted: say the outcome is unknown, never that nothing
            # changed; a live agent checks, and a retry with the same key acts at most once.
            out["handoff_reason"] = "backend_unavailable"
            return _action(
                tool.name, args, "failed", "backend_timeout", ctx, TIMEOUT_MESSAGE
            ), TIMEOUT_MESSAGE
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
            out["handoff_reason"] = "backend_unavailable"
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


def requested_calls(message: AIMessage) -> list[ToolCall]:
    """The tool calls a model message asks for, unreadable ones included.

    A call whose arguments did not parse is passed on with its raw text, so the policy gate
    refuses it (``invalid_arguments``) and its call id still gets an answer, which
    OpenAI-compatible endpoints require.
    """
    unreadable = [
        ToolCall(
            name=call.get("name") or "",
            args={"unparsable_arguments": call.get("args") or ""},
            id=call.get("id"),
        )
        for call in message.invalid_tool_calls
    ]
    return [*message.tool_calls, *unreadable]


def _masked(tool: Tool | None, decision: Decision) -> dict[str, Any]:
    """The arguments for records and the audit log."""
    args = decision.args.model_dump(mode="json") if decision.args is not None else {}
    return tool.recorded(args) if tool is not None else args


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
