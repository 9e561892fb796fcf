"""Knowledge on a Chroma server that every worker shares (``knowledge.chroma_url``)."""

from __future__ import annotations

import pytest

from vagent import Agent, AgentConfig, ConfigError, load_config
from vagent.knowledge.store import KnowledgeBase, server_client

from .conftest import FHA, free_port

ARTICLES = FHA.parent / "articles"

pytestmark = pytest.mark.slow


def test_a_knowledge_base_on_a_chroma_server_finds_the_passages_it_ingested(
    chroma_url: str,
) -> None:
    knowledge = KnowledgeBase(None, "served-articles", client=server_client(chroma_url))

    knowledge.ingest(ARTICLES)
    found = knowledge.search("Can I get a reverse mortgage?", k=1)

    assert [p.article_id for p in found] == ["fha-hecm"]


def test_a_second_worker_reuses_the_passages_another_worker_ingested(chroma_url: str) -> None:
    first = KnowledgeBase(None, "shared-articles", client=server_client(chroma_url))
    first.ingest(ARTICLES)
    second = KnowledgeBase(None, "shared-articles", client=server_client(chroma_url))

    report = second.ingest(ARTICLES)

    assert (report.articles_added, report.articles_updated) == (0, 0)
    assert report.passages == first.count()


async def test_an_agent_with_a_chroma_url_answers_from_the_server_and_keeps_no_local_store(
    fha_config: AgentConfig, chroma_url: str
) -> None:
    knowledge = fha_config.knowledge.model_copy(update={"chroma_url": chroma_url})
    agent = Agent.from_config(fha_config.model_copy(update={"knowledge": knowledge}))

    reply = await agent.run("chroma-served", "What is a reverse mortgage?")
    await agent.aclose()
    agent.close()

    assert [c.article_id for c in reply.citations] == ["fha-hecm"]
    assert not (fha_config.state_path / "chroma").exists()


def test_a_chroma_url_where_no_server_answers_is_a_config_error(fha_config: AgentConfig) -> None:
    knowledge = fha_config.knowledge.model_copy(
        update={"chroma_url": f"http://127.0.0.1:{free_port()}"}
    )

    with pytest.raises(ConfigError, match="no Chroma server answers"):
        Agent.from_config(fha_config.model_copy(update={"knowledge": knowledge}))


def test_a_chroma_url_that_is_not_http_is_refused_when_the_config_loads() -> None:
    config = {
        "name": "X",
        "scope": "y",
        "knowledge": {"articles": str(ARTICLES), "chroma_url": "tcp://chroma:8000"},
    }

    with pytest.raises(ConfigError, match=r"knowledge\.chroma_url"):
        load_config(config)
