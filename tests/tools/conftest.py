"""Shared setup for the tool and policy gate tests: a config, a seeded backend, contexts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vagent.backends.sqlite import SQLiteBackend
from vagent.config import AgentConfig, load_config
from vagent.state import Identity
from vagent.tools.base import ToolContext

SEED: dict[str, Any] = {
    "callers": [
        {
            "caller_id": "C-1",
            "first_name": "Ana",
            "last_name": "Lopez",
            "phones": ["555-555-1212"],
            "zip_code": "20410",
            "date_of_birth": "1984-03-14",
        },
        {
            "caller_id": "C-2",
            "first_name": "Ben",
            "last_name": "Okafor",
            "phones": ["555-555-0147"],
            "zip_code": "60601",
            "date_of_birth": "1979-07-02",
        },
    ],
    "cases": [
        {
            "case_id": "11111",
            "caller_id": "C-1",
            "kind": "FHA loan application",
            "status": "open",
            "opened": "2026-11-02",
        },
        {
            "case_id": "22222",
            "caller_id": "C-1",
            "kind": "HECM counseling request",
            "status": "cancelled",
            "opened": "2026-09-30",
        },
        {
            "case_id": "44444",
            "caller_id": "C-1",
            "kind": "Section 203(b) loan application",
            "status": "open",
            "opened": "2026-08-01",
        },
        {
            "case_id": "33333",
            "caller_id": "C-2",
            "kind": "Section 203(k) loan application",
            "status": "open",
            "opened": "2026-10-15",
        },
    ],
}

BASE_CONFIG: dict[str, Any] = {
    "name": "Test Center",
    "scope": "test things",
    "case_id_pattern": r"\d{5}",
    "knowledge": {"articles": "unused"},
}


def make_config(**overrides: Any) -> AgentConfig:
    """The test deployment's config, with top-level keys overridden."""
    return load_config({**BASE_CONFIG, **overrides})


@pytest.fixture
def config() -> AgentConfig:
    """The test deployment: five-digit case numbers, default policy."""
    return make_config()


@pytest.fixture
def backend() -> Iterator[SQLiteBackend]:
    """An in-memory backend holding two callers and their cases."""
    db = SQLiteBackend(":memory:")
    db.load(SEED)
    yield db
    db.close()


@pytest.fixture
def anonymous() -> Identity:
    """A caller nothing is known about."""
    return Identity()


@pytest.fixture
def identified() -> Identity:
    """Ana, matched by her phone number but not verified."""
    return Identity(
        status="identified", caller_id="C-1", first_name="Ana", phones_on_file=["555-555-1212"]
    )


@pytest.fixture
def verified() -> Identity:
    """Ana, verified, owning cases 11111 (open), 22222 (cancelled) and 44444 (open)."""
    return Identity(
        status="verified",
        method="verify_caller",
        caller_id="C-1",
        first_name="Ana",
        phones_on_file=["555-555-1212"],
        cases=["11111", "22222", "44444"],
    )


@pytest.fixture
def make_ctx(
    backend: SQLiteBackend, config: AgentConfig, verified: Identity
) -> Callable[..., ToolContext]:
    """Build a ToolContext for a verified Ana in turn 1; keyword arguments override fields."""

    def build(**overrides: Any) -> ToolContext:
        fields: dict[str, Any] = {
            "conversation_id": "conv-1",
            "turn": 1,
            "identity": verified,
            "pending": None,
            "confirmation": "none",
            "actions": [],
            "cases": backend,
            "messenger": backend,
            "config": config,
        }
        fields.update(overrides)
        return ToolContext(**fields)

    return build
