"""Tests for language-aware tokens and normalised BM25 scores."""

from __future__ import annotations

import pytest

from vagent.knowledge.lexical import LexicalIndex, detect_language, fold, tokens


def test_fold_lowers_case_and_strips_accents() -> None:
    assert fold("Préstamo AÑO Über") == "prestamo ano uber"


def test_english_tokens_drop_stopwords_and_keep_snowball_stems() -> None:
    assert tokens("What are the requirements for these loans and taxes?", "en") == [
        "requir",
        "loan",
        "tax",
    ]


def test_english_words_of_one_stem_share_a_token() -> None:
    assert tokens("requirements", "en") == tokens("required", "en")


def test_spanish_tokens_drop_stopwords_accents_and_endings() -> None:
    assert tokens("¿Cuáles son los requisitos de las solicitudes?", "es-US") == [
        "cual",
        "requisit",
        "solicitud",
    ]


def test_tokens_keep_single_digits_and_drop_single_letters() -> None:
    assert tokens("Box 6 of form 1099-R", "en") == ["box", "6", "form", "1099"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("¿Qué es Medicaid?", "es"),
        ("Necesito ayuda con mi solicitud", "es"),
        ("What is Medicaid?", "en"),
        ("Medicaid", "en"),
    ],
)
def test_detect_language_tells_spanish_from_english(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_lexical_scores_are_normalised_and_best_for_the_matching_passage() -> None:
    index = LexicalIndex(
        ["203(k) loan requirements: credit score", "Passport fees", "Requisitos del préstamo"],
        ["en", "en", "es"],
    )

    scores = index.scores("requirements for the 203(k) loan", "en")

    assert scores.argmax() == 0
    assert 0.0 < scores.max() <= 1.0
    assert list(scores[1:]) == [0.0, 0.0]


def test_spanish_query_without_accents_matches_an_accented_passage() -> None:
    index = LexicalIndex(["Requisitos del préstamo", "Passport fees"], ["es", "en"])

    scores = index.scores("requisitos prestamos", "es")

    assert scores[0] > 0.0 == scores[1]


def test_words_no_passage_uses_lower_the_normalised_score() -> None:
    index = LexicalIndex(["passport renewal fees", "food benefits"], ["en", "en"])

    known = index.scores("passport fees", "en")[0]
    diluted = index.scores("passport fees tattoo removal", "en")[0]

    assert diluted < known


def test_empty_index_scores_nothing() -> None:
    index = LexicalIndex([], [])

    assert index.scores("anything", "en").shape == (0,)
