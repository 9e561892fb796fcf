"""The embedded demo backend: an SQLite case system and SMS outbox.

It stands in for an agency's systems in the demo, the examples and the tests. It honours
idempotency keys the way a real backend must: a key that already acted returns its first result.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from vagent._sqlite import SQLiteFile
from vagent.backends.base import CallerProfile, Case, SentMessage
from vagent.errors import BackendError, ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callers (
    caller_id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL DEFAULT '',
    zip_code TEXT, date_of_birth TEXT
);
CREATE TABLE IF NOT EXISTS phones (caller_id TEXT NOT NULL, phone TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, caller_id TEXT NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, opened TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS effects (idempotency_key TEXT PRIMARY KEY, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    message_id TEXT PRIMARY KEY, recipient TEXT NOT NULL, body TEXT NOT NULL,
    idempotency_key TEXT UNIQUE NOT NULL, sent_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


def digits(phone: str) -> str:
    """The digits of a phone number, without a leading US country code."""
    only = "".join(ch for ch in phone if ch.isdigit())
    return only[1:] if len(only) == 11 and only.startswith("1") else only


class SQLiteBackend:
    """Case system and messenger on one SQLite file (or in memory with ``":memory:"``)."""

    def __init__(self, path: Path | str, *, seed: Path | None = None) -> None:
        """Open (and create) the database; load ``seed`` into it if it has no callers yet."""
        self._db = SQLiteFile(path, _SCHEMA)
        self._conn = self._db.conn
        if seed is not None and self._count("callers") == 0:
            try:
                self.load(_read_seed(seed))
            except (KeyError, TypeError) as exc:
                raise ConfigError(
                    f"backend seed {str(seed)!r} has an entry without {exc}; every caller needs "
                    "caller_id and first_name, every case case_id, caller_id and kind"
                ) from None

    def load(self, data: dict[str, Any]) -> None:
        """Insert callers (with their phones) and cases from a seed mapping."""
        with self._conn:
            for c in data.get("callers", []):
                self._conn.execute(
                    "INSERT INTO callers VALUES (?, ?, ?, ?, ?)",
                    (
                        c["caller_id"],
                        c["first_name"],
                        c.get("last_name", ""),
                        c.get("zip_code"),
                        c.get("date_of_birth"),
                    ),
                )
                for phone in c.get("phones", []):
                    self._conn.execute("INSERT INTO phones VALUES (?, ?)", (c["caller_id"], phone))
            for k in data.get("cases", []):
                self._conn.execute(
                    "INSERT INTO cases VALUES (?, ?, ?, ?, ?)",
                    (
                        k["case_id"],
                        k["caller_id"],
                        k["kind"],
                        k.get("status", "open"),
                        k.get("opened", ""),
                    ),
                )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    async def find_caller(self, phone: str) -> CallerProfile | None:
        """The caller with ``phone`` on file, if any."""
        rows = await self._db.run(
            lambda c: c.execute("SELECT caller_id, phone FROM phones").fetchall()
        )
        for row in rows:
            if digits(row["phone"]) == digits(phone):
                return await self._profile(row["caller_id"])
        return None

    async def verify(self, case_id: str, facts: dict[str, str]) -> CallerProfile | None:
        """The owner of ``case_id`` if every fact in ``facts`` matches what is on file."""
        case = await self.get_case(case_id)
        if case is None or not facts:
            return None
        row = await self._db.run(
            lambda c: c.execute(
                "SELECT zip_code, date_of_birth FROM callers WHERE caller_id = ?",
                (case.caller_id,),
            ).fetchone()
        )
        on_file = {"zip_code": row["zip_code"], "date_of_birth": row["date_of_birth"]}
        if all(on_file.get(k) and on_file[k] == v.strip() for k, v in facts.items()):
            return await self._profile(case.caller_id)
        return None

    async def get_case(self, case_id: str) -> Case | None:
        """The case, or None when there is no such case."""
        row = await self._db.run(
            lambda c: c.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        )
        return Case(**dict(row)) if row else None

    async def cases_of(self, caller_id: str) -> list[Case]:
        """The caller's cases, newest first."""
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM cases WHERE caller_id = ? ORDER BY opened DESC", (caller_id,)
            ).fetchall()
        )
        return [Case(**dict(r)) for r in rows]

    async def cancel_case(self, case_id: str, *, idempotency_key: str) -> Case:
        """Cancel the case once per key and return it as it now stands."""

        def cancel(c: sqlite3.Connection) -> None:
            if c.execute(
                "SELECT 1 FROM effects WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone():
                return
            updated = c.execute(
                "UPDATE cases SET status = 'cancelled' WHERE case_id = ?", (case_id,)
            ).rowcount
            if not updated:
                raise BackendError(f"no case {case_id!r} to cancel")
            c.execute("INSERT INTO effects VALUES (?, ?)", (idempotency_key, case_id))

        await self._db.write(cancel)
        case = await self.get_case(case_id)
        assert case is not None  # it was just updated inside the same transaction
        return case

    async def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SentMessage:
        """Put the message in the outbox once per key; a repeat returns the first message."""

        def send(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT OR IGNORE INTO outbox (message_id, recipient, body, idempotency_key)"
                " VALUES (?, ?, ?, ?)",
                (uuid.uuid4().hex, to, body, idempotency_key),
            )

        await self._db.write(send)
        row = await self._db.run(
            lambda c: c.execute(
                "SELECT message_id, recipient, body FROM outbox WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
        )
        return SentMessage(message_id=row["message_id"], to=row["recipient"], body=row["body"])

    async def outbox(self) -> list[SentMessage]:
        """Every message sent, oldest first."""
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT message_id, recipient, body FROM outbox ORDER BY rowid"
            ).fetchall()
        )
        return [SentMessage(message_id=r[0], to=r[1], body=r[2]) for r in rows]

    async def _profile(self, caller_id: str) -> CallerProfile:
        """The caller's profile with the phones on file."""

        def read(c: sqlite3.Connection) -> CallerProfile:
            row = c.execute("SELECT * FROM callers WHERE caller_id = ?", (caller_id,)).fetchone()
            phones = c.execute("SELECT phone FROM phones WHERE caller_id = ?", (caller_id,))
            return CallerProfile(
                caller_id=caller_id,
                first_name=row["first_name"],
                last_name=row["last_name"],
                phones=[p[0] for p in phones],
            )

        return await self._db.run(read)

    def _count(self, table: str) -> int:
        """Rows in ``table``."""
        return int(self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _read_seed(path: Path) -> dict[str, Any]:
    """Read a seed file, or explain why it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"backend seed {str(path)!r} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"backend seed {str(path)!r} must be an object with callers and cases")
    return data
