"""Per-turn sentiment with VADER, and the trend helpers a handoff rule reads."""

from __future__ import annotations

import importlib
import warnings

import pytest

from vagent import sentiment


def test_vader_loads_without_warnings() -> None:
    sentiment._analyzer.cache_clear()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(sentiment)
        sentiment.score("fine")


def test_an_angry_turn_scores_negative_and_a_grateful_one_positive() -> None:
    angry = sentiment.score("I'm really upset, this is terrible and nobody has helped me.")
    grateful = sentiment.score("Thank you so much, that's a great help.")

    assert -1.0 <= angry < -0.3
    assert 0.3 < grateful <= 1.0


def test_empty_text_is_neutral() -> None:
    assert sentiment.score("   ") == 0.0


def test_trend_is_the_mean_of_the_last_window() -> None:
    scores = [0.9, -0.2, -0.4, -0.6]

    assert sentiment.trend(scores, window=3) == pytest.approx(-0.4)
    assert sentiment.trend(scores[:2], window=3) == pytest.approx(0.35)
    assert sentiment.trend([], window=3) == 0.0


def test_falling_below_needs_a_full_window_under_the_threshold() -> None:
    assert sentiment.falling_below([0.5, -0.5, -0.6, -0.7], threshold=-0.3, window=3)
    assert not sentiment.falling_below([-0.9, -0.9], threshold=-0.3, window=3)
    assert not sentiment.falling_below([-0.6, -0.6, 0.6], threshold=-0.3, window=3)


def test_direction_compares_the_last_window_with_the_one_before() -> None:
    assert sentiment.direction([0.5, 0.4, -0.5, -0.6], window=2) == "worsening"
    assert sentiment.direction([-0.5, -0.6, 0.2, 0.4], window=2) == "improving"
    assert sentiment.direction([0.1, 0.1, 0.12, 0.1], window=2) == "steady"
    assert sentiment.direction([-0.9], window=2) == "steady"


def test_a_window_without_turns_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        sentiment.trend([0.1], window=0)


def test_a_flood_of_emoji_is_scored_on_its_first_words_only() -> None:
    flood = "😡 " * 4000

    assert sentiment.score(flood) == sentiment.score("😡 " * sentiment.MAX_WORDS)
