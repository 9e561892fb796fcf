"""Tests for hybrid search: filters, dates, budget, Spanish, follow-ups and abstention."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vagent.config import KnowledgeConfig
from vagent.errors import ConfigError
from vagent.knowledge import KnowledgeBase, contextual_query

MIXED = Path(__file__).parent / "data" / "mixed"
FHA = Path(__file__).resolve().parents[2] / "examples" / "fha_resource_center" / "articles"
MIN_SCORE = KnowledgeConfig.model_fields["min_score"].default


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The mixed sources (Markdown in two languages, HTML, JSONL); tests must not change it."""
    knowledge = KnowledgeBase(None, "mixed-sources")
    knowledge.ingest(MIXED)
    return knowledge


@pytest.fixture(scope="module")
def fha() -> KnowledgeBase:
    """The FHA Resource Center articles; tests must not change it."""
    knowledge = KnowledgeBase(None, "fha-articles")
    knowledge.ingest(FHA)
    return knowledge


def test_spanish_question_finds_the_spanish_article(kb: KnowledgeBase) -> None:
    passages = kb.search("¿Cómo presento la solicitud de Medicaid en mi estado?", k=1)

    assert (passages[0].article_id, passages[0].section) == (
        "medicaid-es",
        "Cómo presentar la solicitud",
    )


def test_spanish_question_typed_without_accents_finds_the_spanish_article(
    kb: KnowledgeBase,
) -> None:
    passages = kb.search("como presento la solicitud de medicaid", k=1)

    assert passages[0].article_id == "medicaid-es"


def test_language_filter_keeps_only_that_language(kb: KnowledgeBase) -> None:
    passages = kb.search("Medicaid health insurance", k=10, where={"language": "es"})

    assert {p.article_id for p in passages} == {"medicaid-es"}


def test_program_filter_keeps_only_that_program(kb: KnowledgeBase) -> None:
    passages = kb.search("how do I apply", k=10, where={"program": ["va-burial"]})

    assert {p.article_id for p in passages} == {"veterans-burial"}


def test_audience_filter_matches_any_of_an_article_audiences(kb: KnowledgeBase) -> None:
    passages = kb.search("who can apply", k=10, where={"audience": "Survivors"})

    assert {p.article_id for p in passages} == {"veterans-burial"}


def test_unknown_filter_field_raises(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match=r"cannot filter on \['state'\]"):
        kb.search("medicaid", where={"state": "ohio"})


def test_articles_not_yet_in_effect_or_expired_are_not_found_today(kb: KnowledgeBase) -> None:
    passages = kb.search("grocery or heating supplement", k=10, where={"program": "snap"})

    assert {p.article_id for p in passages} == {"snap-interview"}


def test_as_of_a_later_day_finds_the_article_then_in_effect(kb: KnowledgeBase) -> None:
    later = dt.date(2099, 7, 1)

    passages = kb.search("summer grocery supplement", k=1, as_of=later)

    assert passages[0].article_id == "snap-summer-2099"


def test_html_passage_is_found_with_its_canonical_source_and_date(kb: KnowledgeBase) -> None:
    (passage,) = kb.search("free headstone and burial flag for a veteran", k=1)

    assert passage.article_id == "veterans-burial"
    assert passage.source == "https://www.va.gov/burials-memorials/"
    assert passage.updated == "2024-06-10"


def test_jsonl_answer_is_found_without_its_html_tags(kb: KnowledgeBase) -> None:
    (passage,) = kb.search("is there an interview for food stamps", k=1)

    assert passage.article_id == "snap-interview"
    assert "<" not in passage.text


def test_budget_keeps_the_best_passage_even_when_it_alone_exceeds_it(kb: KnowledgeBase) -> None:
    passages = kb.search("medicaid", k=4, budget_chars=10)

    assert len(passages) == 1


def test_budget_keeps_passages_while_their_text_fits(kb: KnowledgeBase) -> None:
    every = kb.search("medicaid", k=4)
    fits = len(every[0].text) + len(every[1].text)

    passages = kb.search("medicaid", k=4, budget_chars=fits)

    assert passages == every[:2]


def test_bm25_alone_and_vectors_alone_can_be_asked_for(kb: KnowledgeBase) -> None:
    lexical = kb.search("headstone", k=1, vector_weight=0.0)
    vector = kb.search("headstone", k=1, vector_weight=1.0)

    assert lexical[0].article_id == vector[0].article_id == "veterans-burial"
    assert lexical[0].score != vector[0].score


def test_vector_weight_outside_zero_to_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"vector weight 1\.5 for language 'default'"):
        KnowledgeBase(None, "weights", vector_weight=1.5)


def test_follow_up_about_that_loan_finds_the_203k_requirements(fha: KnowledgeBase) -> None:
    query = contextual_query(
        "What are the requirements for that loan?",
        previous_reply=(
            "If you plan to buy a home and then fix it up, the Section 203(k) rehabilitation "
            "mortgage is the FHA loan made for that."
        ),
        cited_titles=["Choosing an FHA loan"],
        titles=fha.titles(),
    )

    passages = fha.search(query, k=3, min_score=MIN_SCORE)

    assert (passages[0].title, passages[0].section) == (
        "Section 203(k) rehabilitation mortgage",
        "Requirements",
    )
    assert "580" in passages[0].text


@pytest.mark.parametrize(
    "question",
    [
        "Tell me a joke about penguins",
        "What's the weather tomorrow?",
        "How do I renew my passport?",
    ],
)
def test_out_of_domain_question_finds_nothing_at_the_default_threshold(
    fha: KnowledgeBase, question: str
) -> None:
    passages = fha.search(question, k=3, min_score=MIN_SCORE)

    assert passages == []


@pytest.mark.parametrize(
    "question",
    ["What is a reverse mortgage?", "How much is the mortgage insurance premium?"],
)
def test_in_domain_question_clears_the_default_threshold(fha: KnowledgeBase, question: str) -> None:
    passages = fha.search(question, k=3, min_score=MIN_SCORE)

    assert passages
