"""One ``database_url`` puts everything workers share in Postgres: checkpoints first of all."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from vagent import Agent, AgentConfig, ConfigError
from vagent._postgres import connect
from vagent.state import Caller

from .conftest import free_port

MICHELLE = Caller(phone="555-555-1212", ivr_authenticated=True, channel="voice")
SHARED_TABLES = {
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "vagent_audit",
    "vagent_records",
    "vagent_handoffs",
    "vagent_vault",
}


def _worker(config: AgentConfig, database_url: str, name: str) -> Agent:
    """An agent with its own state directory, on the shared database."""
    state_dir = config.state_path.parent / name
    return Agent.from_config(
        config.model_copy(update={"state_dir": state_dir, "database_url": database_url})
    )


async def test_a_conversation_continues_on_a_new_agent_sharing_the_database(
    fha_config: AgentConfig, database_url: str
) -> None:
    conversation = f"carry-{uuid.uuid4().hex}"
    first = _worker(fha_config, database_url, "first")
    asked = await first.run(
        conversation, "I'd like to cancel my loan application.", caller=MICHELLE
    )
    await first.aclose()
    first.close()
    second = _worker(fha_config, database_url, "second")

    done = await second.run(conversation, "Yes, please cancel it.")
    await second.aclose()
    second.close()

    assert [a.status for a in asked.actions] == ["awaiting_confirmation"]
    assert [(a.tool, a.status) for a in done.actions] == [("cancel_case", "executed")]
    assert done.turn == 2


async def test_an_agent_with_a_database_url_keeps_no_conversation_state_in_its_folder(
    fha_config: AgentConfig, database_url: str
) -> None:
    agent = _worker(fha_config, database_url, "worker")

    await agent.run(f"local-{uuid.uuid4().hex}", "My number is 555-555-0100.")
    await agent.aclose()
    agent.close()

    kept = {p.name for p in (fha_config.state_path.parent / "worker").iterdir()}
    assert kept.isdisjoint({"checkpoints.sqlite", "vault.sqlite", "records.sqlite"})


async def test_every_shared_table_lands_in_the_schema_the_database_url_names(
    fha_config: AgentConfig, database_url: str
) -> None:
    agent = _worker(fha_config, database_url, "worker")
    await agent.run(f"schema-{uuid.uuid4().hex}", "What is an FHA loan?")
    await agent.aclose()
    agent.close()

    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()

    assert {r["table_name"] for r in rows} >= SHARED_TABLES


def test_a_database_that_does_not_answer_is_a_config_error_when_the_agent_is_built(
    fha_config: AgentConfig,
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"

    with pytest.raises(ConfigError, match="cannot connect to the database"):
        Agent.from_config(fha_config.model_copy(update={"database_url": url}))


def test_a_database_url_of_another_kind_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    toml = tmp_path / "agent.toml"
    articles = (Path(__file__).parents[2] / "examples/fha_resource_center/articles").as_posix()
    toml.write_text(
        f'name = "X"\nscope = "y"\ndatabase_url = "mysql://db/vagent"\n'
        f'[knowledge]\narticles = "{articles}"\n',
        encoding="utf-8",
    )

    with pytest.raises(ConfigError, match="database_url"):
        Agent.from_config(toml)


def test_a_database_url_of_another_kind_set_in_code_is_refused_without_showing_it(
    fha_config: AgentConfig,
) -> None:
    url = "mysql://vagent:s3cret@db/vagent"

    with pytest.raises(ConfigError, match="'mysql' are not supported") as refused:
        Agent.from_config(fha_config.model_copy(update={"database_url": url}))

    assert "s3cret" not in str(refused.value)
