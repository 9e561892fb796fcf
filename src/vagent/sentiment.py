"""Sentiment of caller turns, and its trend over the conversation.

Each turn is scored with VADER (a lexicon and rules, shipped in its package, so nothing is
downloaded): the compound score runs from -1 (most negative) to 1 (most positive). A handoff
rule reads the trend, not one turn: a caller who says "no" once is not upset, one whose last
three turns average below a threshold may be::

    scores = [sentiment.score(text) for text in caller_turns]
    if sentiment.falling_below(scores, threshold=-0.3, window=3):
        ...  # hand off, or raise the handoff's priority
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from statistics import fmean
from typing import Literal

from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)

Direction = Literal["improving", "worsening", "steady"]

STEADY_BAND = 0.1
"""Change in the windowed mean smaller than this reads as steady."""


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    """The process's one analyzer; loading the lexicon takes tens of milliseconds."""
    with warnings.catch_warnings():
        # VADER reads its lexicon with codecs.open, which newer Pythons deprecate; the read
        # itself is sound, and pytest turns warnings into errors.
        warnings.filterwarnings(
            "ignore", message=r"codecs\.open\(\) is deprecated", category=DeprecationWarning
        )
        return SentimentIntensityAnalyzer()


#: Words of a turn that are scored.
MAX_WORDS = 200


def score(text: str) -> float:
    """The compound sentiment of one turn, from -1 (most negative) to 1 (most positive).

    Args:
        text: what was said in the turn.

    Returns:
        VADER's compound score of the first :data:`MAX_WORDS` words; 0.0 for empty text.
    """
    words = text.split()
    if not words:
        return 0.0
    # VADER's negation check is quadratic in words (and an emoji becomes several words), so a
    # flood of text would stall the turn; a turn's mood shows in its first words anyway.
    return float(_analyzer().polarity_scores(" ".join(words[:MAX_WORDS]))["compound"])


def trend(scores: Sequence[float], window: int = 3) -> float:
    """The mean of the last ``window`` scores (of all of them, if there are fewer).

    Args:
        scores: per-turn scores, oldest first.
        window: how many of the latest turns count.

    Returns:
        The mean; 0.0 when there are no scores.

    Raises:
        ValueError: ``window`` is less than 1.
    """
    _check_window(window)
    if not scores:
        return 0.0
    return fmean(scores[-window:])


def falling_below(scores: Sequence[float], threshold: float, window: int = 3) -> bool:
    """Whether the last ``window`` turns average below ``threshold``.

    Fewer than ``window`` turns never count: one bad turn is not a trend.

    Args:
        scores: per-turn scores, oldest first.
        threshold: the mean below which the rule fires, for example -0.3.
        window: how many of the latest turns count.

    Raises:
        ValueError: ``window`` is less than 1.
    """
    _check_window(window)
    return len(scores) >= window and trend(scores, window) < threshold


def direction(scores: Sequence[float], window: int = 3) -> Direction:
    """Whether sentiment is improving, worsening or steady.

    Compares the mean of the last ``window`` scores with the mean of the ``window`` before
    them; a change smaller than :data:`STEADY_BAND` is steady.

    Raises:
        ValueError: ``window`` is less than 1.
    """
    _check_window(window)
    earlier = scores[-2 * window : -window] if len(scores) > window else []
    if not earlier:
        return "steady"
    change = trend(scores, window) - fmean(earlier)
    if abs(change) < STEADY_BAND:
        return "steady"
    return "improving" if change > 0 else "worsening"


def _check_window(window: int) -> None:
    """Refuse a window that holds no turn."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window!r}")
