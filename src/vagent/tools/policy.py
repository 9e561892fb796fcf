"""The policy gate: whether a tool call the model requested may run.

The model's tool calls are requests, not commands. The gate decides each one from state and
from what the tool declares: enabled or not, within the call limits, well-formed arguments, the
identity assurance the tool needs, ownership of the case it names, an SMS destination on file,
and, for irreversible tools, an explicit confirmation by the caller bound to the exact
arguments. An allowed irreversible call carries an idempotency key derived from the
conversation and the confirmed action, so a replayed turn never acts twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from vagent.backends.sqlite import digits
from vagent.state import PendingAction
from vagent.tools.base import Tool, ToolContext, case_id_ok

DecisionKind = Literal["allow", "refuse", "confirm"]

_PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")
_ASSURANCE_RANK = {"anonymous": 0, "identified": 1, "verified": 2}
_NEEDED_RANK = {"none": 0, "identified": 1, "verified": 2}


@dataclass(frozen=True)
class Decision:
    """The gate's answer to one tool request."""

    kind: DecisionKind
    reason: str
    """Reason code: allowed, confirmed, needs_confirmation, not_verified, not_found, ..."""
    message: str = ""
    """Plain language for the model (and the caller) when the call does not run now."""
    args: BaseModel | None = None
    """The validated arguments."""
    key: str | None = None
    """Idempotency key of an allowed irreversible call."""
    pending: PendingAction | None = None
    """The action now awaiting confirmation, when kind is confirm."""


def args_hash(tool: str, args: dict[str, Any]) -> str:
    """A hash binding a confirmation to the tool and its exact arguments."""
    canonical = json.dumps({"tool": tool, "args": args}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(conversation_id: str, pending: PendingAction) -> str:
    """The key of a confirmed action: the same conversation and action give the same key."""
    seed = f"{conversation_id}:{pending.turn}:{pending.args_hash}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


class PolicyGate:
    """Decides tool requests for one agent."""

    def __init__(self, tools: dict[str, Tool]) -> None:
        """``tools``: the enabled tools by name; any other name does not exist."""
        self._tools = tools

    async def decide(self, name: str, raw_args: dict[str, Any], ctx: ToolContext) -> Decision:
        """Decide one request. Checks run cheapest first; the first failing one refuses."""
        tool = self._tools.get(name)
        if tool is None:
            return _refuse("unknown_tool", f"There is no tool named {name!r}.")
        limit = _over_limit(ctx)
        if limit is not None:
            return limit
        try:
            args = tool.args_model.model_validate(raw_args)
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
            return _refuse("invalid_arguments", f"The request had invalid fields: {fields}.")
        for field in tool.case_id_fields():
            value = getattr(args, field)
            if value is not None and not case_id_ok(value, ctx.config):
                return _refuse("invalid_arguments", f"{value!r} is not a valid case number.")
        return await self._decide_valid(tool, args, ctx)

    async def _decide_valid(self, tool: Tool, args: BaseModel, ctx: ToolContext) -> Decision:
        """Decide a request whose arguments are well-formed."""
        refusal = await _identity_refusal(tool, args, ctx)
        if refusal is not None:
            return refusal
        plain = args.model_dump(mode="json")
        digest = args_hash(tool.name, plain)
        # A confirmed call skips the precondition, which was checked when confirmation was
        # asked: a replay after a crash must reach the backend, whose key makes it act once.
        key = _confirmed_key(digest, ctx)
        if tool.irreversible and key is not None:
            return Decision("allow", "confirmed", args=args, key=key)
        problem = await tool.precondition(args, ctx)
        if problem is not None:
            return _refuse("precondition_failed", problem)
        if not tool.irreversible:
            return Decision("allow", "allowed", args=args)
        rendering = await tool.render(args, ctx)
        pending = PendingAction(
            tool=tool.name, args=plain, args_hash=digest, rendering=rendering, turn=ctx.turn
        )
        return Decision("confirm", "needs_confirmation", rendering, args=args, pending=pending)


async def _identity_refusal(tool: Tool, args: BaseModel, ctx: ToolContext) -> Decision | None:
    """Refuse when the caller's assurance, case ownership or SMS destination falls short."""
    if _ASSURANCE_RANK[ctx.identity.status] < _NEEDED_RANK[tool.assurance]:
        return _refuse(
            "not_verified",
            "I need to verify your identity first: please give me your case number and your "
            "ZIP code or date of birth.",
        )
    case_id = getattr(args, tool.case_arg, None) if tool.case_arg else None
    if case_id is not None:
        case = await ctx.cases.get_case(case_id)
        # One answer for "not yours" and "does not exist": existence is itself caller data.
        if case is None or case.caller_id != ctx.identity.caller_id:
            return _refuse("not_found", f"I couldn't find case {case_id} among your cases.")
    phone = getattr(args, tool.phone_arg, None) if tool.phone_arg else None
    if phone is not None and digits(phone) not in _known_numbers(ctx):
        return _refuse(
            "unknown_destination",
            "I can only send texts to a phone number on file for you, or one you give me.",
        )
    return None


def _known_numbers(ctx: ToolContext) -> set[str]:
    """Numbers a text may go to: those on file, and those the caller said themselves."""
    on_file = {digits(p) for p in ctx.identity.phones_on_file}
    said = {digits(m) for text in ctx.caller_said for m in _PHONE.findall(text)}
    return on_file | said


def _confirmed_key(digest: str, ctx: ToolContext) -> str | None:
    """The idempotency key if this call is the confirmed continuation of the previous turn."""
    pending = ctx.pending
    if (
        pending is None
        or pending.args_hash != digest
        or pending.turn != ctx.turn - 1
        or ctx.confirmation != "yes"
    ):
        return None
    return idempotency_key(ctx.conversation_id, pending)


def _over_limit(ctx: ToolContext) -> Decision | None:
    """Refuse once the per-turn or per-conversation tool call budget is spent."""
    policy = ctx.config.policy
    if ctx.tool_calls_turn >= policy.max_tool_calls_per_turn:
        return _refuse("turn_limit", "Too many requests in one turn.")
    if ctx.tool_calls_total >= policy.max_tool_calls_per_conversation:
        return _refuse("conversation_limit", "Too many requests in this conversation.")
    return None


def _refuse(reason: str, message: str) -> Decision:
    """A refusal with its reason code."""
    return Decision("refuse", reason, message)
