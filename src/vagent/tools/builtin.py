"""The built-in tools: verify the caller, look up a case, cancel a case, send an SMS, hand off.

Their messages are plain language that the agent may say as is. None of them decides on its own
whether it may run: that is the policy gate's job, from what each tool declares.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic.config import JsonDict

from vagent.backends.base import Case
from vagent.state import ActionRecord, Identity
from vagent.tools.base import Tool, ToolArgs, ToolContext, ToolResult, last_four

_CASE_ID: JsonDict = {
    "x-case-id": True,
    "x-entity": "CASE_ID",
    "x-cues": ["case", "application", "number"],
}


class VerifyCallerArgs(ToolArgs):
    """Facts the caller gives to prove who they are."""

    case_id: str = Field(json_schema_extra=_CASE_ID)
    """The case number the caller gives."""
    zip_code: str | None = Field(
        default=None,
        pattern=r"^\d{5}$",
        json_schema_extra={"x-cues": ["zip", "postal"], "x-secret": True},
    )
    """The ZIP code on file, five digits."""
    date_of_birth: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        json_schema_extra={
            "x-cues": ["birth", "born", "dob"],
            "x-secret": True,
            "x-entity": "DATE_OF_BIRTH",
        },
    )
    """Date of birth as YYYY-MM-DD."""


class VerifyCaller(Tool):
    """Verify the caller against facts on file."""

    name = "verify_caller"
    description = (
        "Verify the caller's identity with a case number plus their ZIP code or date of birth. "
        "Needed before reading or changing a case."
    )
    args_model = VerifyCallerArgs
    examples = (
        "my case number is 12345 and my zip code is 20410",
        "I want to verify my identity",
        "here is my case number and date of birth",
    )

    async def run(self, args: Any, ctx: ToolContext, *, key: str | None) -> ToolResult:
        """Match the facts; count a failure; hand off after too many."""
        allowed = ctx.config.policy.verify_with
        facts: dict[str, str] = {k: getattr(args, k) for k in allowed if getattr(args, k)}
        if not facts:
            wanted = " or ".join(f.replace("_", " ") for f in allowed)
            return ToolResult(
                ok=False, message=f"To verify you I need the case number and {wanted}."
            )
        profile = await ctx.cases.verify(args.case_id, facts)
        if profile is not None:
            cases = [c.case_id for c in await ctx.cases.cases_of(profile.caller_id)]
            identity = Identity(
                status="verified",
                method="verify_caller",
                # Failures stay counted: a success must not reset the guessing budget.
                failed_attempts=ctx.identity.failed_attempts,
                caller_id=profile.caller_id,
                first_name=profile.first_name,
                phones_on_file=list(profile.phones),
                cases=cases,
            )
            return ToolResult(
                ok=True,
                message=f"Thank you, {profile.first_name}. You're verified.",
                identity=identity,
            )
        return self._failed(ctx)

    def _failed(self, ctx: ToolContext) -> ToolResult:
        """Count a failed attempt and say what happens next."""
        identity = ctx.identity.model_copy(
            update={"failed_attempts": ctx.identity.failed_attempts + 1}
        )
        if identity.failed_attempts >= ctx.config.policy.max_verify_attempts:
            return ToolResult(
                ok=False,
                message="I couldn't verify your identity, so I'm connecting you with a person.",
                identity=identity,
                handoff_reason="verification_failed",
            )
        return ToolResult(
            ok=False,
            message="Those details don't match our records. Please check them and try again.",
            identity=identity,
        )


class LookupCaseArgs(ToolArgs):
    """Which case to look up."""

    case_id: str | None = Field(default=None, json_schema_extra=_CASE_ID)
    """The case number; leave it out to list all of the caller's cases."""


class LookupCase(Tool):
    """Read the status of the caller's own cases."""

    name = "lookup_case"
    description = "Look up the status of one of the verified caller's cases, or list them all."
    args_model = LookupCaseArgs
    assurance = "verified"
    case_arg = "case_id"
    examples = (
        "what is the status of my case",
        "can you check on my application",
        "where is my application at",
    )

    async def run(self, args: Any, ctx: ToolContext, *, key: str | None) -> ToolResult:
        """Describe the case, or every case the caller owns."""
        if args.case_id is not None:
            case = await ctx.cases.get_case(args.case_id)
            assert case is not None  # the gate checked that the caller owns it
            return ToolResult(ok=True, message=describe(case), cases=[case.case_id])
        cases = await ctx.cases.cases_of(ctx.identity.caller_id or "")
        if not cases:
            return ToolResult(ok=True, message="I don't see any cases on file for you.")
        return ToolResult(
            ok=True, message=" ".join(describe(c) for c in cases), cases=[c.case_id for c in cases]
        )


class CancelCaseArgs(ToolArgs):
    """Which case to cancel."""

    case_id: str = Field(json_schema_extra=_CASE_ID)
    """The case number to cancel."""


class CancelCase(Tool):
    """Cancel one of the caller's open cases."""

    name = "cancel_case"
    description = (
        "Cancel one of the verified caller's open cases (for example withdraw an application). "
        "Irreversible: the caller must confirm the exact case first."
    )
    args_model = CancelCaseArgs
    assurance = "verified"
    irreversible = True
    case_arg = "case_id"
    claims = (r"\b(?:is|been|was|now|have|I've)\s+(?:now\s+)?cancell?ed\b",)
    examples = (
        "I want to cancel my application",
        "please cancel my loan application",
        "I'd like to withdraw my application",
        "cancel my case",
    )

    async def precondition(self, args: Any, ctx: ToolContext) -> str | None:
        """A cancelled or closed case cannot be cancelled again."""
        case = await ctx.cases.get_case(args.case_id)
        if case is not None and case.status != "open":
            return f"Case {case.case_id} is already {case.status}, so there is nothing to cancel."
        return None

    async def render(self, args: Any, ctx: ToolContext) -> str:
        """Say the case back and ask for a yes or no."""
        case = await ctx.cases.get_case(args.case_id)
        assert case is not None  # the gate checked that the caller owns it
        greeting = f"Thanks, {ctx.identity.first_name}. " if ctx.identity.first_name else ""
        opened = f", opened {case.opened}" if case.opened else ""
        return (
            f"{greeting}I found case {case.case_id}, your {case.kind}{opened}. "
            f"To confirm: do you want me to cancel case {case.case_id}? Please say yes or no."
        )

    async def run(self, args: Any, ctx: ToolContext, *, key: str | None) -> ToolResult:
        """Cancel through the case system, once per key."""
        assert key is not None  # irreversible tools always run with a key
        case = await ctx.cases.cancel_case(args.case_id, idempotency_key=key)
        return ToolResult(
            ok=True,
            message=(
                f"Done: case {case.case_id}, your {case.kind}, is now cancelled. "
                "I can send you a text message confirming it if you'd like."
            ),
            summary=f"case {case.case_id} ({case.kind}) cancelled",
            cases=[case.case_id],
        )


class SendSmsArgs(ToolArgs):
    """Where to send a text, and which message."""

    to: str = Field(
        pattern=r"^\+?[0-9 ().-]{7,20}$",
        json_schema_extra={
            "x-profile": "phone",
            "x-entity": "PHONE",
            "x-cues": ["number", "phone"],
        },
    )
    """The destination: a number on file for the caller."""
    template: Literal["action_confirmation", "case_status"] = "action_confirmation"
    """Which message: confirmation of the last action taken, or the status of the caller's cases."""


class SendSms(Tool):
    """Text the caller a message built from a template and the conversation's state."""

    name = "send_sms"
    description = (
        "Send the verified caller a text message to a number on file: a confirmation of the "
        "action just taken, or the status of their cases. The caller must confirm the number."
    )
    args_model = SendSmsArgs
    assurance = "verified"
    irreversible = True
    phone_arg = "to"
    claims = (r"\b(?:I've|I have|has been|was)\s+(?:sent|texted)\b",)
    examples = (
        "can you text me a confirmation",
        "send me a text message",
        "please text that to my phone",
    )

    async def precondition(self, args: Any, ctx: ToolContext) -> str | None:
        """A confirmation needs an action to confirm; a status text needs a case."""
        if args.template == "action_confirmation" and _last_executed(ctx.actions) is None:
            return "Nothing has been done yet in this call, so there is nothing to confirm by text."
        if args.template == "case_status" and not ctx.identity.cases:
            return "There are no cases on file to send the status of."
        return None

    async def render(self, args: Any, ctx: ToolContext) -> str:
        """Say the masked number back and ask whether it is right."""
        what = "the confirmation" if args.template == "action_confirmation" else "your case status"
        return (
            f"I'll text {what} to the number on file ending in {last_four(args.to)}. "
            "Is that the right number? Please say yes or no."
        )

    async def run(self, args: Any, ctx: ToolContext, *, key: str | None) -> ToolResult:
        """Build the body from state and hand it to the messenger, once per key."""
        assert key is not None  # irreversible tools always run with a key
        body = await self._body(args, ctx)
        await ctx.messenger.send_sms(args.to, body, idempotency_key=key)
        ending = last_four(args.to)
        return ToolResult(
            ok=True,
            message=f"I've sent the text to the number ending in {ending}.",
            summary=f"text sent to the number ending in {ending}",
        )

    async def _body(self, args: Any, ctx: ToolContext) -> str:
        """The message body: a template filled from state, never free text from the model."""
        name = ctx.config.name
        if args.template == "case_status":
            cases = [await ctx.cases.get_case(c) for c in ctx.identity.cases]
            return f"{name}: " + " ".join(describe(c) for c in cases if c is not None)
        action = _last_executed(ctx.actions)
        assert action is not None  # the precondition checked it
        reference = (action.idempotency_key or "")[:8]
        return f"{name}: {action.summary}. Reference {reference}."


class HandOffArgs(ToolArgs):
    """Why the conversation goes to a person."""

    reason: Literal["caller_request", "out_of_scope", "complex", "no_progress"] = "complex"
    """Reason code for the live agent's queue."""


class HandOff(Tool):
    """Transfer the caller to a live agent."""

    name = "hand_off"
    description = (
        "Transfer the caller to a live agent when they ask for a person, the request is complex "
        "or sensitive, or you cannot help."
    )
    args_model = HandOffArgs
    examples = ("I want to talk to a person", "transfer me to a representative")

    async def run(self, args: Any, ctx: ToolContext, *, key: str | None) -> ToolResult:
        """Ask the graph to hand off."""
        return ToolResult(
            ok=True, message="I'm connecting you with a person.", handoff_reason=args.reason
        )


def describe(case: Case) -> str:
    """One sentence a caller understands about a case."""
    opened = f", opened {case.opened}" if case.opened else ""
    return f"Case {case.case_id}: {case.kind}{opened}, status {case.status}."


def _last_executed(actions: list[ActionRecord]) -> ActionRecord | None:
    """The last executed action that was not itself a text message."""
    done = [a for a in actions if a.status == "executed" and a.tool not in {"send_sms", "hand_off"}]
    return done[-1] if done else None


BUILTIN_TOOLS: dict[str, type[Tool]] = {
    t.name: t for t in (VerifyCaller, LookupCase, CancelCase, SendSms, HandOff)
}
"""Every built-in tool by name."""

__all__ = ["BUILTIN_TOOLS", "CancelCase", "HandOff", "LookupCase", "SendSms", "VerifyCaller"]
