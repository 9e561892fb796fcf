"""The PII vault on SQLite and on Postgres: what one worker masks, every worker unmasks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from vagent.guardrails.pii import PiiDetector
from vagent.guardrails.vault import Vault, unmask


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    """The shipped detector, built once: it loads its recognisers."""
    return PiiDetector(identifiers={"CASE_ID": r"\d{5}"})


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where two workers' vaults meet: one SQLite file, or the shared Postgres database."""
    if request.param == "sqlite":
        return tmp_path / "vault.sqlite"
    database_url: str = request.getfixturevalue("database_url")
    return database_url


@pytest.fixture
def workers(location: str | Path, detector: PiiDetector) -> Iterator[tuple[Vault, Vault]]:
    """Two vaults on the same store, as two workers would open them."""
    pair = (Vault(location, detector), Vault(location, detector))
    yield pair
    for vault in pair:
        vault.close()


@pytest.fixture
def conversation() -> str:
    """A conversation id no other test uses (the Postgres schema is shared by the module)."""
    return f"vault-{uuid.uuid4().hex}"


async def test_a_value_masked_by_one_worker_is_unmasked_by_another(
    workers: tuple[Vault, Vault], conversation: str
) -> None:
    one, other = workers

    masked = await one.mask(conversation, "Call me at 555-555-1212 about case 12345.")
    secrets = await other.secrets(conversation)

    assert "1212" not in masked
    assert unmask(masked, secrets) == "Call me at 555-555-1212 about case 12345."


async def test_a_value_seen_again_by_another_worker_keeps_its_placeholder(
    workers: tuple[Vault, Vault], conversation: str
) -> None:
    one, other = workers

    first = await one.mask_value(conversation, "PHONE", "555-555-1212")
    again = await other.mask_value(conversation, "PHONE", "(555) 555-1212")

    assert first == again == "<PHONE_1>"


async def test_a_placeholder_another_worker_took_meanwhile_is_not_given_to_a_new_value(
    workers: tuple[Vault, Vault], conversation: str
) -> None:
    one, other = workers
    stale_view = await one.secrets(conversation)
    await other.mask_value(conversation, "PHONE", "555-555-0100")

    # The first worker read the vault before the second one wrote to it.
    placeholder = await one._placeholder(conversation, "PHONE", "555-555-0199", stale_view)

    stored = await other.secrets(conversation)
    assert placeholder.placeholder == "<PHONE_2>"
    assert {p: s.value for p, s in stored.items()} == {
        "<PHONE_1>": "555-555-0100",
        "<PHONE_2>": "555-555-0199",
    }


async def test_a_conversation_dropped_by_one_worker_is_forgotten_by_every_worker(
    workers: tuple[Vault, Vault], conversation: str
) -> None:
    one, other = workers
    await one.mask_value(conversation, "PHONE", "555-555-1212")

    await other.drop(conversation)

    assert await one.secrets(conversation) == {}


async def test_purge_forgets_only_values_older_than_the_retention(
    workers: tuple[Vault, Vault], conversation: str
) -> None:
    one, other = workers
    await one.mask_value(conversation, "PHONE", "555-555-1212")

    await other.purge(timedelta(days=1))
    kept = await one.secrets(conversation)
    # A retention below zero reaches past the values just written, without reading the clock.
    await other.purge(timedelta(days=-1))

    assert list(kept) == ["<PHONE_1>"]
    assert await one.secrets(conversation) == {}
