"""Tests for the SQLite demo backend: callers, verification, cancellation and the SMS outbox."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from vagent.backends.sqlite import SQLiteBackend
from vagent.errors import BackendError, ConfigError

EXAMPLE_SEED = Path(__file__).parents[2] / "examples" / "fha_resource_center" / "cases.json"

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
            "phones": ["(555) 555-0147", "555.555.0148"],
            "zip_code": "60601",
            "date_of_birth": "1979-07-02",
        },
    ],
    "cases": [
        {"case_id": "11111", "caller_id": "C-1", "kind": "FHA loan application"},
        {"case_id": "33333", "caller_id": "C-2", "kind": "HECM counseling request"},
    ],
}


def count_rows(db_file: Path, table: str) -> int:
    """Rows in ``table`` of the SQLite file, read through a separate connection."""
    with closing(sqlite3.connect(db_file)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def reopen_case(db_file: Path, case_id: str) -> None:
    """Set a case back to open behind the backend's back."""
    with closing(sqlite3.connect(db_file)) as conn, conn:
        conn.execute("UPDATE cases SET status = 'open' WHERE case_id = ?", (case_id,))


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    """The seed written as a JSON file."""
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    return path


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    """Where the demo database lives."""
    return tmp_path / "state" / "demo.sqlite3"


@pytest.fixture
def backend(db_file: Path, seed_file: Path) -> Iterator[SQLiteBackend]:
    """A backend on a file, seeded with two callers and their cases."""
    db = SQLiteBackend(db_file, seed=seed_file)
    yield db
    db.close()


@pytest.fixture
def empty_backend() -> Iterator[SQLiteBackend]:
    """An in-memory backend with no data, for tests that load their own."""
    db = SQLiteBackend(":memory:")
    yield db
    db.close()


# find_caller


@pytest.mark.parametrize(
    "phone", ["555-555-1212", "+1 (555) 555-1212", "5555551212", "1-555-555-1212"]
)
async def test_find_caller_matches_a_phone_number_whatever_its_formatting(
    backend: SQLiteBackend, phone: str
) -> None:
    profile = await backend.find_caller(phone)

    assert profile is not None
    assert profile.caller_id == "C-1"


async def test_find_caller_matches_any_number_on_file_and_returns_every_phone(
    backend: SQLiteBackend,
) -> None:
    profile = await backend.find_caller("+15555550148")

    assert profile is not None
    assert profile.first_name == "Ben"
    assert profile.phones == ["(555) 555-0147", "555.555.0148"]


@pytest.mark.parametrize("phone", ["555-555-9999", "", "555-1212"])
async def test_find_caller_returns_none_for_an_unknown_phone(
    backend: SQLiteBackend, phone: str
) -> None:
    profile = await backend.find_caller(phone)

    assert profile is None


# verify


@pytest.mark.parametrize(
    "facts",
    [
        {"zip_code": "20410"},
        {"date_of_birth": "1984-03-14"},
        {"zip_code": "20410", "date_of_birth": "1984-03-14"},
        {"zip_code": " 20410 "},
    ],
)
async def test_verify_returns_the_case_owner_when_the_facts_match(
    backend: SQLiteBackend, facts: dict[str, str]
) -> None:
    profile = await backend.verify("11111", facts)

    assert profile is not None
    assert profile.caller_id == "C-1"
    assert profile.last_name == "Lopez"
    assert profile.phones == ["555-555-1212"]


async def test_verify_returns_none_for_a_wrong_zip(backend: SQLiteBackend) -> None:
    profile = await backend.verify("11111", {"zip_code": "60601"})

    assert profile is None


async def test_verify_returns_none_when_one_of_several_facts_is_wrong(
    backend: SQLiteBackend,
) -> None:
    profile = await backend.verify("11111", {"zip_code": "20410", "date_of_birth": "1900-01-01"})

    assert profile is None


async def test_verify_returns_none_without_facts(backend: SQLiteBackend) -> None:
    profile = await backend.verify("11111", {})

    assert profile is None


async def test_verify_returns_none_for_an_unknown_case(backend: SQLiteBackend) -> None:
    profile = await backend.verify("99999", {"zip_code": "20410"})

    assert profile is None


async def test_verify_returns_none_for_a_fact_that_is_not_on_file(
    backend: SQLiteBackend,
) -> None:
    profile = await backend.verify("11111", {"ssn": "123-45-6789"})

    assert profile is None


async def test_verify_returns_none_when_a_fact_is_missing_from_the_record(
    empty_backend: SQLiteBackend,
) -> None:
    empty_backend.load(
        {
            "callers": [{"caller_id": "C-9", "first_name": "Zoe"}],
            "cases": [{"case_id": "55555", "caller_id": "C-9", "kind": "claim"}],
        }
    )

    profile = await empty_backend.verify("55555", {"zip_code": ""})

    assert profile is None


# get_case and cases_of


async def test_get_case_defaults_a_seeded_case_to_open(backend: SQLiteBackend) -> None:
    case = await backend.get_case("11111")

    assert case is not None
    assert case.status == "open"
    assert case.kind == "FHA loan application"


async def test_get_case_returns_none_for_an_unknown_case(backend: SQLiteBackend) -> None:
    case = await backend.get_case("99999")

    assert case is None


async def test_cases_of_lists_the_callers_cases_newest_first(
    empty_backend: SQLiteBackend,
) -> None:
    empty_backend.load(
        {
            "callers": [{"caller_id": "C-1", "first_name": "Ana"}],
            "cases": [
                {"case_id": "1", "caller_id": "C-1", "kind": "a", "opened": "2026-01-01"},
                {"case_id": "2", "caller_id": "C-1", "kind": "b", "opened": "2026-03-01"},
                {"case_id": "3", "caller_id": "C-1", "kind": "c", "opened": "2026-02-01"},
            ],
        }
    )

    cases = await empty_backend.cases_of("C-1")

    assert [c.case_id for c in cases] == ["2", "3", "1"]


# cancel_case


async def test_cancel_case_cancels_an_open_case(backend: SQLiteBackend) -> None:
    case = await backend.cancel_case("11111", idempotency_key="key-1")

    assert case.status == "cancelled"
    stored = await backend.get_case("11111")
    assert stored is not None
    assert stored.status == "cancelled"


async def test_cancel_case_records_one_effect_for_a_repeated_key(
    backend: SQLiteBackend, db_file: Path
) -> None:
    await backend.cancel_case("11111", idempotency_key="key-1")

    again = await backend.cancel_case("11111", idempotency_key="key-1")

    assert again.status == "cancelled"
    assert count_rows(db_file, "effects") == 1


async def test_cancel_case_does_not_act_again_on_a_repeated_key(
    backend: SQLiteBackend, db_file: Path
) -> None:
    await backend.cancel_case("11111", idempotency_key="key-1")
    reopen_case(db_file, "11111")

    replay = await backend.cancel_case("11111", idempotency_key="key-1")

    assert replay.status == "open"


async def test_cancel_case_with_a_new_key_on_a_cancelled_case_returns_it_and_records_the_key(
    backend: SQLiteBackend, db_file: Path
) -> None:
    await backend.cancel_case("11111", idempotency_key="key-1")

    second = await backend.cancel_case("11111", idempotency_key="key-2")

    # Observed: no error; the case comes back cancelled and the new key is recorded too.
    assert second.status == "cancelled"
    assert count_rows(db_file, "effects") == 2


async def test_cancel_case_raises_for_an_unknown_case_and_records_nothing(
    backend: SQLiteBackend, db_file: Path
) -> None:
    with pytest.raises(BackendError, match="99999"):
        await backend.cancel_case("99999", idempotency_key="key-1")

    assert count_rows(db_file, "effects") == 0


# send_sms


async def test_send_sms_sends_once_for_a_repeated_key(backend: SQLiteBackend) -> None:
    first = await backend.send_sms("555-555-1212", "Case cancelled.", idempotency_key="sms-1")

    again = await backend.send_sms("555-555-1212", "Something else.", idempotency_key="sms-1")

    assert again == first
    assert await backend.outbox() == [first]


async def test_send_sms_sends_one_message_per_key(backend: SQLiteBackend) -> None:
    first = await backend.send_sms("555-555-1212", "One.", idempotency_key="sms-1")

    second = await backend.send_sms("555-555-1212", "Two.", idempotency_key="sms-2")

    assert first.message_id != second.message_id
    assert [m.body for m in await backend.outbox()] == ["One.", "Two."]


# seeding


def test_seed_is_not_loaded_again_into_a_database_that_has_callers(
    db_file: Path, seed_file: Path
) -> None:
    SQLiteBackend(db_file, seed=seed_file).close()

    SQLiteBackend(db_file, seed=seed_file).close()

    assert count_rows(db_file, "callers") == 2
    assert count_rows(db_file, "phones") == 3
    assert count_rows(db_file, "cases") == 2


async def test_seed_does_not_undo_changes_made_since_it_was_loaded(
    db_file: Path, seed_file: Path
) -> None:
    first = SQLiteBackend(db_file, seed=seed_file)
    await first.cancel_case("11111", idempotency_key="key-1")
    first.close()

    reopened = SQLiteBackend(db_file, seed=seed_file)
    case = await reopened.get_case("11111")
    reopened.close()

    assert case is not None
    assert case.status == "cancelled"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.json", None),
        ("broken.json", "{not json"),
        ("list.json", "[]"),
        ("binary.json", b"\xff\xfe\x00garbage"),
    ],
)
def test_seed_that_cannot_be_used_raises_config_error(
    tmp_path: Path, name: str, content: str | bytes | None
) -> None:
    seed = tmp_path / name
    if isinstance(content, str):
        seed.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        seed.write_bytes(content)

    with pytest.raises(ConfigError, match=name):
        SQLiteBackend(":memory:", seed=seed)


def test_seed_with_an_entry_missing_a_required_field_raises_config_error(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"callers": [{"caller_id": "C-1"}]}), encoding="utf-8")

    with pytest.raises(ConfigError):
        SQLiteBackend(":memory:", seed=seed)


@pytest.fixture
def example_backend() -> Iterator[SQLiteBackend]:
    """An in-memory backend seeded from the FHA Resource Center example."""
    db = SQLiteBackend(":memory:", seed=EXAMPLE_SEED)
    yield db
    db.close()


async def test_the_example_seed_loads_the_fha_callers_and_cases(
    example_backend: SQLiteBackend,
) -> None:
    caller = await example_backend.find_caller("+1 (555) 555-1212")
    cases = await example_backend.cases_of("C-1003")

    assert caller is not None
    assert caller.first_name == "Michelle"
    assert [c.case_id for c in cases] == ["13579", "24680"]
