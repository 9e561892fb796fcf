"""The PII vault: caller data out of the model's sight, real values back for the tools.

Before caller text reaches the model, a log line or the checkpoint's messages, each piece of PII
is replaced by a placeholder that is stable within the conversation (``<PHONE_1>``). The real
values stay in the vault, a store kept outside the checkpoint and dropped when the conversation
ends (or after a configured retention). Tools get the real values back; the caller hears the
masked form that is the convention for each kind (a phone number ending in 1212).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from vagent._sqlite import SQLiteFile
from vagent.state import utcnow

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vault (
    conversation_id TEXT NOT NULL, placeholder TEXT NOT NULL, kind TEXT NOT NULL,
    value TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, placeholder)
);
CREATE INDEX IF NOT EXISTS vault_value ON vault (conversation_id, value);
"""

# Kinds the caller may hear in full: their own case numbers are said back by convention.
_SAID_IN_FULL = {"CASE_ID"}


class Span(Protocol):
    """A piece of PII found in a text."""

    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...


class Detector(Protocol):
    """Finds PII; :class:`vagent.guardrails.pii.PiiDetector` is the shipped one."""

    def find(self, text: str) -> Iterable[Span]:
        """Non-overlapping spans, in order."""
        ...


@dataclass(frozen=True)
class Secret:
    """One value in the vault."""

    placeholder: str
    kind: str
    value: str


class Vault:
    """Placeholders and the real values behind them, per conversation."""

    def __init__(self, path: Path | str, detector: Detector) -> None:
        """Open (and create) the vault's store next to the conversation state."""
        self._db = SQLiteFile(path, _SCHEMA)
        self.detector = detector

    async def mask(self, conversation_id: str, text: str) -> str:
        """``text`` with every piece of PII replaced by its placeholder."""
        spans = sorted(self.detector.find(text), key=lambda s: s.start)
        if not spans:
            return text
        secrets = await self.secrets(conversation_id)
        out, last = [], 0
        for span in spans:
            secret = await self._placeholder(conversation_id, span.kind, span.text, secrets)
            out += [text[last : span.start], secret.placeholder]
            last = span.end
        return "".join([*out, text[last:]])

    async def mask_value(self, conversation_id: str, kind: str, value: str) -> str:
        """The placeholder for one known value (a phone number on file, a case number)."""
        secret = await self._placeholder(
            conversation_id, kind, value, await self.secrets(conversation_id)
        )
        return secret.placeholder

    async def secrets(self, conversation_id: str) -> dict[str, Secret]:
        """The conversation's secrets by placeholder."""
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT placeholder, kind, value FROM vault WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchall()
        )
        return {r["placeholder"]: Secret(r["placeholder"], r["kind"], r["value"]) for r in rows}

    async def drop(self, conversation_id: str) -> None:
        """Forget the conversation's secrets."""
        await self._db.write(
            lambda c: c.execute("DELETE FROM vault WHERE conversation_id = ?", (conversation_id,))
        )

    async def purge(self, older_than: timedelta) -> int:
        """Forget every secret older than ``older_than``; returns how many."""
        cutoff = (utcnow() - older_than).isoformat()
        return await self._db.write(
            lambda c: c.execute("DELETE FROM vault WHERE created_at < ?", (cutoff,)).rowcount
        )

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    async def _placeholder(
        self, conversation_id: str, kind: str, value: str, secrets: dict[str, Secret]
    ) -> Secret:
        """The value's placeholder, made (and remembered) on first sight."""
        for secret in secrets.values():
            if secret.kind == kind and _same(secret.value, value):
                return secret
        number = 1 + sum(1 for s in secrets.values() if s.kind == kind)
        secret = Secret(f"<{kind}_{number}>", kind, value)

        def insert(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT OR IGNORE INTO vault VALUES (?, ?, ?, ?, ?)",
                (conversation_id, secret.placeholder, kind, value, utcnow().isoformat()),
            )

        await self._db.write(insert)
        secrets[secret.placeholder] = secret
        return secret


def unmask(text: str, secrets: Mapping[str, Secret]) -> str:
    """``text`` with placeholders replaced by the real values (for tools)."""
    return PLACEHOLDER.sub(
        lambda m: secrets[m.group(0)].value if m.group(0) in secrets else m.group(0), text
    )


def unmask_args(args: Mapping[str, Any], secrets: Mapping[str, Secret]) -> dict[str, Any]:
    """Tool arguments with placeholders replaced by the real values."""
    return {k: unmask(v, secrets) if isinstance(v, str) else v for k, v in args.items()}


def display(text: str, secrets: Mapping[str, Secret]) -> str:
    """``text`` as the caller hears it: placeholders in their conventional masked form."""

    def said(match: re.Match[str]) -> str:
        secret = secrets.get(match.group(0))
        if secret is None:
            return "[withheld]"
        return secret.value if secret.kind in _SAID_IN_FULL else masked_form(secret)

    return PLACEHOLDER.sub(said, text)


def masked_form(secret: Secret) -> str:
    """The masked form of a value: its last four characters at most, never the whole."""
    tail = "".join(ch for ch in secret.value if ch.isalnum())[-4:]
    if secret.kind == "PHONE":
        return f"the number ending in {tail}"
    if secret.kind in {"SSN", "ITIN", "CARD", "BANK_ACCOUNT", "ROUTING"}:
        return f"the number ending in {tail}"
    if secret.kind == "EMAIL":
        user, _, domain = secret.value.partition("@")
        return f"{user[:1]}***@{domain}"
    return f"[{secret.kind.lower().replace('_', ' ')}]"


def _same(a: str, b: str) -> bool:
    """Whether two renderings are the same value (phone formats differ only in punctuation)."""
    return (
        "".join(ch for ch in a if ch.isalnum()).lower()
        == "".join(ch for ch in b if ch.isalnum()).lower()
    )
