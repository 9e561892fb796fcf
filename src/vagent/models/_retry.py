"""When the OpenAI-compatible client tries again: which failures, how long to wait, when to stop."""

from __future__ import annotations

import contextlib
import email.utils
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

import openai
from tenacity import RetryCallState
from tenacity.stop import stop_base

_RETRYABLE_CLIENT_STATUSES = frozenset({408, 409, 429})


# When the model calls of the running turn must be done (time.monotonic()), if a turn set it.
_TURN_DEADLINE: ContextVar[float | None] = ContextVar("vagent_turn_deadline", default=None)


@contextlib.contextmanager
def turn_budget(seconds: float | None) -> Iterator[None]:
    """Bound all the model calls made inside, together, to ``seconds`` from now.

    A turn may call the model several times (a tool call, then the answer); each call gets what
    is left of the turn's budget, never more than its own.
    """
    if seconds is None:
        yield
        return
    token = _TURN_DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _TURN_DEADLINE.reset(token)


def call_budget(per_call: float) -> float:
    """Seconds one model call may take: its own budget, or what is left of the turn's."""
    deadline = _TURN_DEADLINE.get()
    if deadline is None:
        return per_call
    return max(0.0, min(per_call, deadline - time.monotonic()))


class BadResponse(Exception):
    """The endpoint answered 200 with a body that is not a usable completion.

    Treated like a dropped connection: a proxy's error page or a body cut short says nothing
    about the next attempt.
    """


class Budget:
    """The time one model call may take, every attempt and every wait between them included."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        """Start the budget of ``seconds`` now, as ``clock`` tells the time."""
        self.seconds = seconds
        self.attempts = 0
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        """Seconds spent since the call began."""
        return self._clock() - self._start

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(self.seconds - self.elapsed(), 0.0)


class OutOfTime(stop_base):
    """Stop when the next wait is longer than ``max_wait`` or than what is left of the budget.

    Sleeping through a long ``Retry-After`` only to find the caller gone helps no one: the call
    fails at once, and the agent answers the turn another way.
    """

    def __init__(self, budget: Budget, max_wait: float) -> None:
        """Stop on ``budget`` running out or a wait beyond ``max_wait``."""
        self.budget = budget
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        """Whether to give up rather than wait ``retry_state.upcoming_sleep``."""
        wait = retry_state.upcoming_sleep
        return wait > self.max_wait or wait >= self.budget.remaining()


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt could succeed: timeouts, lost connections, bad bodies,
    408/409/429 and 5xx."""
    if isinstance(error, openai.APIConnectionError | BadResponse):
        return True
    if not isinstance(error, openai.APIStatusError):
        return False
    return error.status_code in _RETRYABLE_CLIENT_STATUSES or error.status_code >= 500


def failure(state: RetryCallState) -> BaseException | None:
    """The exception the last attempt raised, if any."""
    return state.outcome.exception() if state.outcome else None


def status(error: BaseException | None) -> int | None:
    """HTTP status of a failed call, or None when the endpoint never answered."""
    return error.status_code if isinstance(error, openai.APIStatusError) else None


def status_label(error: BaseException | None) -> str:
    """HTTP status for the retry log, or the error type when there is none."""
    code = status(error)
    return str(code) if code is not None else type(error).__name__


def retry_after(error: BaseException | None) -> float | None:
    """Seconds the server asked to wait via ``retry-after-ms`` or ``Retry-After``, if any."""
    if not isinstance(error, openai.APIStatusError):
        return None
    headers = error.response.headers
    milliseconds = _finite_float(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return max(milliseconds / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite_float(value)
    return max(seconds, 0.0) if seconds is not None else _seconds_until(value)


def _finite_float(value: str | None) -> float | None:
    """Parse a header as a finite number, or None."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _seconds_until(http_date: str) -> float | None:
    """Seconds from now until an HTTP date, never negative; None if it does not parse."""
    try:
        moment = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
