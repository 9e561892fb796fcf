"""What a tool is: typed arguments, the assurance it needs, and how it runs.

Tools declare their policy needs (identity assurance, which argument names a case the caller
must own, which names an SMS destination, whether the action is irreversible); the policy gate
in :mod:`vagent.tools.policy` enforces them. A tool's ``run`` is only ever called by the gate's
caller after an ``allow`` decision.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from vagent.backends.base import CaseSystem, Messenger
from vagent.config import AgentConfig
from vagent.state import ActionRecord, Confirmation, Identity, PendingAction

Assurance = Literal["none", "identified", "verified"]


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown fields are refused, never ignored."""

    # Attribute docstrings become field descriptions: they document the tool to the model.
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True
    )


@dataclass
class ToolContext:
    """What a tool and the policy gate may know about the conversation."""

    conversation_id: str
    turn: int
    identity: Identity
    pending: PendingAction | None
    confirmation: Confirmation
    actions: list[ActionRecord]
    cases: CaseSystem
    messenger: Messenger
    config: AgentConfig
    tool_calls_turn: int = 0
    tool_calls_total: int = 0
    caller_said: list[str] = field(default_factory=list)
    """What the caller said in this conversation (a number they gave may receive an SMS)."""


@dataclass
class ToolResult:
    """The outcome of running a tool."""

    ok: bool
    message: str
    """Plain language, safe to show the model and to say to the caller."""
    summary: str = ""
    """What was done, in a few words for the record ("case 12345 cancelled")."""
    identity: Identity | None = None
    """The caller's identity after the tool, when the tool changed it."""
    handoff_reason: str | None = None
    """Set when the tool decided the conversation must go to a person."""
    cases: list[str] = field(default_factory=list)
    """Cases the tool touched, for the record."""


class Tool(ABC):
    """A typed action the model may request."""

    name: ClassVar[str]
    description: ClassVar[str]
    args_model: ClassVar[type[ToolArgs]]
    assurance: ClassVar[Assurance] = "none"
    irreversible: ClassVar[bool] = False
    case_arg: ClassVar[str | None] = None
    """Argument naming a case the caller must own."""
    phone_arg: ClassVar[str | None] = None
    """Argument naming an SMS destination, which must be on file for the caller."""
    claims: ClassVar[tuple[str, ...]] = ()
    """Patterns of a reply claiming this tool's action happened; said only if it ran."""
    examples: ClassVar[tuple[str, ...]] = ()
    """Things a caller says when they want this tool; the offline engine matches on them."""

    async def precondition(self, args: Any, ctx: ToolContext) -> str | None:
        """Why the tool cannot run with ``args`` now (plain language), or None."""
        return None

    async def render(self, args: Any, ctx: ToolContext) -> str:
        """The plain-language question that asks the caller to confirm ``args``."""
        return f"Please confirm: {self.name}. Say yes to go ahead or no to stop."

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext, *, key: str | None) -> ToolResult:
        """Do it. ``key`` is the idempotency key of an irreversible action."""

    @classmethod
    def case_id_fields(cls) -> list[str]:
        """Arguments that hold a case number and must match the deployment's pattern."""
        props = cls.args_model.model_json_schema().get("properties", {})
        return [name for name, prop in props.items() if prop.get("x-case-id")]

    @classmethod
    def entity_fields(cls) -> dict[str, str]:
        """Arguments holding caller data, by the PII kind the vault masks them as."""
        props = cls.args_model.model_json_schema().get("properties", {})
        return {name: prop["x-entity"] for name, prop in props.items() if "x-entity" in prop}

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Arguments that prove identity (facts on file): never stored or logged as given."""
        props = cls.args_model.model_json_schema().get("properties", {})
        return [name for name, prop in props.items() if prop.get("x-secret")]

    def recorded(self, args: dict[str, Any]) -> dict[str, Any]:
        """``args`` as records and the audit log keep them: phones cut to 4 digits, no secrets."""
        kept = dict(args)
        if self.phone_arg and kept.get(self.phone_arg):
            kept[self.phone_arg] = f"***-***-{last_four(str(kept[self.phone_arg]))}"
        for name in self.secret_fields():
            if kept.get(name) is not None:
                kept[name] = "***"
        return kept

    def spec(self, config: AgentConfig) -> dict[str, Any]:
        """The tool in OpenAI function-calling form, with the deployment's case pattern."""
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
            if prop.pop("x-case-id", False):
                prop["pattern"] = f"^(?:{config.case_id_pattern})$"
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": schema},
        }


def case_id_ok(value: str, config: AgentConfig) -> bool:
    """Whether ``value`` is a well-formed case number for this deployment."""
    return re.fullmatch(config.case_id_pattern, value) is not None


def profile_facts(identity: Identity) -> dict[str, str]:
    """Facts on file that fill arguments nobody said: a verified caller's phone and only case."""
    if identity.status != "verified":
        return {}
    facts: dict[str, str] = {}
    if identity.phones_on_file:
        facts["phone"] = identity.phones_on_file[0]
    if len(identity.cases) == 1:
        facts["case_id"] = identity.cases[0]
    return facts


def last_four(phone: str) -> str:
    """The last four digits of a phone number, the form said back to callers."""
    return "".join(ch for ch in phone if ch.isdigit())[-4:]
