"""Where conversations leave their traces: the audit log, records, and the handoff queue.

The embedded default is one SQLite file in the state directory. Arguments are stored as the
policy gate saw them after masking: identifiers and template names, never free caller text.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vagent._sqlite import SQLiteFile
from vagent.state import ConversationRecord, HandoffPacket, utcnow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL, turn INTEGER NOT NULL,
    tool TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, args TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_conversation ON audit (conversation_id);
CREATE TABLE IF NOT EXISTS records (conversation_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS handoffs (
    conversation_id TEXT PRIMARY KEY, priority TEXT NOT NULL, packet TEXT NOT NULL,
    queued_at TEXT NOT NULL, taken_by TEXT
);
"""


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
    """Audit log, conversation records and handoff queue on one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        """Open (and create) the store."""
        self._db = SQLiteFile(path, _SCHEMA)

    async def audit(
        self,
        conversation_id: str,
        turn: int,
        tool: str,
        decision: str,
        reason: str,
        args: dict[str, Any],
    ) -> None:
        """Append one decision to the audit log."""
        row = (
            conversation_id,
            turn,
            tool,
            decision,
            reason,
            json.dumps(args, sort_keys=True),
            utcnow().isoformat(),
        )
        await self._db.write(
            lambda c: c.execute(
                "INSERT INTO audit (conversation_id, turn, tool, decision, reason, args, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def audit_log(self, conversation_id: str) -> list[AuditEntry]:
        """The conversation's audit entries, oldest first."""
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM audit WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        )
        return [_audit_entry(r) for r in rows]

    async def save_record(self, record: ConversationRecord) -> None:
        """Store (or replace) a conversation's record."""
        await self._db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?)",
                (record.conversation_id, record.model_dump_json()),
            )
        )

    async def record(self, conversation_id: str) -> ConversationRecord | None:
        """A conversation's record, if it has ended."""
        row = await self._db.run(
            lambda c: c.execute(
                "SELECT record FROM records WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        )
        return ConversationRecord.model_validate_json(row[0]) if row else None

    async def enqueue_handoff(self, packet: HandoffPacket) -> None:
        """Put a handoff in the queue; a repeat for the same conversation replaces it."""
        await self._db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO handoffs VALUES (?, ?, ?, ?, NULL)",
                (
                    packet.conversation_id,
                    packet.priority,
                    packet.model_dump_json(),
                    utcnow().isoformat(),
                ),
            )
        )

    async def handoffs(self) -> list[HandoffPacket]:
        """Handoffs waiting for a live agent, urgent first, then oldest first."""

        def waiting(c: sqlite3.Connection) -> list[sqlite3.Row]:
            return c.execute(
                "SELECT packet FROM handoffs WHERE taken_by IS NULL ORDER BY CASE priority"
                " WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END, queued_at"
            ).fetchall()

        return [HandoffPacket.model_validate_json(r[0]) for r in await self._db.run(waiting)]

    def close(self) -> None:
        """Close the store."""
        self._db.close()


def _audit_entry(row: sqlite3.Row) -> AuditEntry:
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
