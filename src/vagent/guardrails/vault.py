"""The PII vault: caller data out of the model's sight, real values back for the tools.

Before caller text reaches the model, a log line or the checkpoint's messages, each piece of PII
is replaced by a placeholder that is stable within the conversation (``<PHONE_1>``). The real
values stay in the vault, a store kept outside the checkpoint and dropped when the conversation
ends (or after a configured retention). Tools get the real values back; the caller hears the
masked form that is the convention for each kind (a phone number ending in 1212).

The vault is an SQLite file in the state directory, or a table in Postgres when the deployment
sets ``database_url``, so every worker unmasks what another worker masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from vagent._postgres import PostgresFile, is_postgres
from vagent._sqlite import SQLiteFile
from vagent.state import utcnow

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")

# The table is "vault" in its own SQLite file; in a shared Postgres database it carries the
# prefix of vagent's other tables.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    conversation_id TEXT NOT NULL, placeholder TEXT NOT NULL, kind TEXT NOT NULL,
    value TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, placeholder)
);
CREATE INDEX IF NOT EXISTS {table}_value ON {table} (conversation_id, value);
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

    def __init__(self, location: Path | str, detector: Detector) -> None:
        """Open (and create) the vault's store: an SQLite path, or a ``postgresql://`` URL.

        Raises:
            ConfigError: the URL is not a Postgres one, or its database cannot be reached.
        """
        if is_postgres(location):
            self._table, param = "vagent_vault", "%s"
            self._db: SQLiteFile | PostgresFile = PostgresFile(
                str(location), _SCHEMA.format(table=self._table)
            )
        else:
            self._table, param = "vault", "?"
            self._db = SQLiteFile(location, _SCHEMA.format(table=self._table))
        self._param = param
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
        sql = self._q("SELECT placeholder, kind, value FROM {table} WHERE conversation_id = ?")
        rows = await self._db.run(lambda c: c.execute(sql, (conversation_id,)).fetchall())
        return {r["placeholder"]: Secret(r["placeholder"], r["kind"], r["value"]) for r in rows}

    async def drop(self, conversation_id: str) -> None:
        """Forget the conversation's secrets."""
        sql = self._q("DELETE FROM {table} WHERE conversation_id = ?")
        await self._db.write(lambda c: c.execute(sql, (conversation_id,)))

    async def purge(self, older_than: timedelta) -> int:
        """Forget every secret older than ``older_than``; returns how many."""
        cutoff = (utcnow() - older_than).isoformat()
        sql = self._q("DELETE FROM {table} WHERE created_at < ?")
        count: int = await self._db.write(lambda c: c.execute(sql, (cutoff,)).rowcount)
        return count

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    async def _placeholder(
        self, conversation_id: str, kind: str, value: str, secrets: dict[str, Secret]
    ) -> Secret:
        """The value's placeholder, made (and remembered) on first sight.

        ``secrets`` is the caller's view of the vault; it is brought up to date when another
        worker took the next placeholder of this kind since it was read.
        """
        while True:
            known = _find(secrets, kind, value)
            if known is not None:
                return known
            number = 1 + sum(1 for s in secrets.values() if s.kind == kind)
            secret = Secret(f"<{kind}_{number}>", kind, value)
            if await self._insert(conversation_id, secret):
                secrets[secret.placeholder] = secret
                return secret
            # Each lost race adds a row, so the next view is longer and the loop ends.
            secrets.update(await self.secrets(conversation_id))

    async def _insert(self, conversation_id: str, secret: Secret) -> bool:
        """Store a new secret; False if its placeholder was taken first."""
        row = (conversation_id, secret.placeholder, secret.kind, secret.value, utcnow().isoformat())
        sql = self._q("INSERT INTO {table} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
        inserted: int = await self._db.write(lambda c: c.execute(sql, row).rowcount)
        return inserted == 1

    def _q(self, sql: str) -> str:
        """``sql`` on this store's table, with its parameter placeholder."""
        return sql.format(table=self._table).replace("?", self._param)


def _find(secrets: Mapping[str, Secret], kind: str, value: str) -> Secret | None:
    """The secret already holding ``value`` as ``kind``, if any."""
    for secret in secrets.values():
        if secret.kind == kind and _same(secret.value, value):
            return secret
    return None


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
