"""A clock the tests move by hand, for the breaker and the model's budget."""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
