"""Tests for the Chroma-backed knowledge base."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings

from vagent.errors import ConfigError, KnowledgeError
from vagent.knowledge.embed import MiniLMEmbeddingFunction
from vagent.knowledge.store import KnowledgeBase, Passage

DATA = Path(__file__).parent / "data" / "articles"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """An in-memory knowledge base holding the sample articles; tests must not change it."""
    knowledge = KnowledgeBase(None, "sample-articles")
    knowledge.ingest(DATA)
    return knowledge


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A copy of the sample articles that a test may change."""
    return Path(shutil.copytree(DATA, tmp_path / "articles"))


def test_search_returns_the_article_that_answers_the_question(kb: KnowledgeBase) -> None:
    question = "what papers do I need to recertify for food stamps"

    passages = kb.search(question, k=1)

    assert passages[0].article_id == "snap-recertification"
    assert passages[0].section == "Documents to bring"


def test_search_finds_a_section_through_the_article_title(kb: KnowledgeBase) -> None:
    question = "requirements for the 203(k) loan"

    passages = kb.search(question, k=3)

    assert ("fha-203k", "Requirements") in {(p.article_id, p.section) for p in passages}


def test_search_returns_passages_best_first(kb: KnowledgeBase) -> None:
    question = "how long does passport renewal take"

    scores = [p.score for p in kb.search(question, k=5)]

    assert scores == sorted(scores, reverse=True)


def test_search_returns_at_most_k_passages(kb: KnowledgeBase) -> None:
    question = "how long does passport renewal take"

    passages = kb.search(question, k=2)

    assert len(passages) == 2


def test_search_drops_passages_below_min_score(kb: KnowledgeBase) -> None:
    question = "how long does passport renewal take"

    passages = kb.search(question, k=6, min_score=0.4)

    assert passages
    assert all(p.score >= 0.4 for p in passages)
    assert all(p.article_id == "passport-renewal" for p in passages)


def test_search_passage_carries_the_article_source_and_date(kb: KnowledgeBase) -> None:
    question = "passport renewal fees"

    (passage,) = kb.search(question, k=1)

    assert passage == Passage(
        passage_id="passport-renewal#1",
        article_id="passport-renewal",
        title="Renewing a U.S. passport by mail",
        source="https://travel.state.gov/content/travel/en/passports/have-passport/renew.html",
        section="Fees and processing times",
        text=(
            "Routine service takes six to eight weeks. Expedited service costs an extra 60 dollars."
        ),
        score=passage.score,
        updated="2024-02-12",
    )


def test_search_passage_without_a_date_has_updated_none(kb: KnowledgeBase) -> None:
    question = "recertify SNAP food benefits"

    (passage,) = kb.search(question, k=1)

    assert passage.updated is None


def test_search_of_an_empty_store_returns_nothing() -> None:
    empty = KnowledgeBase(None, "empty-store")

    passages = empty.search("anything at all")

    assert passages == []


def test_search_with_k_below_one_raises(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match=r"k must be at least 1, got 0"):
        kb.search("passport", k=0)


def test_first_ingest_reports_every_article_as_added(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")

    report = knowledge.ingest(articles)

    assert (report.articles_added, report.articles_unchanged) == (3, 0)
    assert report.passages == knowledge.count() == 7


def test_second_ingest_of_an_unchanged_folder_skips_every_article(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    knowledge.ingest(articles)

    report = knowledge.ingest(articles)

    assert (report.articles_added, report.articles_updated, report.articles_unchanged) == (0, 0, 3)


def test_ingest_replaces_the_passages_of_a_changed_article(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    knowledge.ingest(articles)
    path = articles / "passport-renewal.md"
    path.write_text(path.read_text().replace("60 dollars", "95 dollars"))

    report = knowledge.ingest(articles)

    assert (report.articles_updated, report.articles_unchanged) == (1, 2)
    assert "95 dollars" in knowledge.search("expedited passport fee", k=1)[0].text


def test_ingest_deletes_articles_no_longer_in_the_folder(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    knowledge.ingest(articles)
    (articles / "fha-203k.md").unlink()

    report = knowledge.ingest(articles)

    assert (report.articles_deleted, report.passages) == (1, 4)
    assert all(p.article_id != "fha-203k" for p in knowledge.search("203(k) loan", k=6))


def test_ingest_with_another_passage_length_rechunks_every_article(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    knowledge.ingest(articles)

    report = knowledge.ingest(articles, max_chars=100)

    assert report.articles_updated == 3
    assert report.passages > 7


def test_ingest_rejects_an_article_without_text(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    (articles / "empty.md").write_text("---\nid: empty\ntitle: Empty\nsource: s\n---\n\n")

    with pytest.raises(KnowledgeError, match=r"empty\.md.*has no text"):
        knowledge.ingest(articles)


def test_ingest_logs_one_info_line(articles: Path, caplog: pytest.LogCaptureFixture) -> None:
    knowledge = KnowledgeBase(None, "articles")

    with caplog.at_level(logging.INFO, logger="vagent.knowledge"):
        knowledge.ingest(articles)

    assert [r.getMessage() for r in caplog.records] == [
        "knowledge ingested: collection=articles added=3 updated=0 unchanged=0 deleted=0 passages=7"
    ]


def test_reopened_store_on_the_same_path_finds_the_passages(tmp_path: Path) -> None:
    KnowledgeBase(tmp_path / "store", "articles").ingest(DATA)

    reopened = KnowledgeBase(tmp_path / "store", "articles")

    assert reopened.count() == 7
    assert reopened.search("food stamps recertification", k=1)[0].article_id == (
        "snap-recertification"
    )


def test_in_memory_knowledge_bases_do_not_share_passages(kb: KnowledgeBase) -> None:
    other = KnowledgeBase(None, kb.collection_name)

    empty = other.is_empty

    assert empty


def test_collection_name_shorter_than_three_characters_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"collection name 'kb' is invalid"):
        KnowledgeBase(None, "kb")


def test_collection_measured_in_another_space_raises(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "store"), settings=Settings(anonymized_telemetry=False)
    )
    client.create_collection(
        "l2-articles",
        configuration={"hnsw": {"space": "l2"}},
        embedding_function=MiniLMEmbeddingFunction(),  # type: ignore[arg-type]
    )

    with pytest.raises(KnowledgeError, match=r"'l2' space"):
        KnowledgeBase(None, "l2-articles", client=client)


def test_ingest_reports_progress_after_each_batch(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    calls: list[tuple[int, int]] = []

    knowledge.ingest(articles, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(7, 7)]


def test_ingest_of_an_unchanged_folder_reports_no_progress(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")
    knowledge.ingest(articles)
    calls: list[tuple[int, int]] = []

    knowledge.ingest(articles, progress=lambda done, total: calls.append((done, total)))

    assert calls == []


def test_changing_one_jsonl_record_re_embeds_only_that_article(tmp_path: Path) -> None:
    records = [
        {"id": f"q{n}", "title": f"Question {n}", "answer": f"Answer {n}.", "url": "u"}
        for n in range(3)
    ]
    path = tmp_path / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    knowledge = KnowledgeBase(None, "faq")
    knowledge.ingest(tmp_path)
    records[1]["answer"] = "A new answer about renewal fees."
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    report = knowledge.ingest(tmp_path)

    assert (report.articles_updated, report.articles_unchanged) == (1, 2)
    assert knowledge.search("renewal fees", k=1)[0].article_id == "q1"


def test_refresh_lets_search_see_another_instance_ingest(tmp_path: Path, articles: Path) -> None:
    reader = KnowledgeBase(tmp_path / "store", "articles")
    assert reader.search("passport renewal") == []
    KnowledgeBase(tmp_path / "store", "articles").ingest(articles)

    reader.refresh()

    assert reader.search("passport renewal", k=1)[0].article_id == "passport-renewal"


def test_ingest_with_an_unknown_record_field_is_a_config_error(articles: Path) -> None:
    knowledge = KnowledgeBase(None, "articles")

    with pytest.raises(ConfigError, match=r"record fields \{'body': 'text'\} are invalid"):
        knowledge.ingest(articles, fields={"body": "text"})
