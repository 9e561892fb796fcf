"""Tests for turning follow-up questions into searchable queries."""

from __future__ import annotations

import pytest

from vagent.knowledge.context import contextual_query, refers_back

TITLES = [
    "Choosing an FHA loan",
    "Section 203(k) rehabilitation mortgage",
    "Section 203(b) mortgage",
    "Home Equity Conversion Mortgage (reverse mortgage)",
]
RECOMMENDATION = (
    "If you plan to buy a home and then fix it up, the Section 203(k) rehabilitation mortgage "
    "is the FHA loan made for that."
)


@pytest.mark.parametrize(
    "text",
    [
        "What are the requirements for that loan?",
        "How do I apply for it?",
        "Tell me more about those programs",
        "¿Cuáles son los requisitos de ese préstamo?",
    ],
)
def test_refers_back_recognises_follow_ups(text: str) -> None:
    assert refers_back(text)


@pytest.mark.parametrize(
    "text",
    ["Thanks, that's all.", "Thanks, that\u2019s all.", "Hi, this is Michelle.", "I want a loan"],
)
def test_refers_back_ignores_turns_that_point_nowhere(text: str) -> None:
    assert not refers_back(text)


def test_follow_up_gets_the_title_the_previous_reply_named() -> None:
    query = contextual_query(
        "What are the requirements for that loan?",
        previous_reply=RECOMMENDATION,
        cited_titles=["Choosing an FHA loan"],
        titles=TITLES,
    )

    assert (
        query == "What are the requirements for that loan? Section 203(k) rehabilitation mortgage"
    )


def test_follow_up_matches_a_title_regardless_of_case_and_spacing() -> None:
    reply = "the section  203(K) REHABILITATION mortgage fits"

    query = contextual_query("Is that loan insured?", previous_reply=reply, titles=TITLES)

    assert query.endswith("Section 203(k) rehabilitation mortgage")


def test_follow_up_falls_back_to_the_last_cited_title() -> None:
    query = contextual_query(
        "How do I apply for it?",
        previous_reply="You can apply at any approved lender.",
        cited_titles=[
            "Section 203(b) mortgage",
            "Home Equity Conversion Mortgage (reverse mortgage)",
        ],
        titles=TITLES,
    )

    assert query == "How do I apply for it? Home Equity Conversion Mortgage (reverse mortgage)"


def test_follow_up_that_names_an_article_itself_is_left_alone() -> None:
    text = "Is that the same as the Section 203(b) mortgage?"

    query = contextual_query(text, previous_reply=RECOMMENDATION, titles=TITLES)

    assert query == text


def test_turn_without_a_reference_is_left_alone() -> None:
    text = "What is a reverse mortgage?"

    query = contextual_query(text, previous_reply=RECOMMENDATION, titles=TITLES)

    assert query == text


def test_follow_up_with_nothing_to_refer_to_is_left_alone() -> None:
    text = "What are the requirements for that loan?"

    query = contextual_query(text, previous_reply="Hello!", cited_titles=[], titles=TITLES)

    assert query == text
