"""The small protocols tools act through: a case system and a messenger.

An agency plugs its own systems in by implementing these; the embedded default is the SQLite
demo in :mod:`vagent.backends.sqlite`. Every side effect takes an idempotency key, and a backend
must act at most once per key, returning the first result to any repeat.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class CallerProfile(BaseModel):
    """A caller on file."""

    model_config = ConfigDict(frozen=True)

    caller_id: str
    """The backend's id of the caller."""
    first_name: str
    """First name, used to greet the caller."""
    last_name: str = ""
    """Last name."""
    phones: list[str] = []
    """Phone numbers on file."""


class Case(BaseModel):
    """A case (an application, a request, a claim) in the case system."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    """The case number the caller knows."""
    caller_id: str
    """Who owns the case."""
    kind: str
    """What the case is, in plain words ("FHA loan application")."""
    status: str
    """Its status ("open", "cancelled", ...)."""
    opened: str = ""
    """When it was opened (ISO date)."""


class SentMessage(BaseModel):
    """A text message handed to the SMS gateway."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    """The gateway's id of the message."""
    to: str
    """The destination number."""
    body: str
    """What was sent."""


class CaseSystem(Protocol):
    """Read and change cases."""

    async def find_caller(self, phone: str) -> CallerProfile | None:
        """The caller with ``phone`` on file, if any."""
        ...

    async def verify(self, case_id: str, facts: dict[str, str]) -> CallerProfile | None:
        """The owner of ``case_id`` if every fact in ``facts`` matches what is on file."""
        ...

    async def get_case(self, case_id: str) -> Case | None:
        """The case, or None when there is no such case."""
        ...

    async def cases_of(self, caller_id: str) -> list[Case]:
        """The caller's cases, newest first."""
        ...

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        """Cancel the case once per key and return it as it now stands."""
        ...


class Messenger(Protocol):
    """Send text messages."""

    async def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SentMessage:
        """Send once per key and return the message (the first one, on a repeat)."""
        ...
