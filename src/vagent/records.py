"""Where conversations leave their traces: the audit log, turn log, records, handoff queue.

The embedded default is one SQLite file in the state directory; a ``database_url`` in the config
puts them in Postgres, shared by every worker. Arguments are stored as the
policy gate saw them after masking: identifiers and template names, never free caller text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vagent._postgres import PostgresFile, is_postgres
from vagent._sqlite import SQLiteFile
from vagent.state import ConversationRecord, HandoffPacket, TurnLog, utcnow


@dataclass(frozen=True)
class _Dialect:
    """The SQL that differs between SQLite and Postgres."""

    schema: str
    param: str
    upsert_record: str
    upsert_handoff: str
    upsert_turn: str


_TABLES = """
CREATE TABLE IF NOT EXISTS vagent_audit (
    id {serial}, conversation_id TEXT NOT NULL, turn INTEGER NOT NULL,
    tool TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, args TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vagent_audit_conversation ON vagent_audit (conversation_id);
CREATE TABLE IF NOT EXISTS vagent_records (conversation_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vagent_handoffs (
    conversation_id TEXT PRIMARY KEY, priority TEXT NOT NULL, packet TEXT NOT NULL,
    queued_at TEXT NOT NULL, taken_by TEXT
);
CREATE TABLE IF NOT EXISTS vagent_turns (
    conversation_id TEXT NOT NULL, turn INTEGER NOT NULL, entry TEXT NOT NULL,
    PRIMARY KEY (conversation_id, turn)
)
"""

SQLITE = _Dialect(
    schema=_TABLES.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT"),
    param="?",
    upsert_record="INSERT OR REPLACE INTO vagent_records VALUES (?, ?)",
    upsert_handoff="INSERT OR REPLACE INTO vagent_handoffs VALUES (?, ?, ?, ?, NULL)",
    upsert_turn="INSERT OR REPLACE INTO vagent_turns VALUES (?, ?, ?)",
)
POSTGRES = _Dialect(
    schema=_TABLES.format(serial="BIGSERIAL PRIMARY KEY"),
    param="%s",
    upsert_record=(
        "INSERT INTO vagent_records VALUES (%s, %s) "
        "ON CONFLICT (conversation_id) DO UPDATE SET record = EXCLUDED.record"
    ),
    upsert_handoff=(
        "INSERT INTO vagent_handoffs VALUES (%s, %s, %s, %s, NULL) ON CONFLICT (conversation_id) "
        "DO UPDATE SET priority = EXCLUDED.priority, packet = EXCLUDED.packet, "
        "queued_at = EXCLUDED.queued_at, taken_by = NULL"
    ),
    upsert_turn=(
        "INSERT INTO vagent_turns VALUES (%s, %s, %s) ON CONFLICT (conversation_id, turn) "
        "DO UPDATE SET entry = EXCLUDED.entry"
    ),
)


class AuditEntry(BaseModel):
    """One decision of the policy gate."""

    conversation_id: str
    """The conversation."""
    turn: int
    """The turn."""
    tool: str
    """The tool requested."""
    decision: str
    """allow, refuse, confirm, or the outcome of execution (executed, failed)."""
    reason: str
    """Reason code."""
    args: dict[str, Any]
    """The arguments as requested, masked."""
    at: datetime
    """When (UTC)."""


class RecordStore:
    """Audit log, conversation records and handoff queue, on SQLite or Postgres."""

    def __init__(self, location: Path | str) -> None:
        """Open (and create) the store: an SQLite path, or a ``postgresql://`` URL.

        Raises:
            ConfigError: the URL is not a Postgres one, or its database cannot be reached.
        """
        if is_postgres(location):
            self._db: SQLiteFile | PostgresFile = PostgresFile(str(location), POSTGRES.schema)
            self._sql = POSTGRES
        else:
            self._db = SQLiteFile(location, SQLITE.schema)
            self._sql = SQLITE

    async def audit(
        self,
        conversation_id: str,
        turn: int,
        tool: str,
        decision: str,
        reason: str,
        args: dict[str, Any],
    ) -> None:
        """Append one decision or execution to the audit log."""
        row = (
            conversation_id,
            turn,
            tool,
            decision,
            reason,
            json.dumps(args, sort_keys=True),
            utcnow().isoformat(),
        )
        sql = self._q(
            "INSERT INTO vagent_audit (conversation_id, turn, tool, decision, reason, args, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        await self._db.write(lambda c: c.execute(sql, row))

    async def audit_log(self, conversation_id: str) -> list[AuditEntry]:
        """The conversation's audit entries, oldest first."""
        sql = self._q("SELECT * FROM vagent_audit WHERE conversation_id = ? ORDER BY id")
        rows = await self._db.run(lambda c: c.execute(sql, (conversation_id,)).fetchall())
        return [_audit_entry(r) for r in rows]

    async def save_record(self, record: ConversationRecord) -> None:
        """Store (or replace) a conversation's record."""
        row = (record.conversation_id, record.model_dump_json())
        await self._db.write(lambda c: c.execute(self._sql.upsert_record, row))

    async def record(self, conversation_id: str) -> ConversationRecord | None:
        """A conversation's record, if it has ended."""
        sql = self._q("SELECT record FROM vagent_records WHERE conversation_id = ?")
        row = await self._db.run(lambda c: c.execute(sql, (conversation_id,)).fetchone())
        return ConversationRecord.model_validate_json(row["record"]) if row else None

    async def log_turn(self, conversation_id: str, entry: TurnLog) -> None:
        """Store (or replace) one turn of a conversation's full record."""
        row = (conversation_id, entry.turn, entry.model_dump_json())
        await self._db.write(lambda c: c.execute(self._sql.upsert_turn, row))

    async def turn_log(self, conversation_id: str) -> list[TurnLog]:
        """Every logged turn of a conversation, in order."""
        sql = self._q("SELECT entry FROM vagent_turns WHERE conversation_id = ? ORDER BY turn")
        rows = await self._db.run(lambda c: c.execute(sql, (conversation_id,)).fetchall())
        return [TurnLog.model_validate_json(r["entry"]) for r in rows]

    async def enqueue_handoff(self, packet: HandoffPacket) -> None:
        """Put a handoff in the queue; a repeat for the same conversation replaces it."""
        row = (
            packet.conversation_id,
            packet.priority,
            packet.model_dump_json(),
            utcnow().isoformat(),
        )
        await self._db.write(lambda c: c.execute(self._sql.upsert_handoff, row))

    async def handoffs(self) -> list[HandoffPacket]:
        """Handoffs waiting for a live agent, urgent first, then oldest first."""
        sql = (
            "SELECT packet FROM vagent_handoffs WHERE taken_by IS NULL ORDER BY CASE priority"
            " WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END, queued_at"
        )
        rows = await self._db.run(lambda c: c.execute(sql).fetchall())
        return [HandoffPacket.model_validate_json(r["packet"]) for r in rows]

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    def _q(self, sql: str) -> str:
        """``sql`` with the dialect's parameter placeholder."""
        return sql.replace("?", self._sql.param)


def _audit_entry(row: Mapping[str, Any]) -> AuditEntry:
    """An audit row as a model."""
    return AuditEntry(
        conversation_id=row["conversation_id"],
        turn=row["turn"],
        tool=row["tool"],
        decision=row["decision"],
        reason=row["reason"],
        args=json.loads(row["args"]),
        at=datetime.fromisoformat(row["at"]),
    )
