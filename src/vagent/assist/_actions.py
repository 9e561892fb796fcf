"""Prepared actions and the live agent's approvals, decided by the policy gate.

A prepared action is a tool call filled in from the call and checked by the gate as if the
caller had asked for it. Approving it asks the gate again with the live agent's approval in
place of the caller's yes, bound to the same arguments and with the same idempotency key, so an
action approved twice acts once, and the rules on identity, ownership and SMS destinations hold
for the live agent exactly as for the virtual agent.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from vagent._deps import Deps
from vagent.assist._session import Session
from vagent.assist._suggest import NOT_SUGGESTED, Reader
from vagent.assist.models import PreparedAction
from vagent.state import ActionRecord, ActionStatus, PendingAction
from vagent.tools.base import Tool, ToolContext
from vagent.tools.policy import Decision, args_hash, idempotency_key

logger = logging.getLogger(__name__)

APPROVED = "approved_by_live_agent"
"""Reason code of an action the live agent approved."""

NOT_FOR_LIVE_AGENT = "not_for_live_agent"
"""Reason code of a tool the copilot does not offer on a live call (a handoff)."""


class Actions:
    """Prepares, approves and records actions for one agent's deployment."""

    def __init__(self, deps: Deps, reader: Reader) -> None:
        self._deps = deps
        self._reader = reader

    async def prepare(
        self, session: Session, tool: str, args: dict[str, Any], missing: list[str] | None = None
    ) -> PreparedAction:
        """Check and remember one action; the same tool and arguments keep their id."""
        decision = await self._deps.gate.decide(tool, args, self.context(session))
        plain = decision.args.model_dump(mode="json") if decision.args is not None else args
        action_id = args_hash(tool, plain)[:12]
        earlier = session.prepared.get(action_id)
        prepared = PreparedAction(
            action_id=action_id,
            tool=tool,
            args=plain,
            rendering=self._rendering(tool, plain, decision),
            allowed=decision.kind != "refuse",
            reason=decision.reason,
            irreversible=self._irreversible(tool),
            turn=earlier.turn if earlier is not None else session.turn,
        )
        if tool in NOT_SUGGESTED:
            prepared = prepared.model_copy(update={"allowed": False, "reason": NOT_FOR_LIVE_AGENT})
        elif missing:
            prepared = prepared.model_copy(
                update={
                    "allowed": False,
                    "reason": "missing_arguments",
                    "missing": missing,
                    "rendering": self._reader.describe_missing(tool, missing),
                }
            )
        session.prepared[action_id] = prepared
        return prepared

    async def approve(
        self, session: Session, prepared: PreparedAction, live_agent: str
    ) -> ActionRecord:
        """Decide and run one approved action."""
        done = self.done(session, prepared)
        if done is not None:
            return done
        if prepared.tool in NOT_SUGGESTED:
            return await self._refused(session, prepared, live_agent, NOT_FOR_LIVE_AGENT)
        ctx = self.context(session)
        decision = await self._deps.gate.decide(prepared.tool, prepared.args, ctx)
        if decision.kind == "confirm":
            # The live agent's approval is the caller's yes to these exact arguments.
            confirmed = dataclasses.replace(
                ctx, turn=prepared.turn + 1, pending=_pending(prepared), confirmation="yes"
            )
            decision = await self._deps.gate.decide(prepared.tool, prepared.args, confirmed)
        session.approvals += 1
        tool = self._deps.tools.get(prepared.tool)
        if decision.kind != "allow" or tool is None:
            return await self._refused(
                session, prepared, live_agent, decision.reason, decision.message
            )
        await self._audit(session, prepared, "allow", APPROVED, live_agent)
        return await self._execute(session, prepared, tool, decision, live_agent)

    async def _refused(
        self,
        session: Session,
        prepared: PreparedAction,
        live_agent: str,
        reason: str,
        message: str = "",
    ) -> ActionRecord:
        """Record and audit a refusal."""
        await self._audit(session, prepared, "refuse", reason, live_agent)
        record = self._record_action(session, prepared, "refused", reason, message)
        logger.info(
            "live agent action refused: conversation=%s tool=%s reason=%s",
            session.conversation_id,
            prepared.tool,
            reason,
        )
        return record

    async def _execute(
        self,
        session: Session,
        prepared: PreparedAction,
        tool: Tool,
        decision: Decision,
        live_agent: str,
    ) -> ActionRecord:
        """Run the tool; a backend failure is reported as a failure, never as success."""
        try:
            result = await tool.run(decision.args, self.context(session), key=decision.key)
        except Exception:
            logger.warning(
                "live agent action failed: conversation=%s tool=%s",
                session.conversation_id,
                tool.name,
                exc_info=True,
            )
            await self._audit(session, prepared, "failed", "backend_error", live_agent)
            message = "That could not be completed right now, and nothing was changed."
            return self._record_action(session, prepared, "failed", "backend_error", message)
        if result.identity is not None:
            session.identity = result.identity
        status: ActionStatus = "executed" if result.ok else "failed"
        reason = APPROVED if result.ok else "tool_failed"
        await self._audit(session, prepared, status, reason, live_agent)
        logger.info(
            "live agent action run: conversation=%s tool=%s status=%s",
            session.conversation_id,
            tool.name,
            status,
        )
        return self._record_action(
            session,
            prepared,
            status,
            reason,
            result.message,
            key=decision.key,
            summary=result.summary,
        )

    def _record_action(
        self,
        session: Session,
        prepared: PreparedAction,
        status: ActionStatus,
        reason: str,
        message: str,
        *,
        key: str | None = None,
        summary: str = "",
    ) -> ActionRecord:
        """Keep an action record for the wrap-up, with its arguments masked."""
        record = ActionRecord(
            tool=prepared.tool,
            args=self._masked(prepared),
            status=status,
            reason=reason,
            message=message,
            summary=summary,
            turn=session.turn,
            idempotency_key=key,
        )
        session.actions.append(record)
        return record

    async def _audit(
        self,
        session: Session,
        prepared: PreparedAction,
        decision: str,
        reason: str,
        live_agent: str,
    ) -> None:
        """One audit entry, under the conversation id, naming the live agent who approved."""
        await self._deps.store.audit(
            session.conversation_id,
            session.turn,
            prepared.tool,
            decision,
            reason,
            {**self._masked(prepared), "approved_by": live_agent},
        )

    def context(self, session: Session) -> ToolContext:
        """The gate's view of the live call."""
        return ToolContext(
            conversation_id=session.conversation_id,
            turn=session.turn,
            identity=session.identity,
            pending=None,
            confirmation="none",
            actions=session.past_actions(),
            cases=self._deps.cases,
            messenger=self._deps.messenger,
            config=self._deps.config,
            tool_calls_total=session.approvals,
            caller_said=session.said("caller"),
        )

    @staticmethod
    def done(session: Session, prepared: PreparedAction) -> ActionRecord | None:
        """The executed record of this very irreversible action, if it already ran."""
        if not prepared.irreversible:
            return None
        key = idempotency_key(session.conversation_id, _pending(prepared))
        executed = (a for a in session.actions if a.status == "executed")
        return next((a for a in executed if a.idempotency_key == key), None)

    def _irreversible(self, tool: str) -> bool:
        """Whether the tool's action cannot be undone."""
        found = self._deps.tools.get(tool)
        return found is not None and found.irreversible

    def _masked(self, prepared: PreparedAction) -> dict[str, Any]:
        """Arguments for records and the audit log."""
        tool = self._deps.tools.get(prepared.tool)
        return tool.recorded(dict(prepared.args)) if tool is not None else dict(prepared.args)

    @staticmethod
    def _rendering(tool: str, args: dict[str, Any], decision: Decision) -> str:
        """What the live agent reads: the gate's question or refusal, or the call itself."""
        if decision.message:
            return decision.message
        shown = ", ".join(f"{k}={v}" for k, v in sorted(args.items()))
        return f"{tool.replace('_', ' ')}: {shown}" if shown else tool.replace("_", " ")


def _pending(prepared: PreparedAction) -> PendingAction:
    """The prepared action as the pending action the gate's confirmation binds to."""
    return PendingAction(
        tool=prepared.tool,
        args=prepared.args,
        args_hash=args_hash(prepared.tool, prepared.args),
        rendering=prepared.rendering,
        turn=prepared.turn,
    )
