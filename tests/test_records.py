"""The audit log, records and handoff queue, on SQLite and on Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vagent import Agent, AgentConfig, ConfigError, load_config
from vagent.records import RecordStore
from vagent.state import ConversationRecord, HandoffPacket

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_or_skip() -> RecordStore:
    """A store on the local Postgres server, or a skip that says why."""
    try:
        return RecordStore(POSTGRES_URL)
    except ConfigError as exc:
        pytest.skip(f"no Postgres at 127.0.0.1:5432 ({exc}); its tests are skipped")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    """A store of each kind."""
    built = RecordStore(tmp_path / "records.sqlite") if request.param == "sqlite" else None
    built = built or _postgres_or_skip()
    yield built
    built.close()


@pytest.fixture
def conversation() -> str:
    """A conversation id no other test run uses (the Postgres database is shared)."""
    return f"test-{uuid.uuid4().hex}"


async def test_audit_entries_come_back_in_order_for_their_conversation(
    store: RecordStore, conversation: str
) -> None:
    await store.audit(conversation, 1, "cancel_case", "confirm", "needs_confirmation", {"a": 1})
    await store.audit(conversation, 2, "cancel_case", "allow", "confirmed", {"a": 1})
    await store.audit(f"{conversation}-other", 1, "lookup_case", "refuse", "not_found", {})

    log = await store.audit_log(conversation)

    assert [(e.turn, e.decision, e.reason) for e in log] == [
        (1, "confirm", "needs_confirmation"),
        (2, "allow", "confirmed"),
    ]


async def test_a_saved_record_is_read_back_whole(store: RecordStore, conversation: str) -> None:
    record = ConversationRecord(
        conversation_id=conversation,
        outcome="resolved",
        summary="Done.",
        identity_status="verified",
        turns=3,
    )

    await store.save_record(record)
    await store.save_record(record)

    assert await store.record(conversation) == record


async def test_handoffs_queue_urgent_first_and_a_repeat_replaces(
    store: RecordStore, conversation: str
) -> None:
    normal = HandoffPacket(
        conversation_id=conversation,
        reason="caller_request",
        identity_status="anonymous",
        summary="s",
    )
    urgent = normal.model_copy(
        update={"conversation_id": f"{conversation}-u", "priority": "urgent"}
    )

    await store.enqueue_handoff(normal)
    await store.enqueue_handoff(normal)
    await store.enqueue_handoff(urgent)

    mine = [p.conversation_id for p in await store.handoffs() if conversation in p.conversation_id]
    assert mine == [f"{conversation}-u", conversation]


def test_a_database_url_that_is_not_postgres_is_refused() -> None:
    with pytest.raises(ConfigError, match="postgresql"):
        load_config(
            {"name": "X", "scope": "y", "knowledge": {"articles": "a"}, "database_url": "mysql://x"}
        )


async def test_an_agent_with_a_database_url_audits_and_queues_in_postgres(
    fha_config: AgentConfig, conversation: str
) -> None:
    _postgres_or_skip().close()
    agent = Agent.from_config(fha_config.model_copy(update={"database_url": POSTGRES_URL}))

    await agent.run(conversation, "Let me talk to a person.")
    await agent.aclose()
    agent.close()

    shared = RecordStore(POSTGRES_URL)
    queued = [p.conversation_id for p in await shared.handoffs()]
    shared.close()
    assert conversation in queued
